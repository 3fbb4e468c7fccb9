//! HL, the satisfaction summary, on one sheet: the head of the form, the header from its
//! definition, one row per unit (every unit that was rated or resolved dossiers, so the unit rows
//! add up to the subtree rows), then one row per aggregating unit over its subtree, numbered on
//! without restarting; rates with one decimal; a note where a rate needs one.
//!
//! The total of ratings and the two rates are formulas over the row with their values cached.

use super::Styles;
use super::page::{Page, Weight};
use super::tables::{end, reporter_and_receiver, start, widths};
use crate::forms::definition::Fill;
use crate::forms::satisfaction::{Figure, SatisfactionReport};
use crate::render::{Document, RenderError};
use rust_xlsxwriter::utility::row_col_to_cell;
use rust_xlsxwriter::{Formula, Worksheet};

pub(super) const SHEET: &str = "Hài lòng";

/// The note a row needs, if any.
fn note(r: &SatisfactionReport) -> Option<&'static str> {
    if r.coverage.is_some_and(|c| c > 100.0) {
        return Some(crate::forms::satisfaction::COVERAGE_OVER_100_VI);
    }
    if r.total == 0 && r.resolved.is_some_and(|n| n > 0) {
        return Some("Chưa có lượt đánh giá nào cho hồ sơ đã giải quyết trong kỳ.");
    }
    r.basis.describe_vi()
}

pub(super) fn sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    units: &[SatisfactionReport],
    aggregates: &[SatisfactionReport],
    s: &Styles,
) -> Result<(), RenderError> {
    ws.set_name(SHEET)?;
    // A rate with nothing to divide by is absent: its formula's cached value is an empty text,
    // never the 0 rust_xlsxwriter caches by default, so every reader shows it empty.
    ws.set_formula_result_default("");
    let mut page = Page::new(ws, widths(doc))?;
    let tree = doc.units;
    let root = &tree.get(tree.root()).code;
    let (reporter, receiver) = reporter_and_receiver(doc, root);
    let (first, header) = start(&mut page, doc, Some(root), &reporter, &receiver, s)?;
    let order: std::collections::HashMap<&str, usize> = tree
        .subtree(tree.root())
        .enumerate()
        .map(|(i, id)| (tree.get(id).code.as_str(), i))
        .collect();
    let sorted = |list: &'_ [SatisfactionReport]| -> Vec<usize> {
        let mut v: Vec<usize> = (0..list.len()).collect();
        v.sort_by_key(|&i| {
            let unit = list[i].unit.as_str();
            (
                order.get(unit).copied().unwrap_or(usize::MAX),
                unit.to_owned(),
            )
        });
        v
    };
    let name = |code: &str| {
        tree.find(code)
            .map_or_else(|| code.to_owned(), |id| tree.get(id).name.clone())
    };
    let parts = [
        ("I", "Theo cơ quan, đơn vị", units, false),
        (
            "II",
            "Theo địa bàn (đơn vị và các đơn vị trực thuộc)",
            aggregates,
            true,
        ),
    ];
    let mut row = first;
    let mut number = 0;
    for (roman, title, list, subtree) in parts {
        if list.is_empty() {
            continue;
        }
        part_row(&mut page, doc, row, roman, title, s)?;
        row += 1;
        for r in sorted(list).into_iter().map(|i| &list[i]) {
            number += 1;
            let label = if subtree {
                format!("{} (toàn địa bàn)", name(&r.unit))
            } else {
                name(&r.unit)
            };
            summary_row(&mut page, doc, row, number, &label, r, s)?;
            row += 1;
        }
    }
    end(page, doc, row.saturating_sub(1).max(first), header, s)?;
    Ok(())
}

