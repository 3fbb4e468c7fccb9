//! Explain a figure: for one cell of II.06a or II.06 (a unit, a row, a column), the dossiers
//! counted in it, each with the rule that placed it there in words an official understands and
//! the dates it was judged on; then the dossiers of that unit and field left out, each with its
//! finding. The same rules as the figures (`ii06a::place`), so the list's length is the figure.
//!
//! Pure, like the rest of `forms/`.

use super::aggregate::Aggregation;
use super::definition::{Fill, FormDef, Layout, Regime};
use super::ii06a::{DOSSIER_METRICS, Placement, Window, place};
use crate::domain::{Dossier, Instant, Period, UnitTree};
use serde::Serialize;

/// Which cell: a unit, a row key (a field code, `_total`; for II.06 `<kind>/<field>`,
/// `<kind>/_subtotal`), a column number.
#[derive(Debug, Clone)]
pub struct Cell {
    pub unit: String,
    pub row: String,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("{0} is not a dossier table: explain works on II.06a and II.06")]
    NotADossierTable(String),
    #[error("{form} has no column {column} with figures (see its definition)")]
    NoSuchColumn { form: String, column: u32 },
    #[error("unit `{0}` is not in the unit tree")]
    UnknownUnit(String),
    #[error("{form} of `{unit}`: there is no such report (II.06 belongs to units that aggregate)")]
    NotAnAggregator { form: String, unit: String },
    #[error("row `{row}`: {form} rows are {expected}")]
    BadRow {
        form: String,
        row: String,
        expected: &'static str,
    },
    #[error("form definition: {0}")]
    Definition(String),
}

/// A dossier counted in the cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountedDossier {
    pub record: String,
    pub unit: String,
    pub field: String,
    /// "cột 10: đã giải quyết quá hạn: kết thúc 16/09/2023, hạn 12/09/2023".
    pub reason: String,
    /// The dates the rule read, as local days (dd/mm/yyyy), absent when the record has none.
    pub received: Option<String>,
    pub due: Option<String>,
    pub finished: Option<String>,
    pub supplement_requested: Option<String>,
    pub status: u8,
    pub channel: String,
}

/// A dossier of the cell's unit and field left out of the counts, with its finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub record: String,
    pub unit: String,
    pub field: String,
    pub code: String,
    /// In Vietnamese: what is wrong and what to do.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub form: String,
    pub period: crate::domain::period::PeriodSummary,
    pub unit: String,
    pub row: String,
    pub column: u32,
    /// The column's header as printed (with its group's).
    pub header: String,
    /// The figure: how many dossiers are counted in the cell.
    pub figure: usize,
    pub counted: Vec<CountedDossier>,
    pub left_out: Vec<LeftOut>,
}

fn day(i: Option<Instant>) -> Option<String> {
    i.map(|i| i.local_day().to_date().format("%d/%m/%Y").to_string())
}

