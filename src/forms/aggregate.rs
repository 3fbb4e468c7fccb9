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
    /// shallowest unit of a kind decides its level), within a level by kind as domain.md lists
    /// kinds (`domain::unit::KIND_ORDER`).
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
                crate::domain::unit::kind_rank(&s.kind),
            )
        });
        sections
    }
}

/// Who sums whom.
#[derive(Debug, Clone, Copy, Default)]
pub enum Aggregation<'a> {
    /// Every unit that has children sums its whole subtree, itself included (report-json.md).
    #[default]
    WholeSubtree,
    /// The duties' rule: a unit of a listed kind sums the units of its subtree (itself included)
    /// whose kind is among the kinds given with it (all kinds when none are).
    ByKind(&'a [(String, Vec<String>)]),
}

impl Aggregation<'_> {
    /// The aggregating units, by code.
    pub fn aggregators(&self, units: &UnitTree) -> Vec<UnitId> {
        let mut out: Vec<UnitId> = match self {
            Aggregation::WholeSubtree => units.ids().filter(|&u| units.has_children(u)).collect(),
            Aggregation::ByKind(rules) => units
                .ids()
                .filter(|&u| rules.iter().any(|(k, _)| *k == units.get(u).kind))
                .collect(),
        };
        out.sort_by(|&a, &b| units.get(a).code.cmp(&units.get(b).code));
        out
    }

    /// The units `unit`'s aggregate sums.
    pub fn members(&self, unit: UnitId, units: &UnitTree) -> Vec<UnitId> {
        let kinds: Option<&[String]> = match self {
            Aggregation::WholeSubtree => None,
            Aggregation::ByKind(rules) => rules
                .iter()
                .find(|(k, _)| *k == units.get(unit).kind)
                .map(|(_, kinds)| kinds.as_slice())
                .filter(|kinds| !kinds.is_empty()),
        };
        units
            .subtree(unit)
            .filter(|&m| kinds.is_none_or(|k| k.contains(&units.get(m).kind)))
            .collect()
    }
}

/// The aggregate of every aggregating unit. One whose members include a per-unit report that was
/// withheld (a broken identity in `per_unit_violations`) is withheld too: an aggregate is never
/// pushed or printed with a constituent missing.
pub fn compute_all(
    def: &FormDef,
    columns: &[u32],
    per_unit: &[UnitReport],
    per_unit_violations: &[IdentityViolation],
    units: &UnitTree,
    aggregation: Aggregation<'_>,
) -> (Vec<AggregateReport>, Vec<IdentityViolation>) {
    let by_unit: HashMap<&str, &UnitReport> =
        per_unit.iter().map(|r| (r.unit.as_str(), r)).collect();
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    for unit in aggregation.aggregators(units) {
        let code = &units.get(unit).code;
        let members = aggregation.members(unit, units);
        let broken = members.iter().find_map(|&m| {
            let member = &units.get(m).code;
            per_unit_violations.iter().find(|v| v.unit == *member)
        });
        if let Some(v) = broken {
            violations.push(IdentityViolation {
                form: def.code.clone(),
                unit: code.clone(),
                row: "_total".to_owned(),
                identity: format!(
                    "every constituent report complete ({} of {} was withheld)",
                    v.form, v.unit
                ),
                values: v.to_string(),
            });
            continue;
        }
        let reports_of = members
            .iter()
            .filter_map(|&m| by_unit.get(units.get(m).code.as_str()).copied());
        match aggregate(def, columns, code, reports_of, units) {
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
