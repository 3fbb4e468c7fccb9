//! Authentication as a layer the source protocols share (real-sources.md): none; a login that
//! answers a session or a token (the national portal's envelope: `{username, password}` and a
//! `dstcode` header → `session`; a queue's `GetToken` → `token`); OpenID Connect's password and
//! client-credentials grants (the `oauth2` crate); WSO2's client credentials; VNPT's LGSP
//! (`lgspaccesstoken` + Bearer); extra fixed headers; and an LGSP gateway in front of any of them.
//!
//! What a call needs is a [`Material`]: the only way secrets reach a request, typed until then.
//! Tokens and sessions are cached (a login's session no longer than `session_minutes`, an OAuth2
//! token until a little before it expires) and renewed when an answer says they are gone.
//! Secrets come only from the vault, opened by the caller; this module sees no store.

use super::token::{Grant, Token, TokenError, grant, token_from_json};
use super::vault::Credential;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a source authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// Nothing but the fixed headers.
    None,
    /// OAuth2 client credentials (Keycloak, our own contract): the vault's user name is the
    /// client id, its password the secret.
    #[default]
    Oauth2ClientCredentials,
    /// OpenID Connect's password grant (VNPT iGate's Keycloak realm): the vault's login is the
    /// user's; `client_id` the realm's client (its secret from the vault entry `NAME:client` when
    /// `client_secret = true`).
    Oauth2Password,
    /// A login answering a session or a token in JSON (`login_path`, `login_body`,
    /// `token_field`), used in the body or as a Bearer token (`token_use`).
    Login,
    /// WSO2 API Manager: client credentials at `{base_url}/token`, the client in a Basic header.
    Wso2,
    /// VNPT's LGSP: `lgspaccesstoken: base64(JSON {AccessKey, SecretKey, AppName, PartnerCode,
    /// PartnerCodeCus})` (the vault's login is the access key and secret key), a token from
    /// `token_url` with that header, then both on every call.
    VnptLgsp,
}

/// Where a login's token goes on each call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    /// In the JSON body, as `body_field` (the envelope's `session`).
    #[default]
    Body,
    /// `Authorization: Bearer`.
    Bearer,
}

/// VNPT LGSP's application identity (not secret).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lgsp {
    pub app_name: String,
    pub partner_code: String,
    pub partner_code_cus: String,
}

/// An LGSP gateway in front of the source: its token goes on every call, the login's too.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// `wso2` or `vnpt_lgsp`.
    pub kind: AuthKind,
    pub token_url: String,
    #[serde(default)]
    pub lgsp: Lgsp,
}

/// `[sources.auth]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub kind: AuthKind,
    /// The token endpoint (OAuth2, WSO2, VNPT LGSP): a URL, or a path under the base URL.
    pub token_url: Option<String>,
    /// The OpenID Connect client of the password grant.
    pub client_id: Option<String>,
    /// The password grant's client has a secret (in the vault entry `NAME:client`).
    pub client_secret: bool,
    pub scope: Option<String>,
    /// A login: where, with which JSON body (`{username}` and `{password}` replaced by the
    /// vault's login), which answer field holds the token, and where it goes.
    pub login_path: String,
    pub login_body: BTreeMap<String, String>,
    pub token_field: String,
    pub token_use: TokenUse,
    pub body_field: String,
    /// The envelope's routing code, sent as the `dstcode` header with every call.
    pub dstcode: Option<String>,
    /// A login's session is used no longer than this.
    pub session_minutes: u64,
    /// Fixed headers on every call (`SENDER_CODE`, `TRAN_CODE`, `RECEIVER_CODE`, …).
    pub headers: BTreeMap<String, String>,
    pub lgsp: Lgsp,
    pub gateway: Option<Gateway>,
    /// Today's `[upstreams.source]`: its login may be kept under the vault's `*`.
    #[serde(skip)]
    pub legacy_vault_entry: bool,
}

impl Default for AuthSettings {
    fn default() -> AuthSettings {
        AuthSettings {
            kind: AuthKind::default(),
            token_url: None,
            client_id: None,
            client_secret: false,
            scope: None,
            login_path: "/auth".to_owned(),
            login_body: BTreeMap::from([
                ("username".to_owned(), "{username}".to_owned()),
                ("password".to_owned(), "{password}".to_owned()),
            ]),
            token_field: "session".to_owned(),
            token_use: TokenUse::Body,
            body_field: "session".to_owned(),
            dstcode: None,
            session_minutes: 10,
            headers: BTreeMap::new(),
            lgsp: Lgsp::default(),
            gateway: None,
            legacy_vault_entry: false,
        }
    }
}

