//! Retry policy, shared by every client: decide first whether an answer is worth retrying, then
//! wait. 429 and 503 honour `Retry-After`; other 5xx and timeouts back off exponentially with
//! jitter up to a cap; other 4xx are final. Waiting is `tokio::time::sleep`, so tests run on a
//! paused clock.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off; doubled each attempt.
    pub base: Duration,
    /// No wait is longer, whatever the server asks.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
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
    /// The wait before attempt `n + 1` (n from 1): the server's word if any (capped), else "full
    /// jitter" — a random wait up to `base × 2^(n-1)`, capped.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.cap);
        }
        let ceiling = self
            .base
            .saturating_mul(1 << (attempt - 1).min(20))
            .min(self.cap);
        // Jitter needs no cryptography: the process's random hasher keys are enough.
        let fraction = (RandomState::new().hash_one(attempt) % 1000) as u32;
        ceiling * fraction / 1000
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
                Attempt::Retry { result, .. } if attempt >= self.max_attempts => return result,
                Attempt::Retry { after, .. } => {
                    let wait = self.delay(attempt, after);
                    tracing::info!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying after a transient failure"
                    );
                    tokio::time::sleep(wait).await;
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
            match transient(&result) {
                Some(after) if attempt < self.max_attempts => {
                    let wait = self.delay(attempt, after);
                    tracing::info!(
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying after a transient failure"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return result,
            }
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
}
