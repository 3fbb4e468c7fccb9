//! The sandbox: the upstream systems of upstreams.md served on loopback from a data set, for tests
//! and demos, so that no test mocks the code under test. So far it serves the token endpoints of
//! the three systems (`/{system}/oauth/token`, system being `source`, `central` or `provincial`)
//! and the reporting systems' report API (`/{system}/v1/reports/…`), with "person" actions and an
//! inspection endpoint under `/_sandbox/`; the procedure-handling API and the fault plan come next.

mod reports;
pub mod source;
mod tokens;

use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// The sandbox's data set: OAuth2 clients and accounts (`<data>/accounts.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxData {
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Seconds an access token lives.
    #[serde(default = "default_token_seconds")]
    pub token_seconds: u64,
    /// The fault plan.
    #[serde(default)]
    pub faults: Faults,
}

/// Faults the sandbox injects, so clients are tested against what real upstreams do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Of the distinct requests to a record or report API, every Nth answers 503 with
    /// `Retry-After: 0` on its first attempt.
    #[serde(default)]
    pub transient_every: Option<u64>,
    /// An access token stops working (401) after this many API calls, as if it had expired.
    #[serde(default)]
    pub tokens_expire_after_calls: Option<u64>,
}

fn default_token_seconds() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub system: String,
    pub client_id: String,
    /// Absent for a public client (the reporting systems' password-grant client).
    #[serde(default)]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub system: String,
    pub username: String,
    pub password: String,
    /// Units this account may enter data for; empty: all.
    #[serde(default)]
    pub units: Vec<String>,
}

impl SandboxData {
    pub fn from_toml(text: &str) -> Result<SandboxData, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub data: SandboxData,
    pub issued: AtomicU64,
    /// refresh token → (system, username)
    pub refresh: Mutex<HashMap<String, (String, String)>>,
    /// Distinct requests to the record and report APIs, for the fault plan.
    pub api_calls: AtomicU64,
    /// The requests seen, for the fault plan.
    pub seen: Mutex<std::collections::HashSet<String>>,
    /// access token → (system, holder, API calls made with it)
    pub access: Mutex<HashMap<String, (String, String, u64)>>,
    /// (system, form, period, unit) → the report
    pub reports: Mutex<HashMap<(String, String, String, String), reports::HeldReport>>,
    /// The source's records by kind (`dossiers`, `ratings`, `feedback`), ordered by (CapNhatLuc, key).
    pub source: HashMap<String, Vec<source::SourceRecord>>,
    /// (system, Idempotency-Key) → the first final answer
    pub idempotent: Mutex<HashMap<(String, String), (axum::http::StatusCode, serde_json::Value)>>,
}

/// Who a bearer token was issued to on `system`, counting the call; `None` for a token this
/// system did not issue, or one the fault plan has expired.
pub(crate) fn bearer(
    state: &State,
    system: &str,
    headers: &axum::http::HeaderMap,
) -> Option<String> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let mut issued = state.access.lock().expect("lock");
    let (issued_for, holder, calls) = issued.get_mut(token)?;
    if issued_for != system {
        return None;
    }
    *calls += 1;
    let expired = state
        .data
        .faults
        .tokens_expire_after_calls
        .is_some_and(|n| *calls > n);
    (!expired).then(|| holder.clone())
}

/// The fault plan's answer to this API call, if it has one. `request` names the request (method
/// and target): of the distinct requests, every Nth fails on its first attempt only, so a client
/// that retries gets through however its calls interleave.
pub(crate) fn fault(state: &State, request: String) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let every = state.data.faults.transient_every.filter(|&n| n > 0)?;
    let first_attempt = state.seen.lock().expect("lock").insert(request);
    if !first_attempt {
        return None;
    }
    let n = state
        .api_calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    (n % every == 0).then(|| {
        let body =
            serde_json::json!({"error_code": "unavailable", "message": "the sandbox's fault plan"});
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "0")],
            axum::Json(body),
        )
            .into_response()
    })
}

pub fn router(data: SandboxData, source: SourceRecords) -> Router {
    use axum::routing::{get, post, put};
    let state = Arc::new(State {
        data,
        source,
        ..State::default()
    });
    Router::new()
        .route("/{system}/oauth/token", post(tokens::token))
        .route(
            "/{system}/v1/reports/{form}/{period}/{unit}",
            get(reports::get),
        )
        .route(
            "/{system}/v1/reports/{form}/{period}/{unit}/draft",
            put(reports::put_draft),
        )
        .route("/source/v1/{kind}", get(source::list))
        .route("/_sandbox/reports", get(reports::inspect))
        .route(
            "/_sandbox/reports/{system}/{form}/{period}/{unit}/{action}",
            post(reports::person),
        )
        .with_state(state)
}

/// The source's records by kind (`dossiers`, `ratings`, `feedback`).
pub type SourceRecords = HashMap<String, Vec<source::SourceRecord>>;

/// The source's records by kind, from NDJSON texts (`configuration::sandbox` reads the files).
pub fn source_records(dossiers: &str, ratings: &str, feedback: &str) -> SourceRecords {
    HashMap::from([
        (
            "dossiers".to_owned(),
            source::records_from_ndjson(dossiers, "MaHoSo", "MaDonViXuLy"),
        ),
        (
            "ratings".to_owned(),
            source::records_from_ndjson(ratings, "MaDanhGia", "MaDonVi"),
        ),
        (
            "feedback".to_owned(),
            source::records_from_ndjson(feedback, "MaPAKN", "MaDonVi"),
        ),
    ])
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    data: SandboxData,
    source: SourceRecords,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(data, source))
        .with_graceful_shutdown(shutdown)
        .await
}
