//! `daemon`: the schedule and the delivery workers until SIGTERM or Ctrl-C; and `check-config`.

use super::config::ConfigArgs;
use baocao_sync::scheduler::{Job, Schedule};
use baocao_sync::store::Store;
use baocao_sync::{daemon, shutdown};
use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

impl DaemonArgs {
    pub fn config_file(&self) -> Option<std::path::PathBuf> {
        self.config.config.clone()
    }
}

pub async fn run(a: DaemonArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(a.config.engine().await?);
    let schedule = Schedule::new(&engine.settings.schedule, &engine.parts.duties)
        .map_err(anyhow::Error::msg)?;
    if engine.vault.is_none() {
        tracing::warn!(
            "no vault key (vault.key_file or BAOCAO_VAULT_KEY): nothing can be pulled or pushed"
        );
    }
    let now = engine.clock.now();
    let done: HashSet<String> = engine
        .store
        .fires("prefill:")
        .await?
        .into_iter()
        .filter(|f| f.outcome.as_deref() == Some(baocao_sync::scheduler::DONE))
        .map(|f| f.job)
        .collect();
    println!(
        "baocao-sync daemon {} on {} ({}), as {}",
        env!("CARGO_PKG_VERSION"),
        engine.store.backend(),
        baocao_sync::store::redact_url(&engine.settings.store.database_url),
        engine.owner
    );
    if engine.settings.schedule.enabled {
        for fire in schedule.next(now, |p| done.contains(&Job::Prefill(p.clone()).name())) {
            println!(
                "next {:<18} {} ICT",
                fire.job.name(),
                fire.slot.to_local().format("%d/%m/%Y %H:%M")
            );
        }
    } else {
        println!("schedule disabled: delivering what `sync` queues");
    }
    let (trigger, listener) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::signal().await;
        tracing::info!("shutdown asked for: finishing what is in flight");
        trigger.pull();
    });
    daemon::serve(engine, schedule, listener).await?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Prints the configuration as it resolved (passwords masked), then checks everything it names:
/// the files, the store, the vault key, the schedule.
pub async fn check(a: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    let settings = a.config.settings()?;
    println!("{}", settings.resolved());
    settings.require_history()?;
    let parts = settings.load_parts()?;
    println!(
        "# units: {} ({} with duties); duties: {}; regimes: {}",
        parts.units.len(),
        parts
            .units
            .ids()
            .filter(|&u| parts
                .duties
                .duties
                .iter()
                .any(|d| d.kind == parts.units.get(u).kind))
            .count(),
        parts.duties.name,
        parts
            .forms
            .regimes
            .iter()
            .map(|r| r.info.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Schedule::new(&settings.schedule, &parts.duties).map_err(anyhow::Error::msg)?;
    let vault = super::config::vault(&settings)?;
    println!(
        "# vault: {}",
        vault.map_or_else(
            || "no key configured".to_owned(),
            |v| format!("key {}", v.key_id())
        )
    );
    let store = baocao_sync::store::open(&settings.store.database_url).await?;
    store.ping().await?;
    println!("# store: {} reachable, migrations applied", store.backend());
    println!("# configuration OK");
    Ok(ExitCode::SUCCESS)
}
