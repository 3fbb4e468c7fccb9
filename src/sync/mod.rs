//! The sync pipeline: the one path that the schedule, the CLI and the admin HTTP call, and the only
//! one that writes to a reporting system.
//!
//! ```text
//! run(scope) = pull → freshness gate → compute → outbox → deliver
//! ```
//!
//! A scope is a period and, optionally, one unit, one form, one reporting system. [`Engine::run`]
//! pulls the record kinds the period's forms read (`pull`), holds everything back unless the store
//! is known to be complete for the period (`gate`), computes every report the duties ask for
//! (`compute`), records each one's content in the outbox through its state machine (`outbox`), and
//! delivers what is pending with each unit's own login (`deliver`) — in the foreground for the
//! CLI, by the daemon's workers otherwise. Runs of one period never overlap, across replicas: a
//! short lease in the store, renewed while the run lasts.

pub mod chase;
pub mod compute;
pub mod deliver;
pub mod gate;
pub mod liveness;
pub mod mail;
pub mod outbox;
pub mod pull;
pub mod records;

use crate::auth::vault::Vault;
use crate::domain::{Instant, Period, RecordKind};
use crate::settings::{Parts, Settings};
use crate::store::{
    AnyStore, AuditEntry, OutboxChanges, OutboxFilter, OutboxRow, OutboxState, ReportId, RunRecord,
    Store, StoreError,
};
use outbox::{Computed, Event, Policy, Refusal};
use pull::PullOutcome;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration does not fit the request (an unknown unit, a regime the duties do not
    /// name, a form definition the narrative cannot read).
    #[error("{0}")]
    Config(String),
    /// An upstream system could not be used.
    #[error("{0}")]
    Upstream(String),
    /// Another run of the same period holds it.
    #[error("{0}")]
    Busy(String),
    /// A check of the product's own consistency failed: a bug.
    #[error("{0}")]
    Internal(String),
}

impl SyncError {
    /// The store stopped answering: the same work may succeed once it is back.
    pub fn store_unavailable(&self) -> bool {
        matches!(self, SyncError::Store(e) if e.is_unavailable())
    }
}

/// What "now" is: the system clock, shifted by a fixed offset for tests and replays (`--now`),
/// standing still (`--freeze-clock`), or simulated: running `speed` times as fast as real time
/// from an instant (`--simulate`), for a quarter run in minutes. Every wait for the calendar (the
/// alarm, heartbeats, leases, polls for retries that fall due) goes through the clock, so it
/// shrinks with the simulation; waits for real resources (the store, an HTTP answer) do not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    offset_seconds: i64,
    /// A clock that stands still (crash drills compare runs at one instant).
    frozen: Option<Instant>,
    simulated: Option<Simulation>,
}

/// A simulated clock: at the real instant `anchor_ms` (Unix milliseconds) it reads `epoch`, and
/// runs on `speed` times as fast. Processes given the same simulation (two replicas and the
/// sandbox) read the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulation {
    pub epoch: Instant,
    pub anchor_ms: i64,
    pub speed: u32,
}

impl Simulation {
    /// `SPEED@ANCHOR_MS` (`3600@1764000000000`), from the instant `epoch`.
    pub fn parse(spec: &str, epoch: Instant) -> Result<Simulation, String> {
        let (speed, anchor) = spec
            .split_once('@')
            .ok_or_else(|| format!("`{spec}` is not SPEED@ANCHOR_MS"))?;
        let speed: u32 = speed
            .parse()
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| format!("`{speed}` is not a speed (a whole number from 1)"))?;
        let anchor_ms: i64 = anchor
            .parse()
            .map_err(|_| format!("`{anchor}` is not Unix milliseconds"))?;
        Ok(Simulation {
            epoch,
            anchor_ms,
            speed,
        })
    }

    /// Unix milliseconds on the simulated clock at the real instant `real_ms`.
    pub fn at_ms(&self, real_ms: i64) -> i64 {
        self.epoch.0 * 1000 + (real_ms - self.anchor_ms) * i64::from(self.speed)
    }
}

