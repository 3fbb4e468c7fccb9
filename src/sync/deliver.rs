//! Delivery: workers claim outbox rows (each leased to one worker), push each draft with its unit's
//! own login, and record the answer through the outbox's state machine — with the attempt, and an
//! audit line for every write sent. A bounded number of drafts is in flight per reporting system.
//!
//! The same workers serve the daemon (claiming forever, woken when a run queues work) and the
//! foreground `sync`/`push` (claiming until nothing in their scope is claimable).

use super::outbox::{self, Event, Outcome, Policy};
use super::{Clock, Progress, SyncError};
use crate::auth::session::Session;
use crate::auth::token::TokenError;
use crate::auth::vault::{System, Vault};
use crate::configuration::Upstreams;
use crate::domain::Instant;
use crate::shutdown::Shutdown;
use crate::sinks::{Decision, History, Pushed, ReportKey, ReportingClient};
use crate::store::{
    AnyStore, AttemptRecord, AuditEntry, Claim, OutboxChanges, OutboxFilter, OutboxRow, Store,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows a foreground run's worker claims in one write transaction. Claiming one at a time makes
/// two writes of every draft, and on SQLite writes take turns; a batch makes it one claim per
/// four drafts (the incremental day's delivery of 796 drafts: 1.7–1.8 s → 1.4–1.5 s on SQLite,
/// 1.9 → 1.7 s on PostgreSQL; docs/benchmarks.md). A crash
/// leaves at most this many rows leased to the dead process, which liveness returns as it returns
/// one. The daemon's workers claim one at a time: a batch held by a worker that stops for a
/// shutdown would wait out its lease.
const CLAIMED_TOGETHER: i64 = 4;

/// A unit's session, with the `set_at` of the login it was opened from.
type OpenSession = (String, Arc<Session>);

/// The delivery side of the daemon: clients, sessions, the lease and retry policy.
pub struct Delivery {
    store: AnyStore,
    upstreams: Upstreams,
    vault: Option<Arc<Vault>>,
    /// One HTTP client per reporting system.
    http: HashMap<System, reqwest::Client>,
    /// One login session per (system, unit), kept while the unit's credential is unchanged.
    sessions: tokio::sync::Mutex<HashMap<(System, String), OpenSession>>,
    /// This process, as lease owner (each worker adds its own suffix).
    owner: String,
    clock: Clock,
    lease_seconds: i64,
    workers_per_system: usize,
    policy: Policy,
    /// Wakes idle daemon workers when a run queued work.
    wake: tokio::sync::Notify,
    delivered: AtomicU64,
}

impl Delivery {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: AnyStore,
        upstreams: Upstreams,
        vault: Option<Arc<Vault>>,
        owner: String,
        clock: Clock,
        lease_seconds: i64,
        workers_per_system: usize,
        policy: Policy,
    ) -> Delivery {
        let http = [
            (System::Central, upstreams.central.http_client()),
            (System::Provincial, upstreams.provincial.http_client()),
        ]
        .into();
        Delivery {
            store,
            upstreams,
            vault,
            http,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
            owner,
            clock,
            lease_seconds,
            workers_per_system: workers_per_system.max(1),
            policy,
            wake: tokio::sync::Notify::new(),
            delivered: AtomicU64::new(0),
        }
    }

    /// Tells idle workers that work was queued.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Drafts delivered by this process so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Delivers every claimable row in `filter` (each system's rows by its own workers) until none
    /// is left; rows waiting for a later retry stay for the daemon or the next run. Each worker is
    /// a task of its own, so that on a multi-threaded runtime their JSON, hashing and HTTP spread
    /// over the cores (polled together in one task, they all waited for one thread); progress is
    /// told here, in the caller's task, as their rows come back.
    pub async fn drain(
        self: &Arc<Self>,
        filter: &OutboxFilter,
        progress: &dyn Progress,
    ) -> Result<u64, SyncError> {
        let before = self.delivered();
        let (done, mut delivered) = tokio::sync::mpsc::unbounded_channel();
        let mut workers = tokio::task::JoinSet::new();
        for (system, name) in self.worker_names(filter) {
            let (me, filter, done) = (Arc::clone(self), filter.clone(), done.clone());
            workers.spawn(async move {
                loop {
                    let claimed = me.claim(system, &name, &filter, CLAIMED_TOGETHER).await?;
                    if claimed.is_empty() {
                        return Ok::<(), SyncError>(());
                    }
                    let mut claimed = claimed.into_iter().enumerate();
                    while let Some((nth, row)) = claimed.next() {
                        let left = row
                            .lease
                            .as_ref()
                            .map_or(0, |l| l.until.0 - me.clock.now().0);
                        if nth > 0 && left * 2 < me.lease_seconds {
                            // Too little of its lease is left to push it safely: it goes back
                            // with the rest of the batch, and the worker claims afresh.
                            let rest = std::iter::once(row).chain(claimed.map(|(_, r)| r));
                            me.give_back(&name, rest).await;
                            break;
                        }
                        match me.deliver(row, &name).await {
                            // The receiver lives until every worker has ended.
                            Ok(row) => drop(done.send(row)),
                            Err(e) => {
                                me.give_back(&name, claimed.map(|(_, r)| r)).await;
                                return Err(e);
                            }
                        }
                    }
                }
            });
        }
        drop(done);
        while let Some(row) = delivered.recv().await {
            progress.delivered(&row);
        }
        let mut first_error = None;
        while let Some(ended) = workers.join_next().await {
            let result = ended
                .map_err(|e| SyncError::Internal(format!("a delivery worker ended: {e}")))
                .and_then(|r| r);
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(self.delivered() - before),
        }
    }

    /// The daemon's workers: claim and deliver until `shutdown`, waking when a run queues work
    /// and every few seconds for retries that fell due. A worker finishes the draft it holds
    /// before it stops.
    pub async fn serve(&self, shutdown: Shutdown) {
        let workers = self
            .worker_names(&OutboxFilter::default())
            .into_iter()
            .map(|(system, name)| {
                let mut shutdown = shutdown.clone();
                async move {
                    while !shutdown.is_requested() {
                        match self
                            .claim(system, &name, &OutboxFilter::default(), 1)
                            .await
                            .map(|rows| rows.into_iter().next())
                        {
                            Ok(Some(row)) => {
                                if let Err(e) = self.deliver(row, &name).await {
                                    tracing::error!(worker = %name, error = %e, "delivery failed");
                                }
                            }
                            Ok(None) => {
                                tokio::select! {
                                    _ = self.wake.notified() => {}
                                    _ = self.clock.sleep(std::time::Duration::from_secs(5)) => {}
                                    _ = shutdown.requested() => {}
                                }
                            }
                            Err(e) => {
                                tracing::error!(worker = %name, error = %e, "cannot claim drafts; trying again shortly");
                                tokio::select! {
                                    _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
                                    _ = shutdown.requested() => {}
                                }
                            }
                        }
                    }
                }
            });
        futures_util::future::join_all(workers).await;
    }

    /// Returns to `pending` every row a worker of this process still holds (after a shutdown
    /// whose grace ran out), so another replica need not wait for the lease.
    pub async fn release_leases(&self) -> Result<usize, SyncError> {
        let prefix = format!("{}/", self.owner);
        self.release_leases_where(move |owner| owner.starts_with(&prefix))
            .await
    }

    /// Returns to `pending` every row whose lease holder `held_by` picks (a dead process's).
    pub async fn release_leases_where(
        &self,
        held_by: impl Fn(&str) -> bool + Send + 'static,
    ) -> Result<usize, SyncError> {
        self.release_where(&OutboxFilter::default(), held_by).await
    }

    /// Returns to `pending` the rows in `filter` whose lease holder `held_by` picks.
    async fn release_where(
        &self,
        filter: &OutboxFilter,
        held_by: impl Fn(&str) -> bool + Send + 'static,
    ) -> Result<usize, SyncError> {
        let now = self.clock.now();
        Ok(self
            .store
            .outbox_apply_rows(filter, move |rows| OutboxChanges {
                rows: rows
                    .into_iter()
                    .filter(|r| r.lease.as_ref().is_some_and(|l| held_by(&l.owner)))
                    .map(|mut r| {
                        if r.state == crate::store::OutboxState::Sending {
                            r.state = crate::store::OutboxState::Pending;
                        }
                        r.lease = None;
                        r.changed_at = now;
                        r
                    })
                    .collect(),
                ..OutboxChanges::default()
            })
            .await?)
    }

    fn worker_names(&self, filter: &OutboxFilter) -> Vec<(System, String)> {
        let mut out = Vec::new();
        for system in [System::Central, System::Provincial] {
            if filter
                .system
                .as_deref()
                .is_some_and(|s| s != system.as_str())
            {
                continue;
            }
            for n in 0..self.workers_per_system {
                out.push((system, format!("{}/{system}/{n}", self.owner)));
            }
        }
        out
    }

    /// Leases up to `limit` claimable rows of `system` in `filter` to `worker`, in one write.
    async fn claim(
        &self,
        system: System,
        worker: &str,
        filter: &OutboxFilter,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, SyncError> {
        let now = self.clock.now();
        Ok(self
            .store
            .outbox_claim(&Claim {
                owner: worker.to_owned(),
                now,
                lease_until: Instant(now.0 + self.lease_seconds),
                system: system.as_str().to_owned(),
                filter: filter.clone(),
                limit,
            })
            .await?)
    }

    /// Returns to `pending` rows `worker` claimed and did not attempt, if it still holds them, so
    /// that they need not wait for their lease. A row that cannot be given back is logged; its
    /// lease then runs out as it would after a crash.
    async fn give_back(&self, worker: &str, rows: impl Iterator<Item = OutboxRow>) {
        for row in rows {
            let Some(id) = row.id else { continue };
            let owner = worker.to_owned();
            let given = self
                .release_where(&OutboxFilter::id(id), move |o| o == owner)
                .await;
            if let Err(e) = given {
                tracing::warn!(worker, outbox_id = id, error = %e, "a claimed draft was not given back; it waits for its lease");
            }
        }
    }

    /// One attempt at one claimed row, recorded; returns the row as it stands after.
    #[tracing::instrument(name = "sync.deliver", skip_all, fields(system = %row.report.system, form = %row.report.form, period = %row.report.period, unit = %row.report.unit))]
    pub async fn deliver(&self, row: OutboxRow, worker: &str) -> Result<OutboxRow, SyncError> {
        let (outcome, put) = self.attempt(&row).await;
        crate::drill::point(crate::drill::Stage::Deliver);
        tracing::debug!(outcome = outcome.name(), "draft delivered");
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now();
        crate::telemetry::events::delivered(&row.report.system, outcome.name(), now);
        let id = row
            .id
            .ok_or_else(|| SyncError::Internal("a claimed row has an id".into()))?;
        let policy = self.policy;
        let worker = worker.to_owned();
        let after = std::sync::Mutex::new(None);
        // The write is done: its answer is recorded even if the store stops answering for a
        // while, as long as the lease lasts (after it, the row is claimed again and the write
        // replayed under the same Idempotency-Key).
        let patience = self.clock.real(std::time::Duration::from_secs(
            self.lease_seconds.max(0) as u64
        ));
        let filter = OutboxFilter::id(id);
        crate::store::patiently(patience, || {
            self.store.outbox_apply_rows(&filter, |rows| {
                let Some(current) = rows.into_iter().next() else {
                    return OutboxChanges::default();
                };
                let changes = record(
                    &current,
                    &row,
                    &outcome,
                    put.as_ref(),
                    &worker,
                    now,
                    &policy,
                );
                *after.lock().expect("not poisoned") =
                    Some(changes.rows.first().cloned().unwrap_or(current));
                changes
            })
        })
        .await?;
        let after = after.into_inner().expect("not poisoned");
        after.ok_or_else(|| SyncError::Internal(format!("outbox row {id} disappeared")))
    }

    /// Pushes the row's draft with its unit's login: the answer, and the write sent if any.
    async fn attempt(&self, row: &OutboxRow) -> (Outcome, Option<crate::sinks::Put>) {
        let report = &row.report;
        let Some(draft) = &row.draft else {
            return (
                Outcome::Answer(Decision::Invalid {
                    message: "a row without content was claimed; this is a bug".into(),
                }),
                None,
            );
        };
        let Some((system, endpoint)) = self.upstreams.reporting(&report.system) else {
            return (
                Outcome::Answer(Decision::Invalid {
                    message: format!("no reporting system `{}` is configured", report.system),
                }),
                None,
            );
        };
        let Some(base_url) = &endpoint.base_url else {
            return (
                Outcome::Answer(Decision::Invalid {
                    message: format!("[upstreams.{system}] has no base_url"),
                }),
                None,
            );
        };
        let session = match self.session(system, &report.unit).await {
            Ok(s) => s,
            Err(outcome) => return (outcome, None),
        };
        let http = self.http[&system].clone();
        let client = match ReportingClient::new(http, base_url, system) {
            Ok(c) => c.with_max_body_bytes(endpoint.max_body_bytes),
            Err(e) => {
                return (Outcome::Answer(Decision::Invalid { message: e }), None);
            }
        };
        let key = ReportKey {
            form: report.form.clone(),
            period: report.period.clone(),
            unit: report.unit.clone(),
        };
        let history = History {
            ours: row.our_version.map(|v| v as u64),
            incarnation: row.incarnation as u64,
            force: row.force.is_some(),
        };
        let retry = endpoint.retry_policy().on_clock(self.clock.speed());
        let pushed: Result<Pushed, TokenError> = retry
            .run_while(
                || {
                    session.with_token(
                        |token| {
                            let (client, key) = (&client, &key);
                            async move { client.push(&token, key, draft, history).await }
                        },
                        |p| p.decision == Decision::Unauthorized,
                    )
                },
                |result| match result {
                    Ok(Pushed {
                        decision: Decision::Transient { retry_after, .. },
                        ..
                    }) => Some(*retry_after),
                    // Refused even after a fresh login: a token that aged faster than announced
                    // (or a server that lost it); tried again, within the attempt's bound.
                    Ok(Pushed {
                        decision: Decision::Unauthorized,
                        ..
                    }) => Some(None),
                    Err(e) if e.is_transient() => Some(None),
                    _ => None,
                },
            )
            .await;
        match pushed {
            Ok(p) => (Outcome::Answer(p.decision), p.put),
            Err(e) if e.is_transient() => (Outcome::LoginUnavailable(e.to_string()), None),
            Err(e) => (Outcome::LoginFailed(e.to_string()), None),
        }
    }

    /// A report's state in its reporting system, read now with its unit's login: `None` when
    /// the system holds no report; otherwise what stopped the read (`no_credential`,
    /// `login_failed`, or another answer's name) and its detail for the log.
    pub async fn remote_state(
        &self,
        report: &crate::store::ReportId,
    ) -> Result<Option<String>, (&'static str, String)> {
        let (system, endpoint) = self.upstreams.reporting(&report.system).ok_or_else(|| {
            (
                "invalid",
                format!("no reporting system `{}` is configured", report.system),
            )
        })?;
        let base_url = endpoint
            .base_url
            .as_ref()
            .ok_or_else(|| ("invalid", format!("[upstreams.{system}] has no base_url")))?;
        let session = self
            .session(system, &report.unit)
            .await
            .map_err(|o| (o.name(), format!("{o:?}")))?;
        let client = ReportingClient::new(self.http[&system].clone(), base_url, system)
            .map_err(|e| ("invalid", e))?
            .with_max_body_bytes(endpoint.max_body_bytes);
        let key = ReportKey {
            form: report.form.clone(),
            period: report.period.clone(),
            unit: report.unit.clone(),
        };
        session
            .with_token(
                |token| {
                    let (client, key) = (&client, &key);
                    async move { client.state(&token, key).await }
                },
                |answer| matches!(answer, Err(Decision::Unauthorized)),
            )
            .await
            .map_err(|e| {
                let name = if e.is_transient() {
                    "login_unavailable"
                } else {
                    "login_failed"
                };
                (name, e.to_string())
            })?
            .map_err(|d| (d.name(), d.detail()))
    }

    /// The unit's session on `system`, opened from its sealed login (a new one when the login
    /// changed since).
    async fn session(&self, system: System, unit: &str) -> Result<Arc<Session>, Outcome> {
        let set_hint = format!(
            "baocao-sync creds set --system {system} --unit {unit} --username USER --password-stdin"
        );
        // A store that stopped answering is waited for (as long as the lease lasts): it is no
        // answer of the reporting system's and must not spend an attempt.
        let patience = self.clock.real(std::time::Duration::from_secs(
            self.lease_seconds.max(0) as u64
        ));
        let sealed = crate::store::patiently(patience, || self.store.credential(system, unit))
            .await
            .map_err(|e| Outcome::LoginUnavailable(format!("cannot read the login: {e}")))?
            .ok_or_else(|| Outcome::NoCredential(format!("no login for this unit: {set_hint}")))?;
        let mut sessions = self.sessions.lock().await;
        if let Some((set_at, session)) = sessions.get(&(system, unit.to_owned()))
            && *set_at == sealed.set_at
        {
            return Ok(session.clone());
        }
        let vault = self.vault.as_ref().ok_or_else(|| {
            Outcome::NoCredential(
                "no vault key: set vault.key_file (or BAOCAO_VAULT_KEY) to open the logins".into(),
            )
        })?;
        let credential = vault
            .open(&sealed)
            .map_err(|e| Outcome::NoCredential(format!("{e}: {set_hint}")))?;
        let endpoint = match system {
            System::Central => self.upstreams.central.clone(),
            _ => self.upstreams.provincial.clone(),
        };
        let session = Arc::new(Session::with_clock(
            self.http[&system].clone(),
            endpoint,
            credential,
            crate::auth::session::scaled_clock(self.clock.speed()),
        ));
        sessions.insert(
            (system, unit.to_owned()),
            (sealed.set_at.clone(), session.clone()),
        );
        Ok(session)
    }
}

/// The changes one finished attempt makes: the row through the state machine, the attempt, and an
/// audit line when a write was sent.
fn record(
    current: &OutboxRow,
    claimed: &OutboxRow,
    outcome: &Outcome,
    put: Option<&crate::sinks::Put>,
    worker: &str,
    now: Instant,
    policy: &Policy,
) -> OutboxChanges {
    let event = Event::Finished {
        worker: worker.to_owned(),
        outcome: outcome.clone(),
    };
    let actor = current.armed_by.clone();
    let after = outbox::apply(&current.report, Some(current), &event, now, policy, &actor)
        .ok()
        .flatten();
    let (remote_version, detail) = match outcome {
        Outcome::Answer(d) => (d.version().map(|v| v as i64), d.detail()),
        Outcome::NoCredential(why) | Outcome::LoginFailed(why) | Outcome::LoginUnavailable(why) => {
            (None, why.clone())
        }
    };
    let attempt = AttemptRecord {
        outbox_id: current.id.unwrap_or_default(),
        at: now,
        generation: claimed.generation,
        content_hash: claimed.content_hash.clone(),
        answer: outcome.name().to_owned(),
        remote_version,
        detail: detail.clone(),
        worker: worker.to_owned(),
    };
    let audit = put
        .map(|put| {
            let mut entry = AuditEntry::about(&current.report, &actor, "write", now);
            entry.content_hash = claimed.content_hash.clone();
            entry.base_version = put.base.map(|v| v as i64);
            entry.new_version = remote_version;
            entry.answer = Some(outcome.name().to_owned());
            entry.reason = match &claimed.force {
                Some(f) => format!("forced by {}: {}", f.by, f.reason),
                None => detail,
            };
            entry
        })
        .into_iter()
        .chain(found_written(current, claimed, outcome, &actor, now))
        .collect();
    OutboxChanges {
        rows: after.into_iter().collect(),
        attempts: vec![attempt],
        audit,
    }
}

/// The audit line of a write this store never recorded, found on the system: the draft already
/// holds exactly our content at a version we do not know as ours (a process stopped between its
/// write and recording the answer, or the store was restored from before it). The write happened;
/// the audit says so (answer `found_written`), so that it holds every write.
fn found_written(
    current: &OutboxRow,
    claimed: &OutboxRow,
    outcome: &Outcome,
    actor: &str,
    now: Instant,
) -> Option<AuditEntry> {
    let Outcome::Answer(Decision::Unchanged { version }) = outcome else {
        return None;
    };
    let version = *version as i64;
    if current.our_version == Some(version) {
        return None;
    }
    let mut entry = AuditEntry::about(&current.report, actor, "write", now);
    entry.content_hash = claimed.content_hash.clone();
    entry.base_version = current.our_version;
    entry.new_version = Some(version);
    entry.answer = Some("found_written".to_owned());
    entry.reason = "the draft already held this content at a version this store had not recorded: \
                    a write whose answer was never recorded"
        .to_owned();
    Some(entry)
}
