//! The admin HTTP, served by the daemon: `/healthz` and `/readyz` for anyone; for operators (a
//! Bearer token, or a browser session opened at `/login`) the status page in Vietnamese
//! (`pages`), the JSON API (`api`) and the Prometheus `/metrics`; for a unit's viewers (an
//! official who set a password through a one-time link) that unit's pages and its subtree's. Who
//! may use which route is the table `ROUTES`, the list the router is built from. It reads the
//! store and calls the one pipeline (`sync::Engine::run`); it never writes to a reporting system
//! itself.
//!
//! Browser sessions live in the store (by the SHA-256 of their id), so replicas share them and a
//! restart signs no one out; revoking a viewer closes theirs.

// Handlers answer early with a ready `Response` (axum's idiom); its size does not matter here.
#![allow(clippy::result_large_err)]

mod api;
mod html;
mod pages;
mod templates;
mod throttle;
mod view;
mod words;

use crate::auth::operators::{Operator, OperatorsFile, csrf_matches, reveal};
use crate::sync::Engine;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The cookie that carries a browser session's id.
const COOKIE: &str = "baocao_session";

pub struct AdminState {
    pub engine: Arc<Engine>,
    operators: Option<OperatorsFile>,
    secure_cookies: bool,
    /// Set by the daemon while its schedule runs (`/readyz`).
    pub scheduler_running: Arc<AtomicBool>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    view: view::Cache,
}

type Shared = Arc<AdminState>;

impl AdminState {
    pub fn new(
        engine: Arc<Engine>,
        operators: Option<OperatorsFile>,
        scheduler_running: Arc<AtomicBool>,
    ) -> AdminState {
        let http = &engine.settings.http;
        AdminState {
            secure_cookies: http.secure_cookies,
            operators,
            scheduler_running,
            metrics: crate::telemetry::metrics_handle(),
            view: view::Cache::default(),
            engine,
        }
    }
}

/// An operator who proved who they are; and, for a browser session, its CSRF token.
pub struct Authed {
    pub operator: Operator,
    /// `None` for a Bearer token (no CSRF to check).
    pub csrf: Option<String>,
}

/// Who signed in.
#[derive(Debug, Clone)]
pub enum Who {
    Operator(Operator),
    /// An official of `unit`, who reads it and its subtree.
    Viewer {
        name: String,
        unit: String,
    },
}

/// Anyone signed in — an operator, or a unit's viewer — on the pages a viewer may read; and, for
/// a browser session, its CSRF token.
pub struct Reader {
    pub who: Who,
    pub csrf: Option<String>,
}

impl Reader {
    /// Whether this reader may see unit `code`: an operator every unit, a viewer their unit and
    /// its subtree.
    pub fn may_read(&self, units: &crate::domain::UnitTree, code: &str) -> bool {
        match &self.who {
            Who::Operator(_) => true,
            Who::Viewer { unit, .. } => units
                .find(unit)
                .is_some_and(|top| units.subtree(top).any(|id| units.get(id).code == code)),
        }
    }

    /// As the audit names them.
    pub fn actor(&self) -> String {
        match &self.who {
            Who::Operator(o) => o.actor(),
            Who::Viewer { name, .. } => format!("viewer:{name}"),
        }
    }
}

/// How long a viewer's one-time link may be used.
pub const VIEWER_LINK_HOURS: i64 = 72;

/// Opens a browser session for `who`: the id for the cookie (kept only as its SHA-256) and the
/// session's CSRF token.
async fn open_session(
    state: &AdminState,
    who: &Who,
) -> Result<(secrecy::SecretString, String), crate::store::StoreError> {
    use crate::store::Store;
    let (id, id_sha256, csrf) = crate::auth::operators::new_browser_session();
    let (role, name, unit) = match who {
        Who::Operator(o) => ("operator", o.name.clone(), None),
        Who::Viewer { name, unit } => ("viewer", name.clone(), Some(unit.clone())),
    };
    let now = state.engine.clock.now().0;
    let record = crate::store::SessionRecord {
        role: role.to_owned(),
        name,
        unit,
        csrf: csrf.clone(),
        expires_at: now + (state.engine.settings.http.session_hours * 3600) as i64,
    };
    state
        .engine
        .store
        .open_session(&id_sha256, &record, now)
        .await?;
    Ok((id, csrf))
}

