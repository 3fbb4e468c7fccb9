//! The sandbox: the upstream systems of upstreams.md served on loopback from a data set, for tests
//! and demos, so that no test mocks the code under test. It serves the token endpoints of the
//! three systems (`/{system}/oauth/token`, system being `source`, `central` or `provincial`), the
//! procedure-handling system's record API (`/source/v1/{kind}`), the reporting systems' report API
//! (`/{system}/v1/reports/…`), and under `/_sandbox/` what tests and demos need besides: "person"
//! actions on drafts, inspection of what each system holds, and changes to the source's records
//! (`POST /_sandbox/records/{kind}`, NDJSON: a day at the desk). A deterministic fault plan
//! ([`Faults`]) makes it answer as real upstreams do on a bad day.

mod protocols;
pub mod pusher;
mod reports;
pub mod smtp;
pub mod source;
pub mod tls;
mod tokens;

use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// How the one-stop-system protocols deviate (real-sources.md's quirks).
    #[serde(default)]
    pub quirks: Quirks,
    /// Unit names by code (`<data>/units.toml`), for protocols that name units.
    #[serde(skip)]
    pub unit_names: HashMap<String, String>,
    /// The clock shared with the daemons under test, when simulated (`sandbox --simulate`).
    #[serde(skip)]
    pub simulation: Option<crate::sync::Simulation>,
}

/// The quirks real one-stop systems show (real-sources.md), each switchable, so that a client's
/// handling of every one is tested.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// The envelope's `error_code`: `number` (0) or `string` ("0").
    pub error_codes: String,
    /// The envelope's status codes: `dvcqg` (domain.md's), or `swapped` (1↔2 and 3↔8, as one
    /// system reads the same words).
    pub status_codes: String,
    /// iGate's channel codes: `dvcqg`, or `reversed` (1 online, 2 at the counter).
    pub channels: String,
    /// iGate writes local time with a literal `Z`.
    pub literal_z: bool,
    /// The envelope's look-up answers success as `error_code` "-3" with the message "Thành
    /// công".
    pub soft_lookups: bool,
    /// Envelope sessions and queue tokens stop working after this many seconds of the sandbox's
    /// clock (0: never); the envelope then answers "Phiên làm việc đã hết hạn".
    pub session_seconds: u64,
    /// An LGSP gateway in front of the envelope: `wso2` (a Bearer token from `/lgsp/token`) or
    /// `vnpt` (the `lgspaccesstoken` header and a Bearer token from `/vnpt/token`).
    pub gateway: Option<String>,
    /// When set, the envelope's login requires this `dstcode` header.
    pub dstcode: Option<String>,
}

impl Default for Quirks {
    fn default() -> Quirks {
        Quirks {
            error_codes: "number".to_owned(),
            status_codes: "dvcqg".to_owned(),
            channels: "dvcqg".to_owned(),
            literal_z: false,
            soft_lookups: false,
            session_seconds: 600,
            gateway: None,
            dstcode: None,
        }
    }
}

