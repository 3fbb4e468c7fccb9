//! Findings: data problems listed with the record's key, never dropped silently (domain.md §5).

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Left out of the counts.
    Error,
    /// Counted; someone should look.
    Warning,
}

/// Finding codes. Their text (snake_case) is part of the report JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingCode {
    InvalidRecord,
    NoReceptionDate,
    FinishedWithoutFinishDate,
    FinishedBeforeReceived,
    UnknownChannel,
    UnknownUnit,
    DuplicateRecord,
    UnknownField,
    WithdrawnWithoutFinishDate,
    /// A rating without ThoiGianDanhGia.
    NoRatingDate,
    /// KenhDanhGia other than tablet, phieu, truc-tuyen.
    UnknownRatingChannel,
    /// LoaiNoiDung other than quy-dinh, hanh-vi.
    UnknownContentKind,
    /// TrangThai other than dang-xu-ly, da-xu-ly.
    UnknownFeedbackState,
    /// TrangThai da-xu-ly without NgayXuLy.
    ProcessedWithoutDate,
    /// NgayXuLy before NgayTiepNhan.
    ProcessedBeforeReceived,
    /// Column 4: the online share moved far from the unit's previous period.
    OnlineShareShift,
    /// Column 4: online dossiers for a procedure the catalogue does not offer online.
    ProcedureNotOnline,
    /// A source sent a value its configuration does not map (a status or channel code, a unit
    /// name, a satisfaction question): the finding names the setting that would.
    UnmappedValue,
    /// A dossier still open in the store that the source no longer returns: counted as last
    /// seen, never deleted.
    MissingAtSource,
}

