//! The outbox's state machine, pure: given a row and an event, the row after it. Runs, delivery
//! workers, operators and `creds set` all change rows only through [`apply`], inside the store's
//! `outbox_apply` transaction; the table of state × event in ARCHITECTURE.md is this function.
//!
//! Rules that shape it:
//! - A report a person owns (locked: approved, signed or sent; edited by a person) or an
//!   operator holds is never written by the machine: only an operator's retry, release or force
//!   moves it, except that a run that passes the gate has a locked report read back again (a
//!   person may have returned it to draft; while it is approved the read-back ends it locked).
//! - A worker's answer moves the state only if the row is still `sending` under that worker's
//!   lease; whatever happened meanwhile (new content, a hold) stands. The facts the answer
//!   carries (the remote version, our own last write) are always kept, so a write that landed is
//!   never mistaken later for a person's.
//! - A row is claimed only when no live lease is on it, so one report is in flight once.

use crate::domain::Instant;
use crate::sinks::{Decision, Draft};
use crate::store::{Force, Lease, OutboxRow, OutboxState, ReportId};
use OutboxState::*;

/// How transient failures are retried at the outbox's level (the client's own quick retries
/// happen within one attempt): waits of `base × 2^(n-1)` seconds up to `cap`, then given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: i64,
    pub retry_base_seconds: i64,
    pub retry_cap_seconds: i64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_attempts: 8,
            retry_base_seconds: 60,
            retry_cap_seconds: 3600,
        }
    }
}

impl Policy {
    /// The wait after the `attempts`th failed attempt, or the server's if longer.
    pub fn wait(&self, attempts: i64, retry_after: Option<i64>) -> i64 {
        let exponent = (attempts - 1).clamp(0, 20) as u32;
        let backoff = self
            .retry_base_seconds
            .saturating_mul(1 << exponent)
            .min(self.retry_cap_seconds);
        backoff.max(retry_after.unwrap_or(0).min(self.retry_cap_seconds))
    }
}

/// What a run computed for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Computed {
    Draft(Draft),
    /// The unit has no records for this form and period.
    NothingToReport(String),
    /// The report, or one it includes, broke an identity.
    Withheld(String),
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reporting system's answer.
    Answer(Decision),
    NoCredential(String),
    /// The login was refused (wrong password, locked account, client not accepted).
    LoginFailed(String),
    /// The token endpoint could not be used for now (5xx, 429, a timeout).
    LoginUnavailable(String),
}

impl Outcome {
    /// The name kept with the attempt.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Answer(d) => d.name(),
            Outcome::NoCredential(_) => "no_credential",
            Outcome::LoginFailed(_) => "login_failed",
            Outcome::LoginUnavailable(_) => "login_unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A run computed the report's content (or that there is none).
    Recomputed(Computed),
    /// A run's freshness gate held: nothing may be sent for the scope.
    GateClosed(String),
    /// A run passed the gate: good outcomes are verified again (a read-back that finds our content
    /// writes nothing), and refusals a fix may have cured are tried again.
    NextFire,
    /// A delivery worker's attempt ended.
    Finished {
        worker: String,
        outcome: Outcome,
    },
    /// `creds set` stored a new login for the row's unit and system.
    CredentialSet,
    /// An operator: try again now.
    Retry,
    /// An operator: do not send until released.
    Hold,
    Release,
    /// An operator: overwrite a person's draft once (never an approved one).
    Force(Force),
}

/// An operator's action that does not apply to the row as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{report}: {reason}")]
pub struct Refusal {
    pub report: String,
    /// Why, as a kind (pages say it in Vietnamese from this).
    pub why: Refused,
    /// Why, in words for the CLI and logs.
    pub reason: String,
}

/// The kinds of refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The outbox holds no such report.
    NoSuchReport,
    /// A delivery worker holds it right now.
    InFlight,
    /// It waits for the source.
    WaitsForSource,
    /// There is no content to send.
    NothingToSend,
    /// A release of a report that is not held.
    NotHeld,
    /// A person approved, signed or sent it.
    Approved,
}

/// States a person or an operator owns: the machine itself never moves them.
fn owned(state: OutboxState) -> bool {
    matches!(state, Locked | EditedByPerson | Held)
}