/// Faults the sandbox injects, so clients are tested against what real upstreams do. Faults keyed
/// on "distinct requests" count each request (method and target) once, whatever its retries, so
/// a client that retries gets through however its concurrent calls interleave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Every Nth distinct API request fails on its first attempt with `transient_status`.
    #[serde(default)]
    pub transient_every: Option<u64>,
    /// The status of those failures: 503 (with Retry-After), or 500, 502, 504.
    #[serde(default = "default_transient_status")]
    pub transient_status: u16,
    /// Every Nth distinct API request meets a burst of 429s: its first `rate_limit_burst`
    /// attempts are answered 429 with Retry-After.
    #[serde(default)]
    pub rate_limit_every: Option<u64>,
    #[serde(default = "default_burst")]
    pub rate_limit_burst: u64,
    /// The `Retry-After` (seconds) sent with 429 and 503.
    #[serde(default)]
    pub retry_after_seconds: u64,
    /// Every Nth distinct API request answers `slow_ms` late on its first attempt, after doing
    /// its work (a write lands even if the client gave up waiting).
    #[serde(default)]
    pub slow_every: Option<u64>,
    #[serde(default = "default_slow_ms")]
    pub slow_ms: u64,
    /// An access token stops working (401) after this many API calls, as if it had expired.
    #[serde(default)]
    pub tokens_expire_after_calls: Option<u64>,
    /// The sandbox's clock (which token lifetimes and changed records follow) moves on this many
    /// seconds with every API call, on top of real time: tokens expire "every N seconds" without
    /// anybody waiting.
    #[serde(default)]
    pub seconds_per_call: u64,
    /// On every Nth page after the first of a walk, two records change (their CapNhatLuc becomes
    /// the sandbox's now): the last one served and the next one not yet served.
    #[serde(default)]
    pub records_change_every_pages: Option<u64>,
    /// Drafts a "person" approves or edits at given moments.
    #[serde(default)]
    pub person: Vec<PersonAction>,
    /// Every Nth token request (counting all of them, retries included) fails with
    /// `token_transient_status` and a body that is not an OAuth2 answer (a proxy's error page).
    #[serde(default)]
    pub token_transient_every: Option<u64>,
    #[serde(default = "default_transient_status")]
    pub token_transient_status: u16,
    /// Systems (`source`, `central`, `provincial`) down from the start: every request, token
    /// requests included, answers 503 until `POST /_sandbox/outage/{system}/off`.
    #[serde(default)]
    pub outage: Vec<String>,
    /// Every attempt of a one-stop-system protocol's call (login and token endpoints included)
    /// fails with a 503 with this probability, drawn from the request, the attempt and `seed`:
    /// a gateway's bad day, which only retries by time get through.
    #[serde(default)]
    pub transient_rate: Option<f64>,
    #[serde(default)]
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            transient_every: None,
            transient_status: default_transient_status(),
            rate_limit_every: None,
            rate_limit_burst: default_burst(),
            retry_after_seconds: 0,
            slow_every: None,
            slow_ms: default_slow_ms(),
            tokens_expire_after_calls: None,
            seconds_per_call: 0,
            records_change_every_pages: None,
            person: Vec::new(),
            token_transient_every: None,
            token_transient_status: default_transient_status(),
            outage: Vec::new(),
            transient_rate: None,
            seed: 0,
        }
    }
}

fn default_transient_status() -> u16 {
    503
}

fn default_burst() -> u64 {
    3
}

fn default_slow_ms() -> u64 {
    2000
}

