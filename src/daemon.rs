//! The daemon: the schedule's alarm clock and the delivery workers, around one [`Engine`].
//!
//! Every minute (and once at start, so that fires missed while it was down run now), the alarm
//! asks `scheduler` which fires are due and claims each in the store; only the replica whose claim
//! succeeds runs it, as a task of its own. Delivery workers claim drafts continuously. On SIGTERM or
//! Ctrl-C nothing new is claimed; runs and writes in flight get `shutdown_grace_seconds` to end;
//! whatever this process still holds after that is handed back (leases, run locks) so another
//! replica need not wait. A SIGKILL leaves leases behind: a process started on this host, or any
//! replica once the killed one's heartbeat is 45 s old (checked every tick), recovers them at once;
//! otherwise they expire by themselves.
//!
//! A fire the store failed under (stopped, restarted, cut off) runs again as soon as the store
//! answers, unless a newer fire of its job is due by then.

use crate::domain::RecordKind;
use crate::scheduler::{self, Fire, Job, Schedule};
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::sync::{Engine, RunOptions, Scope, SyncError};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::task::JoinSet;

/// The admin HTTP to serve beside the schedule: where it listens, and its state.
pub struct Admin {
    pub listener: tokio::net::TcpListener,
    pub state: crate::admin::AdminState,
}

/// Runs until `shutdown`. `running` is set while the schedule runs (`/readyz`).
pub async fn serve(
    engine: Arc<Engine>,
    schedule: Schedule,
    shutdown: Shutdown,
    admin: Option<Admin>,
    running: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), SyncError> {
    let http = admin.map(|a| {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::admin::serve(a.listener, a.state, stop).await {
                tracing::error!(error = %e, "the admin HTTP stopped");
            }
        })
    });
    let enabled = engine.settings.schedule.enabled;
    let alarm = Arc::new(tokio::sync::Notify::new());
    let simulated = engine.clock.simulation().is_some();
    let cron = if enabled && !simulated {
        let clock = tokio_cron_scheduler::JobScheduler::new()
            .await
            .map_err(|e| SyncError::Internal(format!("the scheduler does not start: {e}")))?;
        let ring = alarm.clone();
        let job = tokio_cron_scheduler::Job::new_async_tz(
            "0 * * * * *",
            chrono_tz::Asia::Ho_Chi_Minh,
            move |_, _| {
                let ring = ring.clone();
                Box::pin(async move { ring.notify_one() })
            },
        )
        .map_err(|e| SyncError::Internal(format!("the alarm does not parse: {e}")))?;
        clock
            .add(job)
            .await
            .map_err(|e| SyncError::Internal(format!("the alarm cannot be set: {e}")))?;
        clock
            .start()
            .await
            .map_err(|e| SyncError::Internal(format!("the scheduler does not start: {e}")))?;
        Some(clock)
    } else {
        None
    };
    // Under a simulated clock the alarm is the clock's own: each minute of it (the cron scheduler
    // reads the real clock).
    let simulated_alarm = (enabled && simulated).then(|| {
        let ring = alarm.clone();
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                let now = engine.clock.now();
                let minute = crate::domain::Instant((now.0.div_euclid(60) + 1) * 60);
                engine.clock.sleep_until(minute).await;
                ring.notify_one();
            }
        })
    });
    // What a process of this host killed before this one held is recovered now, not after its
    // leases.
    if let Err(e) = engine.recover_dead_holders().await {
        tracing::error!(error = %e, "cannot recover what a gone process held");
    }
    // The heartbeat: other replicas (on any host) recover what this process holds at once if it
    // stops beating.
    let heartbeat = {
        let engine = engine.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let every = engine.clock.heartbeat_every();
            loop {
                if let Err(e) = engine.beat().await {
                    tracing::warn!(error = %e, "cannot write the heartbeat");
                }
                tokio::select! {
                    _ = engine.clock.sleep(every) => {}
                    _ = shutdown.requested() => break,
                }
            }
        })
    };
    running.store(true, std::sync::atomic::Ordering::Relaxed);
    let grace = std::time::Duration::from_secs(engine.settings.delivery.shutdown_grace_seconds);
    let workers = engine.delivery.serve(shutdown.clone());
    let fires = {
        let engine = engine.clone();
        let mut shutdown = shutdown.clone();
        async move {
            let mut runs = JoinSet::new();
            let mut asked = HashSet::new();
            if enabled {
                tick(&engine, &schedule, &mut runs, &mut asked).await;
            }
            loop {
                tokio::select! {
                    _ = alarm.notified() => tick(&engine, &schedule, &mut runs, &mut asked).await,
                    Some(_) = runs.join_next(), if !runs.is_empty() => {}
                    _ = shutdown.requested() => break,
                }
            }
            while runs.join_next().await.is_some() {}
        }
    };
    let everything = async { tokio::join!(workers, fires) };
    tokio::pin!(everything);
    let mut stop = shutdown.clone();
    tokio::select! {
        _ = &mut everything => {}
        _ = async { stop.requested().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "work still in flight when the shutdown grace ran out; handing it back");
        }
    }
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    if let Some(mut cron) = cron {
        let _ = cron.shutdown().await;
    }
    if let Some(alarm) = simulated_alarm {
        alarm.abort();
    }
    if let Some(http) = http {
        let _ = tokio::time::timeout(grace, http).await;
    }
    let _ = heartbeat.await;
    let released = engine.delivery.release_leases().await?;
    if released > 0 {
        tracing::info!(released, "drafts handed back for another worker");
    }
    let now = engine.clock.now();
    for period in engine.schedule_periods(now) {
        engine
            .store
            .release_lock(&format!("run:{}", period.id()), &engine.owner)
            .await?;
    }
    engine.store.forget_heartbeat(&engine.owner).await?;
    tracing::info!("daemon stopped");
    Ok(())
}

