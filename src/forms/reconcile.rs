//! Reconciling II.06a with another system's statistics of the same dossiers (`reconcile`): per
//! unit × field × column, ours, theirs and the difference; for each difference, the dossiers that
//! a known other reading of the rules moves into or out of that cell, each with its reading, and
//! what is left unexplained.
//!
//! The readings are the ones other systems are known to apply where domain.md differs, in this
//! order (a dossier is attributed to the first that applies to it):
//! 1. `withdrawn_by_dates`, 2. `unknown_channel_in_total`, 3. `finished_before_received_counted`,
//! 4. `resolved_without_reception_date` (see [`ReadingName`]).
//!
//! Another system applies its rules to every dossier, so a reading is taken to be in effect
//! there when applying it to every dossier brings the two tables closer (less total absolute
//! difference), tried in that order, each on top of those already in effect. The dossiers those
//! readings move explain the differences they touch; the rest is left unexplained, never forced.
//!
//! Their table arrives as raw sheets (read by `sources::theirs`): a flat table (a header row with `unit`,
//! `field` and the columns by number, "(n)" or label, then one row per unit and field) or the
//! template layout `report --format xlsx` writes (one sheet per unit). Units and fields are
//! matched by code or by name; whatever cannot be matched is listed, never dropped.
//!
//! Pure: no IO, no clock.

use super::FormDef;
use super::definition::Fill;
use super::ii06a::{DOSSIER_METRICS, Placement, Reading, Window, place_as};
use super::table::UnitReport;
use crate::domain::{Dossier, Period, UnitTree};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use unicode_normalization::UnicodeNormalization;

/// The known other readings, in the order a dossier is attributed to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingName {
    /// A `Trả lại/Xin rút` dossier stored as status 9/10 placed in (8) or (10) by its dates
    /// instead of (9).
    WithdrawnByDates,
    /// A dossier received in the period with a channel outside 1-3 counted in (3) and its
    /// (7)-(13) columns but in neither (4) nor (5), instead of left out.
    UnknownChannelInTotal,
    /// A dossier finished before it was received, counted by its dates instead of left out.
    FinishedBeforeReceivedCounted,
    /// A resolved dossier with no reception date counted in (7) and its (8)-(10) column instead
    /// of left out.
    ResolvedWithoutReceptionDate,
}

impl ReadingName {
    pub const ALL: [ReadingName; 4] = [
        ReadingName::WithdrawnByDates,
        ReadingName::UnknownChannelInTotal,
        ReadingName::FinishedBeforeReceivedCounted,
        ReadingName::ResolvedWithoutReceptionDate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReadingName::WithdrawnByDates => "withdrawn_by_dates",
            ReadingName::UnknownChannelInTotal => "unknown_channel_in_total",
            ReadingName::FinishedBeforeReceivedCounted => "finished_before_received_counted",
            ReadingName::ResolvedWithoutReceptionDate => "resolved_without_reception_date",
        }
    }

    /// What the other system does, in Vietnamese.
    pub fn describe_vi(self) -> &'static str {
        match self {
            ReadingName::WithdrawnByDates => {
                "Hồ sơ \"Trả lại/Xin rút\" lưu ở trạng thái 9/10 được xếp vào cột (8) hoặc (10) theo ngày, thay vì cột (9)"
            }
            ReadingName::UnknownChannelInTotal => {
                "Hồ sơ tiếp nhận trong kỳ có kênh thực hiện không phải 1, 2, 3 được tính vào cột (3) và (7)-(13) nhưng không vào (4), (5), thay vì không tính"
            }
            ReadingName::FinishedBeforeReceivedCounted => {
                "Hồ sơ có ngày kết thúc xử lý trước ngày tiếp nhận vẫn được tính theo các ngày của nó, thay vì không tính"
            }
            ReadingName::ResolvedWithoutReceptionDate => {
                "Hồ sơ đã giải quyết không có ngày tiếp nhận được tính vào cột (7) và cột (8)-(10) tương ứng, thay vì không tính"
            }
        }
    }

    fn add_to(self, mut r: Reading) -> Reading {
        match self {
            ReadingName::WithdrawnByDates => r.withdrawn_by_dates = true,
            ReadingName::UnknownChannelInTotal => r.unknown_channel_in_total = true,
            ReadingName::FinishedBeforeReceivedCounted => r.finished_before_received_counted = true,
            ReadingName::ResolvedWithoutReceptionDate => r.resolved_without_reception_date = true,
        }
        r
    }
}