/// A person's action on a report, once the `after_request`th request to that report (a read or a
/// write, counting those answered, not those the fault plan failed) has been answered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonAction {
    /// `system/form/period/unit`, e.g. `central/II.06a/2023-Q3/000.10.00.H55`.
    pub report: String,
    pub action: PersonVerb,
    pub after_request: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonVerb {
    /// The draft becomes `approved`.
    Approve,
    /// The report is signed digitally (`signed`).
    Sign,
    /// The report is sent to the level above (`sent`).
    Send,
    /// An approved (signed, sent) report goes back to `draft`, its version unchanged: the
    /// reporting system's "trả lại" (return for revision).
    Release,
    /// The draft gets a new version with the person's content; a missing draft is typed in by hand.
    Edit,
    /// The draft is deleted.
    Delete,
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

/// An access token the sandbox issued.
#[derive(Debug)]
pub(crate) struct Issued {
    pub system: String,
    pub holder: String,
    /// API calls made with it.
    pub calls: u64,
    /// On the sandbox's clock.
    pub issued_ms: i64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub data: SandboxData,
    pub issued: AtomicU64,
    /// refresh token → (system, username)
    pub refresh: Mutex<HashMap<String, (String, String)>>,
    /// Distinct API requests (method and target) → (their number in order of arrival, attempts).
    pub requests: Mutex<HashMap<String, (u64, u64)>>,
    /// access token → who holds it
    pub access: Mutex<HashMap<String, Issued>>,
    /// (system, form, period, unit) → the report
    pub reports: Mutex<HashMap<ReportId, reports::HeldReport>>,
    /// Requests answered per report, for the person's moments.
    pub report_requests: Mutex<HashMap<ReportId, u64>>,
    /// The source's records by kind (`dossiers`, `ratings`, `feedback`), ordered by (CapNhatLuc, key).
    pub source: Mutex<SourceRecords>,
    /// Pages served after the first of a walk, for `records_change_every_pages`.
    pub later_pages: AtomicU64,
    /// (system, Idempotency-Key) → the first final answer
    pub idempotent: Mutex<HashMap<(String, String), (axum::http::StatusCode, serde_json::Value)>>,
    /// The sandbox's clock: real time since it started, plus what the fault plan added.
    pub clock: Clock,
    /// How often each fault fired, for `/_sandbox/faults`.
    pub fired: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Systems that are down now (the plan's `outage`, switched by `/_sandbox/outage`).
    pub outage: Mutex<std::collections::BTreeSet<String>>,
    /// Token requests answered so far, for `token_transient_every`.
    pub token_requests: AtomicU64,
    /// The one-stop-system protocols' own state (sessions, the queue, ObjectIds).
    pub protocols: protocols::ProtocolState,
}

impl State {
    pub fn fired(&self, fault: &'static str) {
        *self.fired.lock().expect("lock").entry(fault).or_default() += 1;
    }
}

/// `GET /_sandbox/faults`: how often each fault of the plan fired.
async fn fired(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!(*state.fired.lock().expect("lock")))
}

/// `POST /_sandbox/outage/{system}/{on|off}`: takes a system down, or brings it back.
async fn switch_outage(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    axum::extract::Path((system, switch)): axum::extract::Path<(String, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut down = state.outage.lock().expect("lock");
    match switch.as_str() {
        "on" => down.insert(system),
        "off" => down.remove(&system),
        _ => return (axum::http::StatusCode::BAD_REQUEST, "on or off").into_response(),
    };
    axum::Json(serde_json::json!({"down": *down})).into_response()
}

/// A 503 if `system` is down.
pub(crate) fn down(state: &State, system: &str) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    if !state.outage.lock().expect("lock").contains(system) {
        return None;
    }
    state.fired("outage");
    let body = serde_json::json!({"error_code": "unavailable", "message": "the system is down (the sandbox's outage)"});
    Some(
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(body),
        )
            .into_response(),
    )
}

/// (system, form, period, unit)
pub(crate) type ReportId = (String, String, String, String);

#[derive(Debug)]
pub(crate) struct Clock {
    started: std::time::Instant,
    started_unix_ms: i64,
    added_ms: AtomicU64,
    /// A simulated clock shared with the daemons under test (`sandbox --simulate`).
    simulation: Option<crate::sync::Simulation>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            started: std::time::Instant::now(),
            started_unix_ms: chrono::Utc::now().timestamp_millis(),
            added_ms: AtomicU64::new(0),
            simulation: None,
        }
    }
}

impl Clock {
    /// Unix milliseconds on the sandbox's clock.
    pub fn now_ms(&self) -> i64 {
        let added = self.added_ms.load(Ordering::Relaxed) as i64;
        match &self.simulation {
            Some(sim) => sim.at_ms(chrono::Utc::now().timestamp_millis()) + added,
            None => self.started_unix_ms + self.started.elapsed().as_millis() as i64 + added,
        }
    }

    fn advance(&self, seconds: u64) {
        self.added_ms.fetch_add(seconds * 1000, Ordering::Relaxed);
    }
}

