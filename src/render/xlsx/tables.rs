//! The numbered forms: II.06a and II.05a (one sheet per unit: the total, then a row per field
//! when the form has field rows) and II.06 and II.05 (one sheet per aggregating unit: the grand
//! total, then a section per kind of unit with its subtotal and its field rows, or its unit rows
//! when the form has no field rows).
//!
//! Totals are formulas with their computed values cached: a column that an identity of the form
//! defines (`3 = 4 + 5 + 6`) adds the cells of its row, and a total or subtotal row adds the rows
//! under it. An official who corrects a cell sees every total follow; a reader that does not
//! calculate sees the computed figures.

use super::page::{self, Head, Page, Weight};
use super::{Styles, provisional_note};
use crate::forms::Values;
use crate::forms::aggregate::AggregateReport;
use crate::forms::definition::Fill;
use crate::forms::table::UnitReport;
use crate::render::{Document, RenderError, kind_label_vi};
use rust_xlsxwriter::utility::row_col_to_cell;
use rust_xlsxwriter::{Format, Formula, Worksheet, XlsxError};

/// Default printed widths, in characters, by what fills a column.
pub(super) fn widths(doc: &Document<'_>) -> Vec<f64> {
    doc.form
        .columns
        .iter()
        .map(|c| {
            c.width.unwrap_or(match c.fill {
                Fill::RowNumber => 5.0,
                Fill::Label => 40.0,
                Fill::Note => 20.0,
                Fill::Metric(_) | Fill::Sum(_) => 8.5,
            })
        })
        .collect()
}

/// Who reports to whom: the unit, and its parent (the Government Office for the root).
pub(super) fn reporter_and_receiver(doc: &Document<'_>, unit: &str) -> (String, String) {
    let units = doc.units;
    match units.find(unit) {
        Some(id) => (
            units.get(id).name.clone(),
            units
                .parent(id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "Văn phòng Chính phủ".to_owned()),
        ),
        None => (unit.to_owned(), String::new()),
    }
}

/// The head and the header of a form sheet; returns the first data row and the header rows.
pub(super) fn start(
    page: &mut Page<'_>,
    doc: &Document<'_>,
    unit: Option<&str>,
    reporter: &str,
    receiver: &str,
    s: &Styles,
) -> Result<(u32, (u32, u32)), XlsxError> {
    let head = Head {
        number: &doc.form.number,
        basis: &doc.regime.basis,
        reporter,
        receiver,
        unit_code: unit,
        title: doc.form.title.clone(),
        period: format!(
            "Kỳ báo cáo: {} ({})",
            doc.period.label_vi(),
            doc.period.window_vi()
        ),
        measure: &doc.form.measure,
    };
    let top = page::head(page, &head, s)?;
    let numbered = page::header(page, doc.form, top, s)?;
    Ok((numbered + 1, (top, numbered)))
}

/// Ends a form sheet: signatures, page setup, the provisional note beside the print area.
pub(super) fn end(
    mut page: Page<'_>,
    doc: &Document<'_>,
    last_data_row: u32,
    header: (u32, u32),
    s: &Styles,
) -> Result<(), XlsxError> {
    let last = page::signatures(&mut page, doc.form, last_data_row, s)?;
    page.setup(Some(header), last)?;
    page.ws.set_freeze_panes(header.1 + 1, 2)?;
    if let Some(note) = provisional_note(doc) {
        let col = page.last_col() + 2;
        page.ws.set_column_width(col, 48)?;
        page.ws.write_string_with_format(0, col, note, &s.note)?;
        page.need(0, 4.0 * 15.75);
    }
    page.finish()
}

/// What the STT column shows.
enum Stt<'a> {
    Blank,
    Number(usize),
    Text(&'a str),
}

#[derive(Clone, Copy)]
enum Kind {
    Detail,
    Total,
}