/// A heartbeat is written at most this often (in real time) whatever the simulation's speed, so
/// that a daemon is judged gone only after 18 real seconds without one. A store's commit can take
/// seconds on a loaded machine (seen: 4–8 s on PostgreSQL during the quarter's soak at 7200×), far
/// longer than a fast simulation's 45 s last in real time; a live daemon judged gone has its fires
/// run twice.
const MIN_REAL_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(4);
/// A lease lasts at least this long in real time whatever the simulation's speed (a renewal can
/// wait on the store as long as a heartbeat can).
const MIN_REAL_LEASE: std::time::Duration = std::time::Duration::from_secs(20);

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `now` at this moment and runs on from it.
    pub fn starting_at(now: Instant) -> Clock {
        Clock {
            offset_seconds: now.0 - chrono::Utc::now().timestamp(),
            ..Clock::default()
        }
    }

    /// A clock that reads `now` whenever it is asked.
    pub fn frozen_at(now: Instant) -> Clock {
        Clock {
            frozen: Some(now),
            ..Clock::default()
        }
    }

    /// A simulated clock.
    pub fn simulated(simulation: Simulation) -> Clock {
        Clock {
            simulated: Some(simulation),
            ..Clock::default()
        }
    }

    pub fn now(&self) -> Instant {
        match (self.frozen, self.simulated) {
            (Some(now), _) => now,
            (None, Some(sim)) => Instant(
                sim.at_ms(chrono::Utc::now().timestamp_millis())
                    .div_euclid(1000),
            ),
            (None, None) => Instant(chrono::Utc::now().timestamp() + self.offset_seconds),
        }
    }

    /// How many times as fast as real time the clock runs (1 unless simulated).
    pub fn speed(&self) -> u32 {
        self.simulated.map_or(1, |s| s.speed)
    }

    /// The simulation, if the clock is one.
    pub fn simulation(&self) -> Option<Simulation> {
        self.simulated
    }

    /// The real time `span` of this clock's time takes.
    pub fn real(&self, span: std::time::Duration) -> std::time::Duration {
        span / self.speed()
    }

    /// Waits `span` of this clock's time.
    pub async fn sleep(&self, span: std::time::Duration) {
        tokio::time::sleep(self.real(span)).await
    }

    /// Waits until this clock reads `at` (at once if it already does).
    pub async fn sleep_until(&self, at: Instant) {
        let ms = at.0 * 1000
            - match self.simulated {
                Some(sim) => sim.at_ms(chrono::Utc::now().timestamp_millis()),
                None => self.now().0 * 1000,
            };
        if ms > 0 {
            let span = std::time::Duration::from_millis(ms as u64);
            self.sleep(span).await;
        }
    }

    /// `seconds`, or more when the simulation would make them shorter than `floor` of real time.
    fn at_least(&self, seconds: i64, floor: std::time::Duration) -> i64 {
        let floor = floor.as_secs_f64() * f64::from(self.speed());
        seconds.max(floor.ceil() as i64)
    }

    /// How often a daemon writes its heartbeat (10 s; longer under a fast simulation).
    pub fn heartbeat_every(&self) -> std::time::Duration {
        let seconds = self.at_least(liveness::HEARTBEAT_SECONDS as i64, MIN_REAL_HEARTBEAT);
        std::time::Duration::from_secs(seconds as u64)
    }

    /// How old a heartbeat is when its daemon is gone: 4.5 beats (45 s unless simulated).
    pub fn stale_after(&self) -> i64 {
        self.heartbeat_every().as_secs() as i64 * liveness::STALE_AFTER_SECONDS
            / liveness::HEARTBEAT_SECONDS as i64
    }

    /// A lease of `seconds`, lasting at least a couple of real seconds under a simulation (a
    /// write takes the same real time at any speed).
    pub fn lease(&self, seconds: i64) -> i64 {
        self.at_least(seconds, MIN_REAL_LEASE)
    }
}

