//! Windows of a business date, for sources without a CapNhatLuc to trust (`envelope_window`,
//! `igate`). A dossier enters the store through the window of its reception date; changes to a
//! dossier already stored are caught by re-scanning recent windows (the overlap) and by reading
//! open dossiers again by key (`lookups`). iGate also re-scans its due-date and result-returned
//! windows since the last pull, where the dossiers that just changed are.
//!
//! Each axis keeps its own watermark. The first pull walks the reception dates from
//! `history_from`; later pulls start `overlap` before the watermark (3 days by default for the
//! envelope: a dossier entered late for a day already read, or changed soon after, comes again).
//! The envelope's windows are whole local days (its parameters are dates); iGate's are instants.
//! Windows are fetched in parallel within a bound, stored in order as each completes, and only
//! then does the watermark move: a stopped pull resumes at the window it stopped in.

use super::{PullOutcome, SourceRun, SyncError};
use crate::domain::{Axis, Instant};
use crate::sources::call::SourceError;
use crate::sources::config::Protocol;
use crate::sources::envelope::EnvelopeClient;
use crate::sources::igate::IgateClient;
use crate::sources::ingest::{self, Native};
use crate::sources::mapping::Lookups;
use crate::store::Store;
use chrono::{Duration, NaiveTime};
use futures_util::StreamExt;

const DAY: i64 = 86_400;

/// The windows `[from, to)` of one axis: whole local days for the envelope (`days` at a time),
/// spans of `days` days otherwise.
pub fn spans(from: Instant, to: Instant, days: i64, whole_days: bool) -> Vec<(Instant, Instant)> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    let mut start = if whole_days {
        let day = from.to_local().date();
        Instant::from_local(day.and_time(NaiveTime::MIN))
    } else {
        from
    };
    let step = days.max(1) * DAY;
    while start < to {
        let end = Instant((start.0 + step).min(to.0));
        out.push((start, end));
        start = Instant(start.0 + step);
    }
    out
}

/// Where an axis' pull starts: a full re-read, before the watermark by the overlap, or — the
/// first time — `history_from` for receptions and the overlap before now for the others.
fn start_of(
    axis: Axis,
    mark: Option<Instant>,
    full_from: Option<Instant>,
    history_from: Instant,
    to: Instant,
    overlap: i64,
) -> Instant {
    match (full_from, mark, axis) {
        (Some(f), _, _) => f,
        (None, Some(m), _) => Instant((m.0 - overlap).max(history_from.0)),
        (None, None, Axis::Received) => history_from,
        (None, None, _) => Instant((to.0 - overlap.max(DAY)).max(history_from.0)),
    }
}

/// Pulls every axis of the source (receptions first).
pub async fn pull(
    run: &SourceRun<'_>,
    full_from: Option<Instant>,
) -> Result<PullOutcome, SyncError> {
    let mut axes = vec![Axis::Received];
    if run.settings.protocol == Protocol::Igate {
        axes.extend(run.settings.igate.rescan.iter().copied());
    }
    let mut outcome = PullOutcome {
        source: run.settings.name.clone(),
        ..PullOutcome::default()
    };
    for axis in axes {
        let o = pull_axis(run, axis, full_from).await?;
        outcome.counts.add(o.counts);
        outcome.rejected.extend(o.rejected);
        outcome.notes += o.notes;
        outcome.windows += o.windows;
        outcome.stored += o.stored;
        outcome.store_seconds += o.store_seconds;
        if axis == Axis::Received {
            outcome.from = o.from;
            outcome.to = o.to;
        }
        if o.failure.is_some() {
            outcome.failure = o.failure;
            break;
        }
    }
    Ok(outcome)
}

type Fetched = (
    (Instant, Instant),
    Result<(Vec<Native>, Lookups), SourceError>,
);

