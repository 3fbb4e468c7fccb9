//! Biểu II.05a (provisional, domain.md §8): feedback (PAKN) received and handled by one unit.
//!
//! Universe: received on or before D and not processed before T. Each metric is decided by its
//! own rule, so the identities 3 = 4 + 5 = 6 + 7 = 8 + 9 and 10 ≤ 8 are real checks.

use super::ii06a::Window;
use super::table::Tally;
use crate::domain::{Feedback, Finding, FindingCode, Period, UnitTree};
use std::sync::Arc;

/// The feedback metrics a form definition may name, in the order [`place`] decides them.
pub const FEEDBACK_METRICS: [&str; 8] = [
    "received",
    "carried_over",
    "received_in_period",
    "about_regulation",
    "about_conduct",
    "processed",
    "pending",
    "processed_published",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Outside,
    Error(FindingCode, String),
    Counted { unit: usize, facts: [bool; 8] },
}

/// Applies the II.05a rules to one feedback record.
pub fn place(f: &Feedback, w: Window, units: &UnitTree) -> Placement {
    let Some(received) = f.received_at.map(|i| i.local_day()) else {
        return Placement::Error(FindingCode::NoReceptionDate, "NgayTiepNhan để trống: không xếp được phản ánh, kiến nghị vào kỳ nào; bổ sung ngày tiếp nhận trên hệ thống nguồn".into());
    };
    if received > w.last {
        return Placement::Outside;
    }
    let processed = match f.state.trim() {
        "da-xu-ly" => true,
        "dang-xu-ly" => false,
        other => {
            let msg = format!(
                "TrangThai `{other}` không phải dang-xu-ly hoặc da-xu-ly; sửa trạng thái trên hệ thống nguồn"
            );
            return Placement::Error(FindingCode::UnknownFeedbackState, msg);
        }
    };
    let processed_on = if processed {
        let Some(day) = f.processed_at.map(|i| i.local_day()) else {
            return Placement::Error(
                FindingCode::ProcessedWithoutDate,
                "TrangThai là da-xu-ly nhưng NgayXuLy để trống; bổ sung ngày xử lý trên hệ thống nguồn".into(),
            );
        };
        if day < received {
            return Placement::Error(
                FindingCode::ProcessedBeforeReceived,
                "NgayXuLy trước NgayTiepNhan; sửa một trong hai ngày trên hệ thống nguồn".into(),
            );
        }
        Some(day)
    } else {
        None
    };
    if processed_on.is_some_and(|d| d < w.first) {
        return Placement::Outside;
    }
    let regulation = match f.content.trim() {
        "quy-dinh" => true,
        "hanh-vi" => false,
        other => {
            let msg = format!(
                "LoaiNoiDung `{other}` không phải quy-dinh (về quy định hành chính) hoặc hanh-vi (về hành vi hành chính)"
            );
            return Placement::Error(FindingCode::UnknownContentKind, msg);
        }
    };
    let Some(unit) = units.find(&f.unit_code) else {
        let msg = format!(
            "MaDonVi `{}` không có trong cây đơn vị; thêm đơn vị (hoặc bí danh) vào cấu hình",
            f.unit_code
        );
        return Placement::Error(FindingCode::UnknownUnit, msg);
    };
    let processed_in_period = processed_on.is_some_and(|d| d <= w.last);
    let facts = [
        true,
        received < w.first,
        received >= w.first,
        regulation,
        !regulation,
        processed_in_period,
        !processed_in_period,
        processed_in_period && f.published,
    ];
    Placement::Counted { unit, facts }
}

/// Metric counts per unit (one row: II.05a has no row grouping) and the findings.
pub fn tally(feedback: &[Feedback], units: &UnitTree, period: &Period) -> (Tally, Vec<Finding>) {
    let window = Window::from(period);
    let row: Arc<str> = Arc::from("");
    let mut tally = Tally::default();
    let mut findings = Vec::new();
    for f in feedback {
        match place(f, window, units) {
            Placement::Outside => {}
            Placement::Error(code, message) => {
                findings.push(
                    Finding::new(code, f.key.to_string(), message)
                        .with_unit(f.unit_code.to_string())
                        .about(crate::domain::RecordKind::Feedback),
                );
            }
            Placement::Counted { unit, facts } => tally.add(unit, &row, &facts),
        }
    }
    (tally, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Instant;

    fn feedback(received: &str, state: &str, processed: Option<&str>, published: bool) -> Feedback {
        Feedback {
            key: "P".into(),
            unit_code: "U".into(),
            received_at: Some(Instant::parse(received).unwrap()),
            content: "quy-dinh".into(),
            state: state.into(),
            processed_at: processed.map(|p| Instant::parse(p).unwrap()),
            published,
            updated_at: None,
        }
    }

    fn facts(f: &Feedback) -> Placement {
        let units =
            UnitTree::from_toml("[[units]]\ncode=\"U\"\nname=\"u\"\nkind=\"x\"\nparent=\"\"\n")
                .unwrap();
        place(
            f,
            Window::from(&"2023-Q3".parse::<Period>().unwrap()),
            &units,
        )
    }

    #[test]
    fn rules() {
        let carried_pending = feedback("20230601080000", "dang-xu-ly", None, false);
        assert_eq!(
            facts(&carried_pending),
            Placement::Counted {
                unit: 0,
                facts: [true, true, false, true, false, false, true, false]
            }
        );
        let processed_published =
            feedback("20230701080000", "da-xu-ly", Some("20230710080000"), true);
        assert_eq!(
            facts(&processed_published),
            Placement::Counted {
                unit: 0,
                facts: [true, false, true, true, false, true, false, true]
            }
        );
        let processed_after_d =
            feedback("20230901080000", "da-xu-ly", Some("20230920080000"), true);
        assert_eq!(
            facts(&processed_after_d),
            Placement::Counted {
                unit: 0,
                facts: [true, false, true, true, false, false, true, false]
            }
        );
        let processed_before_t =
            feedback("20230501080000", "da-xu-ly", Some("20230614080000"), false);
        assert_eq!(facts(&processed_before_t), Placement::Outside);
        let no_date = feedback("20230701080000", "da-xu-ly", None, false);
        assert!(matches!(
            facts(&no_date),
            Placement::Error(FindingCode::ProcessedWithoutDate, _)
        ));
    }
}