/// Where a long run tells how far it is (progress bars on a terminal, plain lines otherwise).
pub trait Progress: Send + Sync {
    /// A stage begins (`pull dossier`, `compute`, `deliver`), with its size when known.
    fn stage(&self, _name: &str, _total: Option<u64>) {}
    /// One draft was delivered (whatever the answer).
    fn delivered(&self, _row: &OutboxRow) {}
}

/// No progress at all.
pub struct Quiet;

impl Progress for Quiet {}

/// What a run covers: a period, and optionally one unit, one form, one reporting system.
#[derive(Debug, Clone)]
pub struct Scope {
    pub period: Period,
    pub unit: Option<String>,
    pub form: Option<String>,
    pub system: Option<String>,
}

impl Scope {
    pub fn period(period: Period) -> Scope {
        Scope {
            period,
            unit: None,
            form: None,
            system: None,
        }
    }

    /// The outbox rows of this scope (`form` already in its canonical code).
    pub fn filter(&self, form: Option<&str>) -> OutboxFilter {
        OutboxFilter {
            id: None,
            system: self.system.clone(),
            form: form.map(str::to_owned),
            period: Some(self.period.id()),
            unit: self.unit.clone(),
        }
    }

    /// In words, for the run history.
    pub fn describe(&self) -> String {
        format!(
            "{}, {}, {}, {}",
            self.period.id(),
            self.unit
                .as_deref()
                .map_or("all units".into(), |u| format!("unit {u}")),
            self.form
                .as_deref()
                .map_or("all forms".into(), |f| format!("form {f}")),
            self.system
                .as_deref()
                .map_or("both systems".into(), |s| format!("system {s}"))
        )
    }
}

/// How a run goes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Pull the period's record kinds first.
    pub pull: bool,
    /// Deliver the scope's pending drafts before returning (the CLI); the daemon's workers
    /// deliver otherwise.
    pub deliver: bool,
    /// Compute and show what would change; write nothing anywhere.
    pub dry_run: bool,
    /// An operator's reason to go on although the freshness gate holds (audited).
    pub accept_stale: Option<String>,
    /// `schedule`, `cli:<user>`, `operator:<name>`.
    pub actor: String,
    /// `schedule`, `cli`, `http`.
    pub cause: String,
    /// Pull only this configured source (by name); every source by default.
    pub source: Option<String>,
    /// How long the run's closing writes (its lease given back, its outcome recorded) wait for a
    /// store that stopped answering (the daemon's runs); zero: they fail with it (the CLI's).
    pub store_patience: std::time::Duration,
}

/// How a run ended, for its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Every report in a good or intended state.
    Good,
    /// Something needs someone, or time.
    NeedsAttention,
    /// A report broke an identity: a bug.
    Withheld,
}

/// Where a state leaves a report, for the run's verdict.
pub fn verdict_of(state: OutboxState) -> Verdict {
    use OutboxState::*;
    match state {
        Created | Updated | Unchanged | Recreated | NothingToReport | Locked | EditedByPerson => {
            Verdict::Good
        }
        Withheld => Verdict::Withheld,
        Pending | Sending | Retrying | WaitingForSource | Held | NoCredential | LoginFailed
        | Forbidden | Invalid | GivenUp => Verdict::NeedsAttention,
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub period: Period,
    pub pulls: Vec<(RecordKind, PullOutcome)>,
    /// Why the freshness gate held (empty: it opened).
    pub gate: Vec<String>,
    /// The gate held and an operator went on anyway.
    pub accepted_stale: bool,
    /// The scope's reports as they stand after the run, read back without their drafts
    /// (`content_hash` says whether there is one); for a dry run, as they would, drafts included.
    pub rows: Vec<OutboxRow>,
    /// Drafts delivered in the foreground.
    pub delivered: u64,
    /// How many findings name each unit, when the run computed.
    pub findings: std::collections::BTreeMap<String, usize>,
}

impl RunReport {
    pub fn verdict(&self) -> Verdict {
        self.rows
            .iter()
            .map(|r| verdict_of(r.state))
            .max()
            .unwrap_or(if self.gate.is_empty() || self.accepted_stale {
                Verdict::Good
            } else {
                Verdict::NeedsAttention
            })
    }
}

/// The pipeline with everything it needs: the store, the parsed configuration, the vault, the
/// clock, and the delivery workers. One per process.
pub struct Engine {
    pub store: AnyStore,
    pub settings: Settings,
    pub parts: Parts,
    pub vault: Option<Arc<Vault>>,
    pub clock: Clock,
    /// This process, as owner of leases and fires.
    pub owner: String,
    /// Shared with the workers `drain` spawns.
    pub delivery: Arc<deliver::Delivery>,
    /// The SMTP server of `[mail]`, when one is named.
    pub mailer: Option<Arc<crate::sinks::mail::Mailer>>,
    pulling: tokio::sync::Mutex<()>,
    /// One mail pass of this process at a time.
    mailing: tokio::sync::Mutex<()>,
    /// The periods this process runs now (the store's run lease is per process: two fires of
    /// one period in the same daemon would both hold it).
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A period this process runs, until dropped.
struct RunningHere<'a> {
    running: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    period: String,
}

impl Drop for RunningHere<'_> {
    fn drop(&mut self) {
        self.running
            .lock()
            .expect("not poisoned")
            .remove(&self.period);
    }
}

