//! The outbox's state machine, pure: given a row and an event, the row after it. Runs, delivery
//! workers, operators and `creds set` all change rows only through [`apply`], inside the store's
//! `outbox_apply` transaction; the table of state × event in ARCHITECTURE.md is this function.
//!
//! Rules that shape it:
//! - A report a person owns (locked: approved, signed or sent; edited by a person) or an
//!   operator holds is never moved by the machine: only an operator's retry, release or force.
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
    pub reason: String,
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
    let refuse = |reason: &str| Refusal {
        report: report.to_string(),
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
            let rearm = good(old.state) || matches!(old.state, Forbidden | Invalid);
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
                return Err(refuse("it is being sent right now; try again in a moment"));
            }
            if row.draft.is_none() {
                return Err(refuse(&format!(
                    "there is nothing to send ({}): run sync for its period",
                    old.state
                )));
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
                return Err(refuse(&format!("it is not held (it is {})", old.state)));
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
                    "it is approved, signed or sent in the reporting system: it is never overwritten",
                ));
            }
            if old.lease_is_live(now) {
                return Err(refuse("it is being sent right now; try again in a moment"));
            }
            if row.draft.is_none() {
                return Err(refuse(&format!(
                    "there is nothing to send ({}): run sync for its period",
                    old.state
                )));
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
