//! Forms: pure computation from records, a period, the unit tree and a form definition to report
//! figures and findings.
//!
//! Architecture invariant: nothing in this module does IO or reads the clock. Definitions arrive
//! parsed (`configuration::forms` reads the files; the shipped copy is compiled in), records
//! arrive as domain values. Same input, same report; tests need no setup.

pub mod aggregate;
pub mod checks;
pub mod definition;
pub mod explain;
pub mod ii05a;
pub mod ii06a;
pub mod narrative;
pub mod reconcile;
pub mod satisfaction;
pub mod streamed;
pub mod table;
mod values;

pub use definition::{FormCatalog, FormDef, Layout, RecordKind, Regime};
pub use values::{ColumnPlan, Values};

use crate::domain::{Dossier, Feedback, Finding, Period, Rating, UnitTree};
use std::collections::HashMap;

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
    #[error("{form} needs {record} records; pass them with {flag} (or --from-store)")]
    MissingRecords {
        form: String,
        record: &'static str,
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

/// The records a computation may use; a form says which it needs.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    pub dossiers: Option<&'a [Dossier]>,
    pub ratings: Option<&'a [Rating]>,
    pub feedback: Option<&'a [Feedback]>,
    /// Satisfaction as monthly aggregates, when a source sends it that way.
    pub rating_months: Option<satisfaction::MonthlyInput<'a>>,
    /// Findings from reading (unreadable or duplicate records), merged into the result's.
    pub findings: Vec<Finding>,
    /// The field catalogue: published labels and `unknown_field` warnings when given.
    pub catalog: Option<&'a crate::catalog::FieldCatalog>,
    /// The fields over the whole history, when `dossiers` are only those the period needs: labels
    /// and `unknown_field` come from it instead of from `dossiers`.
    pub fields: Option<&'a ii06a::FieldHistory>,
    /// When `dossiers` are a period's read: the reception columns of the dossiers of the period
    /// before that closed before this one, for the column-4 check's previous period.
    pub earlier: Option<&'a crate::domain::Receptions>,
    /// A dossier table's tallies and findings already folded from the dossiers
    /// ([`streamed`]), in place of `dossiers`; `fields` then holds their history.
    pub tallied: Option<ii06a::Tallied>,
    /// Column-4 checks of dossier forms, when given.
    pub checks: Option<&'a checks::ChecksConfig>,
    /// Who sums whom in aggregates.
    pub aggregation: aggregate::Aggregation<'a>,
    /// The satisfaction summary reads `dossiers` for its coverage only, their findings being
    /// another form's of the same computation (the narrative's): none are written twice.
    pub dossier_findings_elsewhere: bool,
}

impl<'a> Inputs<'a> {
    fn need<T>(
        form: &FormDef,
        records: Option<&'a [T]>,
        kind: RecordKind,
    ) -> Result<&'a [T], FormError> {
        let flag = match kind {
            RecordKind::Dossier => "--input",
            RecordKind::Rating => "--ratings",
            RecordKind::Feedback => "--feedback",
        };
        records.ok_or(FormError::MissingRecords {
            form: form.code.clone(),
            record: kind.as_str(),
            flag,
        })
    }
}

/// The figures of one form for one period, with every finding about the input.
#[derive(Debug, Clone, Default)]
pub struct Computed {
    /// Per-unit reports (also computed for an aggregate, which sums them).
    pub per_unit: Vec<table::UnitReport>,
    /// Aggregate reports; empty for a per-unit form.
    pub aggregates: Vec<aggregate::AggregateReport>,
    /// The satisfaction summary per unit and per aggregating unit.
    pub satisfaction: Vec<satisfaction::SatisfactionReport>,
    pub satisfaction_aggregates: Vec<satisfaction::SatisfactionReport>,
    /// Findings from reading and from the rules, sorted by code then record.
    pub findings: Vec<Finding>,
    /// Reports withheld because an identity failed.
    pub violations: Vec<IdentityViolation>,
}