/// The vault entries a source's authentication reads, besides its own name.
pub const CLIENT_PART: &str = "client";
pub const GATEWAY_PART: &str = "gateway";

impl AuthSettings {
    /// The URLs it calls (name, URL or path), for checks.
    pub fn urls(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self.kind {
            AuthKind::Login => out.push(("auth.login_path", self.login_path.clone())),
            AuthKind::Oauth2ClientCredentials
            | AuthKind::Oauth2Password
            | AuthKind::VnptLgsp
            | AuthKind::Wso2 => out.push((
                "auth.token_url",
                self.token_url
                    .clone()
                    .unwrap_or_else(|| "/token".to_owned()),
            )),
            AuthKind::None => {}
        }
        if let Some(g) = &self.gateway {
            out.push(("auth.gateway.token_url", g.token_url.clone()));
        }
        out
    }

    pub fn check(&self, section: &str) -> Result<(), String> {
        if self.kind == AuthKind::Oauth2Password && self.client_id.is_none() {
            return Err(format!(
                "{section}: auth.client_id is required for the password grant (the realm's client)"
            ));
        }
        if let Some(g) = &self.gateway
            && !matches!(g.kind, AuthKind::Wso2 | AuthKind::VnptLgsp)
        {
            return Err(format!("{section}: auth.gateway.kind is wso2 or vnpt_lgsp"));
        }
        for name in self.headers.keys() {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{section}: auth.headers: `{name}` is not a header name"))?;
        }
        Ok(())
    }

    /// The vault entries it needs (unit names under the `source` system): the source's name, and
    /// `NAME:client`, `NAME:gateway` where they apply.
    pub fn vault_entries(&self, source: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.kind != AuthKind::None {
            out.push(source.to_owned());
        }
        if self.kind == AuthKind::Oauth2Password && self.client_secret {
            out.push(format!("{source}:{CLIENT_PART}"));
        }
        if self.gateway.is_some() {
            out.push(format!("{source}:{GATEWAY_PART}"));
        }
        out
    }
}

/// The logins a source's authentication uses, opened from the vault by the caller.
#[derive(Default)]
pub struct Credentials {
    pub main: Option<Credential>,
    pub client: Option<Credential>,
    pub gateway: Option<Credential>,
}

/// What one call carries: the only way a source's secrets reach a request.
#[derive(Clone, Default)]
pub struct Material {
    bearer: Option<SecretString>,
    body: Option<(String, SecretString)>,
    headers: Vec<(String, SecretString)>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Material(bearer: {}, body: {}, headers: {})",
            self.bearer.is_some(),
            self.body.is_some(),
            self.headers.len()
        )
    }
}

impl Material {
    /// A Bearer token alone.
    pub fn bearer(token: SecretString) -> Material {
        Material {
            bearer: Some(token),
            ..Material::default()
        }
    }

    /// Adds the headers and the Bearer token to a request.
    pub fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.expose_secret());
        }
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token.expose_secret());
        }
        request
    }

    /// Puts the session (when the login's token goes in the body) into a JSON body.
    pub fn fill_body(&self, body: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some((field, token)) = &self.body {
            body.insert(
                field.clone(),
                serde_json::Value::String(token.expose_secret().to_owned()),
            );
        }
    }

    /// Whether two materials hold the same tokens (a renewal already happened).
    fn same_as(&self, other: &Material) -> bool {
        let eq = |a: &Option<SecretString>, b: &Option<SecretString>| match (a, b) {
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            (None, None) => true,
            _ => false,
        };
        eq(&self.bearer, &other.bearer)
            && eq(
                &self.body.as_ref().map(|b| b.1.clone()),
                &other.body.as_ref().map(|b| b.1.clone()),
            )
            && self.headers.len() == other.headers.len()
            && self
                .headers
                .iter()
                .zip(&other.headers)
                .all(|(a, b)| a.0 == b.0 && a.1.expose_secret() == b.1.expose_secret())
    }
}

