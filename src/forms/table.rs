//! Per-unit tables: metric tallies per (unit, row key) become report rows through a definition's
//! column plan, and every row and total is checked against the definition's identities.

use super::definition::{FormDef, RowGrouping};
use super::values::{ColumnPlan, Values};
use super::{IdentityViolation, Row};
use crate::domain::UnitTree;
use crate::domain::unit::UnitId;
use std::collections::HashMap;
use std::sync::Arc;

/// A per-unit report (II.06a, II.05a).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitReport {
    pub unit: String,
    /// One row per field with at least one counted record, sorted by key; empty for forms
    /// without row grouping.
    pub rows: Vec<Row>,
    pub total: Values,
}

/// Field names for row labels, looked up by field code.
pub trait FieldLabels {
    fn label(&self, field_code: &str) -> Option<String>;
}

/// Metric counts per unit and row key, each metric decided by its own rule. A million records
/// are counted here one by one: a lookup by the key's text, no copy of the key once it is in.
#[derive(Debug, Default)]
pub struct Tally {
    cells: HashMap<UnitId, HashMap<Arc<str>, Vec<u64>, FastHash>, FastHash>,
}

type FastHash = foldhash::fast::RandomState;

impl Tally {
    pub fn add(&mut self, unit: UnitId, key: &Arc<str>, facts: &[bool]) {
        self.add_times(unit, key, facts, 1);
    }

    /// Counts `times` records of the same unit, row and facts at once.
    pub fn add_times(&mut self, unit: UnitId, key: &Arc<str>, facts: &[bool], times: u64) {
        let rows = self.cells.entry(unit).or_default();
        let cell = match rows.get_mut(&**key) {
            Some(cell) => cell,
            None => rows
                .entry(key.clone())
                .or_insert_with(|| vec![0; facts.len()]),
        };
        for (c, &f) in cell.iter_mut().zip(facts) {
            *c += u64::from(f) * times;
        }
    }

    /// The row keys with something counted, in any unit.
    pub fn row_keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.cells
            .values()
            .flat_map(|rows| rows.keys().map(|k| &**k))
    }

    /// The units with something counted.
    pub fn units(&self) -> impl Iterator<Item = UnitId> + '_ {
        self.cells.keys().copied()
    }

    /// Summed counts of one unit, all rows.
    pub fn unit_counts(&self, unit: UnitId) -> Option<Vec<u64>> {
        let mut total: Option<Vec<u64>> = None;
        for counts in self.cells.get(&unit)?.values() {
            let t = total.get_or_insert_with(|| vec![0; counts.len()]);
            t.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
        }
        total
    }

    /// Every (unit, row key, counts), in no order.
    fn into_cells(self) -> impl Iterator<Item = (UnitId, Arc<str>, Vec<u64>)> {
        self.cells
            .into_iter()
            .flat_map(|(unit, rows)| rows.into_iter().map(move |(k, c)| (unit, k, c)))
    }
}

/// Builds the reports of every unit in the tally, sorted by unit code; a report that breaks an
/// identity is withheld and listed instead.
pub fn per_unit_reports(
    def: &FormDef,
    plan: &ColumnPlan,
    tally: Tally,
    units: &UnitTree,
    labels: &dyn FieldLabels,
) -> (Vec<UnitReport>, Vec<IdentityViolation>) {
    let mut by_unit: HashMap<UnitId, Vec<Row>> = HashMap::new();
    let mut totals: HashMap<UnitId, Values> = HashMap::new();
    for (unit, key, counts) in tally.into_cells() {
        let values = plan.values(&counts);
        totals
            .entry(unit)
            .or_insert_with(|| Values::zeros(&plan.numbers()))
            .add(&values);
        if def.rows == RowGrouping::Field {
            let label = labels.label(&key).unwrap_or_else(|| key.to_string());
            by_unit.entry(unit).or_default().push(Row {
                key: key.to_string(),
                label,
                values,
            });
        }
    }
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    for (unit, total) in totals {
        let mut rows = by_unit.remove(&unit).unwrap_or_default();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        let report = UnitReport {
            unit: units.get(unit).code.clone(),
            rows,
            total,
        };
        match check(def, &report.unit, &report.rows, &report.total) {
            Ok(()) => reports.push(report),
            Err(v) => violations.push(v),
        }
    }
    reports.sort_by(|a, b| a.unit.cmp(&b.unit));
    (reports, violations)
}

pub(super) fn sum_rows(rows: &[Row], columns: &[u32]) -> Values {
    let mut total = Values::zeros(columns);
    for r in rows {
        total.add(&r.values);
    }
    total
}

/// Checks every row and the total of a report against the definition's identities.
pub(super) fn check(
    def: &FormDef,
    unit: &str,
    rows: &[Row],
    total: &Values,
) -> Result<(), IdentityViolation> {
    let named = rows
        .iter()
        .map(|r| (r.key.as_str(), &r.values))
        .chain(std::iter::once(("_total", total)));
    for (row, values) in named {
        if let Some(identity) = values.broken_identity(&def.identities) {
            return Err(IdentityViolation {
                form: def.code.clone(),
                unit: unit.to_owned(),
                row: row.to_owned(),
                identity: identity.text.clone(),
                values: values.to_string(),
            });
        }
    }
    Ok(())
}
