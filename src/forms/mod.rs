//! Forms: pure computation from records, a period and the unit tree to report figures and findings.
//!
//! Architecture invariant: nothing in this module does IO or reads the clock. Everything it needs
//! arrives as arguments, so the same input always gives the same report, and tests need no setup.

pub mod ii06;
pub mod ii06a;
mod values;

use std::fmt;
use std::str::FromStr;
pub use values::{COLUMNS, Values};

/// The report forms the product computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormCode {
    /// Biểu II.06a: handling results at one unit.
    Ii06a,
    /// Biểu II.06: the aggregate of a unit's subtree.
    Ii06,
}

impl FormCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FormCode::Ii06a => "II.06a",
            FormCode::Ii06 => "II.06",
        }
    }
}

impl fmt::Display for FormCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown form `{0}`: expected II.06a or II.06")]
pub struct UnknownForm(pub String);

impl FromStr for FormCode {
    type Err = UnknownForm;
    fn from_str(s: &str) -> Result<Self, UnknownForm> {
        match s.trim().to_ascii_uppercase().as_str() {
            "II.06A" => Ok(FormCode::Ii06a),
            "II.06" => Ok(FormCode::Ii06),
            _ => Err(UnknownForm(s.to_owned())),
        }
    }
}

/// A computed report broke one of its form's identities: a bug in the product, never a data
/// problem. The report is withheld; the others go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{form} {unit}, row `{row}`: identity {identity} does not hold ({values}); this is a bug, please report it"
)]
pub struct IdentityViolation {
    pub form: FormCode,
    pub unit: String,
    pub row: String,
    pub identity: &'static str,
    pub values: String,
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
    /// II.06a per unit (also computed for II.06, which sums them).
    pub per_unit: Vec<ii06a::UnitReport>,
    /// II.06 per aggregating unit; empty for II.06a.
    pub aggregates: Vec<ii06::AggregateReport>,
    /// Findings from reading and from the rules, sorted by code then record.
    pub findings: Vec<crate::domain::Finding>,
    /// Reports withheld because an identity failed.
    pub violations: Vec<IdentityViolation>,
}

/// Computes `form` from de-duplicated dossiers. `input_findings` (unreadable or duplicate records)
/// are merged into the result's findings.
pub fn compute(
    form: FormCode,
    dossiers: &[crate::domain::Dossier],
    input_findings: Vec<crate::domain::Finding>,
    units: &crate::domain::UnitTree,
    period: &crate::domain::Period,
) -> Computed {
    let labels = ii06a::FirstSeenLabels::from_dossiers(dossiers);
    let per_unit = ii06a::compute(dossiers, units, period, &labels);
    let mut findings = input_findings;
    findings.extend(per_unit.findings);
    crate::domain::finding::sort_findings(&mut findings);
    let mut violations = per_unit.violations;
    let aggregates = match form {
        FormCode::Ii06a => Vec::new(),
        FormCode::Ii06 => {
            let (reports, v) = ii06::compute_all(&per_unit.reports, units);
            violations.extend(v);
            reports
        }
    };
    Computed {
        per_unit: per_unit.reports,
        aggregates,
        findings,
        violations,
    }
}