/// What authorises a source's calls: a [`SourceAuth`], or the OAuth2 [`super::session::Session`]
/// of our own contract.
pub trait Authorizer: Send + Sync {
    /// What the next call carries.
    fn material(&self) -> impl std::future::Future<Output = Result<Material, TokenError>> + Send;
    /// The call made with `used` was refused: renew (unless already done) and hand the new one.
    fn renew(
        &self,
        used: &Material,
    ) -> impl std::future::Future<Output = Result<Material, TokenError>> + Send;
}

impl Authorizer for SourceAuth {
    async fn material(&self) -> Result<Material, TokenError> {
        SourceAuth::material(self).await
    }
    async fn renew(&self, used: &Material) -> Result<Material, TokenError> {
        SourceAuth::renew(self, used).await
    }
}

impl Authorizer for super::session::Session {
    async fn material(&self) -> Result<Material, TokenError> {
        Ok(Material::bearer(self.token().await?))
    }
    async fn renew(&self, used: &Material) -> Result<Material, TokenError> {
        let refused = used.bearer.clone().unwrap_or_default();
        Ok(Material::bearer(
            super::session::Session::renew(self, &refused).await?,
        ))
    }
}

/// A token in use and when to renew it.
struct Held {
    access: SecretString,
    refresh: Option<SecretString>,
    renew_at: Option<tokio::time::Instant>,
}

impl Held {
    /// A token living `expires_in` (or `cap`, whichever is shorter) on a clock running `speed`
    /// times as fast as real time: renewed a tenth of its life early, at most a minute early.
    fn from(token: Token, cap: Option<Duration>, speed: u32) -> Held {
        let life = match (token.expires_in, cap) {
            (Some(l), Some(c)) => Some(l.min(c)),
            (l, c) => l.or(c),
        };
        Held {
            access: token.access,
            refresh: token.refresh,
            renew_at: life.map(|l| {
                let early = l - super::session::margin(l);
                tokio::time::Instant::now() + early / speed.max(1)
            }),
        }
    }

    fn fresh(&self) -> bool {
        self.renew_at
            .is_none_or(|at| tokio::time::Instant::now() < at)
    }
}

/// One source's authentication at run time.
pub struct SourceAuth {
    source: String,
    settings: AuthSettings,
    http: reqwest::Client,
    max_body: usize,
    /// The token or login URL, resolved against the base URL.
    endpoint: Option<String>,
    gateway_url: Option<String>,
    credentials: Credentials,
    main: tokio::sync::Mutex<Option<Held>>,
    gateway: tokio::sync::Mutex<Option<Held>>,
    /// How many times as fast as real time the clock token lives are counted on runs (1 unless
    /// the daemon's clock is simulated, and the source's with it).
    speed: u32,
}

impl SourceAuth {
    /// `resolve` turns a configured path into a URL (the source's base URL joined).
    pub fn new(
        source: &str,
        settings: AuthSettings,
        http: reqwest::Client,
        max_body: usize,
        credentials: Credentials,
        resolve: impl Fn(&str) -> Result<reqwest::Url, String>,
    ) -> Result<SourceAuth, String> {
        let endpoint = match settings.kind {
            AuthKind::None => None,
            AuthKind::Login => Some(resolve(&settings.login_path)?.to_string()),
            _ => Some(resolve(settings.token_url.as_deref().unwrap_or("/token"))?.to_string()),
        };
        let gateway_url = match &settings.gateway {
            Some(g) => Some(resolve(&g.token_url)?.to_string()),
            None => None,
        };
        let missing = |what: &str, entry: String| {
            format!(
                "source `{source}` has no {what} in the vault: baocao-sync creds set --source {entry} --username … --password-stdin"
            )
        };
        if settings.kind != AuthKind::None && credentials.main.is_none() {
            return Err(missing("login", source.to_owned()));
        }
        if settings.kind == AuthKind::Oauth2Password
            && settings.client_secret
            && credentials.client.is_none()
        {
            return Err(missing("client secret", format!("{source}:{CLIENT_PART}")));
        }
        if settings.gateway.is_some() && credentials.gateway.is_none() {
            return Err(missing("gateway login", format!("{source}:{GATEWAY_PART}")));
        }
        Ok(SourceAuth {
            source: source.to_owned(),
            settings,
            http,
            max_body,
            endpoint,
            gateway_url,
            credentials,
            main: tokio::sync::Mutex::new(None),
            gateway: tokio::sync::Mutex::new(None),
            speed: 1,
        })
    }

