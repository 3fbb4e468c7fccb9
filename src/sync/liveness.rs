//! Whether the process holding a lease is still alive. A process is named `HOST-PID-SALT`
//! ([`super::process_name`]). A holder is known gone when it is a process of this host whose id no
//! longer exists (killed, crashed), or when it is a daemon, on any host, whose heartbeat stopped:
//! every daemon writes one every [`HEARTBEAT_SECONDS`] and is gone after [`STALE_AFTER_SECONDS`]
//! without one. What a gone holder held is recovered at once instead of after its lease. A holder
//! of another host with no heartbeat (a CLI run) cannot be judged: its leases run out as before.
//! Heartbeats read each process's own clock: the hosts' clocks must agree within seconds (NTP).

use crate::domain::Instant;
use std::collections::HashMap;

/// How often a daemon says it is alive.
pub const HEARTBEAT_SECONDS: u64 = 10;
/// A heartbeat this old means its process is gone (several beats missed, with room for the
/// hosts' clocks to differ a little).
pub const STALE_AFTER_SECONDS: i64 = 45;

/// The process part of a lease owner (`PROCESS/system/n` → `PROCESS`).
fn process_of(owner: &str) -> &str {
    owner.split('/').next().unwrap_or(owner)
}

/// What is known, at one instant, of the processes that hold leases.
#[derive(Debug, Clone)]
pub struct Liveness {
    me: String,
    now: Instant,
    beats: HashMap<String, Instant>,
    /// Seconds without a heartbeat after which its daemon is gone.
    stale_after: i64,
}

impl Liveness {
    /// `me` is this process's name; `beats` every process's last heartbeat.
    pub fn new(me: &str, now: Instant, beats: Vec<(String, Instant)>) -> Liveness {
        Liveness {
            me: me.to_owned(),
            now,
            beats: beats.into_iter().collect(),
            stale_after: STALE_AFTER_SECONDS,
        }
    }

    /// A heartbeat `seconds` old means its daemon is gone (a simulated clock's beats are sparser).
    pub fn stale_after(mut self, seconds: i64) -> Liveness {
        self.stale_after = seconds;
        self
    }

    /// `owner` (a process, or a worker `PROCESS/…`) is known gone.
    pub fn is_dead(&self, owner: &str) -> bool {
        holder_is_dead(owner, &self.me) || self.heartbeat_stopped(owner)
    }

    /// `owner`'s process is another daemon whose heartbeat stopped.
    fn heartbeat_stopped(&self, owner: &str) -> bool {
        let process = process_of(owner);
        process != self.me
            && self
                .beats
                .get(process)
                .is_some_and(|beat| self.now.0 - beat.0 > self.stale_after)
    }

    /// The daemons whose heartbeat stopped.
    pub fn stopped(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .beats
            .keys()
            .filter(|p| self.heartbeat_stopped(p))
            .cloned()
            .collect();
        out.sort();
        out
    }
}

/// This machine's name, as process names carry it.
pub fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned())
}

