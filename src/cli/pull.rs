use anyhow::Context;
use baocao_sync::auth::session::Session;
use baocao_sync::auth::vault::{SOURCE_UNIT, System};
use baocao_sync::configuration;
use baocao_sync::domain::{Instant, Period, RecordKind};
use baocao_sync::sources::procedure::SourceClient;
use baocao_sync::store::{self, Store};
use baocao_sync::sync::pull::{PullRequest, pull};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The source's base URL and token endpoint ([source] in this file).
    #[arg(long, env = "BAOCAO_UPSTREAMS")]
    upstreams: PathBuf,
    #[arg(long, value_enum, default_value = "dossiers")]
    kind: Kind,
    /// Re-pull every record updated since the start of --period, not only since the watermark.
    #[arg(long, requires = "period")]
    full: bool,
    #[arg(long)]
    period: Option<String>,
    /// The source's name in the store.
    #[arg(long, default_value = "default")]
    source: String,
    /// Each run stops this far in the past, so records still being written are left for the next.
    #[arg(long, default_value_t = 300)]
    lag_seconds: i64,
    /// Each run starts this far before the last watermark.
    #[arg(long, default_value_t = 900)]
    overlap_seconds: i64,
    #[arg(long, default_value_t = 1)]
    window_days: i64,
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Records per page (1-1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
    /// What "now" is (RFC 3339), instead of the system clock: for tests and for replaying a run.
    #[arg(long, hide = true)]
    now: Option<String>,
    #[command(flatten)]
    key: super::creds::KeyArgs,
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    Dossiers,
    Ratings,
    Feedback,
}

pub async fn run(a: PullArgs) -> anyhow::Result<ExitCode> {
    let upstreams = configuration::upstreams(&a.upstreams)?;
    let endpoint = upstreams
        .source
        .as_ref()
        .context("the upstreams file has no [source]")?;
    let base_url = endpoint
        .base_url
        .as_deref()
        .context("[source] has no base_url")?;
    let vault = a.key.vault()?;
    let store = store::open(&a.database_url).await?;
    let sealed = store.credentials().await?;
    let credential = sealed
        .iter()
        .find(|s| s.system == System::Source && s.unit == SOURCE_UNIT)
        .context("no source credential: baocao-sync creds set --system source --unit '*' --username CLIENT_ID --password-stdin")?;
    let credential = vault.open(credential)?;
    let http = endpoint.http_client();
    let client = SourceClient::new(http.clone(), base_url).map_err(anyhow::Error::msg)?;
    let session = Session::new(http, endpoint.clone(), credential);
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
    let request = PullRequest {
        source: a.source,
        kind,
        now: match &a.now {
            Some(text) => Instant::parse(text).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
            None => Instant(chrono::Utc::now().timestamp()),
        },
        lag_seconds: a.lag_seconds,
        overlap_seconds: a.overlap_seconds,
        window_seconds: a.window_days * 86_400,
        full_from,
        page_size: a.page_size,
        parallel: a.parallel,
        retry: endpoint.retry_policy(),
    };
    let outcome = pull(&store, &client, &session, &request).await?;
    for f in &outcome.rejected {
        eprintln!("rejected {}: {}", f.record, f.message);
    }
    println!(
        "new {}, updated {}, unchanged {}, rejected {} ({} windows, up to {})",
        outcome.counts.new,
        outcome.counts.updated,
        outcome.counts.unchanged,
        outcome.rejected.len(),
        outcome.windows,
        outcome.to.map(|t| t.to_string()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