/// The rule that placed `d` in the column of `metric`, with the dates it read.
fn reason(column: u32, metric: &str, d: &Dossier, w: Window) -> String {
    let dd = |i: Option<Instant>| day(i).unwrap_or_else(|| "không có".to_owned());
    let (t, dl) = (
        w.first.to_date().format("%d/%m/%Y"),
        w.last.to_date().format("%d/%m/%Y"),
    );
    let received = dd(d.received_at.get());
    let finished = dd(d.finished_at.get());
    let due = dd(d.due_at.get());
    let withdrawn = d.status.code() == 7 || d.result_kind == crate::domain::ResultKind::Withdrawal;
    let text = match metric {
        "received" => format!(
            "thuộc kỳ báo cáo: tiếp nhận {received} (không sau {dl}), chưa giải quyết xong trước {t}"
        ),
        "received_online" => format!("tiếp nhận trực tuyến trong kỳ: tiếp nhận {received}"),
        "received_in_person_or_post" => {
            format!("tiếp nhận trực tiếp hoặc qua dịch vụ bưu chính trong kỳ: tiếp nhận {received}")
        }
        "carried_over" => format!("từ kỳ trước chuyển sang: tiếp nhận {received}, trước {t}"),
        "closed" => format!("đã giải quyết trong kỳ: kết thúc {finished}"),
        "closed_early" => format!("đã giải quyết trước hạn: kết thúc {finished}, hạn {due}"),
        "closed_on_time" if withdrawn => {
            format!("hồ sơ trả lại/xin rút, tính vào đúng hạn: kết thúc {finished}")
        }
        "closed_on_time" if d.due_at.get().is_none() => {
            format!("đã giải quyết, thủ tục không quy định thời hạn: kết thúc {finished}")
        }
        "closed_on_time" => format!("đã giải quyết đúng hạn: kết thúc {finished}, hạn {due}"),
        "closed_late" => format!("đã giải quyết quá hạn: kết thúc {finished}, hạn {due}"),
        "pending" if d.status.reads_finish_date() && d.finished_at.get().is_some() => {
            format!("đang giải quyết tại ngày {dl}: kết thúc {finished}, sau kỳ báo cáo")
        }
        "pending" => format!("đang giải quyết tại ngày {dl}: chưa kết thúc"),
        "pending_within_time" if matches!(d.status.code(), 5 | 6 | 8) => format!(
            "đang giải quyết trong hạn: tạm dừng tại ngày {dl} (trạng thái {}), yêu cầu bổ sung {}",
            d.status.code(),
            dd(d.supplement_requested_at.get())
        ),
        "pending_within_time" if d.due_at.get().is_none() => {
            "đang giải quyết trong hạn: thủ tục không quy định thời hạn".to_owned()
        }
        "pending_within_time" => format!("đang giải quyết trong hạn: hạn {due}, không trước {dl}"),
        "pending_overdue" => format!("đang giải quyết quá hạn: hạn {due}, trước {dl}"),
        other => other.to_owned(),
    };
    format!("cột {column}: {text}")
}

/// The metrics a column counts (a sum column counts its parts').
fn metrics_of(def: &FormDef, column: u32) -> Result<Vec<(u32, usize)>, ExplainError> {
    let no = || ExplainError::NoSuchColumn {
        form: def.code.clone(),
        column,
    };
    let c = def.column(column).ok_or_else(no)?;
    match &c.fill {
        Fill::Metric(m) => {
            let i = DOSSIER_METRICS
                .iter()
                .position(|x| x == m)
                .ok_or_else(|| ExplainError::Definition(format!("unknown metric `{m}`")))?;
            Ok(vec![(column, i)])
        }
        Fill::Sum(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(metrics_of(def, *p)?);
            }
            Ok(out)
        }
        Fill::RowNumber | Fill::Label | Fill::Note => Err(no()),
    }
}

/// Dossiers and, when they are not in their first-stored order (a store's read of a period),
/// each one's place in it: the lists come out in that order either way.
#[derive(Debug, Clone, Copy)]
pub struct Ordered<'a> {
    pub dossiers: &'a [Dossier],
    pub order: Option<&'a [i64]>,
}

impl<'a> From<&'a [Dossier]> for Ordered<'a> {
    fn from(dossiers: &'a [Dossier]) -> Ordered<'a> {
        Ordered {
            dossiers,
            order: None,
        }
    }
}