/// `owner` (a process name, or a worker's `PROCESS/…`) names a process of this host that is
/// gone. `me` is this process's name (a holder with this process's id but another name was an
/// earlier process whose id was reused).
pub fn holder_is_dead(owner: &str, me: &str) -> bool {
    let process = process_of(owner);
    if process == me {
        return false;
    }
    let mut parts = process.rsplitn(3, '-');
    let (Some(_salt), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if pid <= 0 || host != self::host() {
        return false;
    }
    if pid as u32 == std::process::id() {
        return true;
    }
    // SAFETY: kill(2) with signal 0 sends nothing; it only asks whether the process exists.
    let answer = unsafe { libc::kill(pid, 0) };
    answer == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// What a leased outbox row waits for, for `status`: whose lease, until when, and whether that
/// holder is known gone (recovered by the next run at once) or its lease has run out.
pub fn lease_words(lease: &crate::store::Lease, now: Instant, alive: &Liveness) -> String {
    let until = lease.until.to_local().format("%d/%m %H:%M");
    let why = if alive.is_dead(&lease.owner) {
        "that process is gone: the next run or daemon start recovers it at once"
    } else if lease.until <= now {
        "its lease has run out: the next worker takes it"
    } else {
        "waiting for that worker's answer"
    };
    format!("held by {} until {until} ICT; {why}", lease.owner)
}

impl super::Engine {
    /// What is known now of the processes holding leases (their heartbeats read).
    pub async fn liveness(&self) -> Result<Liveness, super::SyncError> {
        use crate::store::Store;
        let beats = self.store.heartbeats().await?;
        Ok(Liveness::new(&self.owner, self.clock.now(), beats)
            .stale_after(self.clock.stale_after()))
    }

    /// This process is alive (a daemon, every [`HEARTBEAT_SECONDS`]); heartbeats a day old are
    /// dropped.
    pub async fn beat(&self) -> Result<(), super::SyncError> {
        use crate::store::Store;
        let now = self.clock.now();
        Ok(self
            .store
            .beat(&self.owner, now, Instant(now.0 - 86_400))
            .await?)
    }

    /// On the daemon's every tick: when another daemon's heartbeat stopped, what it held is
    /// recovered now, and its heartbeat forgotten (nothing of it is left to recover).
    pub async fn recover_stopped_peers(&self) -> Result<usize, super::SyncError> {
        use crate::store::Store;
        let stopped = self.liveness().await?.stopped();
        if stopped.is_empty() {
            return Ok(0);
        }
        tracing::warn!(processes = ?stopped, "daemons whose heartbeat stopped: recovering what they held");
        let recovered = self.recover_dead_holders().await?;
        for process in &stopped {
            self.store.forget_heartbeat(process).await?;
        }
        Ok(recovered)
    }

    /// Recovers at once what dead processes held: their run leases are given up,
    /// their drafts return to `pending`, their messages in flight become `uncertain` (they may
    /// have gone). Returns how many things were recovered.
    #[tracing::instrument(name = "sync.recover", skip_all)]
    pub async fn recover_dead_holders(&self) -> Result<usize, super::SyncError> {
        use crate::store::{MailStore, Store};
        let now = self.clock.now();
        let alive = std::sync::Arc::new(self.liveness().await?);
        let mut recovered = 0;
        for (name, owner, until) in self.store.locks().await? {
            if until > now && alive.is_dead(&owner) {
                tracing::warn!(lease = %name, %owner, "the process holding a lease is gone: lease given up");
                self.store.release_lock(&name, &owner).await?;
                recovered += 1;
            }
        }
        let drafts = {
            let alive = alive.clone();
            self.delivery
                .release_leases_where(move |owner| alive.is_dead(owner))
                .await?
        };
        if drafts > 0 {
            tracing::warn!(
                drafts,
                "drafts a gone process was delivering returned to pending"
            );
        }
        recovered += drafts;
        for owner in self.store.sending_owners().await? {
            if alive.is_dead(&owner) {
                let rows = self
                    .store
                    .expire_messages(now, Some(&owner), "recovery")
                    .await?;
                tracing::warn!(%owner, messages = rows.len(), "messages a gone process was sending: uncertain, not resent");
                recovered += rows.len();
            }
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_whose_heartbeat_stopped_is_dead_on_any_host_and_one_without_a_heartbeat_is_not_judged()
     {
        let now = Instant(1_000_000);
        let beat = |owner: &str, ago: i64| (owner.to_owned(), Instant(now.0 - ago));
        let alive = Liveness::new(
            "me-1-aaaa",
            now,
            vec![
                beat("elsewhere-7-bbbb", STALE_AFTER_SECONDS + 1),
                beat("elsewhere-8-cccc", STALE_AFTER_SECONDS),
                beat("me-1-aaaa", 1000),
            ],
        );
        assert!(alive.is_dead("elsewhere-7-bbbb/central/0"));
        assert!(!alive.is_dead("elsewhere-8-cccc/provincial/2"));
        assert!(
            !alive.is_dead("elsewhere-9-dddd"),
            "no heartbeat: a CLI run"
        );
        assert!(!alive.is_dead("me-1-aaaa/central/1"), "this process");
        assert_eq!(alive.stopped(), vec!["elsewhere-7-bbbb".to_owned()]);
    }

    #[test]
    fn a_gone_process_of_this_host_is_dead_and_others_are_not_judged() {
        let me = super::super::process_name();
        assert!(!holder_is_dead(&me, &me));
        assert!(!holder_is_dead(&format!("{me}/central/0"), &me));
        // This process's id under another name: an earlier process whose id was reused.
        let earlier = format!("{}-{}-zzzz/central/1", host(), std::process::id());
        assert!(holder_is_dead(&earlier, &me));
        // A child that exited and was reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder_is_dead(&format!("{}-{pid}-abcd", host()), &me));
        // Another host, or a name of another shape: not judged.
        assert!(!holder_is_dead(&format!("elsewhere-{pid}-abcd"), &me));
        assert!(!holder_is_dead("schedule", &me));
        // A living process (init).
        assert!(!holder_is_dead(&format!("{}-1-abcd", host()), &me));
    }
}