impl Engine {
    /// The schedule the settings describe (with the daily `mail` job when e-mail is configured).
    pub fn schedule(&self) -> Result<Schedule, String> {
        let schedule = Schedule::new(&self.settings.schedule, &self.parts.duties)?;
        Ok(match &self.mailer {
            Some(_) => schedule.with_mail(self.settings.mail.send_time()?),
            None => schedule,
        })
    }

    /// The periods the schedule works on now (for handing back their run locks).
    fn schedule_periods(&self, now: crate::domain::Instant) -> Vec<crate::domain::Period> {
        self.schedule()
            .map(|s| s.active_periods(now))
            .unwrap_or_default()
    }

    /// After a pre-fill: once the period's drafts have left the outbox (or ten minutes passed),
    /// "drafts ready" to every unit's contacts, then sends.
    async fn announce_ready(
        &self,
        period: &crate::domain::Period,
        findings: &std::collections::BTreeMap<String, usize>,
    ) -> Result<String, SyncError> {
        use crate::store::OutboxState::{Pending, Sending};
        let filter = crate::store::OutboxFilter {
            period: Some(period.id()),
            ..Default::default()
        };
        for _ in 0..60 {
            let rows = self.store.outbox(&filter).await?;
            if !rows.iter().any(|r| matches!(r.state, Pending | Sending)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        }
        let new = self.enqueue_ready(period, findings).await?;
        let pass = self.deliver_mail("schedule").await?;
        Ok(format!("{new} drafts-ready messages, {} sent", pass.sent))
    }
}

/// The mail worker's pass on every tick: what is due (retries included) is sent.
async fn mail_pass(engine: Arc<Engine>) {
    if let Err(e) = engine.deliver_mail_if_idle("schedule").await {
        tracing::error!(error = %e, "the mail worker's pass failed");
    }
}

/// Claims and starts every due fire. `asked` holds the fires this process already tried to claim
/// (each is claimed once, ever: asking again every minute would only write in vain).
async fn tick(
    engine: &Arc<Engine>,
    schedule: &Schedule,
    runs: &mut JoinSet<()>,
    asked: &mut HashSet<(String, crate::domain::Instant)>,
) {
    let now = engine.clock.now();
    let done: HashSet<String> = match engine.store.fires("prefill:").await {
        Ok(fires) => fires
            .into_iter()
            .filter(|f| f.outcome.as_deref() == Some(scheduler::DONE))
            .map(|f| f.job)
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the claimed fires; skipping this tick");
            return;
        }
    };
    let due = schedule.due(now, |p| done.contains(&Job::Prefill(p.clone()).name()));
    // Before stopped peers' heartbeats are forgotten: what they claimed and never finished.
    adopt_orphaned_fires(engine, schedule, runs, now, &due).await;
    match engine.recover_stopped_peers().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(recovered = n, "recovered what stopped replicas held"),
        Err(e) => tracing::error!(error = %e, "cannot recover what stopped replicas held"),
    }
    if engine.mailer.is_some() {
        runs.spawn(mail_pass(engine.clone()));
    }
    asked.retain(|(_, slot)| slot.0 > now.0 - 86_400);
    for fire in due {
        let name = fire.job.name();
        if !asked.insert((name.clone(), fire.slot)) {
            continue;
        }
        match engine
            .store
            .claim_fire(&name, fire.slot, &engine.owner, now)
            .await
        {
            Ok(true) => {
                tracing::info!(job = %name, slot = %fire.slot, "fire claimed");
                runs.spawn(run_fire(engine.clone(), schedule.clone(), fire));
            }
            Ok(false) => {}
            Err(e) => {
                asked.remove(&(name.clone(), fire.slot));
                tracing::error!(job = %name, error = %e, "cannot claim a fire")
            }
        }
    }
}

