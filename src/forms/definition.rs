//! Form definitions as data (`config/forms/<regime>/*.toml`, read by `configuration::forms`): code, title, columns and what fills
//! each, header groups, row grouping and identities. Forms are looked up by (regime, code), and the
//! regime by the period's last day. The rules that decide each metric stay in code
//! (`ii06a::DOSSIER_METRICS`, `ii05a::FEEDBACK_METRICS`); which column shows which metric, the
//! headers and the identities are the files'.

use crate::domain::Period;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The shipped definitions, compiled in so the binary works without a config folder.
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "TT01-2020",
        "regime.toml",
        include_str!("../../config/forms/TT01-2020/regime.toml"),
    ),
    (
        "TT01-2020",
        "II.06a.toml",
        include_str!("../../config/forms/TT01-2020/II.06a.toml"),
    ),
    (
        "TT01-2020",
        "II.06.toml",
        include_str!("../../config/forms/TT01-2020/II.06.toml"),
    ),
    (
        "TT01-2020",
        "II.05a.toml",
        include_str!("../../config/forms/TT01-2020/II.05a.toml"),
    ),
    (
        "TT01-2020",
        "II.05.toml",
        include_str!("../../config/forms/TT01-2020/II.05.toml"),
    ),
    (
        "TT01-2020",
        "HL.toml",
        include_str!("../../config/forms/TT01-2020/HL.toml"),
    ),
    (
        "TT01-2020",
        "II.01-DC.toml",
        include_str!("../../config/forms/TT01-2020/II.01-DC.toml"),
    ),
    (
        "TT05-2025",
        "regime.toml",
        include_str!("../../config/forms/TT05-2025/regime.toml"),
    ),
    (
        "TT05-2025",
        "II.06a.toml",
        include_str!("../../config/forms/TT05-2025/II.06a.toml"),
    ),
    (
        "TT05-2025",
        "II.06.toml",
        include_str!("../../config/forms/TT05-2025/II.06.toml"),
    ),
    (
        "TT05-2025",
        "II.05a.toml",
        include_str!("../../config/forms/TT05-2025/II.05a.toml"),
    ),
    (
        "TT05-2025",
        "II.05.toml",
        include_str!("../../config/forms/TT05-2025/II.05.toml"),
    ),
    (
        "TT05-2025",
        "HL.toml",
        include_str!("../../config/forms/TT05-2025/HL.toml"),
    ),
    (
        "TT05-2025",
        "II.01-DC.toml",
        include_str!("../../config/forms/TT05-2025/II.01-DC.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("cannot read form definitions in {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error(
        "no regime covers {period} (last day {last_day}); check effective_from/effective_to in regime.toml"
    )]
    NoRegime { period: String, last_day: NaiveDate },
    #[error("unknown form `{code}`: regime {regime} defines {known}")]
    UnknownForm {
        regime: String,
        code: String,
        known: String,
    },
}

/// What kind of records a form counts.
pub use crate::domain::RecordKind;

/// How a form's reports are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One report per unit with counted records (II.06a, II.05a).
    PerUnit,
    /// One report per unit with children, summing the per-unit form `of` over its subtree.
    Aggregate,
    /// The satisfaction summary: counts and rates per unit and aggregated.
    Satisfaction,
    /// A written report drafted from the figures (II.01-ĐC).
    Narrative,
}

/// How a per-unit report's rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowGrouping {
    /// One row per field (lĩnh vực).
    Field,
    /// Only the total.
    None,
}

/// What fills a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fill {
    RowNumber,
    Label,
    /// A named metric of the record kind, counted by its own rule.
    Metric(String),
    /// The sum of other (figure) columns.
    Sum(Vec<u32>),
    /// A remark the renderer writes (HL's "Ghi chú": why a rate is what it is).
    Note,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub number: u32,
    pub header: String,
    pub fill: Fill,
    /// Printed width in characters (a default by what fills it when absent).
    pub width: Option<f64>,
}

