//! The compute stage: every report the duties ask of a period, computed once from the store's
//! records with what `report` and `plan` apply — the configured forms and catalogue, the regime the
//! period falls in (checked against the duties), the duties' aggregates (who sums whom) — and
//! turned into what the outbox keeps: a draft, "nothing to report", or "withheld".
//!
//! A report that broke an identity is withheld, and so is every aggregate and narrative that
//! includes it: nothing is pushed incomplete, and never a zero draft in place of one.

use super::SyncError;
use super::outbox::Computed;
use super::records::Loaded;
use crate::domain::{Period, RecordKind, UnitTree};
use crate::duties::Duties;
use crate::forms::aggregate::Aggregation;
use crate::forms::narrative::Narrative;
use crate::forms::{self, FormCatalog, Inputs, Layout, Regime};
use crate::sinks::Draft;
use std::collections::HashMap;

/// What the compute stage reads besides the records.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    pub units: &'a UnitTree,
    /// The question that counts in monthly satisfaction aggregates, when one is configured.
    pub question: Option<&'a str>,
    pub duties: &'a Duties,
    pub forms: &'a FormCatalog,
    pub catalog: Option<&'a crate::catalog::FieldCatalog>,
    pub checks: Option<&'a forms::checks::ChecksConfig>,
}

impl<'a> Setup<'a> {
    /// The regime of `period`, checked against the duties (they must name its forms).
    pub fn regime(&self, period: &Period) -> Result<&'a Regime, SyncError> {
        self.duties
            .check_forms(self.forms, period)
            .map_err(SyncError::Config)?;
        self.forms
            .regime_for(period)
            .map_err(|e| SyncError::Config(e.to_string()))
    }

    /// The record kinds the duties' forms read in `regime`.
    pub fn record_kinds(&self, regime: &Regime) -> Vec<RecordKind> {
        let mut kinds = Vec::new();
        for duty in &self.duties.duties {
            for form in &duty.forms {
                if let Ok(def) = regime.form(form) {
                    for k in forms::record_kinds(regime, def) {
                        if !kinds.contains(&k) {
                            kinds.push(k);
                        }
                    }
                }
            }
        }
        kinds
    }
}

/// Every report's content for one period, by (unit, form code).
#[derive(Debug, Default)]
pub struct Contents {
    by_report: HashMap<(String, String), Computed>,
    /// How many findings name each unit (its dossiers' and feedback's): what the "drafts
    /// ready" e-mail counts.
    pub findings: std::collections::BTreeMap<String, usize>,
}