fn reading_of(names: &[ReadingName]) -> Reading {
    names.iter().fold(Reading::default(), |r, n| n.add_to(r))
}

/// One cell as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum RawCell {
    Empty,
    Number(f64),
    Text(String),
}

impl RawCell {
    /// The cell's text, numbers written as they read (`12`, `66.7`).
    pub fn text(&self) -> String {
        match self {
            RawCell::Empty => String::new(),
            RawCell::Number(n) => format!("{n}"),
            RawCell::Text(t) => t.trim().to_owned(),
        }
    }
}

/// A sheet: its name (the file name for a CSV) and its rows.
#[derive(Debug, Clone)]
pub struct RawSheet {
    pub name: String,
    pub rows: Vec<Vec<RawCell>>,
}

/// Before a unit's code in the head of a template sheet (`report --format xlsx` writes it; a
/// sheet read back is matched to its unit by it).
pub const UNIT_CODE_LABEL: &str = "Mã đơn vị:";

/// The sheets of the template workbook that hold no unit's table: the index and the findings.
pub const INDEX_SHEET: &str = "Mục lục";
pub const FINDINGS_SHEET: &str = "Phát hiện dữ liệu";

/// The row key of a unit's total.
pub const TOTAL: &str = "_total";

/// One row of their table, matched or not.
#[derive(Debug, Clone, PartialEq)]
pub struct TheirRow {
    /// Where it is: `trang tính 'X', dòng 12`.
    pub place: String,
    pub unit: String,
    pub field: String,
    /// Figures by column number.
    pub values: BTreeMap<u32, u64>,
}

/// Something in their table that could not be used, with where it is and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmatched {
    pub place: String,
    pub unit: String,
    pub field: String,
    /// `unknown_unit`, `ambiguous_unit`, `unknown_field`, `ambiguous_field`, `duplicate_row`,
    /// `not_a_count`, `unknown_column`, `no_table`.
    pub problem: &'static str,
    /// What is wrong and what to do, in Vietnamese.
    pub reason: String,
}

/// Their table read from raw sheets: rows, and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct TheirTable {
    pub rows: Vec<TheirRow>,
    pub unreadable: Vec<Unmatched>,
}