/// A header spanning several columns; `parent` nests it under another group, so a template's
/// header of any depth is data ("Kết quả giải quyết" over "Số hồ sơ đã giải quyết" over
/// "Trước hạn").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderGroup {
    pub header: String,
    pub columns: Vec<u32>,
    #[serde(default)]
    pub parent: Option<String>,
    /// Printed on its own line under the header, as the template has it ("(Bao gồm cả hồ sơ chờ
    /// bổ sung và trả lại/xin rút)"); not part of a column's full header.
    #[serde(default)]
    pub note: Option<String>,
}

/// How a form prints beyond its columns: who signs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintLayout {
    /// The signature blocks, left to right: the title, and the line under it.
    #[serde(default = "default_signers")]
    pub signers: Vec<(String, String)>,
}

fn default_signers() -> Vec<(String, String)> {
    vec![
        (
            "NGƯỜI LẬP BIỂU".to_owned(),
            "(Ký, ghi rõ họ tên)".to_owned(),
        ),
        (
            "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ".to_owned(),
            "(Ký, ghi rõ họ tên, đóng dấu)".to_owned(),
        ),
    ]
}

impl Default for PrintLayout {
    fn default() -> PrintLayout {
        PrintLayout {
            signers: default_signers(),
        }
    }
}

/// `lhs = a + b + …` or `lhs <= a + …`, over column numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub text: String,
    pub lhs: u32,
    pub at_most: bool,
    pub rhs: Vec<u32>,
}

impl Identity {
    pub fn parse(text: &str) -> Result<Identity, String> {
        let (lhs, at_most, rhs) = if let Some((l, r)) = text.split_once("<=") {
            (l, true, r)
        } else if let Some((l, r)) = text.split_once('=') {
            (l, false, r)
        } else {
            return Err(format!("identity `{text}` needs `=` or `<=`"));
        };
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("identity `{text}`: `{s}` is not a column"))
        };
        Ok(Identity {
            text: text.trim().to_owned(),
            lhs: number(lhs)?,
            at_most,
            rhs: rhs.split('+').map(number).collect::<Result<_, _>>()?,
        })
    }

    /// Whether the identity holds, given a column's figure.
    pub fn holds(&self, get: impl Fn(u32) -> u64) -> bool {
        let rhs: u64 = self.rhs.iter().map(|&c| get(c)).sum();
        if self.at_most {
            get(self.lhs) <= rhs
        } else {
            get(self.lhs) == rhs
        }
    }
}

#[derive(Debug, Clone)]
pub struct FormDef {
    pub code: String,
    /// "Biểu số II.06a/VPCP/KSTT".
    pub number: String,
    pub title: String,
    pub record: RecordKind,
    pub layout: Layout,
    /// For an aggregate: the per-unit form it sums.
    pub of: Option<String>,
    pub rows: RowGrouping,
    /// Unit of measure printed above the table ("Số hồ sơ TTHC").
    pub measure: String,
    pub groups: Vec<HeaderGroup>,
    pub columns: Vec<Column>,
    pub identities: Vec<Identity>,
    /// The layout is not confirmed from the official text.
    pub provisional: bool,
    pub print: PrintLayout,
}

impl FormDef {
    /// Column numbers that carry figures, by number (the data order; `columns` is the printed
    /// order).
    /// The definition with its columns, and each group's, in numeric order: as forms print.
    pub fn in_numeric_order(&self) -> FormDef {
        let mut printed = self.clone();
        printed.columns.sort_by_key(|c| c.number);
        for g in &mut printed.groups {
            g.columns.sort_unstable();
        }
        printed
    }

    pub fn figure_columns(&self) -> Vec<u32> {
        let mut numbers: Vec<u32> = self
            .columns
            .iter()
            .filter(|c| matches!(c.fill, Fill::Metric(_) | Fill::Sum(_)))
            .map(|c| c.number)
            .collect();
        numbers.sort_unstable();
        numbers
    }

