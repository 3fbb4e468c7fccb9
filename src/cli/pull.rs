//! `pull`: the pipeline's pull stage alone — records from the configured sources into the store,
//! incrementally (or again from the start of a period with `--full`). It writes to the store
//! only, never to a reporting system.

use super::config::ConfigArgs;
use baocao_sync::domain::{Instant, Period, RecordKind};
use baocao_sync::sync::pull::{PullPlan, Puller};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    #[arg(long, value_enum, default_value = "dossiers")]
    kind: Kind,
    /// Re-pull every record since the start of --period, not only since the watermark.
    #[arg(long, requires = "period")]
    full: bool,
    #[arg(long)]
    period: Option<String>,
    /// Read again by key every dossier still open at a source without CapNhatLuc that was last
    /// read before the settle instant of --period (as a pre-fill does).
    #[arg(long, requires = "period")]
    lookups: bool,
    /// The day (YYYY-MM-DD) from which the first pull starts ([pull] history_from).
    #[arg(long)]
    history_from: Option<chrono::NaiveDate>,
    /// Pull this configured source alone (its `[[sources]]` name; `[upstreams.source]` is named
    /// by [pull] source, `default` unless set).
    #[arg(long)]
    source: Option<String>,
    /// Each run stops this far in the past ([pull] lag_seconds, for `[upstreams.source]`).
    #[arg(long)]
    lag_seconds: Option<i64>,
    /// Each run starts this far before the last watermark ([pull] overlap_seconds).
    #[arg(long)]
    overlap_seconds: Option<i64>,
    #[arg(long)]
    window_days: Option<i64>,
    #[arg(long)]
    parallel: Option<usize>,
    /// Records per page (1-1000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: Option<u32>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    Dossiers,
    Ratings,
    Feedback,
}

pub async fn run(a: PullArgs) -> anyhow::Result<ExitCode> {
    let mut settings = a.config.settings()?;
    let p = &mut settings.pull;
    if let Some(v) = a.history_from {
        p.history_from = Some(v);
    }
    if let Some(v) = a.lag_seconds {
        p.lag_seconds = v;
    }
    if let Some(v) = a.overlap_seconds {
        p.overlap_seconds = v;
    }
    if let Some(v) = a.window_days {
        p.window_days = v.max(1);
    }
    if let Some(v) = a.parallel {
        p.parallel = v.max(1);
    }
    if let Some(v) = a.page_size {
        p.page_size = v;
    }
    let history_from = settings.require_history()?;
    let sources = settings.load_sources()?;
    let units = settings
        .files
        .units
        .as_deref()
        .map(baocao_sync::configuration::units)
        .transpose()?;
    let vault = super::config::vault(&settings)?;
    let store = baocao_sync::store::open(&settings.store.database_url).await?;
    let clock = a.config.clock()?;
    let now = clock.now();
    let puller = Puller {
        store: &store,
        sources: &sources,
        history_from,
        units: units.as_ref(),
        vault: vault.as_ref(),
        now,
        speed: clock.speed(),
    };
    let period: Option<Period> = a.period.as_deref().map(str::parse).transpose()?;
    let plan = PullPlan {
        full_from: match (a.full, &period) {
            (true, Some(period)) => Some(Instant::from_local(
                period.first_day.and_hms_opt(0, 0, 0).expect("midnight"),
            )),
            _ => None,
        },
        only: a.source.clone(),
        lookups_before: match (a.lookups, &period) {
            (true, Some(period)) => Some(baocao_sync::sync::gate::settle_instant(
                period,
                settings.gate.settle_hours,
            )),
            _ => None,
        },
    };
    let kind = match a.kind {
        Kind::Dossiers => RecordKind::Dossier,
        Kind::Ratings => RecordKind::Rating,
        Kind::Feedback => RecordKind::Feedback,
    };
    let outcomes = puller.pull(&[kind], &plan).await?;
    if outcomes.is_empty() {
        eprintln!(
            "error: no configured source sends {} records to pull{}",
            kind.as_str(),
            a.source
                .as_deref()
                .map(|s| format!(" (source `{s}`)"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    let mut code = ExitCode::SUCCESS;
    for (_, outcome) in outcomes {
        for f in &outcome.rejected {
            eprintln!("rejected {}: {}", f.record, f.message);
        }
        let looked = if outcome.looked_up > 0 {
            format!(
                ", {} open dossiers read again ({} no longer returned)",
                outcome.looked_up, outcome.gone
            )
        } else {
            String::new()
        };
        let notes = if outcome.notes > 0 {
            format!(
                ", {} values no table maps (see the findings)",
                outcome.notes
            )
        } else {
            String::new()
        };
        println!(
            "new {}, updated {}, unchanged {}, rejected {} ({} of {} windows stored, up to {}){looked}{notes} from `{}`",
            outcome.counts.new,
            outcome.counts.updated,
            outcome.counts.unchanged,
            outcome.rejected.len(),
            outcome.stored,
            outcome.windows,
            outcome.to.map(|t| t.to_string()).unwrap_or_default(),
            outcome.source
        );
        if let Some(failure) = &outcome.failure {
            eprintln!(
                "error: the pull stopped (source `{}`): {failure}",
                outcome.source
            );
            code = ExitCode::from(2);
        }
    }
    Ok(code)
}