/// NFC, lower case, single spaces: names compare equal however they were typed.
fn norm(s: &str) -> String {
    s.nfc()
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole number from a cell: `12`, ` 12 `, `1.234` or `1,234` (thousands grouped by three, as
/// Vietnamese and English spreadsheets write them: `12.000` is twelve thousand), `12.0`; `None`
/// when empty.
fn count(cell: &RawCell) -> Result<Option<u64>, String> {
    let wrong = |t: &str| format!("\"{t}\" không phải số nguyên không âm");
    match cell {
        RawCell::Empty => Ok(None),
        RawCell::Number(n) if *n >= 0.0 && n.fract() == 0.0 => Ok(Some(*n as u64)),
        RawCell::Number(n) => Err(wrong(&n.to_string())),
        RawCell::Text(t) if t.trim().is_empty() => Ok(None),
        RawCell::Text(t) => {
            let s = t.trim();
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            let groups: Vec<&str> = s.split(['.', ',']).collect();
            let whole = match groups.as_slice() {
                [one] if digits(one) => one.to_string(),
                [first, rest @ ..]
                    if digits(first)
                        && first.len() <= 3
                        && rest.iter().all(|g| g.len() == 3 && digits(g)) =>
                {
                    groups.concat()
                }
                [int, zeros]
                    if digits(int) && !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') =>
                {
                    int.to_string()
                }
                _ => return Err(wrong(s)),
            };
            whole.parse::<u64>().map(Some).map_err(|_| wrong(s))
        }
    }
}

/// Which figure column each header names: its number ("7", "(7)"), its full label ("Kết quả
/// giải quyết: Số hồ sơ đã giải quyết: Tổng số") or its own label ("Trước hạn"). A label several
/// columns share ("Tổng số", "Quá hạn") takes, left to right, the columns of that label not named
/// otherwise, in the form's order. Returns (position, column) pairs and the positions not placed.
fn resolve_headers(def: &FormDef, headers: &[(usize, String)]) -> (Vec<(usize, u32)>, Vec<usize>) {
    let figures = def.figure_columns();
    let mut placed: Vec<(usize, u32)> = Vec::new();
    let mut shared: Vec<(usize, String)> = Vec::new();
    let mut unknown = Vec::new();
    for (at, header) in headers {
        let bare = header
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if let Ok(n) = bare.parse::<u32>() {
            if figures.contains(&n) {
                placed.push((*at, n));
            } else {
                unknown.push(*at);
            }
            continue;
        }
        let h = norm(header);
        if let Some(n) = figures.iter().find(|n| norm(&def.full_header(**n)) == h) {
            placed.push((*at, *n));
        } else {
            shared.push((*at, h));
        }
    }
    for (at, h) in shared {
        let free = def.columns.iter().find(|c| {
            figures.contains(&c.number)
                && norm(&c.header) == h
                && !placed.iter().any(|(_, n)| *n == c.number)
        });
        match free {
            Some(c) => placed.push((at, c.number)),
            None => unknown.push(at),
        }
    }
    placed.sort_unstable();
    (placed, unknown)
}

fn is_header(cell: &RawCell, names: &[&str]) -> bool {
    let t = norm(&cell.text());
    names.contains(&t.as_str())
}

const UNIT_HEADERS: [&str; 4] = ["unit", "mã đơn vị", "ma_don_vi", "madonvi"];
const FIELD_HEADERS: [&str; 5] = [
    "field",
    "lĩnh vực",
    "mã lĩnh vực",
    "malinhvuc",
    "ma_linh_vuc",
];

/// Reads their sheets: flat tables and template sheets alike; other sheets are listed.
pub fn read_theirs(def: &FormDef, sheets: &[RawSheet]) -> TheirTable {
    let mut out = TheirTable::default();
    for sheet in sheets {
        let header_row = sheet.rows.iter().position(|r| {
            r.iter().any(|c| is_header(c, &UNIT_HEADERS))
                && r.iter().any(|c| is_header(c, &FIELD_HEADERS))
        });
        match header_row {
            Some(h) => read_flat(def, sheet, h, &mut out),
            None => read_template(def, sheet, &mut out),
        }
    }
    out
}

fn read_flat(def: &FormDef, sheet: &RawSheet, header: usize, out: &mut TheirTable) {
    let place = |row: usize| format!("trang tính '{}', dòng {}", sheet.name, row + 1);
    let (mut unit_at, mut field_at, mut headers) = (None, None, Vec::new());
    for (i, cell) in sheet.rows[header].iter().enumerate() {
        if is_header(cell, &UNIT_HEADERS) && unit_at.is_none() {
            unit_at = Some(i);
        } else if is_header(cell, &FIELD_HEADERS) && field_at.is_none() {
            field_at = Some(i);
        } else if !cell.text().is_empty() {
            headers.push((i, cell.text()));
        }
    }
    let (columns, unknown) = resolve_headers(def, &headers);
    for at in unknown {
        out.unreadable.push(Unmatched {
            place: place(header),
            unit: String::new(),
            field: String::new(),
            problem: "unknown_column",
            reason: format!(
                "Cột \"{}\" không phải cột số liệu của biểu {}: không đối chiếu. Đặt tên cột theo số \
                 (3 … 13, hoặc (3) … (13)) hay theo tiêu đề của biểu",
                sheet.rows[header][at].text(),
                def.code
            ),
        });
    }
    let (Some(u), Some(f)) = (unit_at, field_at) else {
        return;
    };
    let empty = RawCell::Empty;
    for (r, row) in sheet.rows.iter().enumerate().skip(header + 1) {
        let cell = |i: usize| row.get(i).unwrap_or(&empty);
        let (unit, field) = (cell(u).text(), cell(f).text());
        if unit.is_empty() && field.is_empty() {
            continue;
        }
        push_row(
            out,
            place(r),
            unit,
            field,
            columns.iter().map(|&(i, n)| (n, cell(i))),
        );
    }
}

fn push_row<'c>(
    out: &mut TheirTable,
    place: String,
    unit: String,
    field: String,
    cells: impl Iterator<Item = (u32, &'c RawCell)>,
) {
    let mut values = BTreeMap::new();
    for (n, c) in cells {
        match count(c) {
            Ok(Some(v)) => {
                values.insert(n, v);
            }
            Ok(None) => {
                values.insert(n, 0);
            }
            Err(reason) => out.unreadable.push(Unmatched {
                place: place.clone(),
                unit: unit.clone(),
                field: field.clone(),
                problem: "not_a_count",
                reason: format!("Cột ({n}): {reason}; ô này không được đối chiếu"),
            }),
        }
    }
    out.rows.push(TheirRow {
        place,
        unit,
        field,
        values,
    });
}

/// A sheet as `report --format xlsx` lays a unit out: the unit's code after "Mã đơn vị:" (else
/// the sheet's name without its number), the numbered row "(1) (2) …", then a total row and one
/// row per field until the table ends.
fn read_template(def: &FormDef, sheet: &RawSheet, out: &mut TheirTable) {
    let numbered = sheet.rows.iter().position(|r| {
        let t: Vec<String> = r.iter().map(RawCell::text).collect();
        t.iter().any(|c| c == "(1)") && t.iter().any(|c| c == "(2)")
    });
    let Some(numbered) = numbered else {
        if [INDEX_SHEET, FINDINGS_SHEET].contains(&sheet.name.as_str()) {
            return;
        }
        out.unreadable.push(Unmatched {
            place: format!("trang tính '{}'", sheet.name),
            unit: String::new(),
            field: String::new(),
            problem: "no_table",
            reason: "Trang tính không có bảng để đối chiếu: không có dòng tiêu đề unit, field, … \
                     cũng không có dòng số thứ tự cột (1), (2), …"
                .into(),
        });
        return;
    };
    let unit = sheet.rows[..numbered]
        .iter()
        .flatten()
        .find_map(|c| {
            c.text()
                .strip_prefix(UNIT_CODE_LABEL)
                .map(|code| code.trim().to_owned())
        })
        .unwrap_or_else(|| {
            // "03 UBND xã 1" → "UBND xã 1"
            let name = sheet.name.trim();
            match name.split_once(' ') {
                Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => rest.trim().to_owned(),
                _ => name.to_owned(),
            }
        });
    let label_number = def
        .columns
        .iter()
        .find(|c| c.fill == Fill::Label)
        .map(|c| c.number)
        .unwrap_or(2);
    let figures = def.figure_columns();
    let mut label_at = None;
    let mut columns = Vec::new();
    for (i, c) in sheet.rows[numbered].iter().enumerate() {
        let t = c.text();
        let Some(n) = t
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        if n == label_number {
            label_at = Some(i);
        } else if figures.contains(&n) {
            columns.push((i, n));
        }
    }
    let Some(label_at) = label_at else {
        return;
    };
    let empty = RawCell::Empty;
    for (r, row) in sheet.rows.iter().enumerate().skip(numbered + 1) {
        let cell = |i: usize| row.get(i).unwrap_or(&empty);
        let label = cell(label_at).text();
        let has_figures = columns.iter().any(|&(i, _)| *cell(i) != RawCell::Empty);
        if label.is_empty() && !has_figures {
            break;
        }
        let field = if norm(&label) == "tổng số" {
            TOTAL.to_owned()
        } else {
            label
        };
        let place = format!("trang tính '{}', dòng {}", sheet.name, r + 1);
        push_row(
            out,
            place,
            unit.clone(),
            field,
            columns.iter().map(|&(i, n)| (n, cell(i))),
        );
    }
}

/// How one dossier changes one cell under the readings in effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    pub dossier: String,
    pub reading: ReadingName,
    /// +1: their reading puts the dossier in the cell and ours does not; -1: the other way.
    pub change: i64,
}

/// One cell compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub unit: String,
    pub unit_name: String,
    /// Field code, or `_total`.
    pub field: String,
    pub label: String,
    pub column: u32,
    pub ours: u64,
    pub theirs: u64,
    /// theirs - ours.
    pub difference: i64,
    /// The dossiers the readings in effect move into (+1) or out of (-1) this cell.
    pub explained: Vec<Move>,
    /// difference - the sum of the moves.
    pub unexplained: i64,
}