/// Writes a row's figures; `adds` are the rows a total row adds.
struct Rows<'d> {
    doc: &'d Document<'d>,
    /// Excel column of a column number.
    at: Vec<(u32, u16)>,
}

impl<'d> Rows<'d> {
    fn new(doc: &'d Document<'d>) -> Rows<'d> {
        let at = doc
            .form
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.number, i as u16))
            .collect();
        Rows { doc, at }
    }

    fn col(&self, number: u32) -> Option<u16> {
        self.at.iter().find(|(n, _)| *n == number).map(|(_, c)| *c)
    }

    /// The cells of `row` a column adds up within the row: the right-hand side of the first
    /// identity `n = a + b + …` of the form, or its own sum.
    fn within_row(&self, number: u32, fill: &Fill) -> Option<Vec<u32>> {
        if let Fill::Sum(parts) = fill {
            return Some(parts.clone());
        }
        self.doc
            .form
            .identities
            .iter()
            .find(|i| !i.at_most && i.lhs == number && i.rhs.iter().all(|c| self.col(*c).is_some()))
            .map(|i| i.rhs.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        page: &mut Page<'_>,
        row: u32,
        stt: Stt<'_>,
        label: &str,
        values: &Values,
        adds: &[u32],
        kind: Kind,
        s: &Styles,
    ) -> Result<(), XlsxError> {
        let (text, num): (&Format, &Format) = match kind {
            Kind::Detail => (&s.text, &s.count),
            Kind::Total => (&s.total_text, &s.total_count),
        };
        for (i, c) in self.doc.form.columns.iter().enumerate() {
            let col = i as u16;
            match &c.fill {
                Fill::RowNumber => match stt {
                    Stt::Blank => page.cell(row, col, "", text)?,
                    Stt::Number(n) => {
                        page.ws
                            .write_number_with_format(row, col, n as f64, &s.stt)?;
                    }
                    Stt::Text(t) => page.cell(row, col, t, &s.section_stt)?,
                },
                Fill::Label => {
                    let weight = match kind {
                        Kind::Detail => Weight::Regular,
                        Kind::Total => Weight::Bold,
                    };
                    page.text((row, col), (row, col), label, text, weight)?;
                }
                Fill::Note => page.cell(row, col, "", text)?,
                fill @ (Fill::Metric(_) | Fill::Sum(_)) => {
                    let value = values.get(c.number);
                    let formula = match self.within_row(c.number, fill) {
                        Some(parts) => Some(
                            parts
                                .iter()
                                .filter_map(|p| self.col(*p))
                                .map(|p| row_col_to_cell(row, p))
                                .collect::<Vec<_>>()
                                .join("+"),
                        ),
                        None if !adds.is_empty() => Some(sum_of(adds, col)),
                        None => None,
                    };
                    match formula {
                        Some(f) => {
                            let f = Formula::new(format!("={f}")).set_result(value.to_string());
                            page.ws.write_formula_with_format(row, col, f, num)?;
                        }
                        None => {
                            page.ws
                                .write_number_with_format(row, col, value as f64, num)?;
                        }
                    }
                }
            }
        }
        page.need(row, 18.75);
        Ok(())
    }
}

