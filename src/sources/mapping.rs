//! Mapping as data: a source's own record (any JSON shape) becomes the DVCQG record of domain.md
//! §1 — the shape every export is read in — by a per-source configuration of field paths, instant
//! formats, code tables and unit resolution. Pure: no IO, no clock; catalogue look-ups (iGate's
//! ObjectIds) arrive already fetched.
//!
//! A value no table maps, or a unit name no unit matches, is never guessed and never dropped: a
//! status the table lacks makes the record a reject (`unmapped_value`, counted nowhere, listed);
//! a channel or a unit the tables lack is passed on raw (the forms then judge it as they judge an
//! export's) with a note naming the source, the field, the value and the setting that would map
//! it.

use crate::catalog::fold;
use crate::domain::{FindingCode, Instant, UnitTree};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The canonical fields of a dossier, in domain.md's order: those an export holds.
const DOSSIER_FIELDS: &[&str] =
    <crate::domain::Dossier as crate::sources::export::FromWire>::FIELDS;

const INSTANT_FIELDS: [&str; 6] = [
    "NgayTiepNhan",
    "NgayHenTra",
    "NgayYeuCauBoSung",
    "NgayKetThucXuLy",
    "NgayTra",
    "CapNhatLuc",
];

/// Which element of a list a path ending in `[]` takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    #[default]
    First,
    Last,
    /// The latest instant among the values (an instant field).
    Latest,
}

/// Where a canonical field's value is in the source's record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum FieldRule {
    /// `a.b.c`; `list[].field` goes into a list and takes the first element.
    Path(String),
    Rule {
        path: String,
        #[serde(default)]
        pick: Pick,
        /// The value is an id to look up in this catalogue (the source's `lookups`)…
        #[serde(default)]
        lookup: Option<String>,
        /// … taking this field of what the look-up answered.
        #[serde(default)]
        take: Option<String>,
        /// A fixed value when the path holds nothing.
        #[serde(default)]
        default: Option<String>,
    },
}

/// How instants are written. Every listed format is tried; they cannot be mistaken for each
/// other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum InstantFormat {
    /// `yyyyMMddHHmmss`, local time.
    #[serde(rename = "yyyyMMddHHmmss")]
    Compact,
    /// `dd/MM/yyyy` or `dd/MM/yyyy HH:mm[:ss]`, local time.
    #[serde(rename = "dd/MM/yyyy HH:mm:ss")]
    DayMonthYear,
    /// ISO 8601 with an offset (`+07:00`, `+0700` or `Z`); without one, local time.
    #[serde(rename = "iso")]
    Iso,
}

/// What a source's status code means: domain.md's status, and a result kind where the source
/// sends no LoaiKetQua.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum StatusTarget {
    Code(String),
    Full {
        status: String,
        #[serde(default)]
        result: Option<String>,
    },
}

/// How a dossier's handling unit is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitBy {
    /// A unit code in `field` (MaDonViXuLy by default), through `codes` when listed.
    Code,
    /// The MaHoSo's prefix before `separator` (Decree 61/2018's `<unit code>-yyMMdd-<n>`).
    Prefix,
    /// A unit name in `field` (DonViXuLy by default), matched folded against the unit tree's names
    /// and `aliases`.
    Name,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnitResolution {
    /// Tried in order; the first that finds a unit of the tree wins. Empty: the protocol's way
    /// (the envelope's names; a code elsewhere).
    pub by: Vec<UnitBy>,
    /// The field read for `code` or `name` (defaults: MaDonViXuLy, DonViXuLy).
    pub code_field: Option<String>,
    pub name_field: Option<String>,
    pub separator: String,
    /// The source's own codes → the unit tree's codes.
    pub codes: BTreeMap<String, String>,
}

impl Default for UnitResolution {
    fn default() -> UnitResolution {
        UnitResolution {
            by: Vec::new(),
            code_field: None,
            name_field: None,
            separator: "-".to_owned(),
            codes: BTreeMap::new(),
        }
    }
}