    pub fn column(&self, number: u32) -> Option<&Column> {
        self.columns.iter().find(|c| c.number == number)
    }

    /// The column a named metric fills (`received`, `closed_late`, …), if the form has one.
    pub fn column_of(&self, metric: &str) -> Option<u32> {
        self.columns
            .iter()
            .find(|c| matches!(&c.fill, Fill::Metric(m) if m == metric))
            .map(|c| c.number)
    }

    /// The innermost group a column's header sits under, if any.
    pub fn group_of(&self, number: u32) -> Option<&HeaderGroup> {
        self.ancestors(number).pop()
    }

    /// The groups over a column, outermost first.
    pub fn ancestors(&self, number: u32) -> Vec<&HeaderGroup> {
        let mut chain: Vec<&HeaderGroup> = self
            .groups
            .iter()
            .filter(|g| g.columns.contains(&number))
            .collect();
        chain.sort_by_key(|g| self.depth(g));
        chain
    }

    /// How many groups a group sits under.
    pub fn depth(&self, group: &HeaderGroup) -> usize {
        let mut depth = 0;
        let mut at = group;
        while let Some(parent) = at
            .parent
            .as_ref()
            .and_then(|p| self.groups.iter().find(|g| g.header == *p))
        {
            depth += 1;
            at = parent;
            if depth > self.groups.len() {
                break;
            }
        }
        depth
    }

    /// Header rows the table needs: the deepest column's groups, plus its own header.
    pub fn header_rows(&self) -> usize {
        self.columns
            .iter()
            .map(|c| self.ancestors(c.number).len() + 1)
            .max()
            .unwrap_or(1)
    }

