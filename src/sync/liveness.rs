//! Whether the process holding a lease is still alive. A process is named `HOST-PID-SALT`
//! ([`super::process_name`]); on this host, a holder whose process id no longer exists (killed,
//! crashed) is dead, and what it held is recovered at once instead of after its lease. A holder on
//! another host (a PostgreSQL replica) cannot be asked: its leases run out as before.

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
    let process = owner.split('/').next().unwrap_or(owner);
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
pub fn lease_words(lease: &crate::store::Lease, now: crate::domain::Instant, me: &str) -> String {
    let until = lease.until.to_local().format("%d/%m %H:%M");
    let why = if holder_is_dead(&lease.owner, me) {
        "that process is gone: the next run or daemon start recovers it at once"
    } else if lease.until <= now {
        "its lease has run out: the next worker takes it"
    } else {
        "waiting for that worker's answer"
    };
    format!("held by {} until {until} ICT; {why}", lease.owner)
}

impl super::Engine {
    /// Recovers at once what dead processes of this host held: their run leases are given up,
    /// their drafts return to `pending`, their messages in flight become `uncertain` (they may
    /// have gone). Returns how many things were recovered.
    #[tracing::instrument(name = "sync.recover", skip_all)]
    pub async fn recover_dead_holders(&self) -> Result<usize, super::SyncError> {
        use crate::store::{MailStore, Store};
        let now = self.clock.now();
        let me = self.owner.clone();
        let mut recovered = 0;
        for (name, owner, until) in self.store.locks().await? {
            if until > now && holder_is_dead(&owner, &me) {
                tracing::warn!(lease = %name, %owner, "the process holding a lease is gone: lease given up");
                self.store.release_lock(&name, &owner).await?;
                recovered += 1;
            }
        }
        let drafts = {
            let me = me.clone();
            self.delivery
                .release_leases_where(move |owner| holder_is_dead(owner, &me))
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
            if holder_is_dead(&owner, &me) {
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
