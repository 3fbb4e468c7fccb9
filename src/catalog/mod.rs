//! The field catalogue (domain.md §4): the field (lĩnh vực) names ministries published, with their
//! effective dates and the local spellings that mean them, and the procedures offered online.
//!
//! Lookup is pure; `configuration::catalog` reads the files, and [`import`] rewrites them.

pub mod import;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldEntry {
    /// MaLinhVuc as the national procedure database has it.
    pub code: String,
    /// The published name, ministry suffix included.
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<NaiveDate>,
}

impl FieldEntry {
    fn in_force(&self, day: NaiveDate) -> bool {
        self.effective_from.is_none_or(|f| f <= day) && self.effective_to.is_none_or(|t| day <= t)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureEntry {
    /// MaTTHC.
    pub code: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Offered online by the province.
    pub online: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct FieldsFile {
    #[serde(default)]
    pub fields: Vec<FieldEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ProceduresFile {
    #[serde(default)]
    pub procedures: Vec<ProcedureEntry>,
}

#[derive(Debug, Clone, Default)]
pub struct FieldCatalog {
    fields: Vec<FieldEntry>,
    /// Folded name or alias → field code.
    by_name: HashMap<String, String>,
    /// The same, without the ministry suffix.
    by_short_name: HashMap<String, String>,
    procedures: HashMap<String, ProcedureEntry>,
}

impl FieldCatalog {
    pub fn from_toml(fields: &str, procedures: Option<&str>) -> Result<FieldCatalog, String> {
        let fields: FieldsFile =
            toml::from_str(fields).map_err(|e| format!("fields.toml: {}", e.message()))?;
        let procedures: ProceduresFile = match procedures {
            Some(t) => {
                toml::from_str(t).map_err(|e| format!("procedures.toml: {}", e.message()))?
            }
            None => ProceduresFile::default(),
        };
        Ok(FieldCatalog::new(fields.fields, procedures.procedures))
    }

    pub fn new(fields: Vec<FieldEntry>, procedures: Vec<ProcedureEntry>) -> FieldCatalog {
        let mut by_name = HashMap::new();
        let mut by_short_name = HashMap::new();
        for f in &fields {
            for text in std::iter::once(&f.name).chain(&f.aliases) {
                let folded = fold(text);
                by_short_name
                    .entry(without_ministry(&folded).to_owned())
                    .or_insert_with(|| f.code.clone());
                by_name.entry(folded).or_insert_with(|| f.code.clone());
            }
        }
        let procedures = procedures
            .into_iter()
            .map(|p| (p.code.clone(), p))
            .collect();
        FieldCatalog {
            fields,
            by_name,
            by_short_name,
            procedures,
        }
    }

    pub fn fields(&self) -> &[FieldEntry] {
        &self.fields
    }

    /// The published name on `day` of the field a source calls `code` / `name`: by code first,
    /// then by name or alias (case, accents, spacing and a missing ministry suffix ignored).
    pub fn resolve(&self, code: &str, name: &str, day: NaiveDate) -> Option<&str> {
        let by_code = |code: &str| -> Option<&str> {
            let mut matching = self
                .fields
                .iter()
                .filter(|f| f.code.eq_ignore_ascii_case(code.trim()))
                .peekable();
            matching.peek()?;
            let all: Vec<&FieldEntry> = matching.collect();
            // The name in force; outside every range, the latest one.
            let chosen = all
                .iter()
                .find(|f| f.in_force(day))
                .or_else(|| all.iter().max_by_key(|f| f.effective_from))
                .expect("at least one entry");
            Some(chosen.name.as_str())
        };
        if let Some(found) = by_code(code) {
            return Some(found);
        }
        let folded = fold(name);
        if folded.is_empty() {
            return None;
        }
        let code = self
            .by_name
            .get(&folded)
            .or_else(|| self.by_short_name.get(without_ministry(&folded)))?;
        by_code(code)
    }

    /// Whether the province offers a procedure online; `None` when the catalogue does not list it.
    pub fn procedure_online(&self, code: &str) -> Option<bool> {
        self.procedures.get(code.trim()).map(|p| p.online)
    }
}

/// Case, accents (đ included), punctuation and spacing folded away, parentheses kept.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if c == '(' || c == ')' {
            if !space {
                out.push(' ');
            }
            out.push(c);
            out.push(' ');
            space = true;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.trim_end().to_owned()
}

/// A folded name without a trailing "( bo … )".
fn without_ministry(folded: &str) -> &str {
    if let Some(open) = folded.rfind("( bo ")
        && folded.ends_with(')')
    {
        return folded[..open].trim_end();
    }
    folded
}

/// The catalogue shipped in config/catalog, compiled in.
pub fn builtin() -> FieldCatalog {
    FieldCatalog::from_toml(
        include_str!("../../config/catalog/fields.toml"),
        Some(include_str!("../../config/catalog/procedures.toml")),
    )
    .expect("the shipped catalogue is valid (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_letters_five_fields_and_their_misspellings_resolve() {
        let c = builtin();
        let q3 = day("2023-09-14");
        let cases = [
            (
                "Công chứng (Bộ Tư pháp)",
                &[
                    "CÔNG CHỨNG",
                    "cong chung",
                    "Công chứng",
                    "Công  chứng (Bộ Tư Pháp)",
                    "Lĩnh vực công chứng",
                ][..],
            ),
            (
                "Chứng thực (Bộ Tư pháp)",
                &[
                    "chứng thực",
                    "Chung thuc (Bo Tu phap)",
                    "Chứng thực bản sao",
                    "CHỨNG THỰC",
                ][..],
            ),
            (
                "Hộ tịch (Bộ Tư pháp)",
                &[
                    "Hộ tịch",
                    "ho tich",
                    "Hộ Tịch(Bộ Tư pháp)",
                    "Đăng ký hộ tịch",
                    "Hộ tịch (Bộ Tư pháp) ",
                ][..],
            ),
            (
                "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh) (Bộ Kế hoạch và Đầu tư)",
                &[
                    "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh)",
                    "thanh lap va hoat dong doanh nghiep (ho kinh doanh) (bo ke hoach va dau tu)",
                    "Thành lập và hoạt động doanh nghiệp",
                    "Đăng ký kinh doanh",
                    "Thành lập và hoạt động của hộ kinh doanh",
                ][..],
            ),
            (
                "Thành lập và hoạt động của hợp tác xã (Bộ Kế hoạch và Đầu tư)",
                &[
                    "Thành lập và hoạt động của hợp tác xã",
                    "Thành lập và hoạt động hợp tác xã",
                    "THÀNH LẬP VÀ HOẠT ĐỘNG CỦA HỢP TÁC XÃ (BỘ KẾ HOẠCH VÀ ĐẦU TƯ)",
                    "Hợp tác xã",
                ][..],
            ),
        ];
        for (published, spellings) in cases {
            for s in spellings {
                assert_eq!(c.resolve("", s, q3), Some(published), "`{s}`");
            }
            assert_eq!(c.resolve("", published, q3), Some(published));
        }
    }

    #[test]
    fn codes_win_and_names_follow_the_calendar() {
        let c = builtin();
        let name = |d: &str| c.resolve("G08-DN", "whatever the source says", day(d));
        assert_eq!(
            name("2023-09-14"),
            Some("Thành lập và hoạt động doanh nghiệp (hộ kinh doanh) (Bộ Kế hoạch và Đầu tư)")
        );
        assert_eq!(
            name("2026-03-14"),
            Some("Thành lập và hoạt động doanh nghiệp (hộ kinh doanh) (Bộ Tài chính)")
        );
        // A name the old ministry published resolves to the name in force in 2026.
        let old = "Thành lập và hoạt động của hợp tác xã (Bộ Kế hoạch và Đầu tư)";
        assert_eq!(
            c.resolve("", old, day("2026-03-14")),
            Some("Thành lập và hoạt động của hợp tác xã (Bộ Tài chính)")
        );
        assert_eq!(c.resolve("", "Lĩnh vực không có", day("2023-09-14")), None);
        assert_eq!(c.procedure_online("1.001614"), Some(false));
        assert_eq!(c.procedure_online("9.999"), None);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("  Hộ Tịch(Bộ  Tư pháp) "), "ho tich ( bo tu phap )");
        assert_eq!(without_ministry("ho tich ( bo tu phap )"), "ho tich");
        assert_eq!(fold("Đất đai"), "dat dai");
    }
}