fn good(state: OutboxState) -> bool {
    matches!(state, Created | Updated | Unchanged | Recreated)
}

/// Arms a row for delivery on `actor`'s behalf.
fn arm(row: &mut OutboxRow, actor: &str, detail: &str) {
    row.armed_by = actor.to_owned();
    row.state = Pending;
    row.attempts = 0;
    row.next_attempt_at = None;
    row.detail = detail.to_owned();
}

/// The row after `event`, caused by `actor` (`schedule`, `cli:<user>`, `operator:<name>`). `row`
/// is `None` for a report the outbox does not hold yet (only a run's events create rows).
/// `Ok(None)`: nothing changes.
pub fn apply(
    report: &ReportId,
    row: Option<&OutboxRow>,
    event: &Event,
    now: Instant,
    policy: &Policy,
    actor: &str,
) -> Result<Option<OutboxRow>, Refusal> {
    let refuse = |why: Refused, reason: &str| Refusal {
        report: report.to_string(),
        why,
        reason: reason.to_owned(),
    };
    let Some(old) = row else {
        let mut new = OutboxRow::new(report.clone(), WaitingForSource, now);
        new.armed_by = actor.to_owned();
        return Ok(match event {
            Event::Recomputed(c) => {
                set_content(&mut new, c);
                new.state = match c {
                    Computed::Draft(_) => Pending,
                    Computed::NothingToReport(_) => NothingToReport,
                    Computed::Withheld(_) => Withheld,
                };
                Some(new)
            }
            Event::GateClosed(reason) => {
                new.detail = reason.clone();
                Some(new)
            }
            Event::NextFire | Event::Finished { .. } | Event::CredentialSet => None,
            _ => {
                return Err(refuse(
                    Refused::NoSuchReport,
                    "the outbox holds no such report: run sync for its period first",
                ));
            }
        });
    };
    let mut row = old.clone();
    row.changed_at = now;
    match event {
        Event::Recomputed(c) => {
            let changed = set_content(&mut row, c);
            if owned(old.state) {
                // Content is kept for when the person or operator hands the report back.
            } else {
                match c {
                    Computed::Draft(_) => {
                        let rearm = changed
                            || matches!(
                                old.state,
                                WaitingForSource | Withheld | NothingToReport | Forbidden | Invalid
                            );
                        if rearm && !matches!(old.state, GivenUp | NoCredential | LoginFailed) {
                            arm(&mut row, actor, "");
                        }
                    }
                    Computed::NothingToReport(why) => {
                        row.state = NothingToReport;
                        row.detail = match old.our_version {
                            Some(v) => format!(
                                "{why}; a draft written earlier (version {v}) is still in the system: a person should delete it"
                            ),
                            None => why.clone(),
                        };
                    }
                    Computed::Withheld(why) => {
                        row.state = Withheld;
                        row.detail = why.clone();
                    }
                }
            }
        }
        Event::GateClosed(reason) => {
            if owned(old.state) || old.state == GivenUp {
                return Ok(None);
            }
            row.state = WaitingForSource;
            row.detail = reason.clone();
        }
        Event::NextFire => {
            // A locked report is read again at each run: a person may have returned it to
            // draft, and the push's read-back (never a write while it is approved) finds out.
            let rearm = good(old.state) || matches!(old.state, Forbidden | Invalid | Locked);
            if !rearm || row.draft.is_none() {
                return Ok(None);
            }
            arm(&mut row, actor, "");
        }
        Event::Finished { worker, outcome } => finish(&mut row, worker, outcome, now, policy),
        Event::CredentialSet => {
            if !matches!(old.state, NoCredential | LoginFailed) || row.draft.is_none() {
                return Ok(None);
            }
            arm(&mut row, actor, "a new login was set");
        }
        Event::Retry => {
            if old.lease_is_live(now) {
                return Err(refuse(
                    Refused::InFlight,
                    "it is being sent right now; try again in a moment",
                ));
            }
            if old.state == WaitingForSource {
                return Err(refuse(
                    Refused::WaitsForSource,
                    "it waits for the source: run sync for its period (with --accept-stale, \
                     and a reason, to send what is known)",
                ));
            }
            if row.draft.is_none() {
                return Err(refuse(
                    Refused::NothingToSend,
                    &format!(
                        "there is nothing to send ({}): run sync for its period",
                        old.state
                    ),
                ));
            }
            arm(&mut row, actor, "an operator asked for another try");
        }
        Event::Hold => {
            if old.state == Held {
                return Ok(None);
            }
            row.state = Held;
            row.detail = "held by an operator".to_owned();
        }
        Event::Release => {
            if old.state != Held {
                return Err(refuse(
                    Refused::NotHeld,
                    &format!("it is not held (it is {})", old.state),
                ));
            }
            if row.draft.is_some() {
                arm(&mut row, actor, "released by an operator");
            } else {
                row.state = WaitingForSource;
                row.detail = "released by an operator; computed at the next run".to_owned();
            }
        }
        Event::Force(force) => {
            if old.state == Locked {
                return Err(refuse(
                    Refused::Approved,
                    "it is approved, signed or sent in the reporting system: it is never overwritten",
                ));
            }
            if old.state == WaitingForSource {
                return Err(refuse(
                    Refused::WaitsForSource,
                    "it waits for the source: its figures are not known to be complete",
                ));
            }
            if old.lease_is_live(now) {
                return Err(refuse(
                    Refused::InFlight,
                    "it is being sent right now; try again in a moment",
                ));
            }
            if row.draft.is_none() {
                return Err(refuse(
                    Refused::NothingToSend,
                    &format!(
                        "there is nothing to send ({}): run sync for its period",
                        old.state
                    ),
                ));
            }
            arm(
                &mut row,
                actor,
                &format!("forced by {}: {}", force.by, force.reason),
            );
            row.force = Some(force.clone());
        }
    }
    Ok((row != *old).then_some(row))
}

