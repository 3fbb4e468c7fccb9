//! Failed sign-ins (a wrong token at `/login` or in `Authorization: Bearer`, a viewer's wrong
//! password), counted per client address: after [`FREE`] failures with no quiet [`WINDOW`] (15
//! minutes) between them, each further try waits a delay that doubles from 1 s up to
//! [`MAX_DELAY`] (15 minutes), and a try made before it has passed is
//! answered 429 without being checked (so the right token guessed during a lockout is refused
//! too). A success clears the address. Counters are per address, so one address's failures never
//! keep another out. The address is the connection's peer, or — only when that peer is a
//! configured proxy (`http.trusted_proxies`) — the last address of `X-Forwarded-For` that is
//! not one of those proxies.
//!
//! Pure over an explicit clock (`Instant` seconds) and the counts the store keeps per address
//! (`sign_in_failures`, shared by replicas); the admin HTTP logs each failure, counts it in
//! `/metrics`, and audits the failure that starts a lockout.

use crate::domain::Instant;
use crate::store::SignInFailures;
use std::net::IpAddr;

/// Failures allowed within the window before tries are delayed.
pub const FREE: i64 = 5;
/// The window failures are counted in (seconds).
pub const WINDOW: i64 = 15 * 60;
/// The longest delay (seconds).
pub const MAX_DELAY: i64 = 15 * 60;

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    /// Failures counted, this one included.
    pub failures: i64,
    /// Seconds before the next try is checked (0 while under [`FREE`]).
    pub delay: i64,
}

impl Failed {
    /// This failure starts a lockout (the audit notes it once per lockout).
    pub fn locks_out(&self) -> bool {
        self.failures == FREE
    }
}

/// `Err(seconds)` while an address with these counts must wait.
pub fn check(counts: Option<SignInFailures>, now: Instant) -> Result<(), i64> {
    match counts {
        Some(c) if c.until_at > now.0 => Err(c.until_at - now.0),
        _ => Ok(()),
    }
}

/// The counts after one more failure at `now`.
pub fn step(counts: Option<SignInFailures>, now: Instant) -> SignInFailures {
    let failures = match counts {
        Some(c) if now.0 - c.last_at <= WINDOW || now.0 < c.until_at => c.failures + 1,
        _ => 1,
    };
    SignInFailures {
        failures,
        last_at: now.0,
        until_at: now.0 + delay(failures),
    }
}

/// The wait after the `failures`th failure.
pub fn delay(failures: i64) -> i64 {
    if failures < FREE {
        0
    } else {
        (1i64 << (failures - FREE).min(20)).min(MAX_DELAY)
    }
}

/// The client's address: the peer, or behind a trusted proxy the last forwarded address that is
/// not itself a trusted proxy.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .rev()
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_five_failures_each_try_waits_a_doubling_delay_up_to_fifteen_minutes() {
        let mut now = Instant(1_700_000_000);
        let mut counts = None;
        for n in 1..FREE {
            counts = Some(step(counts, now));
            assert_eq!(check(counts, now), Ok(()), "failure {n}");
        }
        counts = Some(step(counts, now));
        let fifth = Failed {
            failures: counts.unwrap().failures,
            delay: delay(counts.unwrap().failures),
        };
        assert!(fifth.locks_out());
        assert_eq!(check(counts, now), Err(1), "even the right token waits");
        assert_eq!(check(None, now), Ok(()), "another address is not kept out");
        let mut delays = Vec::new();
        for _ in 0..12 {
            now = Instant(now.0 + check(counts, now).err().unwrap_or(0));
            let c = step(counts, now);
            delays.push(c.until_at - now.0);
            counts = Some(c);
        }
        assert_eq!(
            delays,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900],
            "doubling, capped at 15 minutes"
        );
    }

    #[test]
    fn failures_after_fifteen_quiet_minutes_count_from_one() {
        let start = Instant(1_700_000_000);
        let mut counts = None;
        for _ in 0..FREE - 1 {
            counts = Some(step(counts, start));
        }
        let later = step(counts, Instant(start.0 + WINDOW + 1));
        assert_eq!((later.failures, later.until_at - later.last_at), (1, 0));
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "192.168.1.10".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let forged = Some("1.2.3.4, 203.0.113.7");
        assert_eq!(client_address(client, Some("1.2.3.4"), &[proxy]), client);
        assert_eq!(client_address(proxy, forged, &[proxy]), client);
        assert_eq!(client_address(proxy, None, &[proxy]), proxy);
        assert_eq!(
            client_address(proxy, Some("203.0.113.7, 192.168.1.10"), &[proxy]),
            client
        );
    }
}
