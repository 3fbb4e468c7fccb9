//! Draining a queue with acknowledgements (`ack_queue`): take what waits, store it, and only then
//! acknowledge each stored item (a reject is stored too, under its key); an item not acknowledged
//! comes again and is stored again unchanged. A drain ends when the queue answers nothing: that
//! instant is what the freshness gate reads (everything queued before the drain began is stored).

use super::{PullOutcome, SourceRun, SyncError};
use crate::domain::Axis;
use crate::sources::ingest::{self, Native};
use crate::sources::mapping::Lookups;
use crate::sources::queue::QueueClient;
use futures_util::StreamExt;

#[tracing::instrument(name = "sync.pull.queue", skip_all, fields(source = %run.settings.name))]
pub async fn drain(run: &SourceRun<'_>) -> Result<PullOutcome, SyncError> {
    let client = QueueClient::new(run.settings, run.http.clone());
    let started = run.now;
    let mut outcome = PullOutcome {
        source: run.settings.name.clone(),
        from: Some(started),
        to: Some(started),
        ..PullOutcome::default()
    };
    let mut taken = 0i64;
    let mut failure: Option<String> = None;
    let mut emptied = false;
    for _ in 0..run.settings.queue.max_batches.max(1) {
        let items = match client.batch(&run.auth, &run.retry).await {
            Ok(items) => items,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        if items.is_empty() {
            emptied = true;
            break;
        }
        outcome.windows += 1;
        taken += items.len() as i64;
        crate::drill::point(crate::drill::Stage::Pull);
        let natives: Vec<Native> = items
            .into_iter()
            .map(|value| Native {
                value,
                remote_id: None,
            })
            .collect();
        let stored = ingest::dossiers(
            run.store,
            &run.mapping,
            &run.units,
            &Lookups::new(),
            &natives,
            run.now,
            false,
        )
        .await?;
        crate::drill::point(crate::drill::Stage::Store);
        outcome.counts.add(stored.counts);
        outcome.notes += stored.notes;
        let without_key = stored
            .rejected
            .iter()
            .filter(|f| f.record.starts_with("row:"))
            .count();
        outcome.rejected.extend(stored.rejected);
        // Stored: now each may be acknowledged.
        type Ack<'f> =
            std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'f>>;
        let client = &client;
        let acks: Vec<Ack<'_>> = stored
            .keys
            .iter()
            .map(|key| -> Ack<'_> {
                Box::pin(async move {
                    client
                        .ack(&run.auth, &run.retry, key)
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let acks: Vec<Result<(), String>> =
            futures_util::stream::iter(acks).buffered(4).collect().await;
        if let Some(Err(e)) = acks.into_iter().find(Result::is_err) {
            failure = Some(e);
            break;
        }
        outcome.stored += 1;
        if without_key > 0 && stored.keys.is_empty() {
            // Items without a key cannot be acknowledged: the queue would hand them out forever.
            failure = Some(format!(
                "the queue hands out {without_key} item(s) without a key, which cannot be acknowledged"
            ));
            break;
        }
    }
    let span = (started, started);
    match (&failure, emptied) {
        (Some(reason), _) => {
            tracing::warn!(source = %run.settings.name, error = %reason, "drain stopped");
            run.log(Axis::Queue, span, Err(reason)).await?;
        }
        (None, true) => run.log(Axis::Queue, span, Ok(taken)).await?,
        (None, false) => {
            let reason = "the queue was not empty after the most batches a drain takes";
            run.log(Axis::Queue, span, Err(reason)).await?;
            failure = Some(reason.to_owned());
        }
    }
    outcome.failure = failure;
    Ok(outcome)
}