impl FindingCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::InvalidRecord => "invalid_record",
            FindingCode::NoReceptionDate => "no_reception_date",
            FindingCode::FinishedWithoutFinishDate => "finished_without_finish_date",
            FindingCode::FinishedBeforeReceived => "finished_before_received",
            FindingCode::UnknownChannel => "unknown_channel",
            FindingCode::UnknownUnit => "unknown_unit",
            FindingCode::DuplicateRecord => "duplicate_record",
            FindingCode::UnknownField => "unknown_field",
            FindingCode::WithdrawnWithoutFinishDate => "withdrawn_without_finish_date",
            FindingCode::NoRatingDate => "no_rating_date",
            FindingCode::UnknownRatingChannel => "unknown_rating_channel",
            FindingCode::UnknownContentKind => "unknown_content_kind",
            FindingCode::UnknownFeedbackState => "unknown_feedback_state",
            FindingCode::ProcessedWithoutDate => "processed_without_date",
            FindingCode::ProcessedBeforeReceived => "processed_before_received",
            FindingCode::OnlineShareShift => "online_share_shift",
            FindingCode::ProcedureNotOnline => "procedure_not_online",
            FindingCode::UnmappedValue => "unmapped_value",
            FindingCode::MissingAtSource => "missing_at_source",
        }
    }

    /// What is wrong and what to do, in Vietnamese, for the officials who fix the record in the
    /// procedure-handling system.
    pub fn describe_vi(self) -> &'static str {
        match self {
            FindingCode::InvalidRecord => {
                "Bản ghi không đọc được (trạng thái, ngày giờ hoặc định dạng không hợp lệ); sửa bản ghi trên Hệ thống thông tin giải quyết TTHC"
            }
            FindingCode::NoReceptionDate => {
                "Hồ sơ thiếu ngày tiếp nhận nên không xếp được vào kỳ nào; bổ sung ngày tiếp nhận"
            }
            FindingCode::FinishedWithoutFinishDate => {
                "Hồ sơ ở trạng thái đã giải quyết/đã trả kết quả nhưng thiếu ngày kết thúc xử lý; bổ sung ngày kết thúc xử lý"
            }
            FindingCode::FinishedBeforeReceived => {
                "Ngày kết thúc xử lý trước ngày tiếp nhận; kiểm tra, sửa lại hai ngày này"
            }
            FindingCode::UnknownChannel => {
                "Kênh tiếp nhận không phải trực tiếp, trực tuyến hay dịch vụ bưu chính; cập nhật kênh thực hiện"
            }
            FindingCode::UnknownUnit => {
                "Mã đơn vị xử lý không có trong danh sách đơn vị; sửa mã đơn vị hoặc bổ sung đơn vị vào cấu hình"
            }
            FindingCode::DuplicateRecord => {
                "Hồ sơ xuất hiện nhiều lần trong dữ liệu; đã tính theo lần cập nhật mới nhất"
            }
            FindingCode::UnknownField => {
                "Lĩnh vực chưa có trong danh mục lĩnh vực đã công bố; bổ sung vào danh mục (tên hiển thị theo dữ liệu gốc)"
            }
            FindingCode::WithdrawnWithoutFinishDate => {
                "Hồ sơ xin rút chưa có ngày kết thúc xử lý; đang được tính là hồ sơ đang giải quyết"
            }
            FindingCode::NoRatingDate => {
                "Lượt đánh giá thiếu thời gian đánh giá; bổ sung thời gian"
            }
            FindingCode::UnknownRatingChannel => {
                "Hình thức đánh giá không phải Tablet, phiếu hay Hệ thống thông tin giải quyết TTHC; sửa hình thức đánh giá"
            }
            FindingCode::UnknownContentKind => {
                "Nội dung phản ánh, kiến nghị không phải về quy định hay về hành vi hành chính; phân loại lại"
            }
            FindingCode::UnknownFeedbackState => {
                "Trạng thái phản ánh, kiến nghị không hợp lệ (đang xử lý/đã xử lý); cập nhật trạng thái"
            }
            FindingCode::ProcessedWithoutDate => {
                "Phản ánh, kiến nghị đã xử lý nhưng thiếu ngày xử lý; bổ sung ngày xử lý"
            }
            FindingCode::ProcessedBeforeReceived => {
                "Ngày xử lý phản ánh, kiến nghị trước ngày tiếp nhận; kiểm tra lại hai ngày này"
            }
            FindingCode::OnlineShareShift => {
                "Tỷ lệ hồ sơ trực tuyến (cột 4) thay đổi nhiều so với kỳ trước; kiểm tra lại trước khi duyệt"
            }
            FindingCode::ProcedureNotOnline => {
                "Có hồ sơ trực tuyến (cột 4) của thủ tục chưa được cung cấp trực tuyến; kiểm tra kênh tiếp nhận"
            }
            FindingCode::UnmappedValue => {
                "Hệ thống nguồn gửi một giá trị chưa có trong bảng ánh xạ (mã trạng thái, kênh, tên đơn vị, câu hỏi đánh giá); bổ sung vào cấu hình nguồn theo khóa cấu hình đã nêu"
            }
            FindingCode::MissingAtSource => {
                "Hồ sơ đang giải quyết nhưng hệ thống nguồn không còn trả về; đang tính theo lần đọc gần nhất, đề nghị kiểm tra trên hệ thống nguồn"
            }
        }
    }

    /// The kind of record a finding of this code is about; `None` when the code applies to any.
    pub fn record_kind(self) -> Option<super::RecordKind> {
        use super::RecordKind;
        match self.record_vi() {
            "Hồ sơ" => Some(RecordKind::Dossier),
            "Lượt đánh giá" => Some(RecordKind::Rating),
            "Phản ánh, kiến nghị" => Some(RecordKind::Feedback),
            _ => None,
        }
    }

    /// The kind of record a finding of this code is about, in Vietnamese ("Bản ghi" when the
    /// code applies to any kind).
    fn record_vi(self) -> &'static str {
        match self {
            FindingCode::NoReceptionDate
            | FindingCode::FinishedWithoutFinishDate
            | FindingCode::FinishedBeforeReceived
            | FindingCode::UnknownChannel
            | FindingCode::UnknownField
            | FindingCode::WithdrawnWithoutFinishDate
            | FindingCode::OnlineShareShift
            | FindingCode::ProcedureNotOnline
            | FindingCode::MissingAtSource => "Hồ sơ",
            FindingCode::NoRatingDate | FindingCode::UnknownRatingChannel => "Lượt đánh giá",
            FindingCode::UnknownContentKind
            | FindingCode::UnknownFeedbackState
            | FindingCode::ProcessedWithoutDate
            | FindingCode::ProcessedBeforeReceived => "Phản ánh, kiến nghị",
            FindingCode::InvalidRecord
            | FindingCode::UnknownUnit
            | FindingCode::DuplicateRecord
            | FindingCode::UnmappedValue => "Bản ghi",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingCode::DuplicateRecord
            | FindingCode::UnknownField
            | FindingCode::WithdrawnWithoutFinishDate
            | FindingCode::OnlineShareShift
            | FindingCode::ProcedureNotOnline
            | FindingCode::MissingAtSource => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FindingCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One data problem about one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    /// MaHoSo when it could be read, else `line:N` or `row:N`.
    pub record: String,
    /// The handling unit, when known: officials filter findings by unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What is wrong and what to do about it, in one sentence.
    pub message: String,
    /// The kind of record, when known (from the code, or from where the record was read).
    #[serde(skip)]
    pub about: Option<super::RecordKind>,
}

