//! Pulling from a source that speaks our own contract (upstreams.md §1, protocol `baocao`),
//! incrementally. Each run closes its span at a fixed bound a little in the past (`now - lag`) and
//! starts a little before the last watermark (`overlap`: a record updated during a walk may appear
//! again later), or at `history_from` on the first run. The span is split into windows fetched in
//! parallel within a bound and handed on in order; each window's records are de-duplicated by key
//! and CapNhatLuc and stored as the window completes, and only then does the watermark move over
//! it (forward only). A failure keeps every window before it. Every window, stored or failed, is
//! logged for the freshness gate.

use super::{PullOutcome, SyncError};
use crate::auth::source::Authorizer;
use crate::domain::{Axis, Dossier, Feedback, Instant, Rating, RecordKind};
use crate::sources::export::{FromWire, RecordBatch, parse_raw};
use crate::sources::procedure::{SourceClient, SourceError};
use crate::store::{IncomingRaw, PullLog, Reject, Store, UpsertCounts};
use futures_util::StreamExt;

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
    /// Where the first pull starts.
    pub history_from: Instant,
    /// A full re-pull from this instant instead of the watermark.
    pub full_from: Option<Instant>,
    pub page_size: u32,
    /// Windows fetched at once.
    pub parallel: usize,
    /// How a page that met a transient failure is retried.
    pub retry: crate::retry::RetryPolicy,
}

impl PullRequest {
    /// The windows of this pull's span, in order.
    pub fn windows(&self, watermark: Option<Instant>) -> Vec<(Instant, Instant)> {
        let to = Instant(self.now.0 - self.lag_seconds);
        let from = match (self.full_from, watermark) {
            (Some(f), _) => f,
            (None, Some(w)) => Instant((w.0 - self.overlap_seconds).max(self.history_from.0)),
            (None, None) => self.history_from,
        };
        let step = self.window_seconds.max(60);
        let mut out = Vec::new();
        let mut start = from.0;
        while start < to.0 {
            let end = (start + step).min(to.0);
            out.push((Instant(start), Instant(end)));
            start = end;
        }
        out
    }
}

/// Pulls one record kind. `Err` only when the store fails; an upstream failure ends the pull
/// early with `failure` set (and logged), keeping every window before it.
#[tracing::instrument(name = "sync.pull", skip_all, fields(source = %req.source, kind = req.kind.as_str()))]
pub async fn pull<S: Store, A: Authorizer>(
    store: &S,
    client: &SourceClient,
    session: &A,
    req: &PullRequest,
) -> Result<PullOutcome, SyncError> {
    match req.kind {
        RecordKind::Dossier => {
            pull_kind::<S, A, Dossier>(store, client, session, req, "dossiers").await
        }
        RecordKind::Rating => {
            pull_kind::<S, A, Rating>(store, client, session, req, "ratings").await
        }
        RecordKind::Feedback => {
            pull_kind::<S, A, Feedback>(store, client, session, req, "feedback").await
        }
    }
}

/// Logs a pull that could not even start (no credential, no source configured) as a failed one,
/// so the freshness gate says why.
pub async fn log_failure<S: Store>(
    store: &S,
    req: &PullRequest,
    reason: &str,
) -> Result<(), SyncError> {
    let to = Instant(req.now.0 - req.lag_seconds);
    store
        .record_pull(&PullLog {
            source: req.source.clone(),
            kind: req.kind,
            axis: Axis::Updated,
            from: to,
            to,
            ok: false,
            detail: reason.to_owned(),
            records: 0,
            finished_at: req.now,
        })
        .await?;
    Ok(())
}

