//! Aggregates (II.06 over II.06a, II.05 over II.05a): the sum of a unit's subtree (domain.md §6).
//!
//! Sums the per-unit rows of every unit in the subtree (the aggregating unit included), one section
//! per kind of handling unit, rows inside each section, a subtotal per section and a grand total.
//! The grand total must equal the sum of the constituent per-unit totals; that is checked.

use super::definition::FormDef;
use super::table::{UnitReport, check, sum_rows};
use super::{IdentityViolation, Row, Values};
use crate::domain::UnitTree;
use crate::domain::unit::UnitId;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    /// The kind of the handling units summed here.
    pub kind: String,
    pub rows: Vec<Row>,
    pub subtotal: Values,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AggregateReport {
    pub unit: String,
    /// Sorted by kind.
    pub sections: Vec<Section>,
    pub total: Values,
}

impl AggregateReport {
    /// Sections in the printed form's order: from the highest level of the tree down (the
    /// shallowest unit of a kind decides its level), ties by kind.
    pub fn sections_printed(&self, units: &UnitTree) -> Vec<&Section> {
        let mut level: HashMap<&str, usize> = HashMap::new();
        for id in units.ids() {
            let d = units.depth(id);
            level
                .entry(units.get(id).kind.as_str())
                .and_modify(|l| *l = (*l).min(d))
                .or_insert(d);
        }
        let mut sections: Vec<&Section> = self.sections.iter().collect();
        sections.sort_by_key(|s| {
            (
                level.get(s.kind.as_str()).copied().unwrap_or(usize::MAX),
                s.kind.clone(),
            )
        });
        sections
    }
}

/// The aggregate of every unit that has children, each summing its whole subtree.
pub fn compute_all(
    def: &FormDef,
    columns: &[u32],
    per_unit: &[UnitReport],
    units: &UnitTree,
) -> (Vec<AggregateReport>, Vec<IdentityViolation>) {
    let by_unit: HashMap<&str, &UnitReport> =
        per_unit.iter().map(|r| (r.unit.as_str(), r)).collect();
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    let mut aggregators: Vec<UnitId> = units.ids().filter(|&u| units.has_children(u)).collect();
    aggregators.sort_by(|&a, &b| units.get(a).code.cmp(&units.get(b).code));
    for unit in aggregators {
        let members = units
            .subtree(unit)
            .filter_map(|u| by_unit.get(units.get(u).code.as_str()).copied());
        match aggregate(def, columns, &units.get(unit).code, members, units) {
            Ok(r) => reports.push(r),
            Err(v) => violations.push(v),
        }
    }
    (reports, violations)
}

/// Sums the given per-unit reports into one aggregate report for `unit`.
pub fn aggregate<'a>(
    def: &FormDef,
    columns: &[u32],
    unit: &str,
    members: impl IntoIterator<Item = &'a UnitReport>,
    units: &UnitTree,
) -> Result<AggregateReport, IdentityViolation> {
    // kind → (subtotal, field code → (label, values))
    type SectionSums<'r> = (Values, BTreeMap<&'r str, (&'r str, Values)>);
    let mut sections: BTreeMap<&str, SectionSums> = BTreeMap::new();
    let mut expected_total = Values::zeros(columns);
    for report in members {
        let Some(id) = units.find(&report.unit) else {
            continue;
        };
        expected_total.add(&report.total);
        let (subtotal, rows) = sections
            .entry(units.get(id).kind.as_str())
            .or_insert_with(|| (Values::zeros(columns), BTreeMap::new()));
        subtotal.add(&report.total);
        for row in &report.rows {
            let cell = rows
                .entry(row.key.as_str())
                .or_insert((row.label.as_str(), Values::zeros(columns)));
            cell.1.add(&row.values);
        }
    }
    let violation = |row: &str, identity: &str, values: String| IdentityViolation {
        form: def.code.clone(),
        unit: unit.to_owned(),
        row: row.to_owned(),
        identity: identity.to_owned(),
        values,
    };
    let mut report = AggregateReport {
        unit: unit.to_owned(),
        sections: Vec::new(),
        total: Values::zeros(columns),
    };
    for (kind, (subtotal, rows)) in sections {
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|(key, (label, values))| Row {
                key: key.to_owned(),
                label: label.to_owned(),
                values,
            })
            .collect();
        if !rows.is_empty() && sum_rows(&rows, columns) != subtotal {
            let sum = sum_rows(&rows, columns);
            return Err(violation(
                kind,
                "section subtotal = sum of its rows",
                format!("{subtotal} vs {sum}"),
            ));
        }
        check(def, unit, &rows, &subtotal)?;
        report.total.add(&subtotal);
        report.sections.push(Section {
            kind: kind.to_owned(),
            rows,
            subtotal,
        });
    }
    check(def, unit, &[], &report.total)?;
    if report.total != expected_total {
        let values = format!("{} vs {}", report.total, expected_total);
        return Err(violation(
            "_total",
            "grand total = sum of the constituent per-unit totals",
            values,
        ));
    }
    Ok(report)
}