/// Why a request is not an operator's: 401, as JSON for the API, as a page otherwise; a page asked
/// with GET offers the login form that comes back to it (`next`).
pub struct Unauthorized {
    api: bool,
    next: Option<String>,
    /// Too many wrong tokens from this address: seconds to wait (429).
    wait: Option<i64>,
    /// Signed in, but as a unit's viewer where only an operator may go (403).
    forbidden: bool,
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        if let Some(wait) = self.wait {
            return throttled(wait, self.api);
        }
        if self.forbidden {
            let message = "Tài khoản của cán bộ đơn vị chỉ xem được số liệu của đơn vị mình; \
                           thao tác này dành cho cán bộ vận hành";
            return if self.api {
                (
                    StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({"error_code": "forbidden", "message": message})),
                )
                    .into_response()
            } else {
                pages::error_page(StatusCode::FORBIDDEN, message)
            };
        }
        if self.api {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error_code": "unauthorized", "message": "Cần mã truy cập hoặc phiên đăng nhập của cán bộ vận hành"})),
            )
                .into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                axum::response::Html(templates::login(
                    Some("Cần đăng nhập bằng mã của cán bộ vận hành."),
                    self.next.as_deref().and_then(html::local_path),
                )),
            )
                .into_response()
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive (RFC 9110
/// §11.1), so `bearer` and `BEARER` are read too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Unauthorized> {
        let reader = Reader::from_request_parts(parts, state).await?;
        match reader.who {
            Who::Operator(operator) => Ok(Authed {
                operator,
                csrf: reader.csrf,
            }),
            Who::Viewer { .. } => Err(Unauthorized {
                api: answers_json(parts),
                next: None,
                wait: None,
                forbidden: true,
            }),
        }
    }
}

/// A request a program makes (the API, `/metrics`): refusals answer as JSON, not as a page.
fn answers_json(parts: &Parts) -> bool {
    parts.uri.path().starts_with("/api/") || parts.uri.path() == "/metrics"
}

impl FromRequestParts<Shared> for Reader {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Unauthorized> {
        let api = answers_json(parts);
        let next = (!api && parts.method == axum::http::Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        let refused = || Unauthorized {
            api,
            next: next.clone(),
            wait: None,
            forbidden: false,
        };
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
        {
            let operators = state.operators.as_ref().ok_or_else(refused)?;
            let address = client_address(state, parts);
            let counted = match sign_in_gate(state, address).await {
                Ok(counted) => counted,
                Err(wait) => {
                    return Err(Unauthorized {
                        wait: Some(wait),
                        ..refused()
                    });
                }
            };
            return match operators.verify(bearer) {
                Some(operator) => {
                    sign_in_succeeded(state, address, counted).await;
                    Ok(Reader {
                        who: Who::Operator(operator),
                        csrf: None,
                    })
                }
                None => {
                    sign_in_failed(state, address, "bearer").await;
                    Err(refused())
                }
            };
        }
        use crate::store::Store;
        let id = cookie(&parts.headers, COOKIE).ok_or_else(refused)?;
        let session = state
            .engine
            .store
            .session(
                &crate::auth::operators::session_key(&id),
                state.engine.clock.now().0,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a session could not be read");
                refused()
            })?
            .ok_or_else(refused)?;
        let who = match (session.role.as_str(), session.unit) {
            ("operator", _) => Who::Operator(Operator { name: session.name }),
            ("viewer", Some(unit)) => Who::Viewer {
                name: session.name,
                unit,
            },
            _ => return Err(refused()),
        };
        Ok(Reader {
            who,
            csrf: Some(session.csrf),
        })
    }
}