impl Contents {
    pub fn get(&self, unit: &str, form: &str) -> Option<&Computed> {
        self.by_report.get(&(unit.to_owned(), form.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.by_report.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_report.is_empty()
    }
}

/// The duties as an aggregation rule: each kind whose forms include an aggregate sums the kinds
/// its duty lists.
pub fn aggregation_rules(duties: &Duties, regime: &Regime) -> Vec<(String, Vec<String>)> {
    duties
        .duties
        .iter()
        .filter(|d| {
            d.forms.iter().any(|f| {
                regime
                    .form(f)
                    .is_ok_and(|def| def.layout == Layout::Aggregate)
            })
        })
        .map(|d| (d.kind.clone(), d.aggregates.clone()))
        .collect()
}

/// The narratives (II.01-ĐC) of `period` for every unit, and the dossier tables they quote (II.06
/// with every II.06a), from what `loaded` holds; its findings are taken.
pub fn narratives(
    setup: &Setup<'_>,
    regime: &Regime,
    loaded: &mut Loaded,
    period: &Period,
) -> Result<(Vec<Narrative>, forms::Computed), SyncError> {
    let rules = aggregation_rules(setup.duties, regime);
    let findings = loaded.findings_for(&[
        RecordKind::Dossier,
        RecordKind::Rating,
        RecordKind::Feedback,
    ]);
    forms::narratives(
        regime,
        regime
            .form("II.01-ĐC")
            .map_err(|e| SyncError::Config(e.to_string()))?,
        Inputs {
            dossiers: loaded.dossiers.as_deref(),
            ratings: loaded.ratings.as_deref(),
            feedback: loaded.feedback.as_deref(),
            rating_months: loaded.rating_months.as_deref().map(|months| {
                forms::satisfaction::MonthlyInput {
                    months,
                    question: setup.question,
                }
            }),
            findings,
            catalog: setup.catalog,
            fields: loaded.fields.as_ref(),
            earlier: loaded.earlier.as_ref(),
            tallied: None,
            checks: setup.checks,
            aggregation: Aggregation::ByKind(&rules),
            dossier_findings_elsewhere: false,
        },
        setup.units,
        period,
    )
    .map_err(|e| SyncError::Config(e.to_string()))
}

/// Computes every report the duties ask of `period` for the units in `only` (all when `None`).
#[tracing::instrument(name = "sync.compute", skip_all, fields(period = %period))]
pub fn compute(
    setup: &Setup<'_>,
    regime: &Regime,
    mut loaded: Loaded,
    period: &Period,
) -> Result<Contents, SyncError> {
    let failed = |e: forms::FormError| SyncError::Config(e.to_string());
    let form = |code: &str| {
        regime
            .form(code)
            .map_err(|e| SyncError::Config(e.to_string()))
    };
    let rules = aggregation_rules(setup.duties, regime);
    let aggregation = Aggregation::ByKind(&rules);
    // The narratives compute II.06 (and so every II.06a) on the way: those are the tables.
    let (narratives, dossiers) = narratives(setup, regime, &mut loaded, period)?;
    crate::drill::point(crate::drill::Stage::Compute);
    let feedback = forms::compute(
        regime,
        form("II.05")?,
        Inputs {
            feedback: loaded.feedback.as_deref(),
            aggregation,
            ..Default::default()
        },
        setup.units,
        period,
    )
    .map_err(failed)?;
    crate::drill::point(crate::drill::Stage::Compute);
    let errors_of = crate::forms::narrative::errors_by_unit(&dossiers.findings);
    let left_out = |unit: &str| errors_of.get(unit).map_or(0, Vec::len);
    let mut rendered = render_narratives(&narratives)?;

    let mut by_report = HashMap::new();
    for id in setup.units.subtree(setup.units.root()) {
        let unit = setup.units.get(id);
        let Some(duty) = setup.duties.of_kind(&unit.kind) else {
            continue;
        };
        for name in &duty.forms {
            let def = form(name)?;
            let computed = match def.layout {
                Layout::PerUnit | Layout::Aggregate => {
                    let of_feedback = def.record == RecordKind::Feedback
                        || def.of.as_deref().is_some_and(|of| {
                            regime
                                .form(of)
                                .is_ok_and(|b| b.record == RecordKind::Feedback)
                        });
                    let table = if of_feedback { &feedback } else { &dossiers };
                    table_content(table, &def.code, def.layout, &unit.code, || {
                        if of_feedback { 0 } else { left_out(&unit.code) }
                    })
                }
                Layout::Narrative => {
                    let broken = dossiers
                        .violations
                        .iter()
                        .chain(&feedback.violations)
                        .find(|v| v.unit == unit.code);
                    match (broken, rendered.remove(unit.code.as_str())) {
                        (Some(v), _) => Computed::Withheld(format!(
                            "the narrative quotes a report that was withheld: {v}"
                        )),
                        (None, Some(text)) => Computed::Draft(Draft::narrative(text)),
                        (None, None) => Computed::NothingToReport(format!(
                            "no records of this unit count for {}",
                            period.id()
                        )),
                    }
                }
                Layout::Satisfaction => Computed::NothingToReport(format!(
                    "{} has no draft of its own in the reporting systems: its figures are in II.01-ĐC",
                    def.code
                )),
            };
            by_report.insert((unit.code.clone(), def.code.clone()), computed);
        }
    }
    let mut counted: HashMap<&str, usize> = HashMap::new();
    for f in dossiers.findings.iter().chain(&feedback.findings) {
        if let Some(unit) = &f.unit {
            *counted.entry(unit).or_insert(0) += 1;
        }
    }
    let findings = counted
        .into_iter()
        .map(|(unit, n)| (unit.to_owned(), n))
        .collect();
    // A province's records, tables and narratives are millions of allocations to free: off the
    // way.
    drop_behind((loaded, narratives, dossiers, feedback));
    Ok(Contents {
        by_report,
        findings,
    })
}

/// Drops `value` on a thread of its own, so that freeing it costs the caller nothing.
fn drop_behind<T: Send + 'static>(value: T) {
    if std::thread::Builder::new()
        .name("drop".to_owned())
        .spawn(move || drop(value))
        .is_err()
    {
        // No thread to spare: the value was dropped here, with the closure.
        tracing::debug!("dropped in place: no thread could be started");
    }
}

/// Every unit's narrative as Markdown, by unit code, rendered on every core (with ten quarters
/// held, tens of megabytes for a province).
fn render_narratives(narratives: &[Narrative]) -> Result<HashMap<&str, String>, SyncError> {
    fn render(n: &Narrative) -> Result<(&str, String), SyncError> {
        let mut text = Vec::new();
        crate::render::narrative::markdown(std::slice::from_ref(n), &mut text)
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        let text = String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok((n.unit.as_str(), text))
    }
    use rayon::prelude::*;
    narratives.par_iter().map(render).collect()
}

/// A table's content for one unit: its report, withheld if it (or, for an aggregate, one of its
/// constituents) broke an identity, or nothing to report.
fn table_content(
    table: &forms::Computed,
    form: &str,
    layout: Layout,
    unit: &str,
    left_out: impl Fn() -> usize,
) -> Computed {
    if let Some(v) = table
        .violations
        .iter()
        .find(|v| v.unit == unit && v.form == form)
    {
        return Computed::Withheld(v.to_string());
    }
    let nothing = || {
        let n = left_out();
        Computed::NothingToReport(if n > 0 {
            format!("no record of this unit counts ({n} left out with findings)")
        } else {
            "no records of this unit in the period".to_owned()
        })
    };
    match layout {
        Layout::Aggregate => match table.aggregates.iter().find(|r| r.unit == unit) {
            Some(r) if !r.total.is_zero() => Computed::Draft(Draft::aggregate(r)),
            _ => nothing(),
        },
        _ => match table.per_unit.iter().find(|r| r.unit == unit) {
            Some(r) => Computed::Draft(Draft::per_unit(r)),
            None => nothing(),
        },
    }
}