    /// The same authentication with token lives counted on a clock running `speed` times as fast
    /// as real time (a simulated quarter, whose source issues tokens on the same clock).
    pub fn on_clock(mut self, speed: u32) -> SourceAuth {
        self.speed = speed.max(1);
        self
    }

    /// What the next call carries, logging in where nothing usable is held.
    pub async fn material(&self) -> Result<Material, TokenError> {
        let gateway = self.gateway_token(false).await?;
        let main = self.main_token(false).await?;
        Ok(self.assemble(gateway, main))
    }

    /// The last call was refused with `used`: log in again (every layer), unless another call
    /// already did.
    pub async fn renew(&self, used: &Material) -> Result<Material, TokenError> {
        let current = self.material().await?;
        if !current.same_as(used) {
            return Ok(current);
        }
        tracing::info!(source = %self.source, "the source refused the session or token; logging in again");
        let gateway = self.gateway_token(true).await?;
        let main = self.main_token(true).await?;
        Ok(self.assemble(gateway, main))
    }

    fn assemble(&self, gateway: Option<SecretString>, main: Option<SecretString>) -> Material {
        let mut m = Material::default();
        for (name, value) in &self.settings.headers {
            m.headers
                .push((name.clone(), SecretString::from(value.clone())));
        }
        if let Some(code) = &self.settings.dstcode {
            m.headers
                .push(("dstcode".to_owned(), SecretString::from(code.clone())));
        }
        if let Some(g) = &self.settings.gateway
            && g.kind == AuthKind::VnptLgsp
            && let Some(c) = &self.credentials.gateway
        {
            m.headers
                .push(("lgspaccesstoken".to_owned(), lgsp_header(c, &g.lgsp)));
        }
        if self.settings.kind == AuthKind::VnptLgsp
            && let Some(c) = &self.credentials.main
        {
            m.headers.push((
                "lgspaccesstoken".to_owned(),
                lgsp_header(c, &self.settings.lgsp),
            ));
        }
        m.bearer = gateway;
        if let Some(token) = main {
            match (self.settings.kind, self.settings.token_use) {
                (AuthKind::Login, TokenUse::Body) => {
                    m.body = Some((self.settings.body_field.clone(), token));
                }
                _ => m.bearer = Some(token),
            }
        }
        m
    }