/// The record kinds a form reads (and whose findings it lists).
pub fn record_kinds(regime: &Regime, def: &FormDef) -> Vec<RecordKind> {
    match def.layout {
        Layout::PerUnit => vec![def.record],
        Layout::Aggregate => {
            let base = def.of.as_deref().and_then(|of| regime.form(of).ok());
            vec![base.map_or(def.record, |b| b.record)]
        }
        // Coverage compares ratings with the dossiers resolved.
        Layout::Satisfaction => vec![RecordKind::Rating, RecordKind::Dossier],
        Layout::Narrative => vec![
            RecordKind::Dossier,
            RecordKind::Rating,
            RecordKind::Feedback,
        ],
    }
}

/// Computes a form of `regime` (a table or the satisfaction summary) for one period.
pub fn compute(
    regime: &Regime,
    def: &FormDef,
    inputs: Inputs<'_>,
    units: &UnitTree,
    period: &Period,
) -> Result<Computed, FormError> {
    let mut findings = inputs.findings;
    let mut out = Computed::default();
    match def.layout {
        Layout::PerUnit | Layout::Aggregate => {
            let base = match def.layout {
                Layout::Aggregate => {
                    let of = def.of.as_deref().unwrap_or_default();
                    regime
                        .form(of)
                        .map_err(|e| FormError::Definition(e.to_string()))?
                }
                _ => def,
            };
            let (tally, rule_findings, plan, labels): (_, _, _, Box<dyn table::FieldLabels>) =
                match base.record {
                    RecordKind::Dossier => {
                        let plan = ColumnPlan::new(base, &ii06a::DOSSIER_METRICS)
                            .map_err(FormError::Definition)?;
                        let previous = inputs.checks.and(period.previous());
                        let (dossiers, (tally, mut f), (before, seen)) = match inputs.tallied {
                            Some(t) => {
                                let seen = inputs.fields.map(|h| h.labels()).unwrap_or_default();
                                let before = previous.zip(t.before);
                                (&[] as &[Dossier], (t.now, t.findings), (before, seen))
                            }
                            None => {
                                let dossiers =
                                    Inputs::need(def, inputs.dossiers, RecordKind::Dossier)?;
                                let (now, other) = tally_dossiers(
                                    dossiers,
                                    inputs.fields,
                                    inputs.earlier,
                                    units,
                                    period,
                                    previous.as_ref(),
                                );
                                (dossiers, now, other)
                            }
                        };
                        tag(&mut f, RecordKind::Dossier);
                        if let Some(config) = inputs.checks {
                            f.extend(checks::column4(
                                dossiers,
                                &tally,
                                before.as_ref().map(|(p, t)| (p, t)),
                                units,
                                period,
                                inputs.catalog,
                                &config.column_4,
                            ));
                        }
                        let labels: Box<dyn table::FieldLabels> = match inputs.catalog {
                            Some(catalog) => {
                                let labels = ii06a::CatalogLabels {
                                    catalog,
                                    day: period.last_day,
                                    seen,
                                };
                                f.extend(unknown_fields(&tally, dossiers, inputs.fields, &labels));
                                Box::new(labels)
                            }
                            None => Box::new(seen),
                        };
                        (tally, f, plan, labels)
                    }
                    RecordKind::Feedback => {
                        let feedback = Inputs::need(def, inputs.feedback, RecordKind::Feedback)?;
                        let plan = ColumnPlan::new(base, &ii05a::FEEDBACK_METRICS)
                            .map_err(FormError::Definition)?;
                        let (tally, mut f) = ii05a::tally(feedback, units, period);
                        tag(&mut f, RecordKind::Feedback);
                        (tally, f, plan, Box::new(ii06a::FirstSeenLabels::default()))
                    }
                    RecordKind::Rating => return Err(FormError::NotATable(def.code.clone())),
                };
            findings.extend(rule_findings);
            let (per_unit, violations) =
                table::per_unit_reports(base, &plan, tally, units, labels.as_ref());
            if def.layout == Layout::Aggregate {
                let (reports, v) = aggregate::compute_all(
                    def,
                    &plan.numbers(),
                    &per_unit,
                    &violations,
                    units,
                    inputs.aggregation,
                );
                out.violations.extend(v);
                out.aggregates = reports;
            }
            out.violations.extend(violations);
            out.per_unit = per_unit;
        }
        Layout::Satisfaction => {
            satisfaction::check_columns(def).map_err(FormError::Definition)?;
            // Monthly aggregates alone are ratings enough.
            let ratings = match (inputs.ratings, &inputs.rating_months) {
                (None, Some(_)) => &[][..],
                (r, _) => Inputs::need(def, r, RecordKind::Rating)?,
            };
            // Coverage compares with II.06a column 7 (dossiers resolved in the period), when given.
            let resolved = inputs.dossiers.map(|dossiers| {
                let tally = if inputs.dossier_findings_elsewhere {
                    ii06a::tally_counts(dossiers, units, period)
                } else {
                    let (tally, mut f) = ii06a::tally(dossiers, units, period);
                    tag(&mut f, RecordKind::Dossier);
                    findings.extend(f);
                    tally
                };
                resolved_by_unit(&tally, units)
            });
            let (per_unit, aggregates, mut f) = satisfaction::compute(
                ratings,
                inputs.rating_months.as_ref(),
                units,
                period,
                resolved.as_ref(),
            );
            tag(&mut f, RecordKind::Rating);
            findings.extend(f);
            out.satisfaction = per_unit;
            out.satisfaction_aggregates = aggregates;
        }
        Layout::Narrative => return Err(FormError::NotATable(def.code.clone())),
    }
    crate::domain::finding::sort_findings(&mut findings);
    out.findings = findings;
    Ok(out)
}

