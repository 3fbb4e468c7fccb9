//! `status --period P`: where every report of the period stands — unit × form × system, its
//! state, the remote draft's version, the last attempt, the next retry, the deadline — and what
//! the freshness gate sees. Times in ICT.

use super::config::ConfigArgs;
use baocao_sync::domain::{Instant, Period};
use baocao_sync::store::{OutboxRow, Store};
use baocao_sync::sync::{self, Scope, gate};
use std::collections::HashMap;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    #[arg(long)]
    unit: Option<String>,
    #[arg(long)]
    form: Option<String>,
    #[arg(long)]
    system: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

fn ict(i: Instant) -> String {
    i.to_local().format("%d/%m/%Y %H:%M").to_string()
}

pub async fn run(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let engine = a.config.engine().await?;
    let period: Period = a.period.parse()?;
    let scope = Scope {
        period: period.clone(),
        unit: a.unit,
        form: a.form,
        system: a.system,
    };
    let (form, reports) = engine.reports(&scope)?;
    let filter = scope.filter(form.as_deref());
    let rows: HashMap<_, OutboxRow> = engine
        .rows_of(&filter, &reports)
        .await?
        .into_iter()
        .map(|r| (r.report.clone(), r))
        .collect();
    let now = engine.clock.now();
    let alive = engine.liveness().await?;
    println!(
        "{} ({}), now {} ICT",
        period.id(),
        period.window_vi(),
        ict(now)
    );
    let setup = engine.setup();
    let regime = setup.regime(&period)?;
    let kinds = setup.record_kinds(regime);
    let settle = gate::settle_instant(&period, engine.settings.gate.settle_hours);
    for f in engine.freshness(&kinds, Some(settle)).await? {
        let latest = match &f.latest {
            Some((at, true, _)) => format!("latest pull ok at {}", ict(*at)),
            Some((at, false, why)) => format!("latest pull FAILED at {}: {why}", ict(*at)),
            None => "never pulled".to_owned(),
        };
        let covered = f
            .covered_to
            .map_or_else(|| "nothing".to_owned(), |t| format!("up to {}", ict(t)));
        let open = if f.open_unread > 0 {
            format!(
                "; {} open dossiers not read again since then",
                f.open_unread
            )
        } else {
            String::new()
        };
        println!(
            "source {} {:<9} covered {covered}; {latest}; needed up to {}{open}",
            f.source,
            f.kind.as_str(),
            ict(settle)
        );
    }
    println!(
        "{:<18} {:<9} {:<11} {:<19} {:>6}  {:<34} {:<17} {:<10} detail",
        "unit", "form", "system", "state", "remote", "last attempt", "next retry", "deadline"
    );
    let deadlines: HashMap<&str, String> = engine
        .parts
        .duties
        .duties
        .iter()
        .map(|d| {
            (
                d.kind.as_str(),
                d.deadline(&period).format("%d/%m/%Y").to_string(),
            )
        })
        .collect();
    let mut shown = Vec::new();
    for id in &reports {
        let kind = engine
            .parts
            .units
            .find(&id.unit)
            .map(|u| engine.parts.units.get(u).kind.as_str())
            .unwrap_or_default();
        let deadline = deadlines.get(kind).cloned().unwrap_or_default();
        match rows.get(id) {
            None => println!(
                "{:<18} {:<9} {:<11} {:<19} {:>6}  {:<34} {:<17} {:<10} not computed yet",
                id.unit, id.form, id.system, "-", "-", "-", "-", deadline
            ),
            Some(r) => {
                let last = match r.id {
                    Some(row_id) => engine.store.attempts(row_id).await?.pop(),
                    None => None,
                };
                let last =
                    last.map_or_else(|| "-".to_owned(), |a| format!("{} {}", ict(a.at), a.answer));
                println!(
                    "{:<18} {:<9} {:<11} {:<19} {:>6}  {:<34} {:<17} {:<10} {}",
                    id.unit,
                    id.form,
                    id.system,
                    r.state,
                    r.remote_version
                        .map_or_else(|| "-".to_owned(), |v| format!("v{v}")),
                    last,
                    r.next_attempt_at.map_or_else(|| "-".to_owned(), ict),
                    deadline,
                    match (&r.lease, r.state) {
                        (Some(lease), baocao_sync::store::OutboxState::Sending) => {
                            baocao_sync::sync::liveness::lease_words(
                                lease,
                                engine.clock.now(),
                                &alive,
                            )
                        }
                        _ => r.detail.clone(),
                    }
                );
                shown.push(r.clone());
            }
        }
    }
    println!(
        "{} reports: {}",
        reports.len(),
        if shown.is_empty() {
            "none computed yet".to_owned()
        } else {
            sync::summarize(&shown)
        }
    );
    Ok(ExitCode::SUCCESS)
}
