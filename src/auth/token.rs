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
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
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
    /// Plain `http://` to a host that is not on loopback is refused unless this is set.
    #[serde(default)]
    pub allow_http: bool,
    /// A PEM file of the certificate authority that signed this system's certificate, for a
    /// private CA; trusted besides the public roots. TLS verification is always on.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Answers longer than this are refused (a page, a report or a token answer).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The CA certificate read from `ca_file` (by `configuration`, which reads files).
    #[serde(skip)]
    pub ca_pem: Option<Vec<u8>>,
}

fn default_max_body_bytes() -> usize {
    64 << 20
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// `[<system>.retry]`: attempts in all, the first back-off (doubled each time, with jitter) and
/// the longest wait, whatever Retry-After asks.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub backoff_ms: u64,
    pub cap_seconds: u64,
    /// For the procedure-handling system only: pulls retry by time, within this many seconds
    /// (`max_attempts` does not bound them; the default budget is `[[sources]]`' own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_seconds: Option<u64>,
}

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        let policy = RetryPolicy::default();
        RetrySettings {
            max_attempts: policy.max_attempts,
            backoff_ms: policy.base.as_millis() as u64,
            cap_seconds: policy.cap.as_secs(),
            budget_seconds: None,
        }
    }
}

impl TokenEndpoint {
    /// A token endpoint at `token_url` with the defaults of the configuration file.
    pub fn at(token_url: impl Into<String>) -> TokenEndpoint {
        TokenEndpoint {
            base_url: None,
            token_url: token_url.into(),
            client_id: None,
            timeout_ms: default_timeout_ms(),
            retry: RetrySettings::default(),
            allow_http: false,
            ca_file: None,
            max_body_bytes: default_max_body_bytes(),
            ca_pem: None,
        }
    }

