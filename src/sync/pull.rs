//! Pull: records from the procedure-handling system into the store, incrementally. Each run closes
//! its window at a fixed bound a little in the past (`now - lag`), starts a little before the last
//! watermark (`overlap`, because a record updated during a walk may appear again later), splits
//! the span into windows fetched in parallel within a bound, de-duplicates by key and CapNhatLuc,
//! stores everything, and only then advances the watermark.

use super::push::SyncError;
use crate::auth::session::Session;
use crate::domain::{Dossier, Feedback, Finding, Instant, Rating, RecordKind};
use crate::sources::export::{FromWire, RecordBatch, parse_raw};
use crate::sources::procedure::{SourceClient, SourceError};
use crate::store::{DossierImport, IncomingDossier, IncomingRaw, Reject, Store, UpsertCounts};
use futures_util::{StreamExt, TryStreamExt};

#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The source's name in the store (`default` when there is one).
    pub source: String,
    pub kind: RecordKind,
    /// The clock, injected: tests and re-runs decide what "now" is.
    pub now: Instant,
    pub lag_seconds: i64,
    pub overlap_seconds: i64,
    pub window_seconds: i64,
    /// A full re-pull from this instant instead of the watermark.
    pub full_from: Option<Instant>,
    pub page_size: u32,
    /// Windows fetched at once.
    pub parallel: usize,
    /// How a window that met a transient failure is retried.
    pub retry: crate::retry::RetryPolicy,
}

#[derive(Debug, Clone, Default)]
pub struct PullOutcome {
    pub counts: UpsertCounts,
    pub rejected: Vec<Finding>,
    pub from: Option<Instant>,
    pub to: Option<Instant>,
    pub windows: usize,
}

impl From<SourceError> for SyncError {
    fn from(e: SourceError) -> SyncError {
        SyncError::Upstream(format!("pull: {e}"))
    }
}

/// The windows of [from, to): one when there is no watermark yet (the first pull), else spans of
/// `window_seconds`.
fn windows(
    from: Instant,
    to: Instant,
    window_seconds: i64,
    first: bool,
) -> Vec<(Instant, Instant)> {
    if first || window_seconds <= 0 {
        return vec![(from, to)];
    }
    let mut out = Vec::new();
    let mut start = from.0;
    while start < to.0 {
        let end = (start + window_seconds).min(to.0);
        out.push((Instant(start), Instant(end)));
        start = end;
    }
    out
}

#[tracing::instrument(name = "sync.pull", skip_all, fields(source = %req.source, kind = req.kind.as_str()))]
pub async fn pull<S: Store>(
    store: &S,
    client: &SourceClient,
    session: &Session,
    req: &PullRequest,
) -> Result<PullOutcome, SyncError> {
    match req.kind {
        RecordKind::Dossier => {
            pull_kind::<S, Dossier>(store, client, session, req, "dossiers").await
        }
        RecordKind::Rating => pull_kind::<S, Rating>(store, client, session, req, "ratings").await,
        RecordKind::Feedback => {
            pull_kind::<S, Feedback>(store, client, session, req, "feedback").await
        }
    }
}

async fn pull_kind<S: Store, R: Pulled>(
    store: &S,
    client: &SourceClient,
    session: &Session,
    req: &PullRequest,
    path: &str,
) -> Result<PullOutcome, SyncError> {
    let watermark = store.watermark(&req.source, req.kind).await?;
    let to = Instant(req.now.0 - req.lag_seconds);
    let from = match (req.full_from, watermark) {
        (Some(f), _) => f,
        (None, Some(w)) => Instant(w.0 - req.overlap_seconds),
        (None, None) => Instant(0),
    };
    let mut outcome = PullOutcome {
        from: Some(from),
        to: Some(to),
        ..PullOutcome::default()
    };
    if from.0 >= to.0 {
        return Ok(outcome);
    }
    let spans = windows(
        from,
        to,
        req.window_seconds,
        watermark.is_none() && req.full_from.is_none(),
    );
    outcome.windows = spans.len();
    // Fetched in parallel within a bound, handed on in window order.
    let pages: Vec<Vec<String>> = futures_util::stream::iter(spans)
        .map(|(a, b)| client.window(session, &req.retry, path, a, b, req.page_size))
        .buffered(req.parallel.max(1))
        .try_collect()
        .await?;
    let batch: RecordBatch<R> = parse_raw(pages.iter().flatten().map(String::as_str), true);
    tracing::debug!(
        records = batch.records.len(),
        raws = batch.raws.len(),
        findings = batch.findings.len(),
        "window read"
    );
    // Every record carries its text; a mismatch would silently store fewer records than were read.
    if batch.raws.len() != batch.records.len() {
        return Err(SyncError::Internal(format!(
            "pull: {} records but {} texts; this is a bug, please report it",
            batch.records.len(),
            batch.raws.len()
        )));
    }
    let records: Vec<(&R, &str)> = batch
        .records
        .iter()
        .zip(batch.raws.iter().map(String::as_str))
        .collect();
    outcome.counts = R::store(store, &req.source, &records).await?;
    let rejects: Vec<Reject> = batch
        .findings
        .iter()
        .filter(|f| {
            f.code == crate::domain::FindingCode::InvalidRecord && !f.record.starts_with("row:")
        })
        .map(|f| Reject {
            record_key: f.record.clone(),
            reason: f.message.clone(),
            raw: String::new(),
        })
        .collect();
    if !rejects.is_empty() {
        store
            .record_rejects(req.kind, &req.source, &rejects)
            .await?;
    }
    outcome.rejected = batch
        .findings
        .into_iter()
        .filter(|f| f.code == crate::domain::FindingCode::InvalidRecord)
        .collect();
    // Only now, with every record of the span stored, does the watermark move.
    store.set_watermark(&req.source, req.kind, to).await?;
    Ok(outcome)
}

/// How a pulled (or imported) kind is stored: ratings and feedback as received, by default;
/// dossiers in typed columns through the bulk import.
pub trait Pulled: FromWire + Sync {
    fn store<S: Store>(
        store: &S,
        source: &str,
        records: &[(&Self, &str)],
    ) -> impl std::future::Future<Output = Result<UpsertCounts, crate::store::StoreError>> + Send
    {
        async move {
            let incoming: Vec<IncomingRaw> = records
                .iter()
                .map(|(r, raw)| IncomingRaw {
                    key: r.key(),
                    updated_at: r.updated_at(),
                    raw,
                })
                .collect();
            store.upsert_raw(Self::KIND, source, &incoming).await
        }
    }
}

impl Pulled for Dossier {
    async fn store<S: Store>(
        store: &S,
        source: &str,
        records: &[(&Self, &str)],
    ) -> Result<UpsertCounts, crate::store::StoreError> {
        let incoming: Vec<IncomingDossier> = records
            .iter()
            .map(|(dossier, raw)| IncomingDossier { dossier, raw })
            .collect();
        let mut import = store.begin_dossier_import(source).await?;
        let counts = import.add(&incoming).await?;
        import.commit().await?;
        Ok(counts)
    }
}

impl Pulled for Rating {}

impl Pulled for Feedback {}
