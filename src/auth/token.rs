//! Logging in to the upstream systems with the `oauth2` crate: the password grant per unit for the
//! reporting systems, client credentials for the procedure-handling system, and the refresh grant.
//! Tokens are secrets: they are returned typed and never logged.

use super::vault::{Credential, System};
use crate::retry::RetryPolicy;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, StandardErrorResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Where and as which OAuth2 client a system's tokens are asked for.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEndpoint {
    /// The system's API base URL (for the reporting systems: before `/v1/reports`).
    #[serde(default)]
    pub base_url: Option<String>,
    pub token_url: String,
    /// The reporting systems' client id for the password grant (the source's comes from the vault).
    #[serde(default)]
    pub client_id: Option<String>,
    /// How long one request may take before it counts as a timeout (transient; retried).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How this system's transient answers are retried.
    #[serde(default)]
    pub retry: RetrySettings,
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// `[<system>.retry]`: attempts in all, the first back-off (doubled each time, with jitter) and
/// the longest wait, whatever Retry-After asks.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub cap_seconds: u64,
}

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        let policy = RetryPolicy::default();
        RetrySettings {
            max_attempts: policy.max_attempts,
            backoff_ms: policy.base.as_millis() as u64,
            cap_seconds: policy.cap.as_secs(),
        }
    }
}

impl TokenEndpoint {
    /// The retry policy of this system's client.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.retry.max_attempts.max(1),
            base: Duration::from_millis(self.retry.backoff_ms),
            cap: Duration::from_secs(self.retry.cap_seconds),
        }
    }

    /// An HTTP client for this system, its token calls and its API calls.
    pub fn http_client(&self) -> reqwest::Client {
        http_client(Duration::from_millis(self.timeout_ms))
    }
}

/// An access token, with what is needed to renew it.
pub struct Token {
    pub access: SecretString,
    /// Seconds of validity the server announced, if any.
    pub expires_in: Option<Duration>,
    pub refresh: Option<SecretString>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Token([hidden], expires in {:?}, refresh: {})",
            self.expires_in,
            self.refresh.is_some()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The password (or refresh token) was refused: a person must act.
    #[error(
        "login refused (invalid_grant): the password is wrong, expired or the account is locked"
    )]
    InvalidGrant,
    #[error(
        "the client is not accepted (invalid_client): check the client id and secret in the configuration"
    )]
    InvalidClient,
    #[error("the token endpoint answered {0}")]
    Refused(String),
    #[error("cannot reach the token endpoint: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Configuration(String),
}

type OauthError = RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
    StandardErrorResponse<BasicErrorResponseType>,
>;

fn classify(e: OauthError) -> TokenError {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => TokenError::InvalidGrant,
            BasicErrorResponseType::InvalidClient => TokenError::InvalidClient,
            other => TokenError::Refused(other.to_string()),
        },
        RequestTokenError::Request(e) => TokenError::Unreachable(e.to_string()),
        RequestTokenError::Parse(e, _) => {
            TokenError::Refused(format!("a body that does not parse ({e})"))
        }
        RequestTokenError::Other(e) => TokenError::Refused(e),
    }
}

fn token<R: TokenResponse>(r: R) -> Token {
    Token {
        access: SecretString::from(r.access_token().secret().clone()),
        expires_in: r.expires_in(),
        refresh: r
            .refresh_token()
            .map(|t| SecretString::from(t.secret().clone())),
    }
}

/// Adds `Authorization: Bearer <token>` to a request: the only place a token leaves its type.
pub fn authorize(
    request: reqwest::RequestBuilder,
    token: &SecretString,
) -> reqwest::RequestBuilder {
    request.bearer_auth(token.expose_secret())
}

/// An HTTP client: no redirects (a token endpoint that redirects is refused), each request
/// limited to `timeout`.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .expect("a TLS backend is compiled in")
}

/// Logs in with a stored credential.
#[tracing::instrument(name = "auth.login", skip_all, fields(system = %credential.system, unit = %credential.unit))]
pub async fn login(
    http: &reqwest::Client,
    endpoint: &TokenEndpoint,
    credential: &Credential,
) -> Result<Token, TokenError> {
    let url = TokenUrl::new(endpoint.token_url.clone())
        .map_err(|e| TokenError::Configuration(e.to_string()))?;
    match credential.system {
        System::Source => {
            let client = BasicClient::new(ClientId::new(credential.username.expose().to_owned()))
                .set_client_secret(ClientSecret::new(
                    credential.password.expose_secret().to_owned(),
                ))
                .set_token_uri(url);
            client
                .exchange_client_credentials()
                .request_async(http)
                .await
                .map(token)
                .map_err(classify)
        }
        System::Central | System::Provincial => {
            let client_id = endpoint.client_id.clone().ok_or_else(|| {
                TokenError::Configuration(format!(
                    "no client_id for the {} token endpoint",
                    credential.system
                ))
            })?;
            let client = BasicClient::new(ClientId::new(client_id))
                .set_token_uri(url)
                .set_auth_type(AuthType::RequestBody);
            let username = ResourceOwnerUsername::new(credential.username.expose().to_owned());
            let password =
                ResourceOwnerPassword::new(credential.password.expose_secret().to_owned());
            client
                .exchange_password(&username, &password)
                .request_async(http)
                .await
                .map(token)
                .map_err(classify)
        }
    }
}

/// Renews a token with its refresh token; `InvalidGrant` means log in again with the password.
#[tracing::instrument(name = "auth.refresh", skip_all)]
pub async fn refresh(
    http: &reqwest::Client,
    endpoint: &TokenEndpoint,
    refresh: &SecretString,
) -> Result<Token, TokenError> {
    let url = TokenUrl::new(endpoint.token_url.clone())
        .map_err(|e| TokenError::Configuration(e.to_string()))?;
    let client_id = endpoint.client_id.clone().unwrap_or_default();
    let client = BasicClient::new(ClientId::new(client_id))
        .set_token_uri(url)
        .set_auth_type(AuthType::RequestBody);
    let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
    client
        .exchange_refresh_token(&refresh)
        .request_async(http)
        .await
        .map(token)
        .map_err(classify)
}
