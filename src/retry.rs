//! Retry policy, shared by every client: decide first whether an answer is worth retrying, then
//! wait. 429 and 503 honour `Retry-After`; other 5xx and timeouts back off exponentially with
//! jitter up to a cap; other 4xx are final. Waiting is `tokio::time::sleep`, so tests run on a
//! paused clock; on a simulated daemon clock ([`RetryPolicy::on_clock`]) a wait takes its share of
//! real time.
//!
//! Two ways to stop: after a number of attempts (the reporting systems' writes, each attempt of
//! which the outbox counts again), or when a time budget runs out ([`RetryPolicy::within`]: source
//! pulls, which must get through a gateway's bad hour on their own). Within a budget a server's
//! `Retry-After` is the floor of a wait, not its ceiling.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off; doubled each attempt.
    pub base: Duration,
    /// No back-off is longer; no `Retry-After` either, unless `deadline` is set.
    pub cap: Duration,
    /// Retries stop when the next wait would end past this instant (then `max_attempts` does not
    /// count).
    pub deadline: Option<tokio::time::Instant>,
    /// How many times as fast as real time the clock the waits are on runs (1 unless the
    /// daemon's clock is simulated): a wait of `d` takes `d / speed` of real time.
    pub speed: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            deadline: None,
            speed: 1,
        }
    }
}

/// What one attempt says.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Final: success, or a failure retrying cannot mend.
    Done(T),
    /// Worth another try, after the server's `Retry-After` if it gave one.
    Retry { result: T, after: Option<Duration> },
}

impl RetryPolicy {
    /// Retries by time: back off from `base` to `cap` with jitter, `Retry-After` as a floor, for as
    /// long as `budget` (from now) allows.
    pub fn within(base: Duration, cap: Duration, budget: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts: u32::MAX,
            base,
            cap,
            deadline: Some(tokio::time::Instant::now() + budget),
            speed: 1,
        }
    }

    /// The same policy on a clock running `speed` times as fast as real time (a simulated
    /// quarter): every wait, and what is left of the budget, take `1 / speed` of their real time.
    pub fn on_clock(mut self, speed: u32) -> RetryPolicy {
        let speed = speed.max(1);
        let now = tokio::time::Instant::now();
        self.deadline = self
            .deadline
            .map(|d| now + d.saturating_duration_since(now) * self.speed / speed);
        self.speed = speed;
        self
    }

    /// The real time a wait of this policy's clock takes.
    fn real(&self, wait: Duration) -> Duration {
        wait / self.speed.max(1)
    }

    /// The wait before attempt `n + 1` (n from 1): the server's word if any (capped, unless a
    /// budget rules), else "full jitter" — a random wait up to `base × 2^(n-1)`, capped.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1 << (attempt.max(1) - 1).min(20))
            .min(self.cap);
        // Jitter needs no cryptography: the process's random hasher keys are enough.
        let fraction = (RandomState::new().hash_one(attempt) % 1000) as u32;
        let jittered = ceiling * fraction / 1000;
        match (retry_after, self.deadline) {
            (Some(after), Some(_)) => after.max(jittered),
            (Some(after), None) => after.min(self.cap),
            (None, _) => jittered,
        }
    }

    /// Whether another attempt may be made after `attempt`, waiting `wait`.
    fn may_retry(&self, attempt: u32, wait: Duration) -> bool {
        match self.deadline {
            Some(deadline) => tokio::time::Instant::now() + self.real(wait) <= deadline,
            None => attempt < self.max_attempts,
        }
    }

    /// Runs `op` until it is done or attempts run out; returns the last result.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> T
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { result, after } => {
                    let wait = self.delay(attempt, after);
                    if !self.may_retry(attempt, wait) {
                        return result;
                    }
                    tracing::info!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying after a transient failure"
                    );
                    tokio::time::sleep(self.real(wait)).await;
                    attempt += 1;
                }
            }
        }
    }
}