    /// A column's header with its groups', for one line ("Kết quả giải quyết: Trước hạn").
    pub fn full_header(&self, number: u32) -> String {
        let mut parts: Vec<&str> = self
            .ancestors(number)
            .iter()
            .map(|g| g.header.as_str())
            .collect();
        if let Some(c) = self.column(number) {
            parts.push(&c.header);
        }
        parts.join(": ")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormFile {
    code: String,
    number: String,
    title: String,
    record: RecordKind,
    layout: Layout,
    #[serde(default)]
    of: Option<String>,
    rows: RowGrouping,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    groups: Vec<HeaderGroup>,
    #[serde(default)]
    columns: Vec<ColumnFile>,
    #[serde(default)]
    identities: Vec<String>,
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    print: PrintLayout,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    number: u32,
    header: String,
    #[serde(default)]
    width: Option<f64>,
    #[serde(default)]
    fill: Option<String>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    sum: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeInfo {
    pub id: String,
    pub name: String,
    /// The line under the form number, e.g. "Ban hành theo Thông tư số 01/2020/TT-VPCP ngày 21/10/2020".
    pub basis: String,
    #[serde(default)]
    pub effective_from: Option<NaiveDate>,
    #[serde(default)]
    pub effective_to: Option<NaiveDate>,
    #[serde(default)]
    pub provisional: bool,
}

#[derive(Debug, Clone)]
pub struct Regime {
    pub info: RegimeInfo,
    pub forms: BTreeMap<String, FormDef>,
}

impl Regime {
    pub fn form(&self, code: &str) -> Result<&FormDef, DefinitionError> {
        let wanted = code.trim();
        self.forms
            .values()
            .find(|f| {
                f.code.eq_ignore_ascii_case(wanted)
                    || ascii_code(&f.code).eq_ignore_ascii_case(wanted)
            })
            .ok_or_else(|| DefinitionError::UnknownForm {
                regime: self.info.id.clone(),
                code: code.to_owned(),
                known: self
                    .forms
                    .values()
                    .map(|f| f.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn covers(&self, day: NaiveDate) -> bool {
        self.info.effective_from.is_none_or(|f| f <= day)
            && self.info.effective_to.is_none_or(|t| day <= t)
    }
}

/// "II.01-ĐC" may be typed "II.01-DC".
fn ascii_code(code: &str) -> String {
    code.replace('Đ', "D").replace('đ', "d")
}

/// Every regime's forms.
#[derive(Debug, Clone)]
pub struct FormCatalog {
    pub regimes: Vec<Regime>,
}

impl FormCatalog {
    /// The definitions shipped with the binary (a copy of config/forms at build time).
    pub fn builtin() -> FormCatalog {
        let mut by_dir: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for (dir, name, text) in BUILTIN {
            by_dir
                .entry(dir)
                .or_default()
                .push(((*name).to_owned(), (*text).to_owned()));
        }
        let regimes = by_dir
            .into_iter()
            .map(|(dir, files)| parse_regime(dir, files))
            .collect::<Result<Vec<_>, _>>()
            .expect("the shipped form definitions are valid (tested)");
        FormCatalog { regimes }
    }

    /// Parses regimes given as (folder label, [(file name, text)]); `configuration::forms` reads
    /// them from `<dir>/<regime>/*.toml`.
    pub fn from_files(
        regimes: Vec<(String, Vec<(String, String)>)>,
    ) -> Result<FormCatalog, DefinitionError> {
        if regimes.is_empty() {
            return Err(DefinitionError::Invalid {
                file: "forms".into(),
                reason: "no <regime>/regime.toml found".into(),
            });
        }
        let regimes = regimes
            .into_iter()
            .map(|(dir, files)| parse_regime(&dir, files))
            .collect::<Result<_, _>>()?;
        Ok(FormCatalog { regimes })
    }

    /// The regime in force on the period's last day.
    pub fn regime_for(&self, period: &Period) -> Result<&Regime, DefinitionError> {
        self.regimes
            .iter()
            .find(|r| r.covers(period.last_day))
            .ok_or(DefinitionError::NoRegime {
                period: period.id(),
                last_day: period.last_day,
            })
    }
}

fn parse_regime(dir: &str, files: Vec<(String, String)>) -> Result<Regime, DefinitionError> {
    let invalid = |file: &str, reason: String| DefinitionError::Invalid {
        file: format!("{dir}/{file}"),
        reason,
    };
    let mut info = None;
    let mut forms = BTreeMap::new();
    for (name, text) in &files {
        if name == "regime.toml" {
            info = Some(
                toml::from_str::<RegimeInfo>(text)
                    .map_err(|e| invalid(name, e.message().to_owned()))?,
            );
            continue;
        }
        let file: FormFile =
            toml::from_str(text).map_err(|e| invalid(name, e.message().to_owned()))?;
        let def = form_def(file).map_err(|reason| invalid(name, reason))?;
        if forms.contains_key(&def.code) {
            return Err(invalid(
                name,
                format!(
                    "defines {} again: another file of this regime defines it",
                    def.code
                ),
            ));
        }
        forms.insert(def.code.clone(), def);
    }
    let info = info.ok_or_else(|| invalid("regime.toml", "missing".into()))?;
    for f in forms.values() {
        if let Some(base) = &f.of
            && !forms.contains_key(base)
        {
            return Err(invalid(
                &f.code,
                format!("aggregates `{base}`, which this regime does not define"),
            ));
        }
    }
    Ok(Regime { info, forms })
}

fn form_def(file: FormFile) -> Result<FormDef, String> {
    let mut columns = Vec::with_capacity(file.columns.len());
    for c in file.columns {
        let fill = match (c.fill.as_deref(), c.metric, c.sum) {
            (Some("row_number"), None, None) => Fill::RowNumber,
            (Some("label"), None, None) => Fill::Label,
            (Some("note"), None, None) => Fill::Note,
            (None, Some(m), None) => Fill::Metric(m),
            (None, None, Some(s)) => Fill::Sum(s),
            _ => {
                return Err(format!(
                    "column {} needs exactly one of fill = \"row_number\" | \"label\" | \"note\", metric, sum",
                    c.number
                ));
            }
        };
        columns.push(Column {
            number: c.number,
            header: c.header,
            fill,
            width: c.width,
        });
    }
    let identities = file
        .identities
        .iter()
        .map(|t| Identity::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let def = FormDef {
        code: file.code,
        number: file.number,
        title: file.title,
        record: file.record,
        layout: file.layout,
        of: file.of,
        rows: file.rows,
        measure: file.measure,
        groups: file.groups,
        columns,
        identities,
        provisional: file.provisional,
        print: file.print,
    };
    let mut numbers = std::collections::HashSet::new();
    for c in &def.columns {
        if !numbers.insert(c.number) {
            return Err(format!(
                "column {} is defined twice: number the columns once each",
                c.number
            ));
        }
    }
    for c in &def.columns {
        if let Fill::Sum(terms) = &c.fill {
            if let Some(t) = terms.iter().find(|t| def.column(**t).is_none()) {
                return Err(format!(
                    "column {} sums column {t}, which is not defined",
                    c.number
                ));
            }
            // A sum over sums must end in figures: walk what it reaches.
            let mut todo: Vec<u32> = terms.clone();
            let mut seen = std::collections::HashSet::new();
            while let Some(t) = todo.pop() {
                if t == c.number {
                    return Err(format!(
                        "column {} sums itself (through the sums it adds)",
                        c.number
                    ));
                }
                if seen.insert(t)
                    && let Some(Fill::Sum(more)) = def.column(t).map(|x| &x.fill)
                {
                    todo.extend(more);
                }
            }
        }
    }
    for g in &def.groups {
        if let Some(c) = g.columns.iter().find(|c| def.column(**c).is_none()) {
            return Err(format!(
                "group `{}` names column {c}, which is not defined",
                g.header
            ));
        }
        if let Some(p) = &g.parent {
            let Some(parent) = def.groups.iter().find(|x| x.header == *p) else {
                return Err(format!(
                    "group `{}` names parent `{p}`, which is not a group",
                    g.header
                ));
            };
            if let Some(c) = g.columns.iter().find(|c| !parent.columns.contains(c)) {
                return Err(format!(
                    "group `{}` holds column {c}, which its parent `{p}` does not",
                    g.header
                ));
            }
            if def.depth(g) > def.groups.len() {
                return Err(format!("group `{}` is its own ancestor", g.header));
            }
        }
        let mut at: Vec<usize> = g
            .columns
            .iter()
            .filter_map(|n| def.columns.iter().position(|c| c.number == *n))
            .collect();
        at.sort_unstable();
        if at.windows(2).any(|w| w[1] != w[0] + 1) {
            return Err(format!(
                "group `{}` spans columns {:?}, which are not side by side in the column order",
                g.header, g.columns
            ));
        }
    }
    for c in &def.columns {
        let chain = def.ancestors(c.number);
        if let Some(w) = chain
            .windows(2)
            .find(|w| w[1].parent.as_deref() != Some(w[0].header.as_str()))
        {
            return Err(format!(
                "column {} is under groups `{}` and `{}`, neither inside the other",
                c.number, w[0].header, w[1].header
            ));
        }
    }
    let figures = def.figure_columns();
    for i in &def.identities {
        if let Some(c) = std::iter::once(&i.lhs)
            .chain(&i.rhs)
            .find(|c| !figures.contains(c))
        {
            return Err(format!(
                "identity `{}` names column {c}, which carries no figure",
                i.text
            ));
        }
    }
    if def.layout != Layout::Narrative && def.columns.is_empty() {
        return Err(format!(
            "{} is a table: it needs its [[columns]] (none is defined)",
            def.code
        ));
    }
    if def.layout == Layout::Aggregate && def.of.is_none() {
        return Err("an aggregate form needs `of`, the per-unit form it sums".into());
    }
    Ok(def)
}

impl fmt::Display for FormDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_definitions_load_and_regimes_follow_the_calendar() {
        let catalog = FormCatalog::builtin();
        let q3_2023: Period = "2023-Q3".parse().unwrap();
        let q1_2026: Period = "2026-Q1".parse().unwrap();
        assert_eq!(catalog.regime_for(&q3_2023).unwrap().info.id, "TT01/2020");
        assert_eq!(catalog.regime_for(&q1_2026).unwrap().info.id, "TT05/2025");
        let regime = catalog.regime_for(&q3_2023).unwrap();
        let ii06a = regime.form("ii.06a").unwrap();
        assert_eq!(ii06a.figure_columns(), (3..=13).collect::<Vec<_>>());
        assert_eq!(ii06a.identities.len(), 4);
        assert_eq!(regime.form("II.01-DC").unwrap().code, "II.01-ĐC");
        assert!(regime.form("II.07").is_err());
        assert!(regime.form("II.05a").unwrap().provisional);
    }

    #[test]
    fn identities_parse_and_check() {
        let i = Identity::parse("3 = 4 + 5 + 6").unwrap();
        assert!(i.holds(|c| if c == 3 { 6 } else { 2 }));
        let le = Identity::parse("10 <= 8").unwrap();
        assert!(le.holds(|c| if c == 10 { 1 } else { 2 }));
        assert!(!le.holds(|c| if c == 10 { 3 } else { 2 }));
        assert!(Identity::parse("3 4").is_err());
        assert!(Identity::parse("3 = x").is_err());
    }

    fn parse(groups: &str) -> Result<FormDef, String> {
        let text = format!(
            "code = \"T\"\nnumber = \"T\"\ntitle = \"T\"\nrecord = \"dossier\"\nlayout = \"per-unit\"\n\
             rows = \"field\"\nmeasure = \"x\"\n{groups}\n\
             [[columns]]\nnumber = 1\nheader = \"STT\"\nfill = \"row_number\"\n\
             [[columns]]\nnumber = 3\nheader = \"A\"\nmetric = \"received\"\n\
             [[columns]]\nnumber = 4\nheader = \"B\"\nmetric = \"closed\"\n\
             [[columns]]\nnumber = 5\nheader = \"C\"\nmetric = \"pending\"\n"
        );
        form_def(toml::from_str(&text).map_err(|e| e.to_string())?)
    }

    #[test]
    fn a_header_of_three_levels_is_data() {
        let def = parse(
            "[[groups]]\nheader = \"Top\"\ncolumns = [3, 4, 5]\n\
             [[groups]]\nheader = \"Mid\"\nparent = \"Top\"\ncolumns = [4, 5]\n",
        )
        .unwrap();
        assert_eq!(def.header_rows(), 3);
        assert_eq!(def.full_header(5), "Top: Mid: C");
        assert_eq!(def.full_header(3), "Top: A");
        assert_eq!(def.group_of(4).map(|g| g.header.as_str()), Some("Mid"));
    }

    #[test]
    fn a_header_that_cannot_be_drawn_is_refused() {
        let apart = parse("[[groups]]\nheader = \"G\"\ncolumns = [3, 5]\n").unwrap_err();
        assert!(apart.contains("not side by side"), "{apart}");
        let crossing = parse(
            "[[groups]]\nheader = \"G\"\ncolumns = [3, 4]\n\
             [[groups]]\nheader = \"H\"\ncolumns = [4, 5]\n",
        )
        .unwrap_err();
        assert!(crossing.contains("neither inside the other"), "{crossing}");
        let outside = parse(
            "[[groups]]\nheader = \"G\"\ncolumns = [3, 4]\n\
             [[groups]]\nheader = \"H\"\nparent = \"G\"\ncolumns = [4, 5]\n",
        )
        .unwrap_err();
        assert!(outside.contains("its parent `G` does not"), "{outside}");
        let orphan =
            parse("[[groups]]\nheader = \"H\"\nparent = \"X\"\ncolumns = [4]\n").unwrap_err();
        assert!(orphan.contains("not a group"), "{orphan}");
    }
}
