//! Failed sign-ins (a wrong token at `/login` or in `Authorization: Bearer`), counted per client
//! address: after [`FREE`] failures with no quiet [`WINDOW`] (15 minutes) between them, each further try waits a delay
//! that doubles from 1 s up to [`MAX_DELAY`] (15 minutes), and a try made before it has passed is
//! answered 429 without being checked (so the right token guessed during a lockout is refused
//! too). A success clears the address. Counters are per address, so one address's failures never
//! keep another out. The address is the connection's peer, or — only when that peer is a
//! configured proxy (`http.trusted_proxies`) — the last address of `X-Forwarded-For` that is
//! not one of those proxies.
//!
//! Pure over an explicit clock (`Instant` seconds); the admin HTTP logs each failure, counts it in
//! `/metrics`, and audits the failure that starts a lockout.

use crate::domain::Instant;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed within the window before tries are delayed.
pub const FREE: u32 = 5;
/// The window failures are counted in (seconds).
pub const WINDOW: i64 = 15 * 60;
/// The longest delay (seconds).
pub const MAX_DELAY: i64 = 15 * 60;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// The latest failure: fifteen quiet minutes after it, the count starts again.
    last: i64,
    /// No try is checked before this instant.
    until: i64,
}

#[derive(Default)]
pub struct Throttle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    /// Failures counted in the window, this one included.
    pub failures: u32,
    /// Seconds before the next try is checked (0 while under [`FREE`]).
    pub delay: i64,
}

impl Failed {
    /// This failure starts a lockout (the audit notes it once per lockout).
    pub fn locks_out(&self) -> bool {
        self.failures == FREE
    }
}

impl Throttle {
    /// `Err(seconds)` while `address` must wait.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), i64> {
        let entries = self.entries.lock().expect("not poisoned");
        match entries.get(&address) {
            Some(e) if e.until > now.0 => Err(e.until - now.0),
            _ => Ok(()),
        }
    }

    /// Counts a failed try from `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) -> Failed {
        let mut entries = self.entries.lock().expect("not poisoned");
        let e = entries.entry(address).or_insert(Entry {
            failures: 0,
            last: now.0,
            until: now.0,
        });
        if now.0 - e.last > WINDOW && now.0 >= e.until {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now.0;
        let delay = if e.failures >= FREE {
            let doublings = (e.failures - FREE).min(20);
            (1i64 << doublings).min(MAX_DELAY)
        } else {
            0
        };
        e.until = now.0 + delay;
        // Forget quiet addresses, so the table stays small whatever is thrown at it.
        if entries.len() > 10_000 {
            entries.retain(|_, e| now.0 - e.last <= WINDOW || e.until > now.0);
        }
        Failed {
            failures: entries[&address].failures,
            delay,
        }
    }

    /// A good token from `address`: its count starts again.
    pub fn succeeded(&self, address: IpAddr) {
        self.entries.lock().expect("not poisoned").remove(&address);
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

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn after_five_failures_each_try_waits_a_doubling_delay_up_to_fifteen_minutes() {
        let t = Throttle::default();
        let mut now = Instant(1_700_000_000);
        for n in 1..FREE {
            assert_eq!(t.failed(A, now).delay, 0, "failure {n}");
            assert_eq!(t.check(A, now), Ok(()));
        }
        let fifth = t.failed(A, now);
        assert!(fifth.locks_out());
        assert_eq!(fifth.delay, 1);
        assert_eq!(t.check(A, now), Err(1), "even the right token waits");
        assert_eq!(t.check(B, now), Ok(()), "another address is not kept out");
        let mut delays = Vec::new();
        for _ in 0..12 {
            now = Instant(now.0 + t.check(A, now).err().unwrap_or(0));
            let f = t.failed(A, now);
            assert!(!f.locks_out());
            delays.push(f.delay);
        }
        assert_eq!(
            delays,
            [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900],
            "doubling, capped at 15 minutes"
        );
        // A success clears the address.
        now = Instant(now.0 + 900);
        t.succeeded(A);
        assert_eq!(t.failed(A, now).delay, 0);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let t = Throttle::default();
        let start = Instant(1_700_000_000);
        for _ in 0..FREE - 1 {
            t.failed(A, start);
        }
        let later = Instant(start.0 + WINDOW + 1);
        let f = t.failed(A, later);
        assert_eq!((f.failures, f.delay), (1, 0));
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