/// Puts a run's content on the row; `true` when the content changed (a new generation).
fn set_content(row: &mut OutboxRow, c: &Computed) -> bool {
    let (draft, hash) = match c {
        Computed::Draft(d) => (Some(d.clone()), Some(d.content_hash())),
        Computed::NothingToReport(_) | Computed::Withheld(_) => (None, None),
    };
    if row.content_hash == hash && row.draft.is_some() == draft.is_some() {
        return false;
    }
    row.draft = draft;
    row.content_hash = hash;
    row.generation += 1;
    true
}

/// A worker's attempt ended: facts first, then the state if the row is still this worker's.
fn finish(row: &mut OutboxRow, worker: &str, outcome: &Outcome, now: Instant, policy: &Policy) {
    let mine = row.lease.as_ref().is_some_and(|l| l.owner == worker);
    if let Outcome::Answer(d) = outcome {
        match d {
            Decision::Created { version } | Decision::Recreated { version } => {
                row.our_version = Some(*version as i64);
                row.remote_version = Some(*version as i64);
                row.incarnation += 1;
            }
            Decision::Updated { version } | Decision::Unchanged { version } => {
                row.our_version = Some(*version as i64);
                row.remote_version = Some(*version as i64);
            }
            Decision::EditedByPerson {
                remote_version: Some(v),
            } => {
                row.remote_version = Some(*v as i64);
            }
            _ => {}
        }
    }
    if !mine {
        return;
    }
    row.lease = None;
    if row.state != Sending {
        // A run or an operator moved the row while it was in flight: that stands.
        return;
    }
    let same_content = row.sending_generation == Some(row.generation);
    let (state, detail) = match outcome {
        Outcome::Answer(d) => {
            let state = match d {
                Decision::Created { .. } => Created,
                Decision::Updated { .. } => Updated,
                Decision::Unchanged { .. } => Unchanged,
                Decision::Recreated { .. } => Recreated,
                Decision::Locked { .. } => Locked,
                Decision::EditedByPerson { .. } => EditedByPerson,
                Decision::Forbidden { .. } => Forbidden,
                Decision::Invalid { .. } => Invalid,
                Decision::Unauthorized => {
                    return retry_later(row, d.detail(), None, now, policy);
                }
                Decision::Transient { retry_after, .. } => {
                    let after = retry_after.map(|w| w.as_secs() as i64);
                    return retry_later(row, d.detail(), after, now, policy);
                }
            };
            (state, d.detail())
        }
        Outcome::NoCredential(why) => (NoCredential, why.clone()),
        Outcome::LoginFailed(why) => (LoginFailed, why.clone()),
        Outcome::LoginUnavailable(why) => {
            return retry_later(row, why.clone(), None, now, policy);
        }
    };
    if good(state) {
        row.force = None;
        row.attempts = 0;
        row.next_attempt_at = None;
        if !same_content {
            // New content arrived while the old was in flight: it goes next.
            let actor = row.armed_by.clone();
            arm(
                row,
                &actor,
                "new figures arrived while the previous ones were being sent",
            );
            return;
        }
    }
    row.state = state;
    row.detail = detail;
}

