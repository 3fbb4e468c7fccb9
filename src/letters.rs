//! The provincial office's own letters, composed from the duties, the period's form definitions
//! and the letter texts of config/documents.toml. Pure: no IO, no clock; `render::letter` lays a
//! letter out as a Decree 30 DOCX.
//!
//! The guidance letter (công văn hướng dẫn) says what the mission's letter says by hand: the
//! reporting systems with their addresses and accounts, the cut-off, and per kind of unit (in the
//! duties' order) the forms it files, in which systems, whether it aggregates, whether it signs
//! digitally (ký số), and its deadline.

use crate::domain::Period;
use crate::duties::Duties;
use crate::forms::definition::Regime;
use crate::render::texts::LetterTexts;

/// A letter, every text filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub superior: String,
    pub office: String,
    pub number: String,
    pub place: String,
    pub subject: String,
    pub addressees: Vec<String>,
    /// The body, paragraph by paragraph; a paragraph starting with "- " is a list item.
    pub body: Vec<String>,
    pub signer_title: String,
    pub signer_name: String,
    pub recipients: Vec<String>,
}

/// "15/6/2023", as letters write dates.
fn day(d: chrono::NaiveDate) -> String {
    d.format("%-d/%-m/%Y").to_string()
}

/// The subdivision letters of a Vietnamese letter's list: a, b, c, d, đ, e, …
const ITEMS: [&str; 12] = ["a", "b", "c", "d", "đ", "e", "g", "h", "i", "k", "l", "m"];

/// What a kind of unit is called in a letter to it.
fn kind_in_letter(kind: &str) -> String {
    match kind {
        "province" => "UBND tỉnh (Văn phòng UBND tỉnh tổng hợp)".to_owned(),
        "department" => "Các sở, ban ngành".to_owned(),
        "district" => "Văn phòng HĐND và UBND cấp huyện".to_owned(),
        "district-office" => "Cơ quan chuyên môn thuộc UBND cấp huyện".to_owned(),
        "commune" => "UBND cấp xã".to_owned(),
        other => crate::render::kind_label_vi(other).to_owned(),
    }
}

/// A reporting system's name: the letter texts', else the duties'.
fn system_name(duties: &Duties, t: &LetterTexts, key: &str) -> String {
    t.systems
        .get(key)
        .and_then(|s| s.name.clone())
        .or_else(|| duties.systems.get(key).map(|s| s.name.clone()))
        .unwrap_or_else(|| key.to_owned())
}

/// A form as letters name it: "II.06a/VPCP/KSTT".
pub(crate) fn form_number(regime: &Regime, form: &str) -> String {
    regime.form(form).map_or_else(
        |_| form.to_owned(),
        |def| def.number.trim_start_matches("Biểu số ").to_owned(),
    )
}