/// Fires claimed by a process that is gone (killed, or its heartbeat stopped) and never finished:
/// each runs again here, unless a newer fire of its job is due by now (that one does the same work,
/// later), or its period is no longer worked on; then it is closed saying so. (A pre-fill whose
/// period has been pre-filled since is closed when it runs: `fire_once`.)
async fn adopt_orphaned_fires(
    engine: &Arc<Engine>,
    schedule: &Schedule,
    runs: &mut JoinSet<()>,
    now: crate::domain::Instant,
    due: &[Fire],
) {
    let orphans = async {
        let unfinished = engine.store.unfinished_fires().await?;
        if unfinished.is_empty() {
            return Ok(Vec::new());
        }
        let alive = engine.liveness().await?;
        Ok::<_, SyncError>(
            unfinished
                .into_iter()
                .filter(|f| alive.is_dead(&f.claimed_by))
                .collect::<Vec<_>>(),
        )
    };
    let orphans = match orphans.await {
        Ok(orphans) => orphans,
        Err(e) => {
            tracing::error!(error = %e, "cannot look for fires a gone process left unfinished");
            return;
        }
    };
    if orphans.is_empty() {
        return;
    }
    let mut jobs = vec![Job::Pull, Job::Mail];
    for p in schedule.active_periods(now) {
        jobs.push(Job::Prefill(p.clone()));
        jobs.push(Job::Refresh(p));
    }
    for orphan in orphans {
        let newer = due
            .iter()
            .find(|d| d.job.name() == orphan.job && d.slot > orphan.slot);
        let job = jobs.iter().find(|j| j.name() == orphan.job);
        let taken = engine
            .store
            .take_over_fire(
                &orphan.job,
                orphan.slot,
                &orphan.claimed_by,
                &engine.owner,
                now,
            )
            .await;
        match taken {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!(job = %orphan.job, error = %e, "cannot take over a gone process's fire");
                continue;
            }
        }
        let closed = match (job, newer) {
            (Some(job), None) => {
                tracing::warn!(job = %orphan.job, slot = %orphan.slot, gone = %orphan.claimed_by, "a fire whose process is gone runs again");
                let fire = Fire {
                    job: job.clone(),
                    slot: orphan.slot,
                };
                runs.spawn(run_fire(engine.clone(), schedule.clone(), fire));
                continue;
            }
            (_, Some(newer)) => format!(
                "superseded: {} was gone before it finished; the fire of {} does its work",
                orphan.claimed_by, newer.slot
            ),
            (None, None) => format!(
                "abandoned: {} was gone before it finished, and its period is no longer worked on",
                orphan.claimed_by
            ),
        };
        tracing::warn!(job = %orphan.job, slot = %orphan.slot, outcome = %closed, "a gone process's fire closed");
        if let Err(e) = engine
            .store
            .finish_fire(&orphan.job, orphan.slot, &closed, now)
            .await
        {
            tracing::error!(job = %orphan.job, error = %e, "cannot close a gone process's fire");
        }
    }
}