impl RetryPolicy {
    /// Runs `op` until its result is final or attempts run out; `transient` says whether a result
    /// is worth another try, and after what wait the server asked for (`Some(None)`: none).
    pub async fn run_while<T, F, Fut>(
        &self,
        mut op: F,
        transient: impl Fn(&T) -> Option<Option<Duration>>,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        // A plain loop rather than `run` with a closure: a future that borrows from a closure's
        // captures cannot be shown `Send` for every lifetime, and pulls run on spawned tasks.
        let mut attempt = 1;
        loop {
            let result = op().await;
            let Some(after) = transient(&result) else {
                return result;
            };
            let wait = self.delay(attempt, after);
            if !self.may_retry(attempt, wait) {
                return result;
            }
            tracing::info!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying after a transient failure"
            );
            tokio::time::sleep(self.real(wait)).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_then_success() {
        let policy = RetryPolicy::default();
        let started = Instant::now();
        let result = policy
            .run(|n| async move {
                if n < 3 {
                    Attempt::Retry {
                        result: n,
                        after: Some(Duration::from_secs(30)),
                    }
                } else {
                    Attempt::Done(n)
                }
            })
            .await;
        assert_eq!(result, 3);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(60),
            "two waits of Retry-After, on the paused clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_while_retries_only_what_is_transient() {
        let started = Instant::now();
        let mut calls = 0;
        let result = RetryPolicy::default()
            .run_while(
                || {
                    calls += 1;
                    let n = calls;
                    async move { n }
                },
                |n| (*n < 3).then_some(Some(Duration::from_secs(2))),
            )
            .await;
        assert_eq!(result, 3);
        assert_eq!(started.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn final_answers_are_not_retried() {
        let started = Instant::now();
        let mut calls = 0;
        let result = RetryPolicy::default()
            .run(|_| {
                calls += 1;
                async { Attempt::Done("403 forbidden") }
            })
            .await;
        assert_eq!((result, calls), ("403 forbidden", 1));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn back_off_grows_is_capped_and_stops() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(3),
            deadline: None,
            speed: 1,
        };
        let started = Instant::now();
        let result = policy
            .run(|n| async move {
                Attempt::Retry {
                    result: n,
                    after: None,
                }
            })
            .await;
        assert_eq!(result, 4, "the last attempt's result");
        // Waits of at most 1, 2 and 3 (capped) seconds.
        assert!(
            started.elapsed() <= Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        for n in 1..10 {
            assert!(policy.delay(n, None) <= Duration::from_secs(3));
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(3),
            "even Retry-After is capped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_clock_sixty_times_as_fast_a_wait_and_a_budget_take_a_sixtieth_of_real_time() {
        // The server asks for 120 s each time: on a clock 60× as fast each wait is 2 s of real
        // time, and a budget of 600 s of that clock (10 s real) holds five of them.
        let policy = RetryPolicy::within(
            Duration::from_secs(1),
            Duration::from_secs(300),
            Duration::from_secs(600),
        )
        .on_clock(60);
        let started = Instant::now();
        let mut calls = 0u32;
        let result = policy
            .run_while(
                || {
                    calls += 1;
                    let n = calls;
                    async move { n }
                },
                |_| Some(Some(Duration::from_secs(120))),
            )
            .await;
        assert_eq!(result, 6, "the first attempt and five retries");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_retries_past_any_count_and_stops_at_its_end() {
        let policy = RetryPolicy::within(
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(60),
        );
        let started = Instant::now();
        let mut calls = 0u32;
        // Transient forty times, then through: far more than any count-based policy allows.
        let result = policy
            .run_while(
                || {
                    calls += 1;
                    let n = calls;
                    async move { n }
                },
                |n| (*n <= 40).then_some(None),
            )
            .await;
        assert_eq!(result, 41);
        assert!(started.elapsed() <= Duration::from_secs(60));

        let policy = RetryPolicy::within(
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(10),
        );
        let started = Instant::now();
        let result = policy.run_while(|| async { "503" }, |_| Some(None)).await;
        assert_eq!(result, "503", "the last answer, once the budget is spent");
        assert!(started.elapsed() <= Duration::from_secs(10));
        assert!(
            started.elapsed() >= Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn within_a_budget_retry_after_is_a_floor() {
        let policy = RetryPolicy {
            deadline: Some(tokio::time::Instant::now() + Duration::from_secs(3600)),
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(600),
            "past the cap: the server asked"
        );
        assert!(policy.delay(9, Some(Duration::from_millis(1))) >= Duration::from_millis(1));
    }
}