#[tracing::instrument(name = "sync.pull.windows", skip_all, fields(source = %run.settings.name, axis = axis.as_str()))]
async fn pull_axis(
    run: &SourceRun<'_>,
    axis: Axis,
    full_from: Option<Instant>,
) -> Result<PullOutcome, SyncError> {
    let source = &run.settings.name;
    let plan = run.settings.window_plan();
    let mark = run
        .store
        .axis_watermark(source, crate::domain::RecordKind::Dossier, axis)
        .await?;
    let to = Instant(run.now.0 - plan.lag_seconds);
    let from = start_of(
        axis,
        mark,
        full_from,
        run.history_from,
        to,
        plan.overlap_seconds,
    );
    let whole_days = run.settings.protocol == Protocol::EnvelopeWindow;
    let windows = spans(from, to, plan.days, whole_days);
    let mut outcome = PullOutcome {
        source: source.clone(),
        from: windows.first().map(|w| w.0),
        to: windows.last().map(|w| w.1),
        windows: windows.len(),
        ..PullOutcome::default()
    };
    let envelope =
        EnvelopeClient::new(run.settings, run.http.clone()).map_err(SyncError::Config)?;
    let igate = IgateClient::new(run.settings, run.http.clone());
    let (envelope, igate) = (&envelope, &igate);
    type Fetch<'f> = std::pin::Pin<Box<dyn std::future::Future<Output = Fetched> + Send + 'f>>;
    let fetches: Vec<Fetch<'_>> = windows
        .iter()
        .map(|&(a, b)| -> Fetch<'_> {
            Box::pin(async move {
                let got = match run.settings.protocol {
                    Protocol::EnvelopeWindow => {
                        let last = Instant(b.0 - 1).to_local().date();
                        envelope
                            .window(&run.auth, &run.retry, a.to_local().date(), last)
                            .await
                            .map(|items| {
                                let natives = items
                                    .into_iter()
                                    .map(|value| Native {
                                        value,
                                        remote_id: None,
                                    })
                                    .collect();
                                (natives, Lookups::new())
                            })
                    }
                    _ => igate_window(run, igate, axis, a, b, plan.page_size).await,
                };
                ((a, b), got)
            })
        })
        .collect();
    let mut fetched = futures_util::stream::iter(fetches).buffered(plan.parallel);
    while let Some(((a, b), got)) = fetched.next().await {
        let (natives, lookups) = match got {
            Ok(got) => got,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(source = %source, axis = axis.as_str(), from = %a, to = %b, error = %reason, "pull stopped");
                run.log(axis, (a, b), Err(&reason)).await?;
                outcome.failure = Some(reason);
                return Ok(outcome);
            }
        };
        crate::drill::point(crate::drill::Stage::Pull);
        let storing = std::time::Instant::now();
        let n = natives.len() as i64;
        let stored = ingest::dossiers(
            run.store,
            &run.mapping,
            &run.units,
            &lookups,
            &natives,
            run.now,
            true,
        )
        .await?;
        crate::drill::point(crate::drill::Stage::Store);
        crate::telemetry::events::records_pulled(
            crate::domain::RecordKind::Dossier,
            stored.counts.new + stored.counts.updated,
        );
        outcome.counts.add(stored.counts);
        outcome.notes += stored.notes;
        outcome.rejected.extend(stored.rejected);
        run.log(axis, (a, b), Ok(n)).await?;
        run.store
            .advance_axis_watermark(source, crate::domain::RecordKind::Dossier, axis, b)
            .await?;
        outcome.store_seconds += storing.elapsed().as_secs_f64();
        outcome.stored += 1;
    }
    if axis == Axis::Received {
        crate::telemetry::events::pull_succeeded(crate::domain::RecordKind::Dossier, run.now);
    }
    Ok(outcome)
}

/// One iGate window, with the catalogue entries its dossiers refer to.
async fn igate_window(
    run: &SourceRun<'_>,
    client: &IgateClient<'_>,
    axis: Axis,
    from: Instant,
    to: Instant,
    size: u32,
) -> Result<(Vec<Native>, Lookups), SourceError> {
    let items = client
        .window(&run.auth, &run.retry, axis, from, to, size)
        .await?;
    let lookups = catalogue(run, client, &items).await?;
    let id_field = &run.settings.igate.id_field;
    Ok((
        items
            .into_iter()
            .map(|value| Native {
                remote_id: value
                    .get(id_field)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                value,
            })
            .collect(),
        lookups,
    ))
}

/// The catalogue entries (agencies, procedures, fields) `items` refer to, looked up once each.
pub async fn catalogue(
    run: &SourceRun<'_>,
    client: &IgateClient<'_>,
    items: &[serde_json::Value],
) -> Result<Lookups, SourceError> {
    let mut wanted: Vec<(String, String)> = items
        .iter()
        .flat_map(|i| run.mapping.lookup_ids(i))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut known = Lookups::new();
    let mut missing = std::collections::HashSet::new();
    client
        .look_up(&run.auth, &run.retry, wanted, &mut known, &mut missing)
        .await?;
    Ok(known)
}

/// The day after `day`, at midnight ICT.
pub fn next_midnight(at: Instant) -> Instant {
    let day = at.to_local().date() + Duration::days(1);
    Instant::from_local(day.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        Instant::parse(s).unwrap()
    }

    #[test]
    fn envelope_windows_are_whole_days_and_the_last_stops_at_the_bound() {
        let w = spans(
            at("2023-09-10T15:00:00+07:00"),
            at("2023-09-12T08:00:00+07:00"),
            1,
            true,
        );
        assert_eq!(
            w,
            vec![
                (
                    at("2023-09-10T00:00:00+07:00"),
                    at("2023-09-11T00:00:00+07:00")
                ),
                (
                    at("2023-09-11T00:00:00+07:00"),
                    at("2023-09-12T00:00:00+07:00")
                ),
                (
                    at("2023-09-12T00:00:00+07:00"),
                    at("2023-09-12T08:00:00+07:00")
                ),
            ]
        );
        assert!(
            spans(
                at("2023-09-12T08:00:00Z"),
                at("2023-09-12T08:00:00Z"),
                1,
                true
            )
            .is_empty()
        );
    }

    #[test]
    fn starts_follow_the_watermark_history_and_axis() {
        let history = at("2022-01-01T00:00:00+07:00");
        let to = at("2023-09-20T07:00:00+07:00");
        assert_eq!(
            start_of(Axis::Received, None, None, history, to, 3 * DAY),
            history
        );
        let mark = at("2023-09-19T07:00:00+07:00");
        assert_eq!(
            start_of(Axis::Received, Some(mark), None, history, to, 3 * DAY),
            Instant(mark.0 - 3 * DAY)
        );
        assert_eq!(
            start_of(Axis::Due, None, None, history, to, 2 * DAY),
            Instant(to.0 - 2 * DAY),
            "due windows start near now, not at the history"
        );
        let full = at("2023-06-15T00:00:00+07:00");
        assert_eq!(
            start_of(Axis::Received, Some(mark), Some(full), history, to, 0),
            full
        );
        assert_eq!(next_midnight(to), at("2023-09-21T00:00:00+07:00"));
    }
}