/// What a reading does to the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadingResult {
    pub reading: ReadingName,
    /// Applied to every dossier, it brings the tables closer (see the module doc).
    pub in_effect: bool,
    /// Dossiers it moves, applied alone.
    pub dossiers: usize,
    /// Total absolute difference over the compared cells with the readings in effect before it,
    /// then with it added.
    pub difference_without: u64,
    pub difference_with: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub cells: usize,
    pub differing: usize,
    /// Sum of |difference| over the cells.
    pub difference: u64,
    /// Sum of |unexplained| over the cells.
    pub unexplained: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub form: String,
    pub period: String,
    pub summary: Summary,
    pub readings: Vec<ReadingResult>,
    /// Every compared cell, by unit, field and column.
    pub cells: Vec<Cell>,
    /// Their rows (or columns, or sheets) that could not be matched or read.
    pub unmatched: Vec<Unmatched>,
    /// Our units with figures that their table does not have at all (not compared).
    pub units_only_ours: Vec<String>,
}

/// Units and fields by code or name.
struct Index<'a> {
    units: &'a UnitTree,
    unit_names: HashMap<String, Vec<usize>>,
    field_codes: BTreeSet<String>,
    field_names: HashMap<String, BTreeSet<String>>,
}

impl<'a> Index<'a> {
    fn new(units: &'a UnitTree, fields: &[(String, String)]) -> Index<'a> {
        let mut unit_names: HashMap<String, Vec<usize>> = HashMap::new();
        for id in units.ids() {
            unit_names
                .entry(norm(&units.get(id).name))
                .or_default()
                .push(id);
        }
        let mut field_codes = BTreeSet::new();
        let mut field_names: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (code, name) in fields {
            field_codes.insert(code.clone());
            if !name.is_empty() {
                field_names
                    .entry(norm(name))
                    .or_default()
                    .insert(code.clone());
            }
        }
        Index {
            units,
            unit_names,
            field_codes,
            field_names,
        }
    }

    fn unit(&self, text: &str) -> Result<String, (&'static str, String)> {
        let t = text.trim();
        if let Some(id) = self.units.find(t) {
            return Ok(self.units.get(id).code.clone());
        }
        if let Some(id) = self
            .units
            .ids()
            .find(|&id| self.units.get(id).code.eq_ignore_ascii_case(t))
        {
            return Ok(self.units.get(id).code.clone());
        }
        match self.unit_names.get(&norm(t)).map(Vec::as_slice) {
            Some([one]) => Ok(self.units.get(*one).code.clone()),
            Some(_) => Err((
                "ambiguous_unit",
                format!("Tên đơn vị \"{t}\" trùng với nhiều đơn vị: ghi mã đơn vị"),
            )),
            None => Err((
                "unknown_unit",
                format!(
                    "\"{t}\" không phải mã hay tên của đơn vị nào trong danh sách đơn vị; sửa lại hoặc bổ sung đơn vị vào cấu hình"
                ),
            )),
        }
    }

    fn field(&self, text: &str) -> Result<String, (&'static str, String)> {
        let t = text.trim();
        if t == TOTAL {
            return Ok(TOTAL.to_owned());
        }
        if self.field_codes.contains(t) {
            return Ok(t.to_owned());
        }
        match self.field_names.get(&norm(t)) {
            Some(codes) if codes.len() == 1 => Ok(codes.iter().next().cloned().unwrap_or_default()),
            Some(codes) => Err((
                "ambiguous_field",
                format!(
                    "Tên lĩnh vực \"{t}\" ứng với nhiều mã lĩnh vực ({}): ghi mã lĩnh vực",
                    codes.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            None => Err((
                "unknown_field",
                format!(
                    "\"{t}\" không phải mã hay tên của lĩnh vực nào trong các hồ sơ (hay danh mục lĩnh vực)"
                ),
            )),
        }
    }
}

type Key = (String, String, u32);

/// Compares `ours` (II.06a computed from `dossiers`) with `theirs`. `fields` gives each field
/// code with the names it may be written by (the source's, the catalogue's).
pub fn reconcile(
    def: &FormDef,
    dossiers: &[Dossier],
    units: &UnitTree,
    period: &Period,
    ours: &[UnitReport],
    theirs: &TheirTable,
    fields: &[(String, String)],
) -> Reconciliation {
    let index = Index::new(units, fields);
    let mut unmatched = theirs.unreadable.clone();

    // Their figures by cell; which units (and which with field rows) their table covers.
    let mut their_cells: HashMap<Key, u64> = HashMap::new();
    let mut seen_rows: HashMap<(String, String), String> = HashMap::new();
    let mut with_fields: BTreeSet<String> = BTreeSet::new();
    let mut with_total: BTreeSet<String> = BTreeSet::new();
    for row in &theirs.rows {
        let matched = index
            .unit(&row.unit)
            .and_then(|u| index.field(&row.field).map(|f| (u, f)));
        let (unit, field) = match matched {
            Ok(m) => m,
            Err((problem, reason)) => {
                unmatched.push(Unmatched {
                    place: row.place.clone(),
                    unit: row.unit.clone(),
                    field: row.field.clone(),
                    problem,
                    reason,
                });
                continue;
            }
        };
        if let Some(first) = seen_rows.get(&(unit.clone(), field.clone())) {
            unmatched.push(Unmatched {
                place: row.place.clone(),
                unit: row.unit.clone(),
                field: row.field.clone(),
                problem: "duplicate_row",
                reason: format!(
                    "Trùng đơn vị và lĩnh vực với dòng ở {first}; chỉ dòng đầu được đối chiếu"
                ),
            });
            continue;
        }
        seen_rows.insert((unit.clone(), field.clone()), row.place.clone());
        if field == TOTAL {
            with_total.insert(unit.clone());
        } else {
            with_fields.insert(unit.clone());
        }
        for (&n, &v) in &row.values {
            their_cells.insert((unit.clone(), field.clone(), n), v);
        }
    }
    let compared = |unit: &str, field: &str| {
        if field == TOTAL {
            with_total.contains(unit)
        } else {
            with_fields.contains(unit)
        }
    };

    // Our figures by cell, for the units their table covers.
    let columns = def.figure_columns();
    let mut our_cells: HashMap<Key, u64> = HashMap::new();
    let mut labels: HashMap<(String, String), String> = HashMap::new();
    let mut units_only_ours = Vec::new();
    for r in ours {
        if !with_fields.contains(&r.unit) && !with_total.contains(&r.unit) {
            if !r.total.is_zero() {
                units_only_ours.push(r.unit.clone());
            }
            continue;
        }
        for &n in &columns {
            our_cells.insert((r.unit.clone(), TOTAL.to_owned(), n), r.total.get(n));
        }
        labels.insert((r.unit.clone(), TOTAL.to_owned()), "Tổng số".to_owned());
        for row in &r.rows {
            for &n in &columns {
                our_cells.insert((r.unit.clone(), row.key.clone(), n), row.values.get(n));
            }
            labels.insert((r.unit.clone(), row.key.clone()), row.label.clone());
        }
    }

    // Which column each metric fills in this form.
    let metric_column: Vec<Option<u32>> =
        DOSSIER_METRICS.iter().map(|m| def.column_of(m)).collect();
    let window = Window::from(period);
    let base: Vec<Placement> = dossiers
        .iter()
        .map(|d| place_as(d, window, units, Reading::default()))
        .collect();
    // The cells one dossier's placement changes between ours and `reading`, with the change.
    let moves_of = |i: usize, reading: Reading| -> Vec<(Key, i64)> {
        let d = &dossiers[i];
        let alt = place_as(d, window, units, reading);
        if alt == base[i] {
            return Vec::new();
        }
        let set = |p: &Placement| match p {
            Placement::Counted { unit, columns, .. } => Some((*unit, *columns)),
            _ => None,
        };
        let (before, after) = (set(&base[i]), set(&alt));
        let unit = match (before, after) {
            (Some((u, _)), _) | (None, Some((u, _))) => units.get(u).code.clone(),
            (None, None) => return Vec::new(),
        };
        let mut out = Vec::new();
        for (m, column) in metric_column.iter().enumerate() {
            let Some(column) = column else { continue };
            let was = before.is_some_and(|(_, c)| c[m]);
            let now = after.is_some_and(|(_, c)| c[m]);
            if was != now {
                let change = if now { 1 } else { -1 };
                for field in [d.field_code.to_string(), TOTAL.to_owned()] {
                    out.push(((unit.clone(), field, *column), change));
                }
            }
        }
        out
    };
    let moved_by = |reading: Reading| -> Vec<(usize, Vec<(Key, i64)>)> {
        (0..dossiers.len())
            .map(|i| (i, moves_of(i, reading)))
            .filter(|(_, m)| !m.is_empty())
            .collect()
    };
    let distance = |moved: &[(usize, Vec<(Key, i64)>)]| -> u64 {
        let mut shift: HashMap<&Key, i64> = HashMap::new();
        for (_, cells) in moved {
            for (k, c) in cells {
                if compared(&k.0, &k.1) {
                    *shift.entry(k).or_insert(0) += c;
                }
            }
        }
        let keys: BTreeSet<&Key> = our_cells
            .keys()
            .chain(their_cells.keys())
            .chain(shift.keys().copied())
            .filter(|k| compared(&k.0, &k.1))
            .collect();
        keys.into_iter()
            .map(|k| {
                let ours = our_cells.get(k).copied().unwrap_or(0) as i64;
                let theirs = their_cells.get(k).copied().unwrap_or(0) as i64;
                (ours + shift.get(k).copied().unwrap_or(0) - theirs).unsigned_abs()
            })
            .sum()
    };

    // Which readings are in effect there.
    let mut in_effect: Vec<ReadingName> = Vec::new();
    let mut current = distance(&[]);
    let mut readings = Vec::new();
    for name in ReadingName::ALL {
        let alone = moved_by(name.add_to(Reading::default())).len();
        let mut trial = in_effect.clone();
        trial.push(name);
        let with = distance(&moved_by(reading_of(&trial)));
        let accepted = with < current;
        readings.push(ReadingResult {
            reading: name,
            in_effect: accepted,
            dossiers: alone,
            difference_without: current,
            difference_with: with,
        });
        if accepted {
            in_effect = trial;
            current = with;
        }
    }

    // The moves of the readings in effect, each dossier attributed to the first that applies.
    let mut explained: HashMap<Key, Vec<Move>> = HashMap::new();
    for (i, cells) in moved_by(reading_of(&in_effect)) {
        let reading = in_effect
            .iter()
            .copied()
            .find(|r| !moves_of(i, r.add_to(Reading::default())).is_empty())
            .unwrap_or(in_effect[0]);
        for (k, change) in cells {
            explained.entry(k).or_default().push(Move {
                dossier: dossiers[i].key.to_string(),
                reading,
                change,
            });
        }
    }

    let keys: BTreeSet<Key> = our_cells
        .keys()
        .chain(their_cells.keys())
        .chain(explained.keys())
        .filter(|k| compared(&k.0, &k.1))
        .cloned()
        .collect();
    let order: HashMap<&str, usize> = units
        .subtree(units.root())
        .enumerate()
        .map(|(i, id)| (units.get(id).code.as_str(), i))
        .collect();
    let mut keys: Vec<Key> = keys.into_iter().collect();
    keys.sort_by(|a, b| {
        let rank = |k: &Key| {
            (
                order.get(k.0.as_str()).copied().unwrap_or(usize::MAX),
                k.1 != TOTAL,
                k.1.clone(),
                columns.iter().position(|c| *c == k.2),
            )
        };
        rank(a).cmp(&rank(b))
    });
    let mut cells = Vec::with_capacity(keys.len());
    let mut summary = Summary::default();
    for k in keys {
        let ours = our_cells.get(&k).copied().unwrap_or(0);
        let theirs = their_cells.get(&k).copied().unwrap_or(0);
        let difference = theirs as i64 - ours as i64;
        let mut moves = explained.remove(&k).unwrap_or_default();
        moves.sort_by(|a, b| (a.reading, &a.dossier).cmp(&(b.reading, &b.dossier)));
        let unexplained = difference - moves.iter().map(|m| m.change).sum::<i64>();
        summary.cells += 1;
        summary.differing += usize::from(difference != 0);
        summary.difference += difference.unsigned_abs();
        summary.unexplained += unexplained.unsigned_abs();
        let unit_name = units
            .find(&k.0)
            .map_or_else(String::new, |id| units.get(id).name.clone());
        let label = labels
            .get(&(k.0.clone(), k.1.clone()))
            .cloned()
            .or_else(|| {
                fields
                    .iter()
                    .find(|(c, n)| *c == k.1 && !n.is_empty())
                    .map(|(_, n)| n.clone())
            })
            .unwrap_or_else(|| k.1.clone());
        cells.push(Cell {
            unit: k.0,
            unit_name,
            field: k.1,
            label,
            column: k.2,
            ours,
            theirs,
            difference,
            explained: moves,
            unexplained,
        });
    }
    Reconciliation {
        form: def.code.clone(),
        period: period.id(),
        summary,
        readings,
        cells,
        unmatched,
        units_only_ours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::FormCatalog;

    fn ii06a() -> FormDef {
        let period: Period = "2023-Q3".parse().unwrap();
        let catalog = FormCatalog::builtin();
        catalog
            .regime_for(&period)
            .unwrap()
            .form("II.06a")
            .unwrap()
            .clone()
    }

    fn text(cells: &[&str]) -> Vec<RawCell> {
        cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    RawCell::Empty
                } else {
                    RawCell::Text((*c).to_owned())
                }
            })
            .collect()
    }

    #[test]
    fn columns_are_found_by_number_by_full_label_and_by_label_in_the_forms_order() {
        let def = ii06a();
        let header = [
            "Mã đơn vị",
            "Lĩnh vực",
            "Tổng số",
            "Trực tuyến",
            "Trực tiếp, dịch vụ bưu chính",
            "(6)",
            "Tổng số",
            "Kết quả giải quyết: Số hồ sơ đã giải quyết: Trước hạn",
            "Đúng hạn",
            "10",
            "Tổng số",
            "Trong hạn",
            "Quá hạn",
            "Ghi chú",
        ];
        let row = [
            "U", "F", "11", "1", "2", "3", "4", "1", "2", "1", "7", "5", "2", "x",
        ];
        let sheet = RawSheet {
            name: "flat".into(),
            rows: vec![text(&header), text(&row)],
        };
        let t = read_theirs(&def, &[sheet]);
        assert_eq!(t.rows.len(), 1);
        let values: Vec<(u32, u64)> = t.rows[0].values.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            values,
            [
                (3, 11),
                (4, 1),
                (5, 2),
                (6, 3),
                (7, 4),
                (8, 1),
                (9, 2),
                (10, 1),
                (11, 7),
                (12, 5),
                (13, 2)
            ]
        );
        assert_eq!(t.unreadable.len(), 1, "{:?}", t.unreadable);
        assert_eq!(t.unreadable[0].problem, "unknown_column");
    }

    #[test]
    fn a_cell_that_is_not_a_count_is_listed_and_numbers_read_as_typed() {
        assert_eq!(count(&RawCell::Number(12.0)), Ok(Some(12)));
        assert_eq!(count(&RawCell::Text(" 1.234 ".into())), Ok(Some(1234)));
        assert_eq!(count(&RawCell::Empty), Ok(None));
        assert_eq!(count(&RawCell::Text("12.0".into())), Ok(Some(12)));
        assert_eq!(count(&RawCell::Text("12.000".into())), Ok(Some(12000)));
        assert!(count(&RawCell::Text("12.5".into())).is_err());
        assert!(count(&RawCell::Number(1.5)).is_err());
        assert!(count(&RawCell::Text("mười".into())).is_err());
    }
}