/// The guidance letter of `period`.
pub fn guidance(duties: &Duties, regime: &Regime, period: &Period, t: &LetterTexts) -> Letter {
    let label = period.label_vi();
    let quarter_only = label.split('/').next().unwrap_or(&label).to_owned();
    let fill = |s: &str| {
        s.replace("{period}", &lower_first(&label))
            .replace("{quarter}", &lower_first(&quarter_only))
    };
    let system_name = |key: &str| system_name(duties, t, key);
    let mut body = Vec::new();
    if !t.opening.is_empty() {
        body.push(fill(&t.opening));
    }
    let mut n = 0;
    let mut number = || {
        n += 1;
        n
    };
    // The systems, with where and how one logs in.
    let mut keys: Vec<&String> = Vec::new();
    for d in &duties.duties {
        for s in &d.systems {
            if !keys.contains(&s) {
                keys.push(s);
            }
        }
    }
    let mut systems = format!(
        "{}. Nhập liệu, tổng hợp và gửi báo cáo trên các hệ thống:",
        number()
    );
    for (i, key) in keys.iter().enumerate() {
        let address = t
            .systems
            .get(*key)
            .map(|s| s.address.as_str())
            .filter(|a| !a.is_empty())
            .map_or_else(String::new, |a| format!(" ({a})"));
        let account = t
            .systems
            .get(*key)
            .and_then(|s| s.account.clone())
            .or_else(|| duties.systems.get(*key).map(|s| s.account.clone()))
            .filter(|a| !a.is_empty())
            .map_or_else(String::new, |a| format!(", đăng nhập bằng {a}"));
        let end = if i + 1 == keys.len() { "." } else { ";" };
        systems.push_str(&format!("\n- {}{address}{account}{end}", system_name(key)));
    }
    body.extend(systems.lines().map(str::to_owned));
    body.push(format!(
        "{}. Thời hạn chốt số liệu: tính từ ngày {} đến ngày {}.",
        number(),
        day(period.first_day),
        day(period.last_day)
    ));
    body.push(format!(
        "{}. Các biểu báo cáo và thời hạn gửi báo cáo:",
        number()
    ));
    for (i, d) in duties.duties.iter().enumerate() {
        let forms: Vec<String> = d.forms.iter().map(|f| form_number(regime, f)).collect();
        let names: Vec<String> = d.systems.iter().map(|s| system_name(s)).collect();
        let work = if d.aggregates.is_empty() {
            "nhập liệu, gửi báo cáo"
        } else {
            "nhập liệu, tổng hợp và gửi báo cáo"
        };
        let signed = if d.signed {
            "; thực hiện ký số báo cáo trước khi gửi trên Hệ thống"
        } else {
            ""
        };
        body.push(format!(
            "{}) {}: {work} theo các biểu số: {} trên {}{signed}. Thời hạn gửi báo cáo: chậm nhất vào ngày {}.",
            ITEMS.get(i).copied().unwrap_or("-"),
            kind_in_letter(&d.kind),
            forms.join(", "),
            names.join(" và "),
            day(d.deadline(period)),
        ));
    }
    if !t.help.is_empty() {
        body.push(format!(
            "{}. Trong quá trình thực hiện, các cơ quan, địa phương cần hỗ trợ xin liên hệ: {}.",
            number(),
            t.help.join("; ")
        ));
    }
    if !t.closing.is_empty() {
        body.push(fill(&t.closing));
    }
    Letter {
        superior: fill(&t.superior),
        office: fill(&t.office),
        number: fill(&t.number),
        place: fill(&t.place),
        subject: fill(&t.subject),
        addressees: t.addressees.iter().map(|a| fill(a)).collect(),
        body,
        signer_title: fill(&t.signer_title),
        signer_name: fill(&t.signer_name),
        recipients: t.recipients.iter().map(|r| fill(r)).collect(),
    }
}

