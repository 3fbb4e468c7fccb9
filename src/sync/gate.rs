//! The freshness gate, pure: a period's reports are computed and queued only when, for every
//! record kind its forms read, the pulls that succeeded cover [`history_from`, the period's
//! settle instant] without a gap, and the latest pull of that kind succeeded. Otherwise nothing is
//! sent and every report waits, with the reason. Coverage is the union of the successful windows,
//! so a re-pull of any span only ever adds to it.

use crate::domain::{Instant, Period, RecordKind};
use crate::store::PullLog;
use chrono::{Duration, NaiveTime};

/// 00:00 ICT of the day after the period's last day, plus `settle_hours`: from then on the
/// period's records are taken as complete.
pub fn settle_instant(period: &Period, settle_hours: i64) -> Instant {
    let next_day = period.last_day + Duration::days(1);
    let midnight = Instant::from_local(next_day.and_time(NaiveTime::MIN));
    Instant(midnight.0 + settle_hours * 3600)
}

/// What the gate sees for one record kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub kind: RecordKind,
    /// The covered span from `history_from` without a gap: up to this instant (`None`: nothing
    /// from `history_from` on).
    pub covered_to: Option<Instant>,
    /// The latest pull of the kind: when it finished, and whether it succeeded.
    pub latest: Option<(Instant, bool, String)>,
}

impl Freshness {
    /// From the pull log of one kind (oldest first).
    pub fn of(kind: RecordKind, log: &[PullLog], history_from: Instant) -> Freshness {
        let mut windows: Vec<(Instant, Instant)> = log
            .iter()
            .filter(|p| p.ok)
            .map(|p| (p.from, p.to))
            .collect();
        windows.sort();
        let mut covered: Option<Instant> = None;
        for (from, to) in windows {
            let reach = covered.unwrap_or(history_from);
            if from <= reach && to > reach {
                covered = Some(to);
            }
        }
        let latest = log
            .iter()
            .max_by_key(|p| p.finished_at)
            .map(|p| (p.finished_at, p.ok, p.detail.clone()));
        Freshness {
            kind,
            covered_to: covered,
            latest,
        }
    }

    /// `Err(reason)` when the kind's records are not known to be complete up to `needed`.
    pub fn check(&self, needed: Instant) -> Result<(), String> {
        let kind = self.kind.as_str();
        match &self.latest {
            None => return Err(format!("no {kind} records were ever pulled")),
            Some((at, false, detail)) => {
                return Err(format!(
                    "the latest pull of {kind} records ({at}) failed: {detail}"
                ));
            }
            Some(_) => {}
        }
        match self.covered_to {
            Some(to) if to >= needed => Ok(()),
            Some(to) => Err(format!(
                "{kind} records are pulled up to {to} only; the period needs them up to {needed}"
            )),
            None => Err(format!(
                "no successful pull of {kind} records starts at history_from"
            )),
        }
    }
}