    async fn main_token(&self, force: bool) -> Result<Option<SecretString>, TokenError> {
        if self.settings.kind == AuthKind::None {
            return Ok(None);
        }
        let mut held = self.main.lock().await;
        if !force && let Some(h) = held.as_ref().filter(|h| h.fresh()) {
            return Ok(Some(h.access.clone()));
        }
        // A refresh token, when one was issued, renews an expiring token; a refused one falls
        // back to the password.
        let refreshed = match (held.as_ref().and_then(|h| h.refresh.clone()), force) {
            (Some(r), false) => match self.refresh(&r).await {
                Ok(t) => Some(t),
                Err(TokenError::InvalidGrant) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        let token = match refreshed {
            Some(t) => t,
            None => self.log_in().await?,
        };
        let cap = (self.settings.kind == AuthKind::Login)
            .then(|| Duration::from_secs(self.settings.session_minutes.max(1) * 60));
        let access = token.access.clone();
        *held = Some(Held::from(token, cap, self.speed));
        Ok(Some(access))
    }

    async fn gateway_token(&self, force: bool) -> Result<Option<SecretString>, TokenError> {
        let (Some(g), Some(url), Some(c)) = (
            &self.settings.gateway,
            &self.gateway_url,
            &self.credentials.gateway,
        ) else {
            return Ok(None);
        };
        let mut held = self.gateway.lock().await;
        if !force && let Some(h) = held.as_ref().filter(|h| h.fresh()) {
            return Ok(Some(h.access.clone()));
        }
        let token = match g.kind {
            AuthKind::VnptLgsp => self.lgsp_token(url, c, &g.lgsp).await?,
            _ => self.client_credentials(url, c, true).await?,
        };
        let access = token.access.clone();
        *held = Some(Held::from(token, None, self.speed));
        Ok(Some(access))
    }

    async fn log_in(&self) -> Result<Token, TokenError> {
        let url = self.endpoint.as_deref().unwrap_or_default();
        let c = self
            .credentials
            .main
            .as_ref()
            .ok_or_else(|| TokenError::Configuration("no login".to_owned()))?;
        match self.settings.kind {
            AuthKind::None => Err(TokenError::Configuration("no login is configured".into())),
            AuthKind::Oauth2ClientCredentials => self.client_credentials(url, c, false).await,
            AuthKind::Wso2 => self.client_credentials(url, c, true).await,
            AuthKind::Oauth2Password => {
                let client_id = self.settings.client_id.clone().unwrap_or_default();
                let secret = self.credentials.client.as_ref().map(|c| &c.password);
                grant(
                    &self.http,
                    url,
                    self.max_body,
                    "source",
                    &Grant::Password {
                        client_id: &client_id,
                        client_secret: secret,
                        username: c.username.expose(),
                        password: &c.password,
                        scope: self.settings.scope.as_deref(),
                    },
                )
                .await
            }
            AuthKind::VnptLgsp => self.lgsp_token(url, c, &self.settings.lgsp).await,
            AuthKind::Login => self.session_login(url, c).await,
        }
    }

    async fn refresh(&self, refresh: &SecretString) -> Result<Token, TokenError> {
        let client_id = self.settings.client_id.clone().unwrap_or_else(|| {
            self.credentials
                .main
                .as_ref()
                .map(|c| c.username.expose().to_owned())
                .unwrap_or_default()
        });
        let secret = self.credentials.client.as_ref().map(|c| &c.password);
        grant(
            &self.http,
            self.endpoint.as_deref().unwrap_or_default(),
            self.max_body,
            "source",
            &Grant::Refresh {
                client_id: &client_id,
                client_secret: secret,
                refresh,
            },
        )
        .await
    }

    async fn client_credentials(
        &self,
        url: &str,
        c: &Credential,
        basic: bool,
    ) -> Result<Token, TokenError> {
        grant(
            &self.http,
            url,
            self.max_body,
            "source",
            &Grant::ClientCredentials {
                client_id: c.username.expose(),
                secret: &c.password,
                basic,
                scope: self.settings.scope.as_deref(),
            },
        )
        .await
    }

    /// VNPT LGSP: `POST token_url` with the `lgspaccesstoken` header and
    /// `grant_type=client_credentials`.
    async fn lgsp_token(&self, url: &str, c: &Credential, app: &Lgsp) -> Result<Token, TokenError> {
        let header = lgsp_header(c, app);
        let answer = self
            .http
            .post(url)
            .header("lgspaccesstoken", header.expose_secret())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        let (status, body) = read(answer, self.max_body).await?;
        crate::telemetry::events::login("source", login_outcome(status));
        token_from_json(status, &body)
    }

    /// A login answering `{error_code, message, <token_field>}` (or the token field alone).
    async fn session_login(&self, url: &str, c: &Credential) -> Result<Token, TokenError> {
        let mut body = serde_json::Map::new();
        for (field, template) in &self.settings.login_body {
            let value = template
                .replace("{username}", c.username.expose())
                .replace("{password}", c.password.expose_secret());
            body.insert(field.clone(), serde_json::Value::String(value));
        }
        let mut request = self.http.post(url).json(&body);
        for (name, value) in &self.settings.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(code) = &self.settings.dstcode {
            request = request.header("dstcode", code.as_str());
        }
        if let Some(g) = &self.settings.gateway {
            let gateway = self.gateway_token(false).await?;
            if let Some(t) = gateway {
                request = request.bearer_auth(t.expose_secret());
            }
            if g.kind == AuthKind::VnptLgsp
                && let Some(gc) = &self.credentials.gateway
            {
                request =
                    request.header("lgspaccesstoken", lgsp_header(gc, &g.lgsp).expose_secret());
            }
        }
        let (status, bytes) = read(request.send().await, self.max_body).await?;
        crate::telemetry::events::login("source", login_outcome(status));
        if status == 429 || status >= 500 {
            return Err(TokenError::Transient(format!("HTTP {status}")));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            TokenError::Transient(format!(
                "HTTP {status}: a login answer that is not JSON ({e})"
            ))
        })?;
        let code = value.get("error_code").map(code_text);
        let message = value
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let token = value
            .get(&self.settings.token_field)
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty());
        match (token, code.as_deref()) {
            (Some(t), None | Some("0")) if status < 300 => Ok(Token {
                access: SecretString::from(t.to_owned()),
                expires_in: None,
                refresh: None,
            }),
            (_, _) if status == 401 || status == 403 => Err(TokenError::InvalidGrant),
            (_, Some(code)) if code != "0" => Err(TokenError::Refused(format!(
                "login refused: error_code {code}: {message}"
            ))),
            _ => Err(TokenError::Transient(format!(
                "HTTP {status}: a login answer without `{}`",
                self.settings.token_field
            ))),
        }
    }
}

