//! Forms: pure computation from records, a period, the unit tree and a form definition to report
//! figures and findings.
//!
//! Architecture invariant: nothing in this module does IO or reads the clock (definitions are
//! parsed from text handed in; `FormCatalog::load` is the one door to files and lives at the edge of
//! this module for that reason). Same input, same report; tests need no setup.

pub mod aggregate;
pub mod definition;
pub mod ii06a;
pub mod table;
mod values;

pub use definition::{FormCatalog, FormDef, Layout, RecordKind, Regime};
pub use values::{ColumnPlan, Values};

use crate::domain::{Dossier, Finding, Period, UnitTree};

/// A computed report broke one of its form's identities: a bug in the product, never a data
/// problem. The report is withheld; the others go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{form} {unit}, row `{row}`: identity {identity} does not hold ({values}); this is a bug, please report it"
)]
pub struct IdentityViolation {
    pub form: String,
    pub unit: String,
    pub row: String,
    pub identity: String,
    pub values: String,
}

/// A form cannot be computed as defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("form definition: {0}")]
    Definition(String),
    #[error("{form} counts {record:?} records; pass them with {flag}")]
    MissingRecords {
        form: String,
        record: RecordKind,
        flag: &'static str,
    },
    #[error("{0} is not a table: it has no figures of its own")]
    NotATable(String),
}

/// One row of a report: a field (lĩnh vực) and its figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// Field code (MaLinhVuc).
    pub key: String,
    /// Field name (domain.md §5 "Labels").
    pub label: String,
    pub values: Values,
}

/// The figures of one form for one period, with every finding about the input.
#[derive(Debug, Clone, Default)]
pub struct Computed {
    /// Per-unit reports (also computed for an aggregate, which sums them).
    pub per_unit: Vec<table::UnitReport>,
    /// Aggregate reports; empty for a per-unit form.
    pub aggregates: Vec<aggregate::AggregateReport>,
    /// Findings from reading and from the rules, sorted by code then record.
    pub findings: Vec<Finding>,
    /// Reports withheld because an identity failed.
    pub violations: Vec<IdentityViolation>,
}

/// Computes a table form (per-unit or aggregate) of `regime` from de-duplicated dossiers.
/// `input_findings` (unreadable or duplicate records) are merged into the result's findings.
pub fn compute(
    regime: &Regime,
    def: &FormDef,
    dossiers: &[Dossier],
    input_findings: Vec<Finding>,
    units: &UnitTree,
    period: &Period,
) -> Result<Computed, FormError> {
    let base = match def.layout {
        Layout::PerUnit => def,
        Layout::Aggregate => {
            let of = def.of.as_deref().unwrap_or_default();
            regime
                .form(of)
                .map_err(|e| FormError::Definition(e.to_string()))?
        }
        Layout::Satisfaction | Layout::Narrative => {
            return Err(FormError::NotATable(def.code.clone()));
        }
    };
    let (tally, rule_findings, plan) = match base.record {
        RecordKind::Dossier => {
            let plan =
                ColumnPlan::new(base, &ii06a::DOSSIER_METRICS).map_err(FormError::Definition)?;
            let (tally, findings) = ii06a::tally(dossiers, units, period);
            (tally, findings, plan)
        }
        record => {
            let flag = if record == RecordKind::Rating {
                "--ratings"
            } else {
                "--feedback"
            };
            return Err(FormError::MissingRecords {
                form: def.code.clone(),
                record,
                flag,
            });
        }
    };
    let labels = ii06a::FirstSeenLabels::from_dossiers(dossiers);
    let (per_unit, mut violations) = table::per_unit_reports(base, &plan, tally, units, &labels);
    let mut findings = input_findings;
    findings.extend(rule_findings);
    crate::domain::finding::sort_findings(&mut findings);
    let aggregates = if def.layout == Layout::Aggregate {
        let (reports, v) = aggregate::compute_all(def, &plan.numbers(), &per_unit, units);
        violations.extend(v);
        reports
    } else {
        Vec::new()
    };
    Ok(Computed {
        per_unit,
        aggregates,
        findings,
        violations,
    })
}