impl Finding {
    pub fn new(
        code: FindingCode,
        record: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            record: record.into(),
            unit: None,
            message: message.into(),
            about: code.record_kind(),
        }
    }

    /// Says what kind of record this is about: the record's own kind wins over the guess a code
    /// gives (`no_reception_date` is about a feedback record when a feedback record lacks it).
    pub fn about(mut self, kind: super::RecordKind) -> Finding {
        self.about = Some(kind);
        self
    }

    /// What is wrong and how to fix it, in Vietnamese, naming the record by its own kind: a
    /// feedback record without NgayTiepNhan is a "Phản ánh, kiến nghị", not a "Hồ sơ".
    pub fn describe_vi(&self) -> std::borrow::Cow<'static, str> {
        let said = self.code.describe_vi();
        let default = self.code.record_vi();
        let own = record_kind_vi(self.about);
        match said.strip_prefix(default) {
            Some(rest) if self.about.is_some() && own != default => {
                std::borrow::Cow::Owned(format!("{own}{rest}"))
            }
            _ => std::borrow::Cow::Borrowed(said),
        }
    }

    pub fn with_unit(mut self, unit: impl Into<String>) -> Finding {
        let unit = unit.into();
        self.unit = (!unit.is_empty()).then_some(unit);
        self
    }
}

/// A kind of record in Vietnamese, for officials ("Bản ghi" when not known).
pub fn record_kind_vi(kind: Option<super::RecordKind>) -> &'static str {
    match kind {
        Some(super::RecordKind::Dossier) => "Hồ sơ",
        Some(super::RecordKind::Rating) => "Lượt đánh giá",
        Some(super::RecordKind::Feedback) => "Phản ánh, kiến nghị",
        None => "Bản ghi",
    }
}

/// Report order: by code, then record (report-json.md); equal ones keep their order.
///
/// A store holding years has some 200,000 findings a report lists (every period names the
/// dossiers no period can place). A small key per finding is sorted instead of the findings: the
/// code's place among the codes, the record's first bytes held in the key (so that most
/// comparisons read no string on the heap), the position as the last tie-break (which makes the
/// unstable sort stable); each finding is then moved once.
pub fn sort_findings(findings: &mut Vec<Finding>) {
    const HELD: usize = 24;
    let mut codes: Vec<&'static str> = findings.iter().map(|f| f.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut keys: Vec<(u8, [u8; HELD], u32)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let rank = codes
                .binary_search(&f.code.as_str())
                .expect("every code was collected");
            // Zero-padded: where two keys' bytes differ, the records differ first there too, or
            // the shorter one is a prefix of the other (and so comes first, as its key does).
            let mut held = [0u8; HELD];
            let bytes = f.record.as_bytes();
            let n = bytes.len().min(HELD);
            held[..n].copy_from_slice(&bytes[..n]);
            (rank as u8, held, i as u32)
        })
        .collect();
    keys.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| {
                findings[a.2 as usize]
                    .record
                    .cmp(&findings[b.2 as usize].record)
            })
            .then(a.2.cmp(&b.2))
    });
    let mut slots: Vec<Option<Finding>> = findings.drain(..).map(Some).collect();
    findings.extend(keys.into_iter().map(|(_, _, i)| {
        slots[i as usize]
            .take()
            .expect("each position is taken once")
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order is the one a stable sort by (code, record) gives, ties (one record with two
    /// findings of one code) in their first order: checked against the standard library's
    /// stable sort over a deterministic mix of codes, records and ties.
    #[test]
    fn findings_sort_by_code_then_record_and_keep_the_order_of_equal_ones() {
        let codes = [
            FindingCode::UnknownUnit,
            FindingCode::InvalidRecord,
            FindingCode::NoReceptionDate,
            FindingCode::DuplicateRecord,
        ];
        let mut findings: Vec<Finding> = (0..2_000u64)
            .map(|i| {
                let mixed = i.wrapping_mul(2_654_435_761) % 997;
                Finding::new(
                    codes[(mixed % 4) as usize],
                    // Records longer than the bytes a key holds, some sharing them, some
                    // a prefix of another, one with a NUL.
                    match mixed % 5 {
                        0 => format!("000.00.{:02}-{}", mixed % 7, mixed % 50),
                        1 => format!("000.00.30.H55-230522-05803{}", mixed % 13),
                        2 => format!("000.00.30.H55-230522-0580{}", mixed % 3),
                        3 => format!("000.00.30.H55-230522-05\0{}", mixed % 2),
                        _ => "000.00.30.H55-230522-05".to_owned(),
                    },
                    format!("the {i}th"),
                )
            })
            .collect();
        let mut expected = findings.clone();
        expected.sort_by(|a, b| (a.code.as_str(), &a.record).cmp(&(b.code.as_str(), &b.record)));
        sort_findings(&mut findings);
        let messages = |v: &[Finding]| v.iter().map(|f| f.message.clone()).collect::<Vec<_>>();
        assert_eq!(messages(&findings), messages(&expected));
        assert!(
            expected
                .windows(2)
                .any(|w| w[0].code == w[1].code && w[0].record == w[1].record),
            "the data holds ties"
        );
    }
}