/// The gate for one period: every reason it holds, none when it opens.
pub fn reasons(
    period: &Period,
    kinds: &[RecordKind],
    freshness: &[Freshness],
    settle_hours: i64,
    now: Instant,
) -> Vec<String> {
    let needed = settle_instant(period, settle_hours);
    let mut out = Vec::new();
    if now < needed {
        out.push(format!(
            "{} has not settled yet: its records are taken as complete from {needed}",
            period.id()
        ));
    }
    for kind in kinds {
        match freshness.iter().find(|f| f.kind == *kind) {
            Some(f) => {
                if let Err(reason) = f.check(needed) {
                    out.push(reason);
                }
            }
            None => out.push(format!("no {} records were ever pulled", kind.as_str())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        Instant::parse(s).unwrap()
    }

    fn log(from: &str, to: &str, ok: bool, finished: &str) -> PullLog {
        PullLog {
            source: "default".into(),
            kind: RecordKind::Dossier,
            from: at(from),
            to: at(to),
            ok,
            detail: if ok { String::new() } else { "HTTP 503".into() },
            records: 0,
            finished_at: at(finished),
        }
    }

    #[test]
    fn the_settle_instant_is_the_morning_after_the_cut_off() {
        let q3: Period = "2023-Q3".parse().unwrap();
        // 15/09/2023 00:00 ICT + 6 h = 15/09/2023 06:00 ICT = 14/09 23:00 UTC.
        assert_eq!(settle_instant(&q3, 6), at("2023-09-14T23:00:00Z"));
    }

    #[test]
    fn coverage_is_the_union_of_successful_windows_from_history_from() {
        let history = at("2022-01-01T00:00:00+07:00");
        let pulls = [
            log(
                "2022-01-01T00:00:00+07:00",
                "2023-06-01T00:00:00Z",
                true,
                "2023-09-20T00:00:00Z",
            ),
            // A failed window leaves a gap until a later pull fills it.
            log(
                "2023-06-01T00:00:00Z",
                "2023-08-01T00:00:00Z",
                false,
                "2023-09-20T00:01:00Z",
            ),
            log(
                "2023-05-31T23:45:00Z",
                "2023-09-20T00:00:00Z",
                true,
                "2023-09-20T00:02:00Z",
            ),
            // A full re-pull of one period never narrows what is covered.
            log(
                "2023-06-14T17:00:00Z",
                "2023-09-20T01:00:00Z",
                true,
                "2023-09-20T01:00:00Z",
            ),
        ];
        let f = Freshness::of(RecordKind::Dossier, &pulls, history);
        assert_eq!(f.covered_to, Some(at("2023-09-20T01:00:00Z")));
        assert!(f.check(at("2023-09-14T23:00:00Z")).is_ok());

        let gap = [pulls[0].clone(), pulls[1].clone()];
        let f = Freshness::of(RecordKind::Dossier, &gap, history);
        let reason = f.check(at("2023-09-14T23:00:00Z")).unwrap_err();
        assert!(reason.contains("failed"), "{reason}");

        let late_start = [log(
            "2023-01-01T00:00:00Z",
            "2023-09-20T00:00:00Z",
            true,
            "2023-09-20T00:00:00Z",
        )];
        let f = Freshness::of(RecordKind::Dossier, &late_start, history);
        assert_eq!(f.covered_to, None, "the span from history_from has a gap");
        assert!(f.check(at("2023-09-14T23:00:00Z")).is_err());
    }

    #[test]
    fn the_latest_pull_must_have_succeeded() {
        let history = at("2022-01-01T00:00:00+07:00");
        let pulls = [
            log(
                "2022-01-01T00:00:00+07:00",
                "2023-09-20T00:00:00Z",
                true,
                "2023-09-20T00:00:00Z",
            ),
            log(
                "2023-09-19T23:45:00Z",
                "2023-09-20T01:00:00Z",
                false,
                "2023-09-20T01:00:00Z",
            ),
        ];
        let f = Freshness::of(RecordKind::Dossier, &pulls, history);
        assert!(
            f.check(at("2023-09-14T23:00:00Z"))
                .unwrap_err()
                .contains("latest pull")
        );
    }

    #[test]
    fn a_period_that_has_not_settled_waits() {
        let q3: Period = "2023-Q3".parse().unwrap();
        let history = at("2022-01-01T00:00:00+07:00");
        let pulls = [log(
            "2022-01-01T00:00:00+07:00",
            "2023-09-14T22:00:00Z",
            true,
            "2023-09-14T22:05:00Z",
        )];
        let f = [Freshness::of(RecordKind::Dossier, &pulls, history)];
        let r = reasons(
            &q3,
            &[RecordKind::Dossier],
            &f,
            6,
            at("2023-09-14T22:30:00Z"),
        );
        assert_eq!(r.len(), 2, "{r:?}");
        let r = reasons(
            &q3,
            &[RecordKind::Dossier, RecordKind::Rating],
            &f,
            6,
            at("2023-09-15T00:00:00Z"),
        );
        assert!(r.iter().any(|r| r.contains("pulled up to")), "{r:?}");
        assert!(r.iter().any(|r| r.contains("rating")), "{r:?}");
    }
}
