//! The freshness gate, pure: a period's reports are computed and queued only when, for every
//! record kind its forms read, the pulls that succeeded cover [`history_from`, the period's
//! settle instant] without a gap, and the latest pull of that kind succeeded. Otherwise nothing is
//! sent and every report waits, with the reason. Coverage is the union of the successful windows,
//! so a re-pull of any span only ever adds to it.

use crate::domain::{Axis, Instant, Period, RecordKind};
use crate::sources::config::Protocol;
use crate::store::PullLog;

/// 00:00 ICT of the day after the period's last day, plus `settle_hours`: from then on the
/// period's records are taken as complete.
pub fn settle_instant(period: &Period, settle_hours: i64) -> Instant {
    Instant(period.ended_at().0 + settle_hours * 3600)
}

/// What the gate sees for one record kind from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub source: String,
    pub protocol: Protocol,
    pub kind: RecordKind,
    /// How far the source is known complete: the span of windows from `history_from` without a
    /// gap (our contract's CapNhatLuc windows, reception-date windows), or the instant the
    /// latest drain of a queue or the latest pushed batch began. `None`: nothing yet.
    pub covered_to: Option<Instant>,
    /// The latest pull of the kind (window, pass, drain or batch): when it finished, and whether
    /// it succeeded.
    pub latest: Option<(Instant, bool, String)>,
    /// Dossiers open at the source last read before the instant asked about (sources read again
    /// by key); the engine fills it in.
    pub open_unread: i64,
}

/// Which axis of the pull log says how far a source is complete.
fn coverage_axis(protocol: Protocol) -> Axis {
    match protocol {
        Protocol::Baocao => Axis::Updated,
        Protocol::EnvelopeWindow | Protocol::Igate => Axis::Received,
        Protocol::AckQueue => Axis::Queue,
        Protocol::Receiver => Axis::Push,
    }
}

impl Freshness {
    /// From the pull log of one kind from one source (oldest first).
    pub fn of(
        source: &str,
        protocol: Protocol,
        kind: RecordKind,
        log: &[PullLog],
        history_from: Instant,
    ) -> Freshness {
        let axis = coverage_axis(protocol);
        let ok = log.iter().filter(|p| p.ok && p.axis == axis);
        let covered = match protocol {
            // Windows: their union, from history_from, without a gap.
            Protocol::Baocao | Protocol::EnvelopeWindow | Protocol::Igate => {
                let mut windows: Vec<(Instant, Instant)> = ok.map(|p| (p.from, p.to)).collect();
                windows.sort();
                let mut covered: Option<Instant> = None;
                for (from, to) in windows {
                    let reach = covered.unwrap_or(history_from);
                    if from <= reach && to > reach {
                        covered = Some(to);
                    }
                }
                covered
            }
            // A drain that emptied the queue, a batch stored: complete up to when it began.
            Protocol::AckQueue | Protocol::Receiver => ok.map(|p| p.to).max(),
        };
        // The latest of any axis: a failed look-up pass holds the gate as a failed window does.
        let latest = log
            .iter()
            .enumerate()
            .max_by_key(|(i, p)| (p.finished_at, *i))
            .map(|(_, p)| (p.finished_at, p.ok, p.detail.clone()));
        Freshness {
            source: source.to_owned(),
            protocol,
            kind,
            covered_to: covered,
            latest,
            open_unread: 0,
        }
    }

    /// `Err(reason)` when the kind's records are not known to be complete up to `needed`.
    pub fn check(&self, needed: Instant) -> Result<(), String> {
        let kind = self.kind.as_str();
        let source = &self.source;
        match &self.latest {
            None => {
                return Err(match self.protocol {
                    Protocol::Receiver => {
                        format!("no {kind} records were ever pushed to the receiver `{source}`")
                    }
                    _ => format!("no {kind} records were ever pulled from `{source}`"),
                });
            }
            Some((at, false, detail)) => {
                return Err(format!(
                    "the latest pull of {kind} records from `{source}` ({at}) failed: {detail}"
                ));
            }
            Some(_) => {}
        }
        match (self.protocol, self.covered_to) {
            (_, Some(to)) if to >= needed => {}
            (Protocol::AckQueue, _) => {
                return Err(format!(
                    "the queue `{source}` has not been drained since {needed}"
                ));
            }
            (Protocol::Receiver, _) => {
                return Err(format!(
                    "no batch was pushed to the receiver `{source}` since {needed}"
                ));
            }
            (_, Some(to)) => {
                return Err(format!(
                    "{kind} records from `{source}` are pulled up to {to} only; the period needs them up to {needed}"
                ));
            }
            (_, None) => {
                return Err(format!(
                    "no successful pull of {kind} records from `{source}` starts at history_from"
                ));
            }
        }
        if self.open_unread > 0 {
            return Err(format!(
                "{} dossiers still open at `{source}` were last read before {needed}; they are read again by key before the pre-fill",
                self.open_unread
            ));
        }
        Ok(())
    }
}