impl Authed {
    /// A state-changing request from a browser session must carry the session's CSRF token
    /// (`given`, from the form or the `X-CSRF-Token` header); a Bearer call needs none.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), Response> {
        match &self.csrf {
            None => Ok(()),
            Some(expected) if given.is_some_and(|g| csrf_matches(expected, g)) => Ok(()),
            Some(_) => Err(pages::error_page(
                StatusCode::FORBIDDEN,
                "Biểu mẫu đã cũ hoặc không gửi từ trang này (thiếu mã chống giả mạo yêu cầu): \
                 tải lại trang rồi thao tác lại",
            )),
        }
    }
}

/// The client's address for throttling: the peer, or behind a trusted proxy its forwarded one.
fn client_address(state: &AdminState, parts: &Parts) -> std::net::IpAddr {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    throttle::client_address(
        peer,
        parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        &state.engine.settings.http.trusted_proxies,
    )
}

/// Whether `address` may try now: `Err(seconds)` to wait, else whether failures are counted
/// against it (a store that cannot be read is logged and keeps no one out: nothing else works
/// without it either).
async fn sign_in_gate(state: &AdminState, address: std::net::IpAddr) -> Result<bool, i64> {
    use crate::store::Store;
    match state
        .engine
        .store
        .sign_in_failures(&address.to_string())
        .await
    {
        Ok(counts) => {
            if let Err(wait) = throttle::check(counts, state.engine.clock.now()) {
                crate::telemetry::events::admin_sign_in_refused("throttled");
                return Err(wait);
            }
            Ok(counts.is_some())
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failures could not be read");
            Ok(false)
        }
    }
}

/// A good token or password from `address`: its count starts again (a write only when there is
/// one, so a scraper's every request does not write).
async fn sign_in_succeeded(state: &AdminState, address: std::net::IpAddr, counted: bool) {
    use crate::store::Store;
    if !counted {
        return;
    }
    if let Err(e) = state
        .engine
        .store
        .clear_sign_in_failures(&address.to_string())
        .await
    {
        tracing::error!(error = %e, "sign-in failures could not be cleared");
    }
}

/// A wrong token from `address` (`via` the login form or a Bearer header): logged, counted, and
/// the failure that starts a lockout audited.
async fn sign_in_failed(state: &AdminState, address: std::net::IpAddr, via: &str) {
    use crate::store::Store;
    let now = state.engine.clock.now();
    let failed = match state
        .engine
        .store
        .record_sign_in_failure(&address.to_string(), |c| throttle::step(c, now))
        .await
    {
        Ok(c) => throttle::Failed {
            failures: c.failures,
            delay: c.until_at - now.0,
        },
        Err(e) => {
            tracing::error!(error = %e, "a sign-in failure could not be counted");
            return;
        }
    };
    crate::telemetry::events::admin_sign_in_refused("wrong");
    tracing::warn!(
        %address,
        via,
        failures = failed.failures,
        delay_seconds = failed.delay,
        "admin sign-in refused: wrong token"
    );
    if failed.locks_out() {
        let entry = crate::store::AuditEntry {
            at: Some(now),
            actor: format!("address:{address}"),
            action: "sign_in_lockout".to_owned(),
            reason: format!(
                "{} lần đăng nhập sai liên tiếp từ địa chỉ {address}: mỗi lần thử tiếp phải chờ, \
                 từ 1 giây, gấp đôi sau mỗi lần sai, tối đa 15 phút",
                failed.failures
            ),
            ..Default::default()
        };
        if let Err(e) = state.engine.store.append_audit(&[entry]).await {
            tracing::error!(error = %e, "the lockout could not be audited");
        }
    }
}