/// Explains one cell of `def` (II.06a, or II.06 over it) for `period`.
pub fn explain(
    regime: &Regime,
    def: &FormDef,
    input: Ordered<'_>,
    units: &UnitTree,
    period: &Period,
    aggregation: Aggregation<'_>,
    cell: &Cell,
) -> Result<Explanation, ExplainError> {
    let base = match def.layout {
        Layout::PerUnit => def,
        Layout::Aggregate => {
            let of = def.of.as_deref().unwrap_or_default();
            regime
                .form(of)
                .map_err(|e| ExplainError::Definition(e.to_string()))?
        }
        _ => return Err(ExplainError::NotADossierTable(def.code.clone())),
    };
    if base.record != super::RecordKind::Dossier {
        return Err(ExplainError::NotADossierTable(def.code.clone()));
    }
    let metrics = metrics_of(base, cell.column)?;
    let unit = units
        .find(&cell.unit)
        .ok_or_else(|| ExplainError::UnknownUnit(cell.unit.clone()))?;
    // Which units and which rows of theirs the cell covers: (unit, kind filter, field filter).
    let (members, kind, field): (Vec<_>, Option<&str>, Option<&str>) = match def.layout {
        Layout::PerUnit => {
            let field = (cell.row != "_total").then_some(cell.row.as_str());
            if cell.row.contains('/') {
                return Err(ExplainError::BadRow {
                    form: def.code.clone(),
                    row: cell.row.clone(),
                    expected: "a field code, or _total",
                });
            }
            (vec![unit], None, field)
        }
        _ => {
            if !aggregation.aggregators(units).contains(&unit) {
                return Err(ExplainError::NotAnAggregator {
                    form: def.code.clone(),
                    unit: cell.unit.clone(),
                });
            }
            let (kind, field) = match cell.row.split_once('/') {
                None if cell.row == "_total" => (None, None),
                Some((kind, "_subtotal")) => (Some(kind), None),
                Some((kind, field)) => (Some(kind), Some(field)),
                None => {
                    return Err(ExplainError::BadRow {
                        form: def.code.clone(),
                        row: cell.row.clone(),
                        expected: "<kind>/<field code>, <kind>/_subtotal, or _total",
                    });
                }
            };
            (aggregation.members(unit, units), kind, field)
        }
    };
    let member_codes: std::collections::HashSet<&str> = members
        .iter()
        .filter(|&&m| kind.is_none_or(|k| units.get(m).kind == k))
        .map(|&m| units.get(m).code.as_str())
        .collect();
    let w = Window::from(period);
    let mut counted = Vec::new();
    let mut left_out = Vec::new();
    let place_of = |i: usize| input.order.map_or(i as i64, |o| o[i]);
    for (at, d) in input.dossiers.iter().enumerate() {
        if field.is_some_and(|f| *d.field_code != *f) {
            continue;
        }
        match place(d, w, units) {
            Placement::Counted { unit, columns, .. } => {
                let code = units.get(unit).code.as_str();
                if !member_codes.contains(code) {
                    continue;
                }
                for &(column, i) in &metrics {
                    if columns[i] {
                        counted.push((
                            place_of(at),
                            CountedDossier {
                                record: d.key.to_string(),
                                unit: code.to_owned(),
                                field: d.field_code.to_string(),
                                reason: reason(column, DOSSIER_METRICS[i], d, w),
                                received: day(d.received_at.get()),
                                due: day(d.due_at.get()),
                                finished: day(d.finished_at.get()),
                                supplement_requested: day(d.supplement_requested_at.get()),
                                status: d.status.code(),
                                channel: d.channel.to_string(),
                            },
                        ));
                    }
                }
            }
            Placement::Error(code, _) if member_codes.contains(&*d.unit_code) => {
                left_out.push((
                    place_of(at),
                    LeftOut {
                        record: d.key.to_string(),
                        unit: d.unit_code.to_string(),
                        field: d.field_code.to_string(),
                        code: code.as_str().to_owned(),
                        reason: code.describe_vi().to_owned(),
                    },
                ));
            }
            _ => {}
        }
    }
    // In first-stored order (a stable sort: a dossier counted twice keeps its columns' order).
    counted.sort_by_key(|(place, _)| *place);
    left_out.sort_by_key(|(place, _)| *place);
    let counted: Vec<CountedDossier> = counted.into_iter().map(|(_, c)| c).collect();
    let left_out: Vec<LeftOut> = left_out.into_iter().map(|(_, l)| l).collect();
    let header = base.full_header(cell.column);
    Ok(Explanation {
        form: def.code.clone(),
        period: period.summary(),
        unit: cell.unit.clone(),
        row: cell.row.clone(),
        column: cell.column,
        header,
        figure: counted.len(),
        counted,
        left_out,
    })
}