/// The gate for one period: every reason it holds, none when it opens. A kind no source sends
/// (feedback typed into files, say) is not held: its records come by `import`.
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
        for f in freshness.iter().filter(|f| f.kind == *kind) {
            if let Err(reason) = f.check(needed) {
                out.push(reason);
            }
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
            axis: Axis::Updated,
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
        let f = Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Dossier,
            &pulls,
            history,
        );
        assert_eq!(f.covered_to, Some(at("2023-09-20T01:00:00Z")));
        assert!(f.check(at("2023-09-14T23:00:00Z")).is_ok());

        let gap = [pulls[0].clone(), pulls[1].clone()];
        let f = Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Dossier,
            &gap,
            history,
        );
        let reason = f.check(at("2023-09-14T23:00:00Z")).unwrap_err();
        assert!(reason.contains("failed"), "{reason}");

        let late_start = [log(
            "2023-01-01T00:00:00Z",
            "2023-09-20T00:00:00Z",
            true,
            "2023-09-20T00:00:00Z",
        )];
        let f = Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Dossier,
            &late_start,
            history,
        );
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
        let f = Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Dossier,
            &pulls,
            history,
        );
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
        let mut f = vec![Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Dossier,
            &pulls,
            history,
        )];
        let r = reasons(
            &q3,
            &[RecordKind::Dossier],
            &f,
            6,
            at("2023-09-14T22:30:00Z"),
        );
        assert_eq!(r.len(), 2, "{r:?}");
        // A source that sends ratings but never answered.
        f.push(Freshness::of(
            "default",
            Protocol::Baocao,
            RecordKind::Rating,
            &[],
            history,
        ));
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

    fn axis_log(axis: Axis, from: &str, to: &str, ok: bool, finished: &str) -> PullLog {
        PullLog {
            axis,
            ..log(from, to, ok, finished)
        }
    }

    #[test]
    fn sources_without_capnhatluc_are_complete_by_their_own_axis() {
        let q3: Period = "2023-Q3".parse().unwrap();
        let needed = settle_instant(&q3, 6);
        let history = at("2022-01-01T00:00:00+07:00");
        // Reception windows to the settle instant, but CapNhatLuc windows do not count here.
        let windows = [
            axis_log(
                Axis::Received,
                "2022-01-01T00:00:00+07:00",
                "2023-09-15T08:00:00+07:00",
                true,
                "2023-09-15T08:01:00+07:00",
            ),
            axis_log(
                Axis::Lookup,
                "2023-09-15T06:00:00+07:00",
                "2023-09-15T08:02:00+07:00",
                true,
                "2023-09-15T08:02:00+07:00",
            ),
        ];
        let mut f = Freshness::of(
            "dvc",
            Protocol::EnvelopeWindow,
            RecordKind::Dossier,
            &windows,
            history,
        );
        assert!(f.check(needed).is_ok());
        f.open_unread = 12;
        let reason = f.check(needed).unwrap_err();
        assert!(
            reason.contains("12 dossiers") && reason.contains("dvc"),
            "{reason}"
        );
        let as_baocao = Freshness::of(
            "dvc",
            Protocol::Baocao,
            RecordKind::Dossier,
            &windows,
            history,
        );
        assert!(as_baocao.check(needed).is_err(), "no CapNhatLuc windows");
        // A failed look-up pass, latest, holds the gate.
        let mut failed = windows.to_vec();
        failed.push(axis_log(
            Axis::Lookup,
            "2023-09-15T06:00:00+07:00",
            "2023-09-15T09:00:00+07:00",
            false,
            "2023-09-15T09:00:00+07:00",
        ));
        let f = Freshness::of(
            "dvc",
            Protocol::EnvelopeWindow,
            RecordKind::Dossier,
            &failed,
            history,
        );
        assert!(f.check(needed).unwrap_err().contains("failed"));

        // A receiver: a batch stored after the settle instant, none failed since.
        let pushes = [axis_log(
            Axis::Push,
            "2023-09-15T05:00:00+07:00",
            "2023-09-15T05:00:00+07:00",
            true,
            "2023-09-15T05:00:00+07:00",
        )];
        let f = Freshness::of(
            "nhan",
            Protocol::Receiver,
            RecordKind::Dossier,
            &pushes,
            history,
        );
        assert!(
            f.check(needed).unwrap_err().contains("since"),
            "before the settle instant"
        );
        let mut later = pushes.to_vec();
        later.push(axis_log(
            Axis::Push,
            "2023-09-15T07:00:00+07:00",
            "2023-09-15T07:00:00+07:00",
            true,
            "2023-09-15T07:00:00+07:00",
        ));
        let f = Freshness::of(
            "nhan",
            Protocol::Receiver,
            RecordKind::Dossier,
            &later,
            history,
        );
        assert!(f.check(needed).is_ok());
        later.push(axis_log(
            Axis::Push,
            "2023-09-15T07:30:00+07:00",
            "2023-09-15T07:30:00+07:00",
            false,
            "2023-09-15T07:30:00+07:00",
        ));
        let f = Freshness::of(
            "nhan",
            Protocol::Receiver,
            RecordKind::Dossier,
            &later,
            history,
        );
        assert!(f.check(needed).is_err(), "a batch failed since");

        // A queue: drained (emptied) after the settle instant.
        let drains = [axis_log(
            Axis::Queue,
            "2023-09-15T07:00:00+07:00",
            "2023-09-15T07:00:00+07:00",
            true,
            "2023-09-15T07:05:00+07:00",
        )];
        let f = Freshness::of(
            "hotich",
            Protocol::AckQueue,
            RecordKind::Dossier,
            &drains,
            history,
        );
        assert!(f.check(needed).is_ok());
        let f = Freshness::of(
            "hotich",
            Protocol::AckQueue,
            RecordKind::Dossier,
            &drains[..0],
            history,
        );
        assert!(f.check(needed).unwrap_err().contains("hotich"));
    }
}