    /// The retry policy of this system's client.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.retry.max_attempts.max(1),
            base: Duration::from_millis(self.retry.backoff_ms),
            cap: Duration::from_secs(self.retry.cap_seconds),
            deadline: None,
            speed: 1,
        }
    }

    /// An HTTP client for this system, its token calls and its API calls: the system's timeout,
    /// its private CA if it has one, certificate verification always on.
    pub fn http_client(&self) -> reqwest::Client {
        http_client_with(
            Duration::from_millis(self.timeout_ms),
            self.ca_pem.as_deref(),
        )
    }

    /// Refuses URLs the product must not use: not http(s), or plain http to a host that is not on
    /// loopback without `allow_http`; and a CA file that holds no certificate. `system` names the
    /// section in messages.
    pub fn check(&self, system: &str) -> Result<(), String> {
        let section = format!("[{system}]");
        check_url(&section, "token_url", &self.token_url, self.allow_http)?;
        if let Some(base) = &self.base_url {
            check_url(&section, "base_url", base, self.allow_http)?;
        }
        if let (Some(path), Some(pem)) = (&self.ca_file, &self.ca_pem) {
            match reqwest::Certificate::from_pem_bundle(pem) {
                Ok(certs) if !certs.is_empty() => {}
                _ => {
                    return Err(format!(
                        "[{system}] ca_file {} holds no PEM certificate",
                        path.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Refuses a URL the product must not use: not http(s), or plain http to a host that is not on
/// loopback unless `allow_http`. `section` and `name` say where it is configured.
pub fn check_url(section: &str, name: &str, url: &str, allow_http: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| format!("{section} {name} `{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "{section} {name} `{url}` is plain http to a host that is not on loopback: \
             use https (or set allow_http = true for a network you trust)"
        )),
        other => Err(format!(
            "{section} {name} `{url}`: scheme `{other}` is not http or https"
        )),
    }
}

/// An HTTP client: no redirects, each request limited to `timeout`, a private CA's certificates
/// (PEM, checked when the configuration was read) trusted besides the public roots.
pub fn http_client_with(timeout: Duration, ca_pem: Option<&[u8]>) -> reqwest::Client {
    let mut builder = client_builder(timeout);
    if let Some(pem) = ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default() {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().expect("a TLS backend is compiled in")
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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
    /// Another OAuth2 error: final for this login.
    #[error("the token endpoint answered {0}")]
    Refused(String),
    /// No usable answer for now (5xx, 429, a timeout, no connection, a body that is not an
    /// OAuth2 answer): retried like the APIs.
    #[error("the token endpoint cannot be used for now: {0}")]
    Transient(String),
    #[error("{0}")]
    Configuration(String),
}

impl TokenError {
    /// Worth another try later.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Transient(_))
    }
}

type OauthError = RequestTokenError<TransportError, StandardErrorResponse<BasicErrorResponseType>>;

/// Why a token request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(String, bool);

impl TransportError {
    fn new(message: String) -> TransportError {
        TransportError(message, false)
    }
}

/// Classifies a token endpoint's answer. Only an OAuth2 error body on a 4xx is final; 5xx and 429
/// are transient whatever their body says, and so is an answer that is not OAuth2 at all (a
/// proxy's error page, a truncated body).
fn classify(e: OauthError, status: Option<u16>) -> TokenError {
    if let Some(s) = status
        && (s == 429 || s >= 500)
    {
        return TokenError::Transient(format!("HTTP {s}"));
    }
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => TokenError::InvalidGrant,
            BasicErrorResponseType::InvalidClient => TokenError::InvalidClient,
            other => TokenError::Refused(other.to_string()),
        },
        RequestTokenError::Request(e) if e.1 => TokenError::Configuration(e.0),
        RequestTokenError::Request(e) => TokenError::Transient(e.to_string()),
        RequestTokenError::Parse(e, _) => TokenError::Transient(format!(
            "HTTP {}: an answer that is not OAuth2 ({e})",
            status.map_or_else(|| "?".to_owned(), |s| s.to_string())
        )),
        RequestTokenError::Other(e) => TokenError::Transient(e),
    }
}

/// Token lifetimes are kept within these bounds whatever the server announces: a zero would make
/// every call log in again, a year would outlive any revocation.
const SHORTEST_LIFETIME: Duration = Duration::from_secs(10);
const LONGEST_LIFETIME: Duration = Duration::from_secs(24 * 3600);

fn token<R: TokenResponse>(r: R) -> Token {
    Token {
        access: SecretString::from(r.access_token().secret().clone()),
        expires_in: r
            .expires_in()
            .map(|d| d.clamp(SHORTEST_LIFETIME, LONGEST_LIFETIME)),
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

/// An HTTP client builder: no redirects (a token endpoint that redirects is refused), each
/// request limited to `timeout`.
fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
}

/// An HTTP client with the public roots only (see [`TokenEndpoint::http_client`]).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    client_builder(timeout)
        .build()
        .expect("a TLS backend is compiled in")
}

/// The oauth2 crate's HTTP client: reqwest, remembering the answer's status for [`classify`]
/// and refusing a body over `max` bytes. A named type with a boxed `Send` future (rather than a
/// closure) so that a login can run on a spawned task.
struct Exchange<'a> {
    http: &'a reqwest::Client,
    max: usize,
    status: std::sync::Mutex<Option<u16>>,
    /// For the metrics: which system's token endpoint.
    system: &'static str,
}

impl<'a> Exchange<'a> {
    fn new(http: &'a reqwest::Client, max: usize, system: &'static str) -> Exchange<'a> {
        Exchange {
            http,
            max,
            status: std::sync::Mutex::new(None),
            system,
        }
    }

    /// Counts the login's outcome and hands it on.
    fn outcome<T>(&self, answer: Result<T, TokenError>) -> Result<T, TokenError> {
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(e) if e.is_transient() => "unavailable",
            Err(_) => "refused",
        };
        crate::telemetry::events::login(self.system, outcome);
        answer
    }

    fn status(&self) -> Option<u16> {
        *self.status.lock().expect("not poisoned")
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Exchange<'_> {
    type Error = TransportError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, TransportError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let answer = exchange(self.http, request, self.max, &self.status).await;
            let status = *self.status.lock().expect("not poisoned");
            crate::telemetry::events::upstream_request(
                self.system,
                status.into(),
                started.elapsed().as_secs_f64(),
            );
            answer
        })
    }
}