/// `[sources.mapping]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingSettings {
    /// Canonical field → where it is (default: the field of the same name).
    pub fields: BTreeMap<String, FieldRule>,
    pub instants: Vec<InstantFormat>,
    /// The source writes local time with a literal `Z`: read `…Z` as ICT.
    pub local_z: bool,
    /// The source's status codes → domain.md's; empty: the DVCQG codes 1–10 as they are.
    pub status: BTreeMap<String, StatusTarget>,
    /// The source's channel codes → 1 (counter), 2 (online), 3 (post); empty: as they are.
    pub channel: BTreeMap<String, String>,
    pub units: UnitResolution,
}

impl Default for MappingSettings {
    fn default() -> MappingSettings {
        MappingSettings {
            fields: BTreeMap::new(),
            instants: vec![
                InstantFormat::Compact,
                InstantFormat::DayMonthYear,
                InstantFormat::Iso,
            ],
            local_z: false,
            status: BTreeMap::new(),
            channel: BTreeMap::new(),
            units: UnitResolution::default(),
        }
    }
}

/// A path step: a field, and whether it enters a list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    field: String,
    list: bool,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    steps: Vec<Step>,
    pick: Pick,
    lookup: Option<(String, String)>,
    default: Option<String>,
    /// The setting, for messages (`sources.NAME.mapping.fields.X`).
    setting: String,
}

/// A source's mapping, checked and ready.
#[derive(Debug, Clone)]
pub struct Mapping {
    source: String,
    rules: Vec<(&'static str, CompiledRule)>,
    instants: Vec<InstantFormat>,
    local_z: bool,
    status: HashMap<String, (String, Option<String>)>,
    channel: HashMap<String, String>,
    units: UnitResolution,
}

/// Catalogue entries fetched for a page: (catalogue, id) → what the look-up answered.
pub type Lookups = HashMap<(String, String), Value>;

/// A value passed on raw because no table maps it: a warning, with the setting that would map it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub field: &'static str,
    pub value: String,
    pub message: String,
}

/// A record that cannot be counted: its key when it has one, a finding code, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub key: Option<String>,
    pub code: FindingCode,
    pub message: String,
}

/// A mapped record: the canonical JSON text, the unit it resolved to (if any), and the notes.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub key: String,
    pub text: String,
    pub open: bool,
    pub notes: Vec<Note>,
}

/// Units by folded name and alias, and by code.
#[derive(Debug, Clone, Default)]
pub struct UnitIndex {
    by_name: HashMap<String, Vec<String>>,
    codes: std::collections::HashSet<String>,
}

impl UnitIndex {
    pub fn of(tree: &UnitTree) -> UnitIndex {
        let mut index = UnitIndex::default();
        for id in tree.ids() {
            let u = tree.get(id);
            index.codes.insert(u.code.clone());
            for name in std::iter::once(&u.name).chain(&u.aliases) {
                let codes = index.by_name.entry(fold(name)).or_default();
                if !codes.contains(&u.code) {
                    codes.push(u.code.clone());
                }
            }
        }
        index
    }

    pub fn has(&self, code: &str) -> bool {
        self.codes.contains(code)
    }

    /// The unit a name means: `Ok(code)`, or why none (no unit, or several).
    pub fn by_unit_name(&self, name: &str) -> Result<&str, String> {
        match self.by_name.get(&fold(name)).map(Vec::as_slice) {
            Some([one]) => Ok(one),
            Some(many) if many.len() > 1 => Err(format!(
                "matches several units ({}); give each its own alias",
                many.join(", ")
            )),
            _ => Err("matches no unit's name or alias".to_owned()),
        }
    }
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (field, list) = match part.strip_suffix("[]") {
            Some(f) => (f, true),
            None => (part, false),
        };
        if field.is_empty() || field.contains(['[', ']']) {
            return Err(format!(
                "`{path}` is not a path like `a.b` or `list[].field`"
            ));
        }
        steps.push(Step {
            field: field.to_owned(),
            list,
        });
    }
    Ok(steps)
}