fn part_row(
    page: &mut Page<'_>,
    doc: &Document<'_>,
    row: u32,
    roman: &str,
    title: &str,
    s: &Styles,
) -> Result<(), RenderError> {
    let label = doc
        .form
        .columns
        .iter()
        .position(|c| c.fill == Fill::Label)
        .unwrap_or(1) as u16;
    for (i, c) in doc.form.columns.iter().enumerate() {
        let col = i as u16;
        match c.fill {
            Fill::RowNumber => page.cell(row, col, roman, &s.section_stt)?,
            _ if col == label => {
                page.text((row, col), (row, col), title, &s.total_text, Weight::Bold)?
            }
            _ => page.cell(row, col, "", &s.total_text)?,
        }
    }
    Ok(())
}

fn summary_row(
    page: &mut Page<'_>,
    doc: &Document<'_>,
    row: u32,
    number: usize,
    label: &str,
    r: &SatisfactionReport,
    s: &Styles,
) -> Result<(), RenderError> {
    let form = doc.form;
    let cell_of = |metric: &str| {
        form.columns
            .iter()
            .position(|c| matches!(&c.fill, Fill::Metric(m) if m == metric))
            .map(|p| row_col_to_cell(row, p as u16))
    };
    for (i, c) in form.columns.iter().enumerate() {
        let col = i as u16;
        match &c.fill {
            Fill::RowNumber => {
                page.ws
                    .write_number_with_format(row, col, number as f64, &s.stt)?;
            }
            Fill::Label => page.text((row, col), (row, col), label, &s.text, Weight::Regular)?,
            Fill::Note => match note(r) {
                Some(n) => page.text((row, col), (row, col), n, &s.text, Weight::Regular)?,
                None => page.cell(row, col, "", &s.text)?,
            },
            Fill::Sum(_) => page.cell(row, col, "", &s.text)?,
            Fill::Metric(metric) => {
                let figure = r.figure(metric).ok_or_else(|| RenderError::Unsupported {
                    form: form.code.clone(),
                    format: "xlsx",
                    hint: "a column names a metric the satisfaction summary does not have",
                })?;
                // The row's own arithmetic, as the definition states it.
                let within = form
                    .identities
                    .iter()
                    .find(|i| !i.at_most && i.lhs == c.number)
                    .map(|i| {
                        i.rhs
                            .iter()
                            .filter_map(|n| form.columns.iter().position(|c| c.number == *n))
                            .map(|p| row_col_to_cell(row, p as u16))
                            .collect::<Vec<_>>()
                            .join("+")
                    });
                let rate = |num: &[&str], den: &str| -> Option<String> {
                    let num: Vec<String> = num.iter().map(|m| cell_of(m)).collect::<Option<_>>()?;
                    let den = cell_of(den)?;
                    Some(format!(
                        "IF(N({den})=0,\"\",ROUND(({})/{den}*100,1))",
                        num.join("+")
                    ))
                };
                let formula = match metric.as_str() {
                    _ if within.is_some() => within,
                    "satisfaction_rate" => rate(&["level_1", "level_2"], "ratings"),
                    "coverage" if r.resolved.is_some() => rate(&["ratings"], "resolved"),
                    _ => None,
                };
                let (cached, format) = match figure {
                    Figure::Count(n) => (n.to_string(), &s.count),
                    Figure::Percent(p) => (format!("{p}"), &s.percent),
                    Figure::Undefined => (String::new(), &s.percent),
                };
                let format = if metric.ends_with("rate") || metric == "coverage" {
                    &s.percent
                } else {
                    format
                };
                match (formula, figure) {
                    (Some(f), _) => {
                        let f = Formula::new(format!("={f}")).set_result(cached);
                        page.ws.write_formula_with_format(row, col, f, format)?;
                    }
                    (None, Figure::Count(n)) => {
                        page.ws
                            .write_number_with_format(row, col, n as f64, format)?;
                    }
                    (None, Figure::Percent(p)) => {
                        page.ws.write_number_with_format(row, col, p, format)?;
                    }
                    (None, Figure::Undefined) => page.cell(row, col, "", format)?,
                }
            }
        }
    }
    page.need(row, 18.75);
    Ok(())
}
