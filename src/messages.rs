//! The e-mail the product writes (issue 19), pure: subject, plain text and HTML of "drafts ready",
//! the reminders before a deadline and after it, and the operator's digest. Vietnamese, as
//! officials read them. A message carries names, forms, states, figures and the plain address of
//! the unit's page (a viewer signs in there): never a token, a password or a citizen-ID number,
//! which nothing here is given.

use crate::domain::{Period, Unit};
use chrono::NaiveDate;
use maud::{Markup, html};

/// A message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One report of a unit, as a message lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    /// The form's printed number (`II.06a/VPCP/KSTT`).
    pub form: String,
    /// The reporting system's name.
    pub system: String,
    /// Where it stands, in words (`đã có bản nháp`, `bản nháp chưa duyệt`, …).
    pub state: String,
}

/// One form's figures of a unit: (column name, value) of its total row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFigures {
    pub form: String,
    pub figures: Vec<(String, u64)>,
}

/// The address of a unit's page.
pub fn unit_page(page_url: &str, period: &Period, unit: &str) -> String {
    format!(
        "{}/periods/{}/units/{unit}",
        page_url.trim_end_matches('/'),
        period.id()
    )
}

fn day(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

const SIGNATURE: &str =
    "Thư này do hệ thống baocao-sync gửi tự động; vui lòng không trả lời thư này.";

/// One message from its parts: a greeting, paragraphs, an optional list, the page's address.
fn compose(
    subject: String,
    to: &str,
    paragraphs: &[String],
    list: &[String],
    closing: &[String],
    page: &str,
) -> Message {
    let mut text = format!("Kính gửi: {to},\n\n");
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    for l in list {
        text.push_str("- ");
        text.push_str(l);
        text.push('\n');
    }
    if !list.is_empty() {
        text.push('\n');
    }
    for p in closing {
        text.push_str(p);
        text.push_str("\n\n");
    }
    text.push_str(&format!(
        "Trang số liệu của đơn vị: {page}\n\n--\n{SIGNATURE}\n"
    ));
    let body: Markup = html! {
        p { "Kính gửi: " strong { (to) } "," }
        @for p in paragraphs { p { (p) } }
        @if !list.is_empty() { ul { @for l in list { li { (l) } } } }
        @for p in closing { p { (p) } }
        p { "Trang số liệu của đơn vị: " a href=(page) { (page) } }
        hr;
        p style="color:#555;font-size:90%" { (SIGNATURE) }
    };
    let html = html! {
        (maud::DOCTYPE)
        html lang="vi" {
            head { meta charset="utf-8"; title { (subject) } }
            body style="font-family:'Times New Roman',serif;font-size:14px" { (body) }
        }
    };
    Message {
        subject,
        text,
        html: html.into_string(),
    }
}

/// "Drafts ready": after the pre-fill, what was put in each reporting system for `unit`, its
/// figures' summary and how many findings its records left.
pub fn ready(
    unit: &Unit,
    period: &Period,
    reports: &[ReportLine],
    figures: &[FormFigures],
    findings: usize,
    page: &str,
) -> Message {
    let label = crate::letters::lower_first(&period.label_vi());
    let subject = format!("Bản nháp báo cáo {label} của {} đã sẵn sàng", unit.name);
    let lead = if reports.is_empty() {
        format!(
            "Hệ thống đã tổng hợp số liệu {label} ({}) của đơn vị; đơn vị không có báo cáo nào phải điền trong kỳ.",
            period.window_vi()
        )
    } else {
        format!(
            "Hệ thống đã tổng hợp số liệu giải quyết thủ tục hành chính {label} ({}) của đơn vị và điền sẵn bản nháp các báo cáo trên các hệ thống thông tin báo cáo như sau:",
            period.window_vi()
        )
    };
    let list: Vec<String> = reports
        .iter()
        .map(|r| format!("{}, trên {}: {}", r.form, r.system, r.state))
        .collect();
    let mut closing = Vec::new();
    for f in figures {
        let numbers: Vec<String> = f
            .figures
            .iter()
            .map(|(name, v)| format!("{name}: {v}"))
            .collect();
        closing.push(format!(
            "Số liệu Biểu {} (dòng tổng): {}.",
            f.form,
            numbers.join("; ")
        ));
    }
    closing.push(match findings {
        0 => "Không có phát hiện nào cần xem về hồ sơ, đánh giá, phản ánh của đơn vị.".to_owned(),
        n => format!(
            "Có {n} phát hiện cần xem về hồ sơ, đánh giá, phản ánh của đơn vị (bản ghi không tính được hoặc cần kiểm tra); chi tiết trên trang số liệu."
        ),
    });
    closing.push(
        "Đề nghị đơn vị kiểm tra, chỉnh sửa nếu cần, phê duyệt, ký số (nếu có yêu cầu) và gửi báo cáo đúng thời hạn. Bản nháp đã được người sửa, duyệt hoặc gửi sẽ không bị ghi đè."
            .to_owned(),
    );
    compose(subject, unit.official(), &[lead], &list, &closing, page)
}

/// A reminder: `deadline` comes (`today` before it) or has passed (`today` after it), and these
/// reports of `unit` are not sent.
pub fn reminder(
    unit: &Unit,
    period: &Period,
    deadline: NaiveDate,
    today: NaiveDate,
    unsent: &[ReportLine],
    page: &str,
) -> Message {
    let label = crate::letters::lower_first(&period.label_vi());
    let days = (deadline - today).num_days();
    let (subject, lead) = if days >= 0 {
        (
            format!(
                "Nhắc gửi báo cáo {label}: còn {days} ngày đến hạn {}",
                day(deadline)
            ),
            format!(
                "Thời hạn gửi báo cáo {label} của đơn vị là ngày {} (còn {days} ngày). Đến ngày {}, các báo cáo sau của đơn vị chưa được gửi:",
                day(deadline),
                day(today)
            ),
        )
    } else {
        (
            format!("Báo cáo {label} đã quá hạn ngày {}", day(deadline)),
            format!(
                "Thời hạn gửi báo cáo {label} của đơn vị là ngày {}, đã qua {} ngày. Đến ngày {}, các báo cáo sau của đơn vị vẫn chưa được gửi:",
                day(deadline),
                -days,
                day(today)
            ),
        )
    };
    let list: Vec<String> = unsent
        .iter()
        .map(|r| format!("{}, trên {}: {}", r.form, r.system, r.state))
        .collect();
    let closing = vec![
        "Đề nghị đơn vị khẩn trương kiểm tra, phê duyệt, ký số (nếu có yêu cầu) và gửi báo cáo."
            .to_owned(),
    ];
    compose(subject, unit.official(), &[lead], &list, &closing, page)
}

/// One unit in the operator's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestUnit {
    pub name: String,
    pub unsent: Vec<ReportLine>,
    /// How many reminders went to it today.
    pub reminded: usize,
}