/// How long a scheduled run's closing writes wait for a store that stopped answering.
const STORE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs one claimed fire and records how it ended. A fire the store failed under (stopped,
/// restarted, cut off) runs again as soon as the store answers, unless a newer fire of the same
/// job is due by then: that one runs instead (it does the same work, later).
async fn run_fire(engine: Arc<Engine>, schedule: Schedule, fire: Fire) {
    let name = fire.job.name();
    let outcome = loop {
        let (outcome, store_down) = fire_once(&engine, &fire).await;
        if !store_down {
            break outcome;
        }
        tracing::warn!(job = %name, slot = %fire.slot, %outcome, "the store stopped answering during a fire; it runs again when the store is back");
        wait_for_store(&engine).await;
        let now = engine.clock.now();
        let listed = schedule.due(now, |_| matches!(fire.job, Job::Refresh(_)));
        if listed
            .iter()
            .any(|f| f.job == fire.job && f.slot > fire.slot)
        {
            break format!(
                "superseded: a newer fire of the job was due when the store returned (this one {outcome})"
            );
        }
        tracing::info!(job = %name, slot = %fire.slot, "the store answers again; the fire runs again");
    };
    tracing::info!(job = %name, slot = %fire.slot, %outcome, "fire ended");
    if let Err(e) = crate::store::patiently(STORE_PATIENCE, || {
        engine
            .store
            .finish_fire(&name, fire.slot, &outcome, engine.clock.now())
    })
    .await
    {
        tracing::error!(job = %name, error = %e, "cannot record how a fire ended");
    }
    give_back_free_memory();
}

/// Hands the pages a fire freed back to the system. glibc keeps freed memory in its heaps for
/// reuse, so a process's resident size is the high-water mark of whatever ran on it: after a
/// province's pre-fill a daemon would hold that peak for the months until the next one. Trimming
/// after each fire (a pull every 15 minutes, the rarer pre-fills and refreshes) keeps the
/// resident size near what the daemon uses between fires.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_free_memory() {
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back_free_memory() {}

/// Returns once the store answers (asked every second).
async fn wait_for_store(engine: &Engine) {
    loop {
        let ping = tokio::time::timeout(std::time::Duration::from_secs(5), engine.store.ping());
        if let Ok(Ok(())) = ping.await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Whether a pre-fill fire has nothing to do because another fire of its period did or is doing
/// it: one ended `done` (this fire was claimed by a tick that read the fires before, or taken
/// over from a gone process since: the refreshes carry on from there), or one of an earlier slot
/// is still running in a live process (its run may be over and its drafts-ready announcement
/// waiting for the outbox: the period's run lock is free then, yet the pre-fill is not done).
/// The earlier slot goes on, so two fires never wait for each other.
async fn prefill_elsewhere(
    engine: &Arc<Engine>,
    fire: &Fire,
    period: &crate::domain::Period,
) -> Result<Option<String>, SyncError> {
    let name = fire.job.name();
    let fires: Vec<_> = engine
        .store
        .fires(&name)
        .await?
        .into_iter()
        .filter(|f| f.job == name)
        .collect();
    if fires
        .iter()
        .any(|f| f.outcome.as_deref() == Some(scheduler::DONE))
    {
        return Ok(Some(format!(
            "superseded: the pre-fill of {} is done",
            period.id()
        )));
    }
    let running: Vec<_> = fires
        .iter()
        .filter(|f| f.outcome.is_none() && f.slot < fire.slot)
        .collect();
    if running.is_empty() {
        return Ok(None);
    }
    let alive = engine.liveness().await?;
    Ok(running
        .into_iter()
        .find(|f| !alive.is_dead(&f.claimed_by))
        .map(|f| {
            format!(
                "busy: the pre-fill of {} is running in {} (the fire of {})",
                period.id(),
                f.claimed_by,
                f.slot
            )
        }))
}

/// One attempt at a fire: its outcome, and whether the store failed under it.
async fn fire_once(engine: &Arc<Engine>, fire: &Fire) -> (String, bool) {
    let failed = |e: &SyncError| (format!("failed: {e}"), e.store_unavailable());
    match &fire.job {
        Job::Pull => {
            let kinds = [
                RecordKind::Dossier,
                RecordKind::Rating,
                RecordKind::Feedback,
            ];
            match engine
                .pull_unless_pulling(&kinds, &crate::sync::pull::PullPlan::default())
                .await
            {
                Ok(None) => (
                    "busy: a pull is running in this process; the next slot's reads what arrives meanwhile"
                        .to_owned(),
                    false,
                ),
                Ok(Some(results)) => {
                    let failed: Vec<String> = results
                        .iter()
                        .filter_map(|(k, o)| {
                            o.failure
                                .as_ref()
                                .map(|f| format!("{} {}: {f}", o.source, k.as_str()))
                        })
                        .collect();
                    if failed.is_empty() {
                        ("ok".to_owned(), false)
                    } else {
                        (format!("failed: {}", failed.join("; ")), false)
                    }
                }
                Err(e) => failed(&e),
            }
        }
        Job::Prefill(period) | Job::Refresh(period) => {
            if let Job::Prefill(_) = &fire.job {
                match prefill_elsewhere(engine, fire, period).await {
                    Ok(Some(outcome)) => return (outcome, false),
                    Ok(None) => {}
                    Err(e) => return failed(&e),
                }
            }
            let options = RunOptions {
                pull: true,
                deliver: false,
                actor: "schedule".to_owned(),
                cause: "schedule".to_owned(),
                store_patience: STORE_PATIENCE,
                ..RunOptions::default()
            };
            match engine
                .run(
                    &Scope::period(period.clone()),
                    &options,
                    &crate::sync::Quiet,
                )
                .await
            {
                Ok(report) if report.gate.is_empty() => {
                    if let (Job::Prefill(_), Some(_)) = (&fire.job, &engine.mailer) {
                        match engine.announce_ready(period, &report.findings).await {
                            Ok(said) => {
                                tracing::info!(period = %period.id(), %said, "drafts ready announced")
                            }
                            Err(e) => {
                                tracing::error!(period = %period.id(), error = %e, "cannot announce the drafts")
                            }
                        }
                    }
                    (scheduler::DONE.to_owned(), false)
                }
                Ok(report) => (format!("gate_closed: {}", report.gate.join("; ")), false),
                Err(SyncError::Busy(_)) => ("busy".to_owned(), false),
                Err(e) => failed(&e),
            }
        }
        Job::Mail => {
            let now = engine.clock.now();
            let today = now.to_local().date();
            let mut new = 0;
            let mut errors = Vec::new();
            let mut store_down = false;
            for period in engine
                .schedule()
                .map(|s| s.mail_periods(now))
                .unwrap_or_default()
            {
                match engine.enqueue_reminders(&period, today).await {
                    Ok(n) => new += n,
                    Err(e) => {
                        store_down |= e.store_unavailable();
                        errors.push(format!("{}: {e}", period.id()));
                    }
                }
            }
            match engine.deliver_mail("schedule").await {
                Ok(pass) if errors.is_empty() => (
                    format!("ok: {new} messages enqueued, {} sent", pass.sent),
                    false,
                ),
                Ok(_) => (format!("failed: {}", errors.join("; ")), store_down),
                Err(e) => failed(&e),
            }
        }
    }
}