/// One token request through `http`.
async fn exchange(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
    max: usize,
    status: &std::sync::Mutex<Option<u16>>,
) -> Result<oauth2::HttpResponse, TransportError> {
    let request =
        reqwest::Request::try_from(request).map_err(|e| TransportError::new(e.to_string()))?;
    let response = http
        .execute(request)
        .await
        .map_err(|e| match untrusted_certificate(&e) {
            Some(why) => TransportError(why, true),
            None => TransportError::new(e.to_string()),
        })?;
    *status.lock().expect("not poisoned") = Some(response.status().as_u16());
    let mut builder = oauth2::http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = crate::http::read_capped(response, max)
        .await
        .map_err(|e| TransportError::new(e.to_string()))?;
    builder
        .body(body)
        .map_err(|e| TransportError::new(e.to_string()))
}

/// When a request failed because the server's certificate is not trusted (a private certificate
/// authority not configured, a wrong host name, an expired certificate): why, with the fix. No
/// retry mends that.
pub fn untrusted_certificate(e: &reqwest::Error) -> Option<String> {
    use tokio_rustls::rustls;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(rustls::Error::InvalidCertificate(why)) = c.downcast_ref::<rustls::Error>() {
            return Some(format!(
                "the server's certificate is not trusted ({why:?}): if the system uses a private \
                 certificate authority, give its certificate as ca_file"
            ));
        }
        // An I/O error wrapping another hands on the wrapped one itself (its `source()` skips it).
        cause = match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    None
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
    let client = Exchange::new(http, endpoint.max_body_bytes, credential.system.as_str());
    let answer = match credential.system {
        System::Source => {
            BasicClient::new(ClientId::new(credential.username.expose().to_owned()))
                .set_client_secret(ClientSecret::new(
                    credential.password.expose_secret().to_owned(),
                ))
                .set_token_uri(url)
                .exchange_client_credentials()
                .request_async(&client)
                .await
        }
        System::Central | System::Provincial => {
            let client_id = endpoint.client_id.clone().ok_or_else(|| {
                TokenError::Configuration(format!(
                    "no client_id for the {} token endpoint",
                    credential.system
                ))
            })?;
            let username = ResourceOwnerUsername::new(credential.username.expose().to_owned());
            let password =
                ResourceOwnerPassword::new(credential.password.expose_secret().to_owned());
            BasicClient::new(ClientId::new(client_id))
                .set_token_uri(url)
                .set_auth_type(AuthType::RequestBody)
                .exchange_password(&username, &password)
                .request_async(&client)
                .await
        }
    };
    client.outcome(answer.map(token).map_err(|e| classify(e, client.status())))
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
    let client = Exchange::new(http, endpoint.max_body_bytes, "refresh");
    let client_id = endpoint.client_id.clone().unwrap_or_default();
    let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
    let answer = BasicClient::new(ClientId::new(client_id))
        .set_token_uri(url)
        .set_auth_type(AuthType::RequestBody)
        .exchange_refresh_token(&refresh)
        .request_async(&client)
        .await;
    client.outcome(answer.map(token).map_err(|e| classify(e, client.status())))
}

/// An OAuth2 grant a source's authentication asks for (`auth::source`).
pub enum Grant<'a> {
    /// `client_credentials`; the client authenticates in a Basic header (WSO2's way) or in the
    /// body (Keycloak takes both).
    ClientCredentials {
        client_id: &'a str,
        secret: &'a SecretString,
        basic: bool,
        scope: Option<&'a str>,
    },
    /// `password` (OpenID Connect's resource-owner grant), a public client or one with a secret.
    Password {
        client_id: &'a str,
        client_secret: Option<&'a SecretString>,
        username: &'a str,
        password: &'a SecretString,
        scope: Option<&'a str>,
    },
    /// `refresh_token`.
    Refresh {
        client_id: &'a str,
        client_secret: Option<&'a SecretString>,
        refresh: &'a SecretString,
    },
}