impl Mapping {
    /// Checks and prepares a source's mapping.
    pub fn compile(source: &str, s: &MappingSettings) -> Result<Mapping, String> {
        let setting = |what: &str| format!("sources `{source}` mapping.{what}");
        let mut rules = Vec::new();
        for name in s.fields.keys() {
            if !DOSSIER_FIELDS.contains(&name.as_str()) {
                return Err(format!(
                    "{}: `{name}` is not a field of domain.md's dossier ({})",
                    setting("fields"),
                    DOSSIER_FIELDS.join(", ")
                ));
            }
        }
        for &field in DOSSIER_FIELDS {
            let rule = s
                .fields
                .get(field)
                .cloned()
                .unwrap_or_else(|| FieldRule::Path(field.to_owned()));
            let (path, pick, lookup, take, default) = match rule {
                FieldRule::Path(p) => (p, Pick::First, None, None, None),
                FieldRule::Rule {
                    path,
                    pick,
                    lookup,
                    take,
                    default,
                } => (path, pick, lookup, take, default),
            };
            let steps = parse_path(&path)
                .map_err(|e| format!("{}: {e}", setting(&format!("fields.{field}"))))?;
            let lookup = match (lookup, take) {
                (Some(l), Some(t)) => Some((l, t)),
                (Some(l), None) => Some((l, "code".to_owned())),
                (None, Some(_)) => {
                    return Err(format!(
                        "{}: `take` needs a `lookup`",
                        setting(&format!("fields.{field}"))
                    ));
                }
                (None, None) => None,
            };
            rules.push((
                field,
                CompiledRule {
                    steps,
                    pick,
                    lookup,
                    default,
                    setting: format!("sources.{source}.mapping.fields.{field}"),
                },
            ));
        }
        let mut status = HashMap::new();
        for (code, target) in &s.status {
            let (to, result) = match target {
                StatusTarget::Code(c) => (c.clone(), None),
                StatusTarget::Full { status, result } => (status.clone(), result.clone()),
            };
            if crate::domain::Status::parse(&to).is_none() {
                return Err(format!(
                    "{}: `{code}` = `{to}` is not a status code from 1 to 10",
                    setting("status")
                ));
            }
            status.insert(code.trim().to_owned(), (to.trim().to_owned(), result));
        }
        for (code, to) in &s.channel {
            if !matches!(to.trim(), "1" | "2" | "3") {
                return Err(format!(
                    "{}: `{code}` = `{to}`: a channel is 1 (counter), 2 (online) or 3 (post)",
                    setting("channel")
                ));
            }
        }
        if s.instants.is_empty() {
            return Err(format!("{}: at least one format", setting("instants")));
        }
        let mut units = s.units.clone();
        if units.by.is_empty() {
            units.by = vec![UnitBy::Code];
        }
        Ok(Mapping {
            source: source.to_owned(),
            rules,
            instants: s.instants.clone(),
            local_z: s.local_z,
            status,
            channel: s
                .channel
                .iter()
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect(),
            units,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    fn rule(&self, field: &str) -> &CompiledRule {
        &self
            .rules
            .iter()
            .find(|(f, _)| *f == field)
            .expect("every canonical field has a rule")
            .1
    }

    /// The raw text of a canonical field in a source record (before any table), `None` when
    /// absent or empty.
    pub fn raw(&self, record: &Value, field: &str, lookups: &Lookups) -> Option<String> {
        let rule = self.rule(field);
        let values = collect(record, &rule.steps);
        let value = match rule.pick {
            Pick::First => values.into_iter().next(),
            Pick::Last => values.into_iter().last(),
            Pick::Latest => values
                .into_iter()
                .filter_map(|v| Some((self.instant(&v).ok()??, v)))
                .max_by_key(|(i, _)| *i)
                .map(|(_, v)| v),
        };
        let value = match (&rule.lookup, value) {
            (Some((catalogue, take)), Some(id)) => lookups
                .get(&(catalogue.clone(), id))
                .and_then(|entry| collect(entry, &parse_path(take).ok()?).into_iter().next()),
            (_, v) => v,
        };
        value
            .filter(|v| !v.trim().is_empty())
            .or_else(|| rule.default.clone())
    }

    /// An instant in any of the source's formats; `Ok(None)` for an empty text.
    pub fn instant(&self, text: &str) -> Result<Option<Instant>, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(None);
        }
        for format in &self.instants {
            let parsed = match format {
                InstantFormat::Compact => (t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| Instant::parse(t).ok())
                    .flatten(),
                InstantFormat::DayMonthYear => day_month_year(t),
                InstantFormat::Iso => iso(t, self.local_z),
            };
            if let Some(i) = parsed {
                return Ok(Some(i));
            }
        }
        let names: Vec<&str> = self
            .instants
            .iter()
            .map(|f| match f {
                InstantFormat::Compact => "yyyyMMddHHmmss",
                InstantFormat::DayMonthYear => "dd/MM/yyyy HH:mm:ss",
                InstantFormat::Iso => "ISO 8601",
            })
            .collect();
        Err(format!(
            "`{t}` is not an instant in {} (sources.{}.mapping.instants)",
            names.join(" or "),
            self.source
        ))
    }

    /// A status code of the source through its table: domain.md's code and the result kind the
    /// table carries; `Err` naming the setting for a code the table lacks.
    pub fn status(&self, raw: &str) -> Result<(String, Option<String>), String> {
        let raw = raw.trim();
        if self.status.is_empty() || raw.is_empty() {
            return Ok((raw.to_owned(), None));
        }
        self.status.get(raw).cloned().ok_or_else(|| {
            format!(
                "source `{}`: TrangThaiHoSo `{raw}` is not in the status table; map it with sources.{}.mapping.status.\"{raw}\" = \"<1–10>\"",
                self.source, self.source
            )
        })
    }

    /// Maps one record of the source. `Err` for a record that cannot be counted.
    pub fn map(
        &self,
        record: &Value,
        units: &UnitIndex,
        lookups: &Lookups,
    ) -> Result<Mapped, Rejected> {
        let key = self
            .raw(record, "MaHoSo", lookups)
            .map(|k| k.trim().to_owned());
        let reject = |code: FindingCode, message: String| Rejected {
            key: key.clone(),
            code,
            message,
        };
        let Some(key_text) = key.clone() else {
            return Err(reject(
                FindingCode::InvalidRecord,
                format!(
                    "no MaHoSo at `{}` ({})",
                    self.rule("MaHoSo").setting_path(),
                    self.rule("MaHoSo").setting
                ),
            ));
        };
        if !record.is_object() {
            return Err(reject(
                FindingCode::InvalidRecord,
                "the record is not a JSON object".to_owned(),
            ));
        }
        let mut out = serde_json::Map::new();
        let mut notes = Vec::new();
        for &field in DOSSIER_FIELDS {
            if let Some(v) = self.raw(record, field, lookups) {
                out.insert(field.to_owned(), Value::String(v.trim().to_owned()));
            }
        }
        // Instants, in the compact local form every reader takes.
        for field in INSTANT_FIELDS {
            let Some(Value::String(text)) = out.get(field).cloned() else {
                continue;
            };
            match self.instant(&text) {
                Ok(Some(i)) => {
                    out.insert(field.to_owned(), Value::String(i.to_compact_local()));
                }
                Ok(None) => {
                    out.remove(field);
                }
                Err(e) => return Err(reject(FindingCode::InvalidRecord, format!("{field}: {e}"))),
            }
        }
        // Status (and the result kind it carries), through the table.
        let status_raw = out
            .get("TrangThaiHoSo")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let status = match self.status(&status_raw) {
            Ok((to, result)) => {
                if let Some(r) = result
                    && !out.contains_key("LoaiKetQua")
                {
                    out.insert("LoaiKetQua".to_owned(), Value::String(r));
                }
                to
            }
            Err(message) => return Err(reject(FindingCode::UnmappedValue, message)),
        };
        out.insert("TrangThaiHoSo".to_owned(), Value::String(status.clone()));
        // Channel, through the table; a code it lacks goes on raw, with a note.
        if let Some(Value::String(raw)) = out.get("KenhThucHien").cloned()
            && !self.channel.is_empty()
        {
            match self.channel.get(&raw) {
                Some(to) => {
                    out.insert("KenhThucHien".to_owned(), Value::String(to.clone()));
                }
                None => notes.push(Note {
                    field: "KenhThucHien",
                    value: raw.clone(),
                    message: format!(
                        "source `{}`: KenhThucHien `{raw}` is not in the channel table; map it with sources.{}.mapping.channel.\"{raw}\" = \"1|2|3\"",
                        self.source, self.source
                    ),
                }),
            }
        }
        // The handling unit.
        match self.unit(record, &key_text, &out, units, lookups) {
            Ok(code) => {
                out.insert("MaDonViXuLy".to_owned(), Value::String(code));
            }
            Err((raw, note)) => {
                out.insert("MaDonViXuLy".to_owned(), Value::String(raw));
                notes.push(note);
            }
        }
        let open = is_open(&status, out.get("NgayKetThucXuLy").is_some());
        Ok(Mapped {
            key: key_text,
            text: Value::Object(out).to_string(),
            open,
            notes,
        })
    }

    /// The unit code a record belongs to, or (the raw value kept, a note) when none matches.
    fn unit(
        &self,
        record: &Value,
        key: &str,
        out: &serde_json::Map<String, Value>,
        units: &UnitIndex,
        lookups: &Lookups,
    ) -> Result<String, (String, Note)> {
        let code_field = self.units.code_field.as_deref().unwrap_or("MaDonViXuLy");
        let name_field = self.units.name_field.as_deref().unwrap_or("DonViXuLy");
        let read = |field: &str| -> Option<String> {
            if DOSSIER_FIELDS.contains(&field) {
                out.get(field).and_then(Value::as_str).map(str::to_owned)
            } else {
                self.raw_path(record, field, lookups)
            }
        };
        let mut tried = Vec::new();
        let mut first_raw = None;
        for by in &self.units.by {
            let (raw, found, what) = match by {
                UnitBy::Code | UnitBy::Prefix => {
                    let raw = match by {
                        UnitBy::Code => read(code_field),
                        _ => key
                            .split_once(self.units.separator.as_str())
                            .map(|(p, _)| p.to_owned()),
                    };
                    let Some(raw) = raw else { continue };
                    let code = self.units.codes.get(&raw).cloned().unwrap_or(raw.clone());
                    let found = units.has(&code).then_some(code);
                    let what = match by {
                        UnitBy::Code => format!("{code_field} `{raw}`"),
                        _ => format!("the MaHoSo prefix `{raw}`"),
                    };
                    (
                        raw,
                        found.ok_or_else(|| "is not a unit code of the tree".to_owned()),
                        what,
                    )
                }
                UnitBy::Name => {
                    let Some(raw) = read(name_field) else {
                        continue;
                    };
                    let found = units.by_unit_name(&raw).map(str::to_owned);
                    (raw.clone(), found, format!("{name_field} `{raw}`"))
                }
            };
            match found {
                Ok(code) => return Ok(code),
                Err(why) => {
                    first_raw.get_or_insert(raw.clone());
                    tried.push(format!("{what} {why}"));
                }
            }
        }
        let raw = first_raw.unwrap_or_default();
        let message = if tried.is_empty() {
            format!(
                "source `{}`: the dossier names no handling unit where sources.{}.mapping.units.by looks ({}); \
                 say where it is (units.by = [\"name\"] for DonViXuLy, [\"prefix\"] for the MaHoSo prefix, or units.code_field)",
                self.source,
                self.source,
                self.units
                    .by
                    .iter()
                    .map(|b| match b {
                        UnitBy::Code => format!("code in {code_field}"),
                        UnitBy::Prefix => "MaHoSo prefix".to_owned(),
                        UnitBy::Name => format!("name in {name_field}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "source `{}`: {}; add the name to the unit's `aliases` in the unit tree, or the code to sources.{}.mapping.units.codes",
                self.source,
                tried.join("; "),
                self.source
            )
        };
        Err((
            raw.clone(),
            Note {
                field: "MaDonViXuLy",
                value: raw,
                message,
            },
        ))
    }

    fn raw_path(&self, record: &Value, path: &str, _lookups: &Lookups) -> Option<String> {
        collect(record, &parse_path(path).ok()?)
            .into_iter()
            .next()
            .filter(|v| !v.trim().is_empty())
    }

    /// The ids of catalogue `name` a record refers to (for the client to look up).
    pub fn lookup_ids(&self, record: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (_, rule) in &self.rules {
            if let Some((catalogue, _)) = &rule.lookup {
                for id in collect(record, &rule.steps) {
                    out.push((catalogue.clone(), id));
                }
            }
        }
        out
    }
}

impl CompiledRule {
    fn setting_path(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                if s.list {
                    format!("{}[]", s.field)
                } else {
                    s.field.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Whether a dossier may still change in ways the forms read: not finished (9/10), not excluded
/// (3), not withdrawn with a finish date (7 with KT).
pub fn is_open(status: &str, has_finish: bool) -> bool {
    match status.trim() {
        "9" | "10" | "3" => false,
        "7" => !has_finish,
        _ => true,
    }
}

/// The texts at a path (several when it goes through lists).
fn collect(value: &Value, steps: &[Step]) -> Vec<String> {
    let Some((step, rest)) = steps.split_first() else {
        return text(value).into_iter().collect();
    };
    let Some(next) = value.get(&step.field) else {
        return Vec::new();
    };
    if step.list {
        match next {
            Value::Array(items) => items.iter().flat_map(|i| collect(i, rest)).collect(),
            other => collect(other, rest),
        }
    } else {
        collect(next, rest)
    }
}

/// A scalar as text: strings as they are, numbers as digits, booleans as 1/0.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) => crate::sources::export::wire::number_text(f),
            None => n.to_string(),
        }),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

/// `dd/MM/yyyy`, `dd/MM/yyyy HH:mm` or `dd/MM/yyyy HH:mm:ss`, local.
fn day_month_year(t: &str) -> Option<Instant> {
    use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
    let (date, time) = match t.split_once(' ') {
        Some((d, rest)) => (d, Some(rest.trim())),
        None => (t, None),
    };
    let shape = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            2 | 5 => b == b'/',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let day = NaiveDate::parse_from_str(date, "%d/%m/%Y").ok()?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::parse_from_str(t, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
            .ok()?,
    };
    let instant = Instant::from_local(NaiveDateTime::new(day, time));
    Instant::parse(&instant.to_compact_local()).ok()
}

/// ISO 8601: `yyyy-MM-ddTHH:mm:ss[.fff]` then `Z`, `±HH:MM`, `±HHMM` or nothing (local). With
/// `local_z`, a `Z` means local time, as some systems write it.
fn iso(t: &str, local_z: bool) -> Option<Instant> {
    use chrono::{DateTime, NaiveDateTime};
    let t = t.replacen(' ', "T", 1);
    if local_z && let Some(local) = t.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(Instant::from_local);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(&t) {
        return Some(Instant(dt.timestamp()));
    }
    if let Ok(dt) = DateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(Instant(dt.timestamp()));
    }
    NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(Instant::from_local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree() -> UnitTree {
        UnitTree::from_toml(
            "[[units]]\ncode=\"P\"\nname=\"UBND tỉnh Quảng Ngãi\"\nkind=\"province\"\nparent=\"\"\n\
             [[units]]\ncode=\"000.10.00.H55\"\nname=\"Sở Tư pháp\"\nkind=\"department\"\nparent=\"P\"\n\
             aliases=[\"Sở Tư pháp tỉnh Quảng Ngãi\"]\n\
             [[units]]\ncode=\"000.00.101.H55\"\nname=\"UBND xã Tịnh Khê\"\nkind=\"commune\"\nparent=\"P\"\n",
        )
        .unwrap()
    }

    fn mapping(toml_text: &str) -> Mapping {
        let s: MappingSettings = toml::from_str(toml_text).unwrap();
        Mapping::compile("dvc", &s).unwrap()
    }

    fn fields(m: &Mapped) -> serde_json::Map<String, Value> {
        serde_json::from_str::<Value>(&m.text)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_dongbohosomc_item_maps_to_the_dvcqg_record() {
        let m = mapping(
            "fields.NgayYeuCauBoSung = { path = \"DanhSachHoSoBoSung[].NgayBoSung\", pick = \"latest\" }\n\
             units.by = [\"name\"]\n\
             status = { \"3\" = \"8\", \"8\" = \"3\", \"7\" = { status = \"7\", result = \"Trả lại/Xin rút\" } }\n",
        );
        let item = json!({
            "MaHoSo": "000.10.00.H55-230620-00001", "MaTTHC": "1.001", "TenLinhVuc": "Hộ tịch",
            "MaLinhVuc": "G09-HT", "KenhThucHien": 2, "TrangThaiHoSo": "3",
            "NgayTiepNhan": "20230620083000", "NgayHenTra": "",
            "DonViXuLy": "SỞ TƯ PHÁP TỈNH QUẢNG NGÃI",
            "DanhSachHoSoBoSung": [
                {"NgayBoSung": "20230621090000"}, {"NgayBoSung": "20230625090000"}, {"NgayBoSung": "20230622090000"}
            ]
        });
        let out = m
            .map(&item, &UnitIndex::of(&tree()), &Lookups::new())
            .unwrap();
        let f = fields(&out);
        assert_eq!(f["MaDonViXuLy"], "000.10.00.H55", "by the alias, folded");
        assert_eq!(
            f["TrangThaiHoSo"], "8",
            "this source's 3 is dừng xử lý: paused"
        );
        assert_eq!(f["KenhThucHien"], "2", "a number is its digits");
        assert_eq!(
            f["NgayYeuCauBoSung"], "20230625090000",
            "the latest request"
        );
        assert!(!f.contains_key("NgayHenTra"), "empty is absent");
        assert!(out.open && out.notes.is_empty());
        let withdrawn = json!({"MaHoSo": "A", "TrangThaiHoSo": "7", "DonViXuLy": "Sở Tư pháp",
            "NgayKetThucXuLy": "20230701080000"});
        let out = m
            .map(&withdrawn, &UnitIndex::of(&tree()), &Lookups::new())
            .unwrap();
        assert_eq!(fields(&out)["LoaiKetQua"], "Trả lại/Xin rút");
        assert!(!out.open);
    }

    #[test]
    fn unmapped_values_are_named_with_their_setting_never_guessed() {
        let m = mapping(
            "status = { \"1\" = \"1\", \"2\" = \"2\" }\nchannel = { \"1\" = \"2\", \"2\" = \"1\" }\nunits.by = [\"name\"]\n",
        );
        let units = UnitIndex::of(&tree());
        let e = m
            .map(
                &json!({"MaHoSo": "A", "TrangThaiHoSo": "11"}),
                &units,
                &Lookups::new(),
            )
            .unwrap_err();
        assert_eq!(e.code, FindingCode::UnmappedValue);
        assert!(
            e.message.contains("sources.dvc.mapping.status.\"11\""),
            "{}",
            e.message
        );
        let out = m
            .map(
                &json!({"MaHoSo": "B", "TrangThaiHoSo": "2", "KenhThucHien": "4", "DonViXuLy": "Phòng Y tế"}),
                &units,
                &Lookups::new(),
            )
            .unwrap();
        let f = fields(&out);
        assert_eq!(
            f["KenhThucHien"], "4",
            "passed on raw for the forms to judge"
        );
        assert_eq!(
            f["MaDonViXuLy"], "Phòng Y tế",
            "stored under its name, never a guess"
        );
        assert_eq!(out.notes.len(), 2);
        assert!(out.notes[0].message.contains("mapping.channel.\"4\""));
        assert!(
            out.notes[1].message.contains("aliases"),
            "{}",
            out.notes[1].message
        );
        let reversed = m
            .map(
                &json!({"MaHoSo": "C", "TrangThaiHoSo": "2", "KenhThucHien": "1"}),
                &units,
                &Lookups::new(),
            )
            .unwrap();
        assert_eq!(
            fields(&reversed)["KenhThucHien"],
            "2",
            "this source's 1 is online"
        );
    }

    #[test]
    fn instants_in_every_format_and_literal_z() {
        let m = mapping("");
        let at = |t: &str| m.instant(t).unwrap().unwrap().to_compact_local();
        assert_eq!(at("20230620083000"), "20230620083000");
        assert_eq!(at("20/06/2023 08:30:00"), "20230620083000");
        assert_eq!(at("20/06/2023"), "20230620000000");
        assert_eq!(at("2023-06-20T08:30:00+07:00"), "20230620083000");
        assert_eq!(at("2023-06-20T08:30:00.000+0700"), "20230620083000");
        assert_eq!(at("2023-06-20T01:30:00Z"), "20230620083000");
        assert_eq!(
            at("2023-06-20T08:30:00"),
            "20230620083000",
            "no offset: local"
        );
        assert!(m.instant("2023-13-45").is_err());
        assert_eq!(m.instant("  ").unwrap(), None);
        let z = mapping("local_z = true");
        assert_eq!(
            z.instant("2023-06-20T08:30:00.000Z")
                .unwrap()
                .unwrap()
                .to_compact_local(),
            "20230620083000",
            "a literal Z on local time"
        );
        let only = mapping("instants = [\"dd/MM/yyyy HH:mm:ss\"]");
        let e = only.instant("20230620083000").unwrap_err();
        assert!(e.contains("sources.dvc.mapping.instants"), "{e}");
    }

    #[test]
    fn prefix_codes_lookups_and_bad_settings() {
        let m = mapping(
            "units.by = [\"code\", \"prefix\"]\nunits.codes = { \"H55.10\" = \"000.10.00.H55\" }\n\
             fields.MaLinhVuc = { path = \"sector.id\", lookup = \"sector\", take = \"code\" }\n",
        );
        let mut lookups = Lookups::new();
        lookups.insert(
            ("sector".into(), "64a1".into()),
            json!({"code": "G09-HT", "name": "Hộ tịch"}),
        );
        let item = json!({"MaHoSo": "000.00.101.H55-230620-00001", "TrangThaiHoSo": "2", "sector": {"id": "64a1"}});
        let out = m.map(&item, &UnitIndex::of(&tree()), &lookups).unwrap();
        let f = fields(&out);
        assert_eq!(
            f["MaDonViXuLy"], "000.00.101.H55",
            "no code field: the prefix"
        );
        assert_eq!(f["MaLinhVuc"], "G09-HT");
        assert_eq!(
            m.lookup_ids(&item),
            vec![("sector".to_owned(), "64a1".to_owned())]
        );
        let coded = json!({"MaHoSo": "X-1", "TrangThaiHoSo": "2", "MaDonViXuLy": "H55.10"});
        let out = m.map(&coded, &UnitIndex::of(&tree()), &lookups).unwrap();
        assert_eq!(
            fields(&out)["MaDonViXuLy"],
            "000.10.00.H55",
            "through the code table"
        );
        for bad in [
            "fields.Foo = \"x\"",
            "status = { \"1\" = \"12\" }",
            "channel = { \"1\" = \"online\" }",
            "fields.MaHoSo = \"a[0].b\"",
        ] {
            let s: MappingSettings = toml::from_str(bad).unwrap();
            assert!(Mapping::compile("dvc", &s).is_err(), "{bad}");
        }
    }
}
