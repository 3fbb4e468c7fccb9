//! The admin HTTP, served by the daemon: `/healthz` and `/readyz` for anyone; for operators only
//! (a Bearer token, or a browser session opened at `/login`), the status page in Vietnamese
//! (`pages`), the JSON API (`api`) and the Prometheus `/metrics`. It reads the store and calls the
//! one pipeline (`sync::Engine::run`); it never writes to a reporting system itself.
//!
//! Why sessions in memory: operators are few, a restart signing them out is harmless, and nothing
//! about them needs to reach the database.

// Handlers answer early with a ready `Response` (axum's idiom); its size does not matter here.
#![allow(clippy::result_large_err)]

mod api;
mod html;
mod pages;
mod view;

use crate::auth::operators::{Operator, OperatorsFile, Sessions, csrf_matches, reveal};
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
    sessions: Sessions,
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
            sessions: Sessions::new(std::time::Duration::from_secs(http.session_hours * 3600)),
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

/// Why a request is not an operator's: 401, as JSON for the API, as a page otherwise; a page asked
/// with GET offers the login form that comes back to it (`next`).
pub struct Unauthorized {
    api: bool,
    next: Option<String>,
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        if self.api {
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error_code": "unauthorized", "message": "an operator's token or session is needed"})),
            )
                .into_response()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                axum::response::Html(html::login_page(
                    Some("Cần đăng nhập bằng mã của cán bộ vận hành."),
                    self.next.as_deref(),
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
        let api = parts.uri.path().starts_with("/api/") || parts.uri.path() == "/metrics";
        let next = (!api && parts.method == axum::http::Method::GET)
            .then(|| parts.uri.path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        let refused = || Unauthorized {
            api,
            next: next.clone(),
        };
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
        {
            let operators = state.operators.as_ref().ok_or_else(refused)?;
            return operators
                .verify(bearer)
                .map(|operator| Authed {
                    operator,
                    csrf: None,
                })
                .ok_or_else(refused);
        }
        let id = cookie(&parts.headers, COOKIE).ok_or_else(refused)?;
        let (operator, csrf) = state.sessions.get(&id).ok_or_else(refused)?;
        Ok(Authed {
            operator,
            csrf: Some(csrf),
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
            Some(_) => Err((
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong: reload the page",
            )
                .into_response()),
        }
    }
}

pub fn router(state: Shared) -> Router {
    use axum::routing::{get, post};
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/", get(pages::home))
        .route("/periods/{period}", get(pages::grid))
        .route("/periods/{period}/units/{unit}", get(pages::unit))
        .route(
            "/periods/{period}/units/{unit}/explain",
            get(pages::explain),
        )
        .route(
            "/periods/{period}/units/{unit}/sync",
            post(pages::sync_unit),
        )
        .route("/metrics", get(api::metrics))
        .route("/api/periods/{period}/status", get(api::status))
        .route("/api/periods/{period}/findings", get(api::findings))
        .route("/api/periods/{period}/explain", get(api::explain))
        .route("/api/runs", get(api::runs))
        .route("/api/outbox", get(api::outbox))
        .route("/api/outbox/{id}/retry", post(api::retry))
        .route("/api/audit", get(api::audit))
        .route("/api/sync", post(api::sync))
        .with_state(state)
}

/// Ready: the store answers with its migrations applied, and the schedule runs.
async fn readyz(State(state): State<Shared>) -> Response {
    use crate::store::Store;
    let store = state.engine.store.ping().await.is_ok();
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
    axum::serve(listener, router(Arc::new(state)))
        .with_graceful_shutdown(async move { shutdown.requested().await })
        .await
}