/// Asks `token_url` for a token by `grant`; `label` names the endpoint in metrics.
#[tracing::instrument(name = "auth.grant", skip_all, fields(endpoint = label))]
pub async fn grant(
    http: &reqwest::Client,
    token_url: &str,
    max_body: usize,
    label: &'static str,
    grant: &Grant<'_>,
) -> Result<Token, TokenError> {
    let url = TokenUrl::new(token_url.to_owned())
        .map_err(|e| TokenError::Configuration(e.to_string()))?;
    let client = Exchange::new(http, max_body, label);
    let with_secret = |id: &str, secret: Option<&SecretString>| {
        let c = BasicClient::new(ClientId::new(id.to_owned())).set_token_uri(url.clone());
        match secret {
            Some(s) => c.set_client_secret(ClientSecret::new(s.expose_secret().to_owned())),
            None => c,
        }
    };
    let answer = match grant {
        Grant::ClientCredentials {
            client_id,
            secret,
            basic,
            scope,
        } => {
            let auth = if *basic {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            };
            let c = with_secret(client_id, Some(secret)).set_auth_type(auth);
            let mut request = c.exchange_client_credentials();
            if let Some(scope) = scope {
                request = request.add_scope(oauth2::Scope::new((*scope).to_owned()));
            }
            request.request_async(&client).await
        }
        Grant::Password {
            client_id,
            client_secret,
            username,
            password,
            scope,
        } => {
            let username = ResourceOwnerUsername::new((*username).to_owned());
            let password = ResourceOwnerPassword::new(password.expose_secret().to_owned());
            let c = with_secret(client_id, *client_secret).set_auth_type(AuthType::RequestBody);
            let mut request = c.exchange_password(&username, &password);
            if let Some(scope) = scope {
                request = request.add_scope(oauth2::Scope::new((*scope).to_owned()));
            }
            request.request_async(&client).await
        }
        Grant::Refresh {
            client_id,
            client_secret,
            refresh,
        } => {
            let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
            let c = with_secret(client_id, *client_secret).set_auth_type(AuthType::RequestBody);
            c.exchange_refresh_token(&refresh)
                .request_async(&client)
                .await
        }
    };
    client.outcome(answer.map(token).map_err(|e| classify(e, client.status())))
}

/// A token from an answer that is not shaped by a library (VNPT's LGSP): `access_token` and
/// maybe `expires_in`, or why there is none. `status` is the answer's HTTP status.
pub fn token_from_json(status: u16, body: &[u8]) -> Result<Token, TokenError> {
    if status == 429 || status >= 500 {
        return Err(TokenError::Transient(format!("HTTP {status}")));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        TokenError::Transient(format!("HTTP {status}: an answer that is not JSON ({e})"))
    })?;
    let access = value
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty());
    match access {
        Some(access) if status < 300 => Ok(Token {
            access: SecretString::from(access.to_owned()),
            expires_in: value
                .get("expires_in")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .map(|s| Duration::from_secs(s).clamp(SHORTEST_LIFETIME, LONGEST_LIFETIME)),
            refresh: None,
        }),
        _ => match value.get("error").and_then(serde_json::Value::as_str) {
            Some("invalid_grant") => Err(TokenError::InvalidGrant),
            Some("invalid_client") => Err(TokenError::InvalidClient),
            Some(other) => Err(TokenError::Refused(other.to_owned())),
            None if status == 401 || status == 403 => Err(TokenError::InvalidClient),
            None => Err(TokenError::Refused(format!(
                "HTTP {status} without a token"
            ))),
        },
    }
}