fn retry_later(
    row: &mut OutboxRow,
    reason: String,
    retry_after: Option<i64>,
    now: Instant,
    policy: &Policy,
) {
    row.attempts += 1;
    if row.attempts >= policy.max_attempts {
        row.state = GivenUp;
        row.next_attempt_at = None;
        row.detail = format!(
            "gave up after {} attempts; last: {reason}; an operator may retry",
            row.attempts
        );
    } else {
        let at = Instant(now.0 + policy.wait(row.attempts, retry_after));
        row.state = Retrying;
        row.next_attempt_at = Some(at);
        row.detail = reason;
    }
}

impl OutboxRow {
    /// Whether a worker holds the row now.
    pub fn lease_is_live(&self, now: Instant) -> bool {
        self.lease.as_ref().is_some_and(|l| l.until > now)
    }

    /// Whether a worker may claim the row now (what the store's claim selects).
    pub fn claimable(&self, now: Instant) -> bool {
        match self.state {
            Pending => !self.lease_is_live(now),
            Retrying => {
                self.next_attempt_at.is_some_and(|at| at <= now) && !self.lease_is_live(now)
            }
            Sending => !self.lease_is_live(now),
            _ => false,
        }
    }

    /// The row as a worker claims it.
    pub fn claimed(&self, owner: &str, until: Instant, now: Instant) -> OutboxRow {
        OutboxRow {
            state: Sending,
            lease: Some(Lease {
                owner: owner.to_owned(),
                until,
            }),
            sending_generation: Some(self.generation),
            changed_at: now,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    //! The state table of ARCHITECTURE.md, cell by cell: the document is the specification, and
    //! this test reads it, so the two cannot drift apart.
    use super::*;
    use crate::sinks::DraftRow;
    use crate::store::Force;

    const NOW: Instant = Instant(1_700_000_000);
    const REASON: &str = "the reason";

    fn state(abbreviation: &str) -> OutboxState {
        match abbreviation {
            "pend" => Pending,
            "send" => Sending,
            "crt" => Created,
            "upd" => Updated,
            "unch" => Unchanged,
            "recr" => Recreated,
            "none" => NothingToReport,
            "lock" => Locked,
            "edit" => EditedByPerson,
            "wait" => WaitingForSource,
            "whld" => Withheld,
            "held" => Held,
            "nocred" => NoCredential,
            "login" => LoginFailed,
            "forb" => Forbidden,
            "inv" => Invalid,
            "retry" => Retrying,
            "gave" => GivenUp,
            other => panic!("unknown state `{other}` in ARCHITECTURE.md"),
        }
    }

    /// The rows of the table between `<!-- name -->` and `<!-- /name -->`, cells trimmed.
    fn table(name: &str) -> Vec<Vec<String>> {
        let doc = include_str!("../../ARCHITECTURE.md");
        let start = doc
            .find(&format!("<!-- {name} -->"))
            .expect("the table is in ARCHITECTURE.md");
        let end = doc.find(&format!("<!-- /{name} -->")).expect("table end");
        doc[start..end]
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().to_owned())
                    .collect()
            })
            .collect()
    }

    fn draft(n: u64) -> Draft {
        Draft {
            rows: vec![DraftRow {
                key: "_total".into(),
                label: "Tổng số".into(),
                values: [("3".to_owned(), n)].into(),
            }],
            text: None,
        }
    }

    /// A typical row in `s`: content unless the state has none, a live lease when sending, a
    /// retry that is due.
    fn row(s: OutboxState) -> OutboxRow {
        let report = ReportId {
            system: "central".into(),
            form: "II.06a".into(),
            period: "2023-Q3".into(),
            unit: "000.10.00.H55".into(),
        };
        let mut row = OutboxRow::new(report, s, Instant(NOW.0 - 100));
        row.id = Some(1);
        row.detail = REASON.to_owned();
        if !matches!(s, NothingToReport | Withheld) {
            let d = draft(1);
            row.content_hash = Some(d.content_hash());
            row.draft = Some(d);
            row.generation = 1;
        }
        if s == Sending {
            row.lease = Some(Lease {
                owner: "w".into(),
                until: Instant(NOW.0 + 60),
            });
            row.sending_generation = Some(1);
        }
        if s == Retrying {
            row.attempts = 2;
            row.next_attempt_at = Some(Instant(NOW.0 - 1));
        }
        row
    }

    fn event(column: &str) -> Option<Event> {
        Some(match column {
            "new" => Event::Recomputed(Computed::Draft(draft(2))),
            "same" => Event::Recomputed(Computed::Draft(draft(1))),
            "none" => Event::Recomputed(Computed::NothingToReport(REASON.to_owned())),
            "whld" => Event::Recomputed(Computed::Withheld(REASON.to_owned())),
            "gate" => Event::GateClosed(REASON.to_owned()),
            "fire" => Event::NextFire,
            "cred" => Event::CredentialSet,
            "retry" => Event::Retry,
            "hold" => Event::Hold,
            "release" => Event::Release,
            "force" => Event::Force(Force {
                by: "cli:ops".into(),
                reason: "asked".into(),
            }),
            "claim" => return None,
            other => panic!("unknown event `{other}`"),
        })
    }

    #[test]
    fn every_state_and_event_of_the_table() {
        let header = [
            "new", "same", "none", "whld", "gate", "fire", "claim", "cred", "retry", "hold",
            "release", "force",
        ];
        let rows = table("outbox-events");
        assert_eq!(rows.len(), OutboxState::ALL.len(), "a row per state");
        let policy = Policy::default();
        for cells in rows {
            let from = state(&cells[0]);
            for (column, expected) in header.iter().zip(&cells[1..]) {
                if expected == "–" && *column != "claim" {
                    continue; // Cannot happen (same content as a row that has none).
                }
                let before = row(from);
                let got: Result<OutboxState, ()> = match event(column) {
                    None => {
                        // Claiming: what the store's claim selects, a sending row once its
                        // lease expired.
                        let mut r = before.clone();
                        if from == Sending {
                            r.lease.as_mut().unwrap().until = Instant(NOW.0 - 1);
                        }
                        Ok(if r.claimable(NOW) {
                            r.claimed("w2", Instant(NOW.0 + 300), NOW).state
                        } else {
                            from
                        })
                    }
                    Some(e) => apply(&before.report, Some(&before), &e, NOW, &policy, "cli:ops")
                        .map(|r| r.map_or(from, |r| r.state))
                        .map_err(|_| ()),
                };
                let want = match expected.as_str() {
                    "·" | "–" => Ok(from),
                    "✗" => Err(()),
                    s => Ok(state(s)),
                };
                assert_eq!(got, want, "{from} × {column}");
            }
        }
    }

    #[test]
    fn every_answer_of_the_table() {
        let answers: Vec<Outcome> = vec![
            Outcome::Answer(Decision::Created { version: 1 }),
            Outcome::Answer(Decision::Updated { version: 2 }),
            Outcome::Answer(Decision::Unchanged { version: 2 }),
            Outcome::Answer(Decision::Recreated { version: 1 }),
            Outcome::Answer(Decision::Locked {
                status: "approved".into(),
            }),
            Outcome::Answer(Decision::EditedByPerson {
                remote_version: Some(3),
            }),
            Outcome::Answer(Decision::Forbidden {
                message: "no right".into(),
            }),
            Outcome::Answer(Decision::Invalid {
                message: "bad row".into(),
            }),
            Outcome::Answer(Decision::Transient {
                retry_after: None,
                reason: "HTTP 503".into(),
            }),
            Outcome::Answer(Decision::Transient {
                retry_after: None,
                reason: "HTTP 503".into(),
            }),
            Outcome::LoginUnavailable("HTTP 502".into()),
            Outcome::LoginFailed("invalid_grant".into()),
            Outcome::NoCredential("no login".into()),
        ];
        let rows = table("outbox-answers");
        assert_eq!(rows.len(), answers.len(), "a row per answer");
        let policy = Policy::default();
        for (i, (cells, outcome)) in rows.iter().zip(&answers).enumerate() {
            for (changed, expected) in [(false, &cells[1]), (true, &cells[2])] {
                let mut before = row(Sending);
                if i == 9 {
                    // The last attempt.
                    before.attempts = policy.max_attempts - 1;
                }
                if changed {
                    before.generation = 2;
                }
                let event = Event::Finished {
                    worker: "w".into(),
                    outcome: outcome.clone(),
                };
                let after = apply(&before.report, Some(&before), &event, NOW, &policy, "x")
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    after.state,
                    state(expected),
                    "{} (changed: {changed})",
                    cells[0]
                );
                assert_eq!(after.lease, None, "the worker's lease is released");
            }
        }
    }

    #[test]
    fn an_answer_on_a_row_no_longer_the_workers_keeps_its_facts_only() {
        let mut held = row(Sending);
        held.state = Held;
        let event = Event::Finished {
            worker: "w".into(),
            outcome: Outcome::Answer(Decision::Created { version: 1 }),
        };
        let after = apply(
            &held.report,
            Some(&held),
            &event,
            NOW,
            &Policy::default(),
            "x",
        )
        .unwrap()
        .unwrap();
        assert_eq!(after.state, Held, "the operator's hold stands");
        assert_eq!(after.our_version, Some(1), "the write that landed is ours");
        assert_eq!(after.incarnation, 1);
        assert_eq!(after.lease, None);
        // Another worker's answer after this lease expired and the row was claimed again.
        let mut other = row(Sending);
        other.lease.as_mut().unwrap().owner = "w2".into();
        let after = apply(
            &other.report,
            Some(&other),
            &event,
            NOW,
            &Policy::default(),
            "x",
        )
        .unwrap()
        .unwrap();
        assert_eq!(after.state, Sending, "w2 still holds it");
        assert_eq!(after.our_version, Some(1));
        assert!(after.lease.is_some());
    }

    #[test]
    fn transient_failures_wait_longer_each_time_then_give_up() {
        let policy = Policy {
            max_attempts: 4,
            retry_base_seconds: 60,
            retry_cap_seconds: 200,
        };
        let mut r = row(Sending);
        let mut waits = Vec::new();
        for _ in 0..4 {
            let event = Event::Finished {
                worker: "w".into(),
                outcome: Outcome::Answer(Decision::Transient {
                    retry_after: None,
                    reason: "HTTP 500".into(),
                }),
            };
            r = apply(&r.report, Some(&r), &event, NOW, &policy, "x")
                .unwrap()
                .unwrap();
            waits.push(r.next_attempt_at.map(|t| t.0 - NOW.0));
            r = r.claimed("w", Instant(NOW.0 + 60), NOW);
        }
        assert_eq!(waits, [Some(60), Some(120), Some(200), None]);
        assert_eq!(r.state, Sending);
        assert_eq!(policy.wait(1, Some(90)), 90, "Retry-After when longer");
    }

    #[test]
    fn a_run_creates_rows_for_reports_it_meets_first() {
        let report = row(Pending).report;
        let p = Policy::default();
        let new = |e: Event| {
            apply(&report, None, &e, NOW, &p, "schedule")
                .unwrap()
                .map(|r| r.state)
        };
        assert_eq!(
            new(Event::Recomputed(Computed::Draft(draft(1)))),
            Some(Pending)
        );
        assert_eq!(
            new(Event::Recomputed(Computed::NothingToReport("x".into()))),
            Some(NothingToReport)
        );
        assert_eq!(new(Event::GateClosed("x".into())), Some(WaitingForSource));
        assert_eq!(new(Event::NextFire), None);
        assert!(apply(&report, None, &Event::Retry, NOW, &p, "x").is_err());
    }
}
