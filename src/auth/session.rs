//! A login session for one (system, unit): the token is fetched once and shared by concurrent
//! requests; it is renewed a little before it expires (with the refresh token when the server gave
//! one, else by logging in again) and once when a request reports it refused (401). Callers never
//! see how.

use super::token::{Token, TokenEndpoint, TokenError, login, refresh};
use super::vault::Credential;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// What "now" is, injected so that expiry can be tested without waiting.
pub type Clock = Arc<dyn Fn() -> std::time::Instant + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(std::time::Instant::now)
}

/// A clock running `speed` times as fast as real time from now (the daemon's simulated quarter,
/// whose reporting systems count token lives on the same clock); the system clock at speed 1.
pub fn scaled_clock(speed: u32) -> Clock {
    scaled(system_clock(), speed)
}

/// `base`, running `speed` times as fast from the moment this is called.
fn scaled(base: Clock, speed: u32) -> Clock {
    if speed <= 1 {
        return base;
    }
    let start = base();
    Arc::new(move || start + (base() - start) * speed)
}

/// A token in use, and when to renew it.
struct Current {
    access: SecretString,
    refresh: Option<SecretString>,
    /// `None` when the server did not say how long the token lives.
    renew_at: Option<std::time::Instant>,
}

pub struct Session {
    http: reqwest::Client,
    endpoint: TokenEndpoint,
    credential: Credential,
    clock: Clock,
    current: tokio::sync::Mutex<Option<Current>>,
}

/// A token is renewed this long before it expires: a tenth of its life, at most a minute.
pub(super) fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(60))
}

impl Session {
    pub fn new(http: reqwest::Client, endpoint: TokenEndpoint, credential: Credential) -> Session {
        Session::with_clock(http, endpoint, credential, system_clock())
    }

    pub fn with_clock(
        http: reqwest::Client,
        endpoint: TokenEndpoint,
        credential: Credential,
        clock: Clock,
    ) -> Session {
        Session {
            http,
            endpoint,
            credential,
            clock,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The current token: logging in if there is none yet, renewing it if it is about to expire.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut current = self.current.lock().await;
        let now = (self.clock)();
        match current.as_ref() {
            Some(c) if c.renew_at.is_none_or(|at| now < at) => Ok(c.access.clone()),
            Some(c) => {
                tracing::debug!(system = %self.credential.system, unit = %self.credential.unit, "token about to expire; renewing it");
                let refreshed = match &c.refresh {
                    Some(r) => match refresh(&self.http, &self.endpoint, r).await {
                        Ok(t) => Some(t),
                        // The refresh token is no longer good: log in with the password.
                        Err(TokenError::InvalidGrant) => None,
                        Err(e) => return Err(e),
                    },
                    None => None,
                };
                let fresh = match refreshed {
                    Some(t) => t,
                    None => login(&self.http, &self.endpoint, &self.credential).await?,
                };
                Ok(self.keep(&mut current, fresh))
            }
            None => {
                let fresh = login(&self.http, &self.endpoint, &self.credential).await?;
                Ok(self.keep(&mut current, fresh))
            }
        }
    }

    /// `refused` was answered 401: log in again, unless another request already did.
    pub async fn renew(&self, refused: &SecretString) -> Result<SecretString, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && c.access.expose_secret() != refused.expose_secret()
        {
            return Ok(c.access.clone());
        }
        tracing::info!(system = %self.credential.system, unit = %self.credential.unit, "token refused; logging in again");
        let fresh = login(&self.http, &self.endpoint, &self.credential).await?;
        Ok(self.keep(&mut current, fresh))
    }

    /// Runs `call` with the current token; when its answer says the token was `refused` (401),
    /// renews the token once and runs `call` again with the new one. `Err`: logging in failed.
    pub async fn with_token<T, F, Fut>(
        &self,
        call: F,
        refused: impl Fn(&T) -> bool,
    ) -> Result<T, TokenError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let token = self.token().await?;
        let answer = call(token.clone()).await;
        if !refused(&answer) {
            return Ok(answer);
        }
        let renewed = self.renew(&token).await?;
        Ok(call(renewed).await)
    }

    fn keep(&self, current: &mut Option<Current>, token: Token) -> SecretString {
        let obtained = (self.clock)();
        // A refresh answer without a new refresh token leaves the old one in use.
        let refresh = token
            .refresh
            .or_else(|| current.take().and_then(|c| c.refresh));
        let access = token.access.clone();
        *current = Some(Current {
            access: token.access,
            refresh,
            renew_at: token
                .expires_in
                .map(|lifetime| obtained + lifetime - margin(lifetime)),
        });
        access
    }
}

#[cfg(test)]
mod tests {
    use super::{margin, scaled};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[test]
    fn a_scaled_clock_runs_speed_times_as_fast() {
        // A base clock that moves only when told to, by whole milliseconds.
        let origin = std::time::Instant::now();
        let moved = Arc::new(AtomicU64::new(0));
        let hand = moved.clone();
        let base: super::Clock =
            Arc::new(move || origin + Duration::from_millis(hand.load(Ordering::SeqCst)));
        let clock = scaled(base.clone(), 3600);
        let unscaled = scaled(base, 1);
        let start = clock();
        moved.store(500, Ordering::SeqCst);
        assert_eq!(
            clock() - start,
            Duration::from_secs(1800),
            "0.5 s real is 30 min"
        );
        assert_eq!(unscaled() - origin, Duration::from_millis(500));
    }

    #[test]
    fn tokens_are_renewed_a_tenth_of_their_life_early_at_most_a_minute() {
        assert_eq!(margin(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(margin(Duration::from_secs(0)), Duration::ZERO);
    }
}
