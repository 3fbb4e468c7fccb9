//! Reading open dossiers again by key (`TraCuuHoSo` for the envelope, the dossier by id for
//! iGate): a dossier received long ago changes without its reception window being read again, so
//! every dossier still open in the store is read again — those not read for `every_minutes` at
//! each pull, and before a pre-fill every one not read since the period's settle instant (the
//! freshness gate waits for them). Calls start no faster than `per_second`, `parallel` at once,
//! and a pull makes at most `per_pull` (ten minutes' worth by default); the rest go on at the
//! next pull.
//!
//! A dossier the source no longer returns is not deleted: it stays as last read, counted, with a
//! `missing_at_source` finding until the source returns it again.

use super::{PullOutcome, SourceRun, SyncError};
use crate::domain::{Axis, Instant};
use crate::sources::call::SourceError;
use crate::sources::config::Protocol;
use crate::sources::envelope::EnvelopeClient;
use crate::sources::igate::IgateClient;
use crate::sources::ingest::{self, Native};
use crate::store::{OpenDossier, OpenMark, Store};
use futures_util::StreamExt;
use std::time::Duration;

/// Dossiers taken from the store at a time.
const CHUNK: i64 = 200;
/// A pull spends at most this long on look-ups (at the configured rate).
const PER_PULL_SECONDS: f64 = 600.0;

/// What one dossier's look-up found.
enum Found {
    Record(Native),
    Gone,
}

/// Reads again the open dossiers due for it: not read within the cadence, or (with `before`)
/// not read since that instant.
#[tracing::instrument(name = "sync.pull.lookups", skip_all, fields(source = %run.settings.name))]
pub async fn run(run: &SourceRun<'_>, before: Option<Instant>) -> Result<PullOutcome, SyncError> {
    let source = &run.settings.name;
    let l = &run.settings.lookups;
    let cadence = Instant(run.now.0 - i64::from(l.every_minutes) * 60);
    let seen_before = before.map_or(cadence, |b| b.max(cadence)).min(run.now);
    let mut outcome = PullOutcome {
        source: source.clone(),
        ..PullOutcome::default()
    };
    let due = run.store.count_open(source, seen_before).await?;
    if due == 0 {
        return Ok(outcome);
    }
    let budget = l
        .per_pull
        .unwrap_or((l.per_second * PER_PULL_SECONDS).max(1.0) as usize)
        .max(1);
    let interval = Duration::from_secs_f64(1.0 / l.per_second);
    let envelope =
        EnvelopeClient::new(run.settings, run.http.clone()).map_err(SyncError::Config)?;
    let igate = IgateClient::new(run.settings, run.http.clone());
    let started = tokio::time::Instant::now();
    let mut calls = 0usize;
    let mut failure = None;
    while calls < budget {
        let open = run
            .store
            .open_dossiers(source, seen_before, CHUNK.min((budget - calls) as i64))
            .await?;
        if open.is_empty() {
            break;
        }
        let first = calls;
        calls += open.len();
        // Boxed as `Send` futures: a stream of closures borrowing the run would not prove `Send`
        // for every lifetime, and pulls run on spawned tasks.
        type Call<'f> = std::pin::Pin<
            Box<
                dyn std::future::Future<Output = (&'f OpenDossier, Result<Found, SourceError>)>
                    + Send
                    + 'f,
            >,
        >;
        let (envelope, igate) = (&envelope, &igate);
        let calls_of_chunk: Vec<Call<'_>> = open
            .iter()
            .enumerate()
            .map(|(i, d)| -> Call<'_> {
                let at = started + interval * (first + i) as u32;
                Box::pin(async move {
                    // Calls start no faster than the configured rate.
                    tokio::time::sleep_until(at).await;
                    (d, look_up(run, envelope, igate, d).await)
                })
            })
            .collect();
        let results: Vec<(&OpenDossier, Result<Found, SourceError>)> =
            futures_util::stream::iter(calls_of_chunk)
                .buffered(l.parallel.max(1))
                .collect()
                .await;
        let mut found = Vec::new();
        let mut gone = Vec::new();
        let mut asked = Vec::new();
        for (d, result) in results {
            match result {
                Ok(Found::Record(n)) => {
                    asked.push(d);
                    found.push(n);
                }
                Ok(Found::Gone) => gone.push(d.key.as_str()),
                Err(e) => {
                    failure.get_or_insert(e.to_string());
                }
            }
        }
        let lookups = match run.settings.protocol {
            Protocol::Igate => {
                let values: Vec<serde_json::Value> =
                    found.iter().map(|n| n.value.clone()).collect();
                match super::windows::catalogue(run, igate, &values).await {
                    Ok(l) => l,
                    Err(e) => {
                        failure.get_or_insert(e.to_string());
                        Default::default()
                    }
                }
            }
            _ => Default::default(),
        };
        let stored = ingest::dossiers(
            run.store,
            &run.mapping,
            &run.units,
            &lookups,
            &found,
            run.now,
            true,
        )
        .await?;
        // A record that came back under another code leaves the one asked for read all the same.
        let keys: std::collections::HashSet<&str> =
            stored.keys.iter().map(String::as_str).collect();
        let strays: Vec<OpenMark> = asked
            .iter()
            .filter(|d| !keys.contains(d.key.as_str()))
            .map(|d| OpenMark {
                key: d.key.clone(),
                remote_id: d.remote_id.clone(),
                open: true,
            })
            .collect();
        if !strays.is_empty() {
            run.store.track_open(source, &strays, run.now).await?;
        }
        ingest::gone(run.store, source, &gone, run.now).await?;
        outcome.looked_up += asked.len() + gone.len();
        outcome.gone += gone.len();
        outcome.counts.add(stored.counts);
        outcome.rejected.extend(stored.rejected);
        outcome.notes += stored.notes;
        if failure.is_some() {
            break;
        }
    }
    let span = (seen_before, run.now);
    match &failure {
        Some(reason) => {
            tracing::warn!(source = %source, error = %reason, "look-ups stopped");
            run.log(Axis::Lookup, span, Err(reason)).await?;
        }
        None => {
            run.log(Axis::Lookup, span, Ok(outcome.looked_up as i64))
                .await?;
        }
    }
    outcome.failure = failure;
    tracing::info!(source = %source, looked_up = outcome.looked_up, gone = outcome.gone, due, "open dossiers read again");
    Ok(outcome)
}

async fn look_up(
    run: &SourceRun<'_>,
    envelope: &EnvelopeClient<'_>,
    igate: &IgateClient<'_>,
    d: &OpenDossier,
) -> Result<Found, SourceError> {
    let value = match run.settings.protocol {
        Protocol::Igate => match &d.remote_id {
            Some(id) => igate.detail(&run.auth, &run.retry, id).await?,
            None => {
                return Err(SourceError::Refused(format!(
                    "dossier {} has no iGate id to read it by",
                    d.key
                )));
            }
        },
        _ => envelope.lookup(&run.auth, &run.retry, &d.key).await?,
    };
    Ok(match value {
        Some(value) => Found::Record(Native {
            remote_id: d.remote_id.clone(),
            value,
        }),
        None => Found::Gone,
    })
}