async fn pull_kind<S: Store, A: Authorizer, R: Pulled>(
    store: &S,
    client: &SourceClient,
    session: &A,
    req: &PullRequest,
    path: &str,
) -> Result<PullOutcome, SyncError> {
    let watermark = store.watermark(&req.source, req.kind).await?;
    let spans = req.windows(watermark);
    let mut outcome = PullOutcome {
        source: req.source.clone(),
        from: spans.first().map(|w| w.0),
        to: spans.last().map(|w| w.1),
        windows: spans.len(),
        ..PullOutcome::default()
    };
    // Fetched in parallel within a bound, handed on (and stored) in window order. The fetches
    // are boxed as `Send` futures: a stream of closures borrowing the session would not prove
    // `Send` for every lifetime, and the daemon runs pulls on spawned tasks.
    type Fetch<'f> = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = ((Instant, Instant), Result<Vec<String>, SourceError>)>
                + Send
                + 'f,
        >,
    >;
    let fetches: Vec<Fetch<'_>> = spans
        .iter()
        .map(move |&(a, b)| -> Fetch<'_> {
            Box::pin(async move {
                let page = client
                    .window(session, &req.retry, path, a, b, req.page_size)
                    .await;
                ((a, b), page)
            })
        })
        .collect();
    let mut pages = futures_util::stream::iter(fetches).buffered(req.parallel.max(1));
    // The store builds the source's key index while the first window is fetched, instead of
    // at that window's import (over years of history, a read of every block).
    let mut first = None;
    if R::KIND == RecordKind::Dossier && !spans.is_empty() {
        let (prepared, page) =
            futures_util::join!(store.prepare_dossier_import(&req.source), pages.next());
        if let Err(e) = prepared {
            tracing::debug!(error = %e, "key index not built ahead: the import builds it");
        }
        first = page;
    }
    loop {
        let next = match first.take() {
            Some(page) => Some(page),
            None => pages.next().await,
        };
        let Some(((from, to), fetched)) = next else {
            break;
        };
        let log = |ok: bool, detail: String, records: i64| PullLog {
            source: req.source.clone(),
            kind: req.kind,
            axis: Axis::Updated,
            from,
            to,
            ok,
            detail,
            records,
            finished_at: req.now,
        };
        let texts = match fetched {
            Ok(texts) => texts,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(kind = req.kind.as_str(), from = %from, to = %to, error = %reason, "pull stopped");
                store.record_pull(&log(false, reason.clone(), 0)).await?;
                outcome.failure = Some(reason);
                return Ok(outcome);
            }
        };
        crate::drill::point(crate::drill::Stage::Pull);
        let n = texts.len() as i64;
        let before = outcome.counts;
        let storing = std::time::Instant::now();
        store_window::<S, R>(store, req, &texts, &mut outcome).await?;
        crate::drill::point(crate::drill::Stage::Store);
        crate::telemetry::events::records_pulled(
            req.kind,
            (outcome.counts.new - before.new) + (outcome.counts.updated - before.updated),
        );
        store.record_pull(&log(true, String::new(), n)).await?;
        // Only now, with every record of the window stored, does the watermark move.
        store.advance_watermark(&req.source, req.kind, to).await?;
        outcome.store_seconds += storing.elapsed().as_secs_f64();
        outcome.stored += 1;
    }
    crate::telemetry::events::pull_succeeded(req.kind, req.now);
    Ok(outcome)
}

/// Parses and stores one window's records, and the rejects of those that cannot be read.
async fn store_window<S: Store, R: Pulled>(
    store: &S,
    req: &PullRequest,
    texts: &[String],
    outcome: &mut PullOutcome,
) -> Result<(), SyncError> {
    let batch: RecordBatch<R> = parse_raw(texts.iter().map(String::as_str), true);
    tracing::debug!(
        records = batch.records.len(),
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
    outcome
        .counts
        .add(R::store(store, &req.source, &records).await?);
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
            code: f.code,
        })
        .collect();
    if !rejects.is_empty() {
        store
            .record_rejects(req.kind, &req.source, &rejects)
            .await?;
    }
    outcome.rejected.extend(
        batch
            .findings
            .into_iter()
            .filter(|f| f.code == crate::domain::FindingCode::InvalidRecord),
    );
    Ok(())
}

/// How a pulled (or imported) kind is stored: ratings and feedback as received, by default;
/// dossiers in blocks through the bulk import.
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
        // What the rules read is kept, in blocks; the record's text is not.
        let incoming: Vec<&Dossier> = records.iter().map(|(dossier, _)| *dossier).collect();
        store.upsert_dossiers(source, &incoming).await
    }
}

impl Pulled for Rating {}

impl Pulled for Feedback {}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(now: &str) -> PullRequest {
        PullRequest {
            source: "default".into(),
            kind: RecordKind::Dossier,
            now: Instant::parse(now).unwrap(),
            lag_seconds: 300,
            overlap_seconds: 900,
            window_seconds: 7 * 86_400,
            history_from: Instant::parse("2023-01-01T00:00:00+07:00").unwrap(),
            full_from: None,
            page_size: 100,
            parallel: 2,
            retry: Default::default(),
        }
    }

    #[test]
    fn the_first_pull_walks_the_history_in_windows() {
        let req = request("2023-02-01T00:05:00+07:00");
        let w = req.windows(None);
        assert_eq!(w.first().unwrap().0, req.history_from);
        assert_eq!(
            w.last().unwrap().1,
            Instant::parse("2023-02-01T00:00:00+07:00").unwrap()
        );
        assert_eq!(w.len(), 5, "31 days in weeks: {w:?}");
        assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "contiguous");
    }

    #[test]
    fn later_pulls_overlap_the_watermark_and_never_start_before_history() {
        let req = request("2023-02-01T00:05:00+07:00");
        let mark = Instant::parse("2023-01-31T00:00:00+07:00").unwrap();
        assert_eq!(req.windows(Some(mark))[0].0, Instant(mark.0 - 900));
        let early = Instant(req.history_from.0 + 60);
        assert_eq!(req.windows(Some(early))[0].0, req.history_from);
        let now = Instant(req.now.0 - 300);
        assert!(req.windows(Some(now)).is_empty() || req.windows(Some(now))[0].0.0 == now.0 - 900);
    }
}
