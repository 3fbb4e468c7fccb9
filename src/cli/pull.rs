//! `pull`: the pipeline's pull stage alone — records from the procedure-handling system into the
//! store, incrementally (or again from the start of a period with `--full`). It writes to the store
//! only, never to a reporting system.

use super::config::ConfigArgs;
use baocao_sync::domain::{Instant, Period, RecordKind};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    #[arg(long, value_enum, default_value = "dossiers")]
    kind: Kind,
    /// Re-pull every record updated since the start of --period, not only since the watermark.
    #[arg(long, requires = "period")]
    full: bool,
    #[arg(long)]
    period: Option<String>,
    /// The day (YYYY-MM-DD) from which the first pull starts ([pull] history_from).
    #[arg(long)]
    history_from: Option<chrono::NaiveDate>,
    /// The source's name in the store ([pull] source).
    #[arg(long)]
    source: Option<String>,
    /// Each run stops this far in the past ([pull] lag_seconds).
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
    if let Some(v) = a.source {
        p.source = v;
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
    settings.require_history()?;
    let upstreams = settings.load_upstreams()?;
    let vault = super::config::vault(&settings)?;
    let store = baocao_sync::store::open(&settings.store.database_url).await?;
    let puller = baocao_sync::sync::pull::Puller {
        store: &store,
        settings: &settings.pull,
        source: upstreams.source.as_ref(),
        vault: vault.as_ref(),
        now: a.config.clock()?.now(),
    };
    let full_from = match (a.full, &a.period) {
        (true, Some(p)) => {
            let period: Period = p.parse()?;
            Some(Instant::from_local(
                period.first_day.and_hms_opt(0, 0, 0).expect("midnight"),
            ))
        }
        _ => None,
    };
    let kind = match a.kind {
        Kind::Dossiers => RecordKind::Dossier,
        Kind::Ratings => RecordKind::Rating,
        Kind::Feedback => RecordKind::Feedback,
    };
    let mut code = ExitCode::SUCCESS;
    for (_, outcome) in puller.pull(&[kind], full_from).await? {
        for f in &outcome.rejected {
            eprintln!("rejected {}: {}", f.record, f.message);
        }
        println!(
            "new {}, updated {}, unchanged {}, rejected {} ({} of {} windows stored, up to {})",
            outcome.counts.new,
            outcome.counts.updated,
            outcome.counts.unchanged,
            outcome.rejected.len(),
            outcome.stored,
            outcome.windows,
            outcome.to.map(|t| t.to_string()).unwrap_or_default()
        );
        if let Some(failure) = &outcome.failure {
            eprintln!("error: the pull stopped: {failure}");
            code = ExitCode::from(2);
        }
    }
    Ok(code)
}