/// 429 with Retry-After: as JSON for the API, as a page otherwise.
fn throttled(wait: i64, api: bool) -> Response {
    let message = format!(
        "Đã nhập sai mã truy cập nhiều lần: chờ {wait} giây rồi thử lại (mỗi lần sai tiếp, thời \
         gian chờ gấp đôi, tối đa 15 phút)"
    );
    let retry_after = [(header::RETRY_AFTER, wait.to_string())];
    if api {
        (
            StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            axum::Json(serde_json::json!({"error_code": "too_many_failures", "message": message})),
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            retry_after,
            axum::response::Html(templates::login(Some(&message), None)),
        )
            .into_response()
    }
}

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health checks for the container and the proxy.
    Open,
    /// Anyone, to sign in (or out).
    SignIn,
    /// An operator, or a viewer of the unit asked for (or of a unit above it).
    Reader,
    /// An operator: a Bearer token or a browser session.
    Operator,
}

/// Declares every route once: the router is built from the same list the route × role table
/// (`ROUTES`) is, so no route can be served without its entry.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:expr, $access:ident;)*) => {
        /// Every route the admin HTTP serves: (method, path, who may use it).
        pub const ROUTES: &[(&str, &str, Access)] = &[
            $((stringify!($method), $path, Access::$access)),*
        ];

        fn routes() -> Router<Shared> {
            Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}

routes! {
    get "/healthz" => || async { "ok" }, Open;
    get "/readyz" => readyz, Open;
    get "/login" => pages::login_form, SignIn;
    post "/login" => pages::login, SignIn;
    get "/welcome/{token}" => pages::welcome_form, SignIn;
    post "/welcome/{token}" => pages::welcome, SignIn;
    post "/logout" => pages::logout, Reader;
    get "/" => pages::home, Reader;
    get "/periods/{period}" => pages::grid, Operator;
    get "/periods/{period}/letters/guidance.docx" => pages::guidance_letter, Operator;
    get "/periods/{period}/letters/chase.docx" => pages::chase_letter, Operator;
    get "/periods/{period}/units/{unit}" => pages::unit, Reader;
    get "/periods/{period}/units/{unit}/explain" => pages::explain, Reader;
    post "/periods/{period}/units/{unit}/sync" => pages::sync_unit, Operator;
    get "/periods/{period}/units/{unit}/documents/{file}" => pages::document, Reader;
    post "/periods/{period}/units/{unit}/viewers" => pages::issue_viewer, Operator;
    post "/periods/{period}/units/{unit}/viewers/{name}/revoke" => pages::revoke_viewer, Operator;
    post "/periods/{period}/units/{unit}/mail/opt-out" => pages::opt_out, Operator;
    get "/metrics" => api::metrics, Operator;
    get "/api/periods/{period}/status" => api::status, Operator;
    get "/api/periods/{period}/findings" => api::findings, Operator;
    get "/api/periods/{period}/explain" => api::explain, Operator;
    get "/api/runs" => api::runs, Operator;
    get "/api/outbox" => api::outbox, Operator;
    post "/api/outbox/{id}/retry" => api::retry, Operator;
    get "/api/audit" => api::audit, Operator;
    post "/api/sync" => api::sync, Operator;
}

pub fn router(state: Shared) -> Router {
    routes().with_state(state)
}

/// Ready: the store answers with its migrations applied, and the schedule runs.
async fn readyz(State(state): State<Shared>) -> Response {
    use crate::store::Store;
    // A store that stopped answering is "not ready" at once, not after the pool's timeout.
    let ping = state.engine.store.ping();
    let store = matches!(
        tokio::time::timeout(std::time::Duration::from_millis(1500), ping).await,
        Ok(Ok(()))
    );
    let scheduler = state.scheduler_running.load(Ordering::Relaxed);
    let status = if store && scheduler {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        if status == StatusCode::OK {
            "ready"
        } else {
            "not ready"
        },
    )
        .into_response()
}

/// The session cookie's header value.
fn session_cookie(state: &AdminState, id: &secrecy::SecretString) -> String {
    format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        reveal(id),
        state.engine.settings.http.session_hours * 3600,
        if state.secure_cookies { "; Secure" } else { "" }
    )
}

/// Serves until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    mut shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(Arc::new(state)).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.requested().await })
    .await
}