/// The operator's digest of `today`: the units whose reports are not sent (and which were
/// reminded), and the messages that failed or are uncertain.
pub fn digest(
    period: &Period,
    today: NaiveDate,
    units: &[DigestUnit],
    troubles: &[String],
    page: &str,
) -> Message {
    let label = crate::letters::lower_first(&period.label_vi());
    let subject = format!(
        "Tổng hợp ngày {}: {} đơn vị chưa gửi đủ báo cáo {label}",
        day(today),
        units.len()
    );
    let paragraphs = vec![if units.is_empty() {
        format!(
            "Đến ngày {}, tất cả các đơn vị đã gửi đủ báo cáo {label}.",
            day(today)
        )
    } else {
        format!(
            "Đến ngày {}, {} đơn vị chưa gửi đủ báo cáo {label} (số thư nhắc đã gửi hôm nay trong ngoặc):",
            day(today),
            units.len()
        )
    }];
    let list: Vec<String> = units
        .iter()
        .map(|u| {
            let reports: Vec<String> = u
                .unsent
                .iter()
                .map(|r| format!("{} trên {} ({})", r.form, r.system, r.state))
                .collect();
            format!(
                "{} ({} thư nhắc): {}",
                u.name,
                u.reminded,
                reports.join("; ")
            )
        })
        .collect();
    let mut closing = Vec::new();
    if !troubles.is_empty() {
        closing.push(format!(
            "Thư không gửi được hoặc chưa rõ đã gửi hay chưa (xem trang của kỳ báo cáo): {}.",
            troubles.join("; ")
        ));
    }
    compose(
        subject,
        "Văn phòng (bộ phận theo dõi báo cáo)",
        &paragraphs,
        &list,
        &closing,
        page,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> Unit {
        Unit {
            code: "000.10.00.H55".into(),
            name: "Sở Tư pháp".into(),
            kind: "department".into(),
            parent: None,
            aliases: vec![],
            official_name: Some("Sở Tư pháp tỉnh Quảng Ngãi".into()),
            contacts: vec!["a@b.vn".into()],
        }
    }

    #[test]
    fn a_reminder_counts_the_days_and_escapes_its_html() {
        let period: Period = "2023-Q3".parse().unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let lines = [ReportLine {
            form: "II.06a/VPCP/KSTT".into(),
            system: "Hệ thống <tỉnh>".into(),
            state: "bản nháp chưa duyệt".into(),
        }];
        let m = reminder(
            &unit(),
            &period,
            d("2023-09-17"),
            d("2023-09-14"),
            &lines,
            "https://x/p",
        );
        assert!(
            m.subject.contains("còn 3 ngày đến hạn 17/09/2023"),
            "{}",
            m.subject
        );
        assert!(m.text.contains("Kính gửi: Sở Tư pháp tỉnh Quảng Ngãi,"));
        assert!(
            m.text
                .contains("- II.06a/VPCP/KSTT, trên Hệ thống <tỉnh>: bản nháp chưa duyệt")
        );
        assert!(m.html.contains("Hệ thống &lt;tỉnh&gt;"), "{}", m.html);
        let late = reminder(
            &unit(),
            &period,
            d("2023-09-17"),
            d("2023-09-18"),
            &lines,
            "https://x/p",
        );
        assert_eq!(
            late.subject,
            "Báo cáo quý III/2023 đã quá hạn ngày 17/09/2023"
        );
        assert!(late.text.contains("đã qua 1 ngày"), "{}", late.text);
    }
}