/// Who a bearer token was issued to on `system`, counting the call; `None` for a token this
/// system did not issue, or one that has expired (its lifetime on the sandbox's clock, or the
/// fault plan's call count).
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
    let token = issued.get_mut(token)?;
    if token.system != system {
        return None;
    }
    token.calls += 1;
    let worn_out = state
        .data
        .faults
        .tokens_expire_after_calls
        .is_some_and(|n| token.calls > n);
    let lifetime_ms = state.data.token_seconds as i64 * 1000;
    let expired = state.clock.now_ms() - token.issued_ms >= lifetime_ms;
    if worn_out || expired {
        state.fired("token_refused");
        return None;
    }
    Some(token.holder.clone())
}

/// What the fault plan does to an API call that it lets through: answer late, or not.
#[must_use]
pub(crate) struct Admitted {
    late: Option<std::time::Duration>,
}

impl Admitted {
    /// Hands the answer over, after the fault plan's delay if this call is a slow one.
    pub async fn answer(self, response: axum::response::Response) -> axum::response::Response {
        if let Some(late) = self.late {
            tokio::time::sleep(late).await;
        }
        response
    }
}

/// The fault plan, applied as an API call arrives: `Err` is the answer the plan gives instead
/// (429 in a burst, a 5xx), `Ok` lets the call through. `request` names the request (method and
/// target); faults fall on every Nth distinct request, on its first attempts only.
pub(crate) fn admit(
    state: &State,
    system: &str,
    request: String,
) -> Result<Admitted, Box<axum::response::Response>> {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    if let Some(answer) = down(state, system) {
        return Err(Box::new(answer));
    }
    let faults = &state.data.faults;
    state.clock.advance(faults.seconds_per_call);
    let (number, attempt) = {
        let mut requests = state.requests.lock().expect("lock");
        let next = requests.len() as u64 + 1;
        let entry = requests.entry(request).or_insert((next, 0));
        entry.1 += 1;
        *entry
    };
    let every = |n: Option<u64>| n.is_some_and(|n| n > 0 && number % n == 0);
    if let Some(answer) = protocols::unlucky(state, &format!("{system} {number}"), attempt) {
        return Err(Box::new(answer));
    }
    let refuse = |status: StatusCode, code: &str| {
        let body = serde_json::json!({"error_code": code, "message": "the sandbox's fault plan"});
        let retry_after = faults.retry_after_seconds.to_string();
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(status.as_u16(), 429 | 503) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after.parse().expect("digits are a header value"),
            );
        }
        response
    };
    if every(faults.rate_limit_every) && attempt <= faults.rate_limit_burst {
        state.fired("rate_limited");
        return Err(Box::new(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
        )));
    }
    let first_attempt = attempt == 1;
    if every(faults.transient_every) && first_attempt {
        state.fired("transient");
        let status = StatusCode::from_u16(faults.transient_status)
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Err(Box::new(refuse(status, "unavailable")));
    }
    let late = (every(faults.slow_every) && first_attempt).then(|| {
        state.fired("slow");
        std::time::Duration::from_millis(faults.slow_ms)
    });
    Ok(Admitted { late })
}

pub fn router(data: SandboxData, source: SourceRecords) -> Router {
    use axum::routing::{get, post, put};
    let outage = data.faults.outage.iter().cloned().collect();
    let clock = Clock {
        simulation: data.simulation,
        ..Clock::default()
    };
    let state = Arc::new(State {
        data,
        source: Mutex::new(source),
        outage: Mutex::new(outage),
        clock,
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
        .merge(protocols::routes())
        .route("/_sandbox/faults", get(fired))
        .route("/_sandbox/outage/{system}/{switch}", post(switch_outage))
        .route("/_sandbox/reports", get(reports::inspect))
        .route(
            "/_sandbox/records/{kind}",
            get(source::inspect).post(source::put_records),
        )
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
pub async fn serve<L>(
    listener: L,
    data: SandboxData,
    source: SourceRecords,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router(data, source))
        .with_graceful_shutdown(shutdown)
        .await
}