/// `SUM(D10:D14)` for consecutive rows, `SUM(D10,D20)` otherwise.
fn sum_of(rows: &[u32], col: u16) -> String {
    let consecutive = rows.windows(2).all(|w| w[1] == w[0] + 1);
    match (rows.first(), rows.last()) {
        (Some(&a), Some(&b)) if consecutive && a != b => format!(
            "SUM({}:{})",
            row_col_to_cell(a, col),
            row_col_to_cell(b, col)
        ),
        _ => format!(
            "SUM({})",
            rows.iter()
                .map(|r| row_col_to_cell(*r, col))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

pub(super) fn per_unit_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    r: &UnitReport,
    name: &str,
    s: &Styles,
) -> Result<(), RenderError> {
    ws.set_name(name)?;
    let mut page = Page::new(ws, widths(doc))?;
    let (reporter, receiver) = reporter_and_receiver(doc, &r.unit);
    let (first, header) = start(&mut page, doc, Some(&r.unit), &reporter, &receiver, s)?;
    let rows = Rows::new(doc);
    let details: Vec<u32> = (0..r.rows.len() as u32).map(|i| first + 1 + i).collect();
    rows.write(
        &mut page,
        first,
        Stt::Blank,
        "Tổng số",
        &r.total,
        &details,
        Kind::Total,
        s,
    )?;
    for (i, (field, at)) in r.rows.iter().zip(&details).enumerate() {
        rows.write(
            &mut page,
            *at,
            Stt::Number(i + 1),
            &field.label,
            &field.values,
            &[],
            Kind::Detail,
            s,
        )?;
    }
    let last = details.last().copied().unwrap_or(first);
    end(page, doc, last, header, s)?;
    Ok(())
}

const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

pub(super) fn aggregate_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    r: &AggregateReport,
    per_unit: &[UnitReport],
    name: &str,
    s: &Styles,
) -> Result<(), RenderError> {
    ws.set_name(name)?;
    let mut page = Page::new(ws, widths(doc))?;
    let (reporter, receiver) = reporter_and_receiver(doc, &r.unit);
    let (first, header) = start(&mut page, doc, Some(&r.unit), &reporter, &receiver, s)?;
    let rows = Rows::new(doc);
    let mut row = first + 1;
    let mut subtotals = Vec::new();
    for (i, section) in r.sections_printed(doc.units).into_iter().enumerate() {
        let number = ROMAN
            .get(i)
            .map_or_else(|| (i + 1).to_string(), |n| (*n).to_owned());
        // A form without field rows lists the units of the section instead.
        let lines: Vec<(String, &Values)> = if section.rows.is_empty() {
            unit_lines(doc, &r.unit, &section.kind, per_unit, &section.subtotal)
        } else {
            section
                .rows
                .iter()
                .map(|f| (f.label.clone(), &f.values))
                .collect()
        };
        let at = row;
        let details: Vec<u32> = (0..lines.len() as u32).map(|k| at + 1 + k).collect();
        rows.write(
            &mut page,
            at,
            Stt::Text(&number),
            kind_label_vi(&section.kind),
            &section.subtotal,
            &details,
            Kind::Total,
            s,
        )?;
        for (k, ((label, values), line)) in lines.iter().zip(&details).enumerate() {
            rows.write(
                &mut page,
                *line,
                Stt::Number(k + 1),
                label,
                values,
                &[],
                Kind::Detail,
                s,
            )?;
        }
        subtotals.push(at);
        row = at + 1 + lines.len() as u32;
    }
    rows.write(
        &mut page,
        first,
        Stt::Blank,
        "Tổng số",
        &r.total,
        &subtotals,
        Kind::Total,
        s,
    )?;
    end(page, doc, row - 1, header, s)?;
    Ok(())
}

/// The units of kind `kind` under `aggregator` with their totals, in the tree's order; empty
/// unless they add up to the section's subtotal (the figures are never left to disagree).
fn unit_lines<'a>(
    doc: &Document<'_>,
    aggregator: &str,
    kind: &str,
    per_unit: &'a [UnitReport],
    subtotal: &Values,
) -> Vec<(String, &'a Values)> {
    let units = doc.units;
    let Some(top) = units.find(aggregator) else {
        return Vec::new();
    };
    let lines: Vec<(String, &Values)> = units
        .subtree(top)
        .filter(|&id| units.get(id).kind == kind)
        .filter_map(|id| {
            let unit = units.get(id);
            per_unit
                .iter()
                .find(|r| r.unit == unit.code)
                .map(|r| (unit.name.clone(), &r.total))
        })
        .collect();
    let mut sum = Values::zeros(&doc.form.figure_columns());
    for (_, v) in &lines {
        sum.add(v);
    }
    if sum == *subtotal { lines } else { Vec::new() }
}