/// The chase letter (công văn đôn đốc) of `period`: by kind of unit, the units whose reports are
/// not yet sent in each system (and how far each got), as `facts` read them; the units with
/// nothing to report apart. It says the instant the states were read.
pub fn chase(
    duties: &Duties,
    units: &crate::domain::UnitTree,
    regime: &Regime,
    period: &Period,
    facts: &crate::sync::chase::ChaseFacts,
    t: &LetterTexts,
) -> Letter {
    use crate::sync::chase::RemoteState;
    let mut letter = guidance(duties, regime, period, t);
    let label = lower_first(&period.label_vi());
    let quarter = lower_first(label.split('/').next().unwrap_or(&label));
    letter.subject = t
        .chase_subject
        .replace("{period}", &label)
        .replace("{quarter}", &quarter);
    let system_name = |key: &str| system_name(duties, t, key);
    let form_number = |f: &str| form_number(regime, f);
    let read = facts.read_at.to_local();
    let mut body = vec![format!(
        "Đến {} ngày {} (thời điểm đọc trạng thái báo cáo trên các hệ thống), các cơ quan, đơn vị sau chưa gửi đủ báo cáo {label}:",
        read.format("%H:%M"),
        read.format("%-d/%-m/%Y")
    )];
    let mut nothing: Vec<String> = Vec::new();
    let mut item = 0;
    for d in &duties.duties {
        let mut lines = Vec::new();
        for id in units.print_order() {
            let unit = units.get(id);
            if unit.kind != d.kind {
                continue;
            }
            let mine: Vec<&crate::sync::chase::ReportState> = facts
                .reports
                .iter()
                .filter(|r| r.report.unit == unit.code)
                .collect();
            let idle: Vec<String> = mine
                .iter()
                .filter(|r| r.state == RemoteState::NothingToReport)
                .map(|r| form_number(&r.report.form))
                .collect();
            if !idle.is_empty() {
                let mut forms = idle;
                forms.dedup();
                nothing.push(format!("- {}: {}", unit.name, forms.join(", ")));
            }
            for system in &d.systems {
                let missing: Vec<String> = mine
                    .iter()
                    .filter(|r| r.report.system == *system)
                    .filter_map(|r| {
                        let said = unsent_words(r.state, d.signed)?;
                        Some(format!("{} ({said})", form_number(&r.report.form)))
                    })
                    .collect();
                if !missing.is_empty() {
                    lines.push(format!(
                        "- {}, trên {}: {}.",
                        unit.name,
                        system_name(system),
                        missing.join("; ")
                    ));
                }
            }
        }
        if lines.is_empty() {
            continue;
        }
        let signed = if d.signed {
            "; phải ký số báo cáo"
        } else {
            ""
        };
        body.push(format!(
            "{}) {} (thời hạn gửi báo cáo: ngày {}{signed}):",
            ITEMS.get(item).copied().unwrap_or("-"),
            kind_in_letter(&d.kind),
            day(d.deadline(period)),
        ));
        item += 1;
        body.extend(lines);
    }
    if item == 0 {
        body.push("- Tất cả các cơ quan, đơn vị đã gửi đủ báo cáo.".to_owned());
    }
    if !nothing.is_empty() {
        body.push(
            "Các cơ quan, đơn vị không có số liệu phải báo cáo trong kỳ (không tính là chưa gửi):"
                .to_owned(),
        );
        body.extend(nothing);
    }
    body.push(
        "Đề nghị các cơ quan, đơn vị nêu trên khẩn trương hoàn thành, ký số (nếu có yêu cầu) và gửi báo cáo đúng thời hạn./."
            .to_owned(),
    );
    letter.body = body;
    letter
}

/// How far a report that is not sent got, in words; `None` when it is sent or there is nothing
/// to report. `signed`: the duty asks for a digital signature.
pub fn unsent_words(state: crate::sync::chase::RemoteState, signed: bool) -> Option<&'static str> {
    use crate::sync::chase::RemoteState;
    Some(match state {
        RemoteState::Sent | RemoteState::NothingToReport => return None,
        RemoteState::Missing => "chưa có báo cáo",
        RemoteState::Draft => "bản nháp chưa duyệt",
        RemoteState::Approved if signed => "đã duyệt, chưa ký số",
        RemoteState::Approved => "đã duyệt, chưa gửi",
        RemoteState::Signed => "đã ký số, chưa gửi",
        RemoteState::NoLogin => "chưa có tài khoản của đơn vị để đọc trạng thái",
        RemoteState::LoginRefused => "tài khoản của đơn vị không đăng nhập được",
        RemoteState::Unreadable => "không đọc được trạng thái",
    })
}

/// "Quý III/2023" → "quý III/2023".
pub(crate) fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mission_quarter_reads_as_the_mission_letter_writes_it() {
        let period: Period = "2023-Q3".parse().unwrap();
        let catalog = crate::forms::FormCatalog::builtin();
        let regime = catalog.regime_for(&period).unwrap();
        let texts = crate::render::texts::DocumentTexts::builtin();
        let l = guidance(&Duties::builtin(), regime, &period, &texts.letters);
        assert_eq!(
            l.subject,
            "V/v thực hiện chế độ thông tin báo cáo định kỳ quý III trên Hệ thống thông tin báo cáo của tỉnh và Hệ thống thông tin báo cáo của Văn phòng Chính phủ"
        );
        let body = l.body.join("\n");
        assert!(
            body.contains("tính từ ngày 15/6/2023 đến ngày 14/9/2023"),
            "{body}"
        );
        assert!(body.contains("a) UBND cấp xã: nhập liệu, gửi báo cáo theo các biểu số: II.05a/VPCP/KSTT, II.06a/VPCP/KSTT, II.01-ĐC/VPCP/KSTT"), "{body}");
    }
}
