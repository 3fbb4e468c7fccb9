//! A login session for one (system, unit): the token is fetched once, shared by concurrent
//! requests, and renewed once when a request reports it refused (401). Callers never see how.

use super::token::{TokenEndpoint, TokenError, login};
use super::vault::Credential;
use secrecy::{ExposeSecret, SecretString};

pub struct Session {
    http: reqwest::Client,
    endpoint: TokenEndpoint,
    credential: Credential,
    current: tokio::sync::Mutex<Option<SecretString>>,
}

impl Session {
    pub fn new(http: reqwest::Client, endpoint: TokenEndpoint, credential: Credential) -> Session {
        Session {
            http,
            endpoint,
            credential,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The current token, logging in if there is none yet.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref() {
            return Ok(t.clone());
        }
        let fresh = login(&self.http, &self.endpoint, &self.credential)
            .await?
            .access;
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// `refused` was answered 401: log in again, unless another request already did.
    pub async fn renew(&self, refused: &SecretString) -> Result<SecretString, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref()
            && t.expose_secret() != refused.expose_secret()
        {
            return Ok(t.clone());
        }
        tracing::info!(system = %self.credential.system, unit = %self.credential.unit, "token refused; logging in again");
        let fresh = login(&self.http, &self.endpoint, &self.credential)
            .await?
            .access;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}
