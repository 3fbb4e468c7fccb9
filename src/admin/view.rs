//! What the pages and the API show, computed from the store: the period's dossier tables (II.06a
//! of every unit, II.06 of every aggregating unit by the duties) with their findings, kept a
//! minute so that a page and its figures' links agree; and the grid of reports.

use crate::domain::{Dossier, Period, RecordKind};
use crate::forms::aggregate::Aggregation;
use crate::forms::{self, Inputs};
use crate::store::{OutboxFilter, OutboxRow, Store};
use crate::sync::{Engine, SyncError, compute, records::Loaded};
use std::collections::HashMap;
use std::sync::Arc;

/// The period's dossier tables, as computed from the store.
pub struct Tables {
    pub computed: forms::Computed,
    /// The satisfaction summary (HL): per unit, and per aggregating unit over its subtree; empty
    /// when the store holds no ratings.
    pub satisfaction: (
        Vec<forms::satisfaction::SatisfactionReport>,
        Vec<forms::satisfaction::SatisfactionReport>,
    ),
    pub dossiers: Vec<Dossier>,
    /// Each dossier's place in the first-stored order (explain lists by it).
    pub order: Option<Vec<i64>>,
    pub aggregation_rules: Vec<(String, Vec<String>)>,
    made: std::time::Instant,
    /// The store's dossier generations they were computed at.
    generations: Vec<(String, i64)>,
}

#[derive(Default)]
pub struct Cache {
    tables: tokio::sync::Mutex<HashMap<String, Arc<Tables>>>,
}

impl Cache {
    /// The period's tables, computed at most a minute ago from the dossiers the store holds now:
    /// a pull or import that committed since (a sync that ended) makes them computed again.
    pub async fn tables(&self, engine: &Engine, period: &Period) -> Result<Arc<Tables>, SyncError> {
        let mut cache = self.tables.lock().await;
        let generations = engine.store.dossier_generations().await?;
        if let Some(t) = cache.get(&period.id())
            && t.made.elapsed() < std::time::Duration::from_secs(60)
            && t.generations == generations
        {
            return Ok(t.clone());
        }
        let setup = engine.setup();
        let regime = setup.regime(period)?;
        let rules = compute::aggregation_rules(&engine.parts.duties, regime);
        let precedence = crate::sync::records::Precedence::of(&engine.parts.sources);
        let reading = crate::sync::records::reading_for(period);
        let mut loaded =
            Loaded::from_store(&engine.store, None, &precedence, Some(reading)).await?;
        let findings = loaded.findings_for(&[RecordKind::Dossier]);
        let dossiers = loaded.dossiers.take().unwrap_or_default();
        let order = loaded.dossier_order.take();
        let computed = forms::compute(
            regime,
            regime
                .form("II.06")
                .map_err(|e| SyncError::Config(e.to_string()))?,
            Inputs {
                dossiers: Some(&dossiers),
                findings,
                catalog: engine.parts.catalog.as_ref(),
                fields: loaded.fields.as_ref(),
                earlier: loaded.earlier.as_ref(),
                checks: Some(&engine.parts.checks),
                aggregation: Aggregation::ByKind(&rules),
                ..Default::default()
            },
            &engine.parts.units,
            period,
        )
        .map_err(|e| SyncError::Config(e.to_string()))?;
        // The satisfaction summary, from the ratings (or monthly aggregates) the store holds.
        let satisfaction = match (&loaded.ratings, &loaded.rating_months) {
            (None, None) => Default::default(),
            (ratings, months) => {
                let hl = forms::compute(
                    regime,
                    regime
                        .form("HL")
                        .map_err(|e| SyncError::Config(e.to_string()))?,
                    Inputs {
                        dossiers: Some(&dossiers),
                        ratings: ratings.as_deref(),
                        rating_months: months.as_deref().map(|months| {
                            forms::satisfaction::MonthlyInput {
                                months,
                                question: setup.question,
                            }
                        }),
                        aggregation: Aggregation::ByKind(&rules),
                        ..Default::default()
                    },
                    &engine.parts.units,
                    period,
                )
                .map_err(|e| SyncError::Config(e.to_string()))?;
                (hl.satisfaction, hl.satisfaction_aggregates)
            }
        };
        let tables = Arc::new(Tables {
            computed,
            satisfaction,
            dossiers,
            order,
            aggregation_rules: rules,
            made: std::time::Instant::now(),
            generations,
        });
        cache.insert(period.id(), tables.clone());
        Ok(tables)
    }
}

/// The columns of the grid: (form, system) in the order the duties list them.
pub fn columns(engine: &Engine, period: &Period) -> Result<Vec<(String, String)>, SyncError> {
    let regime = engine.setup().regime(period)?;
    let mut out: Vec<(String, String)> = Vec::new();
    for duty in &engine.parts.duties.duties {
        for form in &duty.forms {
            let code = regime
                .form(form)
                .map(|d| d.code.clone())
                .unwrap_or_else(|_| form.clone());
            for system in &duty.systems {
                let c = (code.clone(), system.clone());
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// The period's outbox rows by (unit, form, system).
pub async fn rows(
    engine: &Engine,
    period: &Period,
) -> Result<HashMap<(String, String, String), OutboxRow>, SyncError> {
    let filter = OutboxFilter {
        period: Some(period.id()),
        ..OutboxFilter::default()
    };
    Ok(engine
        .store
        .outbox(&filter)
        .await?
        .into_iter()
        .map(|r| {
            (
                (
                    r.report.unit.clone(),
                    r.report.form.clone(),
                    r.report.system.clone(),
                ),
                r,
            )
        })
        .collect())
}

/// Refuses a sync of a period that has not ended at `now`, in words an operator reads.
pub fn not_ended(period: &Period, now: crate::domain::Instant) -> Result<(), String> {
    if now >= period.ended_at() {
        return Ok(());
    }
    Err(format!(
        "Kỳ {} ({}) chưa kết thúc: chỉ đồng bộ được kỳ đã kết thúc, từ 00:00 ngày {}.",
        period.id(),
        period.window_vi(),
        (period.last_day + chrono::Duration::days(1)).format("%d/%m/%Y")
    ))
}