/// A name for this process that no other replica has: `HOST-PID-SALT`.
pub fn process_name() -> String {
    use std::hash::{BuildHasher, RandomState};
    let salt = RandomState::new().hash_one(std::process::id()) % 0x10000;
    format!("{}-{}-{salt:04x}", liveness::host(), std::process::id())
}

impl Engine {
    pub async fn start(
        settings: Settings,
        parts: Parts,
        vault: Option<Vault>,
        clock: Clock,
    ) -> Result<Engine, SyncError> {
        settings
            .require_history()
            .map_err(|e| SyncError::Config(e.to_string()))?;
        let mailer = crate::configuration::mailer(&settings.mail)
            .map_err(|e| SyncError::Config(e.to_string()))?
            .map(Arc::new);
        let store = crate::store::open(&settings.store.database_url).await?;
        let owner = process_name();
        let vault = vault.map(Arc::new);
        let delivery = Arc::new(deliver::Delivery::new(
            store.clone(),
            parts.upstreams.clone(),
            vault.clone(),
            owner.clone(),
            clock,
            clock.lease(settings.delivery.lease_seconds),
            settings.delivery.workers_per_system,
            settings.delivery.policy(),
        ));
        Ok(Engine {
            store,
            settings,
            parts,
            vault,
            clock,
            owner,
            delivery,
            mailer,
            pulling: tokio::sync::Mutex::new(()),
            mailing: tokio::sync::Mutex::new(()),
            running: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    pub fn setup(&self) -> compute::Setup<'_> {
        compute::Setup {
            units: &self.parts.units,
            question: crate::sources::config::satisfaction_question(&self.parts.sources),
            duties: &self.parts.duties,
            forms: &self.parts.forms,
            catalog: self.parts.catalog.as_ref(),
            checks: Some(&self.parts.checks),
        }
    }

    pub fn policy(&self) -> Policy {
        self.settings.delivery.policy()
    }

    /// The reports a scope covers: every (system, form, unit) the duties ask of the period.
    pub fn reports(&self, scope: &Scope) -> Result<(Option<String>, Vec<ReportId>), SyncError> {
        let setup = self.setup();
        let regime = setup.regime(&scope.period)?;
        let units = &self.parts.units;
        let form = match &scope.form {
            Some(f) => Some(
                regime
                    .form(f)
                    .map_err(|e| SyncError::Config(e.to_string()))?
                    .code
                    .clone(),
            ),
            None => None,
        };
        if let Some(u) = &scope.unit
            && units.find(u).is_none()
        {
            return Err(SyncError::Config(format!(
                "unit `{u}` is not in the unit tree"
            )));
        }
        if let Some(s) = &scope.system
            && self.parts.upstreams.reporting(s).is_none()
        {
            return Err(SyncError::Config(format!(
                "`{s}` is not a reporting system: central or provincial"
            )));
        }
        let mut out = Vec::new();
        for id in units.subtree(units.root()) {
            let unit = units.get(id);
            if scope.unit.as_ref().is_some_and(|u| *u != unit.code) {
                continue;
            }
            let Some(duty) = self.parts.duties.of_kind(&unit.kind) else {
                continue;
            };
            for name in &duty.forms {
                let code = regime
                    .form(name)
                    .map_err(|e| SyncError::Config(e.to_string()))?
                    .code
                    .clone();
                if form.as_ref().is_some_and(|f| *f != code) {
                    continue;
                }
                for system in &duty.systems {
                    if scope.system.as_ref().is_some_and(|s| s != system) {
                        continue;
                    }
                    out.push(ReportId {
                        system: system.clone(),
                        form: code.clone(),
                        period: scope.period.id(),
                        unit: unit.code.clone(),
                    });
                }
            }
        }
        Ok((form, out))
    }

    /// Pulls `kinds` (see [`pull::Puller`]).
    pub async fn pull(
        &self,
        kinds: &[RecordKind],
        plan: &pull::PullPlan,
    ) -> Result<Vec<(RecordKind, PullOutcome)>, SyncError> {
        // One pull at a time in this process: the schedule's pull and a run's would fetch the
        // same windows twice and queue for the same write lock.
        let _one = self.pulling.lock().await;
        self.pull_now(kinds, plan).await
    }

    /// Pulls `kinds` unless a pull is already running in this process (`None`): the schedule's
    /// pull does not queue behind a long one (a first pull of years of history outlasts many
    /// slots); what arrives meanwhile is read by the next slot's.
    pub async fn pull_unless_pulling(
        &self,
        kinds: &[RecordKind],
        plan: &pull::PullPlan,
    ) -> Result<Option<Vec<(RecordKind, PullOutcome)>>, SyncError> {
        let Ok(_one) = self.pulling.try_lock() else {
            return Ok(None);
        };
        self.pull_now(kinds, plan).await.map(Some)
    }

    async fn pull_now(
        &self,
        kinds: &[RecordKind],
        plan: &pull::PullPlan,
    ) -> Result<Vec<(RecordKind, PullOutcome)>, SyncError> {
        let history_from = self
            .settings
            .pull
            .history_start()
            .ok_or_else(|| SyncError::Config("pull.history_from is required".to_owned()))?;
        pull::Puller {
            store: &self.store,
            sources: &self.parts.sources,
            history_from,
            units: Some(&self.parts.units),
            vault: self.vault.as_deref(),
            now: self.clock.now(),
            speed: self.clock.speed(),
        }
        .pull(kinds, plan)
        .await
    }

    /// Runs the pipeline once over `scope`.
    #[tracing::instrument(name = "sync.run", skip_all, fields(period = %scope.period, unit = ?scope.unit, form = ?scope.form, system = ?scope.system))]
    pub async fn run(
        &self,
        scope: &Scope,
        opts: &RunOptions,
        progress: &dyn Progress,
    ) -> Result<RunReport, SyncError> {
        let (form, reports) = self.reports(scope)?;
        let filter = scope.filter(form.as_deref());
        if opts.dry_run {
            return self
                .run_steps(scope, opts, &filter, &reports, progress)
                .await;
        }
        let busy = || {
            SyncError::Busy(format!(
                "another run of {} is in progress; try again when it ends",
                scope.period.id()
            ))
        };
        let _here = {
            let period = scope.period.id();
            if !self
                .running
                .lock()
                .expect("not poisoned")
                .insert(period.clone())
            {
                return Err(busy());
            }
            RunningHere {
                running: &self.running,
                period,
            }
        };
        let lock = format!("run:{}", scope.period.id());
        let lease = self.clock.lease(120);
        self.recover_dead_holders().await?;
        let now = self.clock.now();
        if !self
            .store
            .acquire_lock(&lock, &self.owner, Instant(now.0 + lease), now)
            .await?
        {
            return Err(busy());
        }
        // Holding the period's lock, no other run of it is live: one still without an outcome
        // lost its process, or its start reached the store unacknowledged as the store went away
        // (and its fire ran again). Left open it would read as running for ever. (A run only slow
        // to record its end writes its own outcome over this one when it does.)
        let closed = self
            .store
            .close_unfinished_runs(
                &scope.period.id(),
                "its process ended, or lost the store, before recording how the run ended; a later run of the period did its work",
                now,
            )
            .await?;
        if closed > 0 {
            tracing::warn!(period = %scope.period.id(), runs = closed, "runs left without an outcome closed as abandoned");
        }
        let run_id = self
            .store
            .start_run(&RunRecord {
                id: None,
                cause: opts.cause.clone(),
                actor: opts.actor.clone(),
                period: scope.period.id(),
                scope: scope.describe(),
                started_at: now,
                finished_at: None,
                outcome: None,
                summary: String::new(),
            })
            .await?;
        // The lease is renewed while the run lasts; a run that dies lets it lapse in two minutes.
        let renew = async {
            loop {
                self.clock
                    .sleep(std::time::Duration::from_secs(lease as u64 / 3))
                    .await;
                let now = self.clock.now();
                if let Err(e) = self
                    .store
                    .acquire_lock(&lock, &self.owner, Instant(now.0 + lease), now)
                    .await
                {
                    tracing::warn!(error = %e, "cannot renew the run's lease");
                }
            }
        };
        let result = tokio::select! {
            r = self.run_steps(scope, opts, &filter, &reports, progress) => r,
            _ = renew => unreachable!("the renewal loop never ends"),
        };
        let patience = opts.store_patience;
        crate::store::patiently(patience, || self.store.release_lock(&lock, &self.owner)).await?;
        let (outcome, summary) = match &result {
            Ok(report) => (
                match (
                    report.verdict(),
                    report.gate.is_empty() || report.accepted_stale,
                ) {
                    (_, false) => "waiting_for_source",
                    (Verdict::Good, _) => "ok",
                    (Verdict::NeedsAttention, _) => "needs_attention",
                    (Verdict::Withheld, _) => "withheld",
                },
                summarize(&report.rows),
            ),
            Err(e) => ("failed", e.to_string()),
        };
        crate::store::patiently(patience, || {
            self.store
                .finish_run(run_id, outcome, &summary, self.clock.now())
        })
        .await?;
        let mut report = result?;
        if opts.deliver && (report.gate.is_empty() || report.accepted_stale) {
            let now = self.clock.now();
            let due = report.rows.iter().filter(|r| r.claimable(now)).count();
            progress.stage("deliver", Some(due as u64));
            report.delivered = self.delivery.drain(&filter, progress).await?;
            report.rows = self.rows_of(&filter, &reports).await?;
        } else {
            self.delivery.wake();
        }
        Ok(report)
    }

    async fn run_steps(
        &self,
        scope: &Scope,
        opts: &RunOptions,
        filter: &OutboxFilter,
        reports: &[ReportId],
        progress: &dyn Progress,
    ) -> Result<RunReport, SyncError> {
        let setup = self.setup();
        let regime = setup.regime(&scope.period)?;
        let kinds = setup.record_kinds(regime);
        let settle = gate::settle_instant(&scope.period, self.settings.gate.settle_hours);
        let pulls = if opts.pull && !opts.dry_run {
            progress.stage("pull", None);
            // Before a period is computed, every dossier still open at a source without
            // CapNhatLuc is read again once its records have settled.
            let plan = pull::PullPlan {
                lookups_before: (self.clock.now() >= settle).then_some(settle),
                only: opts.source.clone(),
                ..pull::PullPlan::default()
            };
            self.pull(&kinds, &plan).await?
        } else {
            Vec::new()
        };
        let now = self.clock.now();
        let freshness = self.freshness(&kinds, Some(settle)).await?;
        let gate = gate::reasons(
            &scope.period,
            &kinds,
            &freshness,
            self.settings.gate.settle_hours,
            now,
        );
        let mut report = RunReport {
            period: scope.period.clone(),
            pulls,
            gate: gate.clone(),
            accepted_stale: false,
            rows: Vec::new(),
            delivered: 0,
            findings: Default::default(),
        };
        let policy = self.policy();
        let actor = opts.actor.clone();
        if !gate.is_empty() {
            match &opts.accept_stale {
                Some(reason) if !opts.dry_run => {
                    let mut entry = AuditEntry {
                        at: Some(now),
                        actor: actor.clone(),
                        action: "accept_stale".to_owned(),
                        period: Some(scope.period.id()),
                        unit: scope.unit.clone(),
                        form: scope.form.clone(),
                        system: scope.system.clone(),
                        ..AuditEntry::default()
                    };
                    entry.reason = format!("{reason} (the gate held: {})", gate.join("; "));
                    self.store.append_audit(&[entry]).await?;
                    report.accepted_stale = true;
                    tracing::warn!(period = %scope.period, %reason, "going on with a stale source, as an operator asked");
                }
                Some(_) => report.accepted_stale = true,
                None => {
                    let why = match gate.as_slice() {
                        [one] => format!("waiting for the source: {one}"),
                        [first, rest @ ..] => format!(
                            "waiting for the source: {first} (and {} more: see `status`)",
                            rest.len()
                        ),
                        [] => unreachable!("the gate holds"),
                    };
                    let event = Event::GateClosed(why);
                    report.rows = self
                        .apply_to(
                            filter,
                            reports,
                            opts.dry_run,
                            |_| event.clone(),
                            now,
                            &policy,
                            &actor,
                        )
                        .await?;
                    return Ok(report);
                }
            }
        }
        progress.stage("compute", Some(reports.len() as u64));
        let precedence = records::Precedence::of(&self.parts.sources);
        let period = scope.period.clone();
        let reading = records::reading_for(&period);
        let loaded =
            records::Loaded::from_store(&self.store, None, &precedence, Some(reading)).await?;
        let contents = compute_contents(&setup, regime, loaded, &period)?;
        report.findings = contents.findings.clone();
        crate::drill::point(crate::drill::Stage::Compute);
        report.rows = self
            .apply_to(
                filter,
                reports,
                opts.dry_run,
                |id| {
                    let content = contents
                        .get(&id.unit, &id.form)
                        .cloned()
                        .unwrap_or_else(|| {
                            Computed::Withheld(format!(
                                "{} of {} was not computed; this is a bug, please report it",
                                id.form, id.unit
                            ))
                        });
                    Event::Recomputed(content)
                },
                now,
                &policy,
                &actor,
            )
            .await?;
        Ok(report)
    }

    /// Applies a run's event to every report of the scope (and, after a recompute, the next-fire
    /// re-arming), in one outbox transaction; returns the scope's rows after. A dry run computes
    /// the same in memory and writes nothing.
    #[allow(clippy::too_many_arguments)]
    async fn apply_to(
        &self,
        filter: &OutboxFilter,
        reports: &[ReportId],
        dry_run: bool,
        event_of: impl Fn(&ReportId) -> Event + Send + Sync,
        now: Instant,
        policy: &Policy,
        actor: &str,
    ) -> Result<Vec<OutboxRow>, SyncError> {
        let decide = |rows: Vec<OutboxRow>| -> (OutboxChanges, Vec<OutboxRow>) {
            let mut by_report: std::collections::HashMap<ReportId, OutboxRow> =
                rows.into_iter().map(|r| (r.report.clone(), r)).collect();
            let mut changed = Vec::new();
            let mut after = Vec::new();
            for id in reports {
                let mut row = by_report.remove(id);
                let mut touched = false;
                let event = event_of(id);
                let fire = matches!(event, Event::Recomputed(_)).then_some(Event::NextFire);
                for e in std::iter::once(event).chain(fire) {
                    if let Ok(Some(next)) = outbox::apply(id, row.as_ref(), &e, now, policy, actor)
                    {
                        row = Some(next);
                        touched = true;
                    }
                }
                if let Some(row) = row {
                    if touched {
                        changed.push(row.clone());
                    }
                    after.push(row);
                }
            }
            (
                OutboxChanges {
                    rows: changed,
                    ..OutboxChanges::default()
                },
                after,
            )
        };
        if dry_run {
            let current = self.store.outbox(filter).await?;
            return Ok(decide(current).1);
        }
        self.store
            .outbox_apply(filter, |rows| decide(rows).0)
            .await?;
        self.rows_of(filter, reports).await
    }

    /// The rows of `reports` as stored, without their drafts (a run reports states).
    pub async fn rows_of(
        &self,
        filter: &OutboxFilter,
        reports: &[ReportId],
    ) -> Result<Vec<OutboxRow>, SyncError> {
        let wanted: std::collections::HashSet<&ReportId> = reports.iter().collect();
        Ok(self
            .store
            .outbox_without_drafts(filter)
            .await?
            .into_iter()
            .filter(|r| wanted.contains(&r.report))
            .collect())
    }

    /// What the freshness gate sees, per source and record kind it sends; with `needed` (a
    /// period's settle instant), how many dossiers open at each source that is read again by key
    /// were last read before it.
    pub async fn freshness(
        &self,
        kinds: &[RecordKind],
        needed: Option<Instant>,
    ) -> Result<Vec<gate::Freshness>, SyncError> {
        let history = self
            .settings
            .pull
            .history_start()
            .ok_or_else(|| SyncError::Config("pull.history_from is required".to_owned()))?;
        let mut out = Vec::new();
        for source in &self.parts.sources {
            for &kind in kinds {
                if !source.feeds(kind) {
                    continue;
                }
                let log = self.store.pulls(&source.name, kind).await?;
                let mut f = gate::Freshness::of(&source.name, source.protocol, kind, &log, history);
                if let Some(needed) = needed
                    && kind == RecordKind::Dossier
                    && source.protocol.looks_up_open_dossiers()
                {
                    f.open_unread = self.store.count_open(&source.name, needed).await?;
                }
                out.push(f);
            }
        }
        Ok(out)
    }
}

/// The compute stage, off the async executor's threads when it can be (it is CPU work).
fn compute_contents(
    setup: &compute::Setup<'_>,
    regime: &crate::forms::Regime,
    loaded: records::Loaded,
    period: &Period,
) -> Result<compute::Contents, SyncError> {
    let work = || compute::compute(setup, regime, loaded, period);
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// `created 12, no_credential 3, …` over some rows.
pub fn summarize(rows: &[OutboxRow]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in rows {
        *counts.entry(r.state.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an operator's action did.
#[derive(Debug, Default)]
pub struct Operated {
    pub changed: Vec<OutboxRow>,
    pub refused: Vec<Refusal>,
}

/// Applies an operator's `event` (retry, hold, release, force, a new login) to every outbox row in
/// `filter`, with an audit line for each row it changed.
#[allow(clippy::too_many_arguments)]
pub async fn operate<S: Store>(
    store: &S,
    filter: &OutboxFilter,
    event: Event,
    actor: &str,
    action: &str,
    reason: &str,
    now: Instant,
    policy: &Policy,
) -> Result<Operated, SyncError> {
    let result = std::sync::Mutex::new(Operated::default());
    store
        .outbox_apply(filter, |rows| {
            let mut out = result.lock().expect("not poisoned");
            let mut changes = OutboxChanges::default();
            for row in rows {
                match outbox::apply(&row.report, Some(&row), &event, now, policy, actor) {
                    Ok(Some(next)) => {
                        let mut entry = AuditEntry::about(&row.report, actor, action, now);
                        entry.content_hash = next.content_hash.clone();
                        entry.reason = reason.to_owned();
                        entry.answer = Some(format!("{} -> {}", row.state, next.state));
                        changes.audit.push(entry);
                        out.changed.push(next.clone());
                        changes.rows.push(next);
                    }
                    Ok(None) => {}
                    Err(refusal) => out.refused.push(refusal),
                }
            }
            changes
        })
        .await?;
    Ok(result.into_inner().expect("not poisoned"))
}