/// The period's tally and findings from the dossiers and, on another core, the previous period's
/// tally (for the column-4 share check) and the first-seen labels: each a pass over every dossier.
#[allow(clippy::type_complexity)]
fn tally_dossiers(
    dossiers: &[Dossier],
    fields: Option<&ii06a::FieldHistory>,
    earlier: Option<&crate::domain::Receptions>,
    units: &UnitTree,
    period: &Period,
    previous: Option<&Period>,
) -> (
    (table::Tally, Vec<Finding>),
    (Option<(Period, table::Tally)>, ii06a::FirstSeenLabels),
) {
    std::thread::scope(|s| {
        let other = s.spawn(|| {
            let before = previous.map(|p| {
                let mut before = ii06a::tally_counts(dossiers, units, p);
                if let Some(earlier) = earlier {
                    ii06a::tally_receptions(&mut before, earlier, units, p);
                }
                (p.clone(), before)
            });
            let seen = match fields {
                Some(history) => history.labels(),
                None => ii06a::FirstSeenLabels::from_dossiers(dossiers),
            };
            (before, seen)
        });
        let now = ii06a::tally(dossiers, units, period);
        match other.join() {
            Ok(other) => (now, other),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Marks what kind of record the findings of a rule are about.
fn tag(findings: &mut [Finding], kind: RecordKind) {
    for f in findings {
        f.about.get_or_insert(kind);
    }
}

/// One `unknown_field` warning per counted field the catalogue cannot place, named by the first
/// dossier of that field (in `dossiers`, or in the whole history when it is given).
fn unknown_fields(
    tally: &table::Tally,
    dossiers: &[Dossier],
    history: Option<&ii06a::FieldHistory>,
    labels: &ii06a::CatalogLabels<'_>,
) -> Vec<Finding> {
    let counted: std::collections::HashSet<&str> = tally.row_keys().collect();
    let finding = |code: &str, key: &str, unit: &str, name: &str| {
        let message = format!(
            "lĩnh vực `{code}` ({name}) không có trong danh mục lĩnh vực; số liệu được báo cáo theo tên của hệ thống nguồn. \
             Thêm lĩnh vực (hoặc bí danh) vào config/catalog/fields.toml"
        );
        Finding::new(
            crate::domain::FindingCode::UnknownField,
            key.to_owned(),
            message,
        )
        .with_unit(unit.to_owned())
    };
    let unplaced = |code: &str| counted.contains(code) && labels.published(code).is_none();
    if let Some(history) = history {
        let mut codes: Vec<&str> = counted.iter().copied().filter(|c| unplaced(c)).collect();
        codes.sort_unstable();
        return codes
            .into_iter()
            .filter_map(|code| match history.fields.get(code) {
                Some(f) => Some(finding(code, &f.first_key, &f.first_unit, &f.first_name)),
                // Not in the history (it should be): the first of the given dossiers names it.
                None => dossiers
                    .iter()
                    .find(|d| &*d.field_code == code)
                    .map(|d| finding(code, &d.key, &d.unit_code, &d.field_name)),
            })
            .collect();
    }
    let mut reported = std::collections::HashSet::new();
    let mut out = Vec::new();
    for d in dossiers {
        let code = &*d.field_code;
        if unplaced(code) && reported.insert(code) {
            out.push(finding(code, &d.key, &d.unit_code, &d.field_name));
        }
    }
    out
}

/// Dossiers closed in the period (the `closed` metric, column 7 of II.06a) by unit code.
fn resolved_by_unit(tally: &table::Tally, units: &UnitTree) -> HashMap<String, u64> {
    let closed = ii06a::DOSSIER_METRICS
        .iter()
        .position(|m| *m == "closed")
        .expect("closed is a dossier metric");
    tally
        .units()
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .filter_map(|u| Some((units.get(u).code.clone(), tally.unit_counts(u)?[closed])))
        .collect()
}

/// II.01-ĐC for every unit with something to report: drafted from II.06a/II.06, II.05a/II.05 and
/// the satisfaction summary of `regime`, each computed from the records that were given. An
/// aggregating unit's narrative speaks for its subtree.
pub fn narratives(
    regime: &Regime,
    def: &FormDef,
    inputs: Inputs<'_>,
    units: &UnitTree,
    period: &Period,
) -> Result<(Vec<narrative::Narrative>, Computed), FormError> {
    let form = |code: &str| {
        regime
            .form(code)
            .map_err(|e| FormError::Definition(e.to_string()))
    };
    let (had_ratings, had_feedback) = (
        inputs.ratings.is_some() || inputs.rating_months.is_some(),
        inputs.feedback.is_some(),
    );
    let aggregation = inputs.aggregation;
    let (ratings, rating_months, feedback_records, dossier_records) = (
        inputs.ratings,
        inputs.rating_months,
        inputs.feedback,
        inputs.dossiers,
    );
    // II.05 and the satisfaction summary on another core while II.06 is computed: each reads
    // only its own records (the summary's coverage makes one more pass over the dossiers).
    let (dossiers, others) = std::thread::scope(|s| {
        let others = s.spawn(|| {
            let feedback = match feedback_records {
                Some(f) => Some(compute(
                    regime,
                    form("II.05")?,
                    Inputs {
                        feedback: Some(f),
                        aggregation,
                        ..Default::default()
                    },
                    units,
                    period,
                )?),
                None => None,
            };
            let satisfaction = match (ratings, rating_months) {
                (None, None) => None,
                (r, months) => Some(compute(
                    regime,
                    form("HL")?,
                    Inputs {
                        ratings: r,
                        rating_months: months,
                        dossiers: dossier_records,
                        // The II.06 beside names them, when there are dossiers.
                        dossier_findings_elsewhere: true,
                        ..Default::default()
                    },
                    units,
                    period,
                )?),
            };
            Ok::<_, FormError>((feedback, satisfaction))
        });
        let dossiers = match dossier_records {
            Some(d) => compute(
                regime,
                form("II.06")?,
                Inputs {
                    dossiers: Some(d),
                    findings: inputs.findings,
                    catalog: inputs.catalog,
                    fields: inputs.fields,
                    earlier: inputs.earlier,
                    checks: inputs.checks,
                    aggregation,
                    ..Default::default()
                },
                units,
                period,
            )?,
            None => Computed {
                findings: inputs.findings,
                ..Computed::default()
            },
        };
        let others = others
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok::<_, FormError>((dossiers, others))
    })?;
    let (feedback, satisfaction) = others?;
    let mut all = dossiers;
    for extra in feedback.iter().chain(&satisfaction) {
        all.findings.extend(extra.findings.iter().cloned());
        all.violations.extend(extra.violations.iter().cloned());
    }
    crate::domain::finding::sort_findings(&mut all.findings);
    all.findings.dedup();

    let dossier_columns = narrative::DossierColumns::of(form("II.06a")?)?;
    let feedback_columns = narrative::FeedbackColumns::of(form("II.05a")?)?;
    let aggregators: std::collections::HashSet<crate::domain::unit::UnitId> =
        aggregation.aggregators(units).into_iter().collect();
    let mut errors_of = narrative::errors_by_unit(&all.findings);
    // Each unit with its aggregate and, for an aggregating unit, its field rows summed over the
    // aggregate's sections (held here: the facts borrow them).
    let picked: Vec<_> = units
        .subtree(units.root())
        .map(|id| {
            let code = units.get(id).code.as_str();
            let aggregating = aggregators.contains(&id);
            let aggregate = all
                .aggregates
                .iter()
                .find(|r| aggregating && r.unit == code);
            let merged_rows: Vec<Row> = aggregate
                .map(|r| merge_rows(r.sections.iter().flat_map(|s| &s.rows)))
                .unwrap_or_default();
            (id, aggregating, aggregate, merged_rows)
        })
        .collect();
    let mut facts = Vec::new();
    for (id, aggregating, aggregate, merged_rows) in &picked {
        let (id, aggregating, aggregate) = (*id, *aggregating, *aggregate);
        let unit = units.get(id);
        let code = unit.code.as_str();
        let dossier_facts = match aggregate {
            Some(r) => Some((&r.total, merged_rows.iter().collect())),
            None if aggregating => None,
            None => all
                .per_unit
                .iter()
                .find(|r| r.unit == code)
                .map(|r| (&r.total, r.rows.iter().collect())),
        };
        let feedback_total = feedback.as_ref().and_then(|c| {
            if aggregating {
                c.aggregates
                    .iter()
                    .find(|r| r.unit == code)
                    .map(|r| &r.total)
            } else {
                c.per_unit.iter().find(|r| r.unit == code).map(|r| &r.total)
            }
        });
        let satisfaction_report = satisfaction.as_ref().and_then(|c| {
            let list = if aggregating {
                &c.satisfaction_aggregates
            } else {
                &c.satisfaction
            };
            list.iter().find(|r| r.unit == code)
        });
        let has_anything = dossier_facts.as_ref().is_some_and(|(t, _)| !t.is_zero())
            || feedback_total.is_some_and(|t| !t.is_zero())
            || satisfaction_report.is_some_and(|s| s.total > 0);
        if !has_anything {
            continue;
        }
        facts.push(narrative::Facts {
            unit: code,
            unit_name: &unit.name,
            title: &def.title,
            period,
            dossiers: dossier_facts,
            feedback: feedback_total,
            satisfaction: satisfaction_report,
            errors: errors_of.remove(code).unwrap_or_default(),
            had_ratings,
            had_feedback,
            dossier_columns: &dossier_columns,
            feedback_columns: &feedback_columns,
        });
    }
    // On every core, in the units' order (a province's narratives list hundreds of thousands of
    // records left out, most of them in a few units).
    let out = {
        use rayon::prelude::*;
        facts.par_iter().map(narrative::draft).collect()
    };
    drop(facts);
    Ok((out, all))
}

/// Rows of several sections summed by field.
fn merge_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<Row> {
    let mut merged: std::collections::BTreeMap<&str, Row> = std::collections::BTreeMap::new();
    for r in rows {
        merged
            .entry(&r.key)
            .and_modify(|m| m.values.add(&r.values))
            .or_insert_with(|| r.clone());
    }
    merged.into_values().collect()
}
