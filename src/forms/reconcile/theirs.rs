//! Their table: another system's II.06a read from raw sheets (a flat table, or the template
//! layout `report --format xlsx` writes), and their units and fields matched to ours by code or
//! by name. Whatever cannot be matched or read is listed, never dropped.

use super::super::FormDef;
use super::super::definition::Fill;
use crate::domain::UnitTree;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use unicode_normalization::UnicodeNormalization;

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

/// Units and fields by code or name.
pub(super) struct Index<'a> {
    units: &'a UnitTree,
    unit_names: HashMap<String, Vec<usize>>,
    field_codes: BTreeSet<String>,
    field_names: HashMap<String, BTreeSet<String>>,
}

impl<'a> Index<'a> {
    pub(super) fn new(units: &'a UnitTree, fields: &[(String, String)]) -> Index<'a> {
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

    pub(super) fn unit(&self, text: &str) -> Result<String, (&'static str, String)> {
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

    pub(super) fn field(&self, text: &str) -> Result<String, (&'static str, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Period;
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