fn login_outcome(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        429 | 500.. => "unavailable",
        _ => "refused",
    }
}

/// An answer's status and body (capped), or a transient failure.
async fn read(
    answer: Result<reqwest::Response, reqwest::Error>,
    max: usize,
) -> Result<(u16, Vec<u8>), TokenError> {
    let response = answer.map_err(|e| TokenError::Transient(e.to_string()))?;
    let status = response.status().as_u16();
    let body = crate::http::read_capped(response, max)
        .await
        .map_err(|e| TokenError::Transient(e.to_string()))?;
    Ok((status, body))
}

/// An `error_code` as text, whether it came as a number or a string.
pub fn code_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `base64(JSON {AccessKey, SecretKey, AppName, PartnerCode, PartnerCodeCus})`.
fn lgsp_header(c: &Credential, app: &Lgsp) -> SecretString {
    let json = serde_json::json!({
        "AccessKey": c.username.expose(),
        "SecretKey": c.password.expose_secret(),
        "AppName": app.app_name,
        "PartnerCode": app.partner_code,
        "PartnerCodeCus": app.partner_code_cus,
    });
    SecretString::from(base64::engine::general_purpose::STANDARD.encode(json.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn token_lives_are_counted_on_the_simulated_clock() {
        let token = || Token {
            access: SecretString::from("t"),
            expires_in: Some(Duration::from_secs(3600)),
            refresh: None,
        };
        // An hour's token is renewed a minute early: after 59 minutes of the clock it runs on,
        // 0.98 s of real time at 3,600 ×.
        let fast = Held::from(token(), None, 3600);
        let real = Held::from(token(), None, 1);
        tokio::time::advance(Duration::from_millis(980)).await;
        assert!(fast.fresh() && real.fresh());
        tokio::time::advance(Duration::from_millis(5)).await;
        assert!(!fast.fresh(), "59 simulated minutes have passed");
        assert!(real.fresh());
        tokio::time::advance(Duration::from_secs(59 * 60)).await;
        assert!(!real.fresh());
    }

    #[test]
    fn error_codes_read_as_numbers_or_strings() {
        assert_eq!(code_text(&serde_json::json!(0)), "0");
        assert_eq!(code_text(&serde_json::json!("0")), "0");
        assert_eq!(code_text(&serde_json::json!(" -3 ")), "-3");
        assert_eq!(code_text(&serde_json::json!(-1)), "-1");
    }

    #[test]
    fn the_vault_entries_follow_the_kind() {
        let mut a = AuthSettings {
            kind: AuthKind::Oauth2Password,
            client_id: Some("digo".into()),
            client_secret: true,
            ..AuthSettings::default()
        };
        assert_eq!(a.vault_entries("igate"), ["igate", "igate:client"]);
        a.gateway = Some(Gateway {
            kind: AuthKind::Wso2,
            token_url: "https://lgsp/token".into(),
            lgsp: Lgsp::default(),
        });
        assert_eq!(
            a.vault_entries("igate"),
            ["igate", "igate:client", "igate:gateway"]
        );
        a.check("s").unwrap();
        a.client_id = None;
        assert!(a.check("s").unwrap_err().contains("client_id"));
    }

    #[test]
    fn material_debug_shows_no_secret() {
        let m = Material {
            bearer: Some(SecretString::from("hemmelig".to_owned())),
            body: Some(("session".into(), SecretString::from("s3ss".to_owned()))),
            headers: vec![("x".into(), SecretString::from("h".to_owned()))],
        };
        let shown = format!("{m:?}");
        assert!(
            !shown.contains("hemmelig") && !shown.contains("s3ss"),
            "{shown}"
        );
    }
}
