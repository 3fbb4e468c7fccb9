//! The one-stop-system protocols of real-sources.md, served by the sandbox from the same data set
//! as our own contract, so that the same dossiers reach the product as an export, through our
//! contract and through each protocol:
//!
//! - `/envelope/auth`, `/envelope/integration`: the national portal's envelope as a ministry-style
//!   adapter serves it (`DanhSachHoSo` by reception days, `TraCuuHoSo` by code), sessions that
//!   expire, error codes as numbers or strings, swapped status codes, unit names in place of
//!   codes; optionally behind an LGSP gateway (`/lgsp/token` WSO2-style, `/vnpt/token` with the
//!   `lgspaccesstoken` header);
//! - `/igate/…`: VNPT iGate — an OpenID Connect token endpoint, `/pa/dossier/search` in 0-based
//!   slices with no total, one dossier by its ObjectId, catalogue look-ups by ObjectId, channel
//!   codes possibly reversed, local times possibly with a literal `Z`;
//! - `/queue/…`: a queue with acknowledgements (`GetToken`, `LayDanhSachHoSo`,
//!   `CapNhatDaNhanHoSo`), holding every dossier at first and each one that changes after.
//!
//! `quirks` in `accounts.toml` switch the deviations; the fault plan applies to every call.

pub(crate) mod envelope;
mod gateway;
mod igate;
mod queue;

use super::State;
use crate::domain::Instant;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// What the protocols keep between calls.
#[derive(Debug, Default)]
pub(crate) struct ProtocolState {
    /// Envelope sessions → when issued (sandbox clock, ms).
    pub sessions: Mutex<HashMap<String, i64>>,
    /// The queue: dossier keys waiting to be acknowledged, in order.
    pub queue: Mutex<QueueState>,
    /// ObjectId → (catalogue, code, name), for iGate's look-ups.
    pub objects: Mutex<HashMap<String, (String, String, String)>>,
}

#[derive(Debug, Default)]
pub(crate) struct QueueState {
    /// Filled from the data set on first use.
    pub started: bool,
    pub waiting: std::collections::VecDeque<String>,
    pub queued: BTreeSet<String>,
    pub acknowledged: u64,
}

pub(crate) fn routes() -> Router<Arc<State>> {
    use axum::routing::{get, post, put};
    Router::new()
        .route("/envelope/auth", post(envelope::login))
        .route("/envelope/integration", post(envelope::integration))
        .route("/lgsp/token", post(gateway::wso2_token))
        .route("/vnpt/token", post(gateway::vnpt_token))
        .route(
            "/igate/realms/digo/protocol/openid-connect/token",
            post(igate::token),
        )
        .route("/igate/pa/dossier/search", get(igate::search))
        .route("/igate/pa/dossier/{id}/--online", get(igate::detail))
        .route("/igate/ba/{catalogue}/{id}", get(igate::catalogue))
        .route("/queue/GetToken", post(queue::token))
        .route("/queue/LayDanhSachHoSo", get(queue::list))
        .route("/queue/CapNhatDaNhanHoSo", put(queue::ack))
        .route("/_sandbox/queue", get(queue::inspect))
}

/// A dossier changed (`/_sandbox/records`): the queue hands it out again.
pub(crate) fn changed_dossier(state: &State, key: &str) {
    queue::changed(state, key);
}

/// The fault plan's `transient_rate`: a 503 for this attempt of this request, drawn from the
/// plan's seed.
pub(crate) fn unlucky(state: &State, request: &str, attempt: u64) -> Option<Response> {
    let rate = state.data.faults.transient_rate?;
    let digest = sha2::Sha256::digest(format!("{}|{request}|{attempt}", state.data.faults.seed));
    let draw =
        u64::from_le_bytes(digest[..8].try_into().expect("eight bytes")) as f64 / u64::MAX as f64;
    if draw >= rate {
        return None;
    }
    state.fired("transient_rate");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"error_code": "unavailable", "message": "the sandbox's transient_rate"})),
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        state
            .data
            .faults
            .retry_after_seconds
            .to_string()
            .parse()
            .expect("digits"),
    );
    Some(response)
}

/// A 24-hex ObjectId for a catalogue entry (or a dossier), stable for its code.
pub(crate) fn object_id(catalogue: &str, code: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{catalogue}:{code}"));
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// A canonical record's text field, trimmed.
pub(crate) fn field<'a>(record: &'a Value, name: &str) -> &'a str {
    record
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

/// A canonical record's instant field.
pub(crate) fn instant(record: &Value, name: &str) -> Option<Instant> {
    Instant::parse(field(record, name)).ok()
}

/// Whether the source still shows a dossier: a deleted one has disappeared.
pub(crate) fn shown(record: &Value) -> bool {
    !matches!(field(record, "DaXoa"), "1" | "true")
}

/// The status as a system with swapped codes writes it.
pub(crate) fn status_code(quirks: &super::Quirks, status: &str) -> String {
    if quirks.status_codes != "swapped" {
        return status.to_owned();
    }
    match status {
        "1" => "2",
        "2" => "1",
        "3" => "8",
        "8" => "3",
        other => other,
    }
    .to_owned()
}

/// An envelope's `error_code`, as a number or a string.
pub(crate) fn error_code(quirks: &super::Quirks, code: i64) -> Value {
    if quirks.error_codes == "string" {
        Value::String(code.to_string())
    } else {
        Value::from(code)
    }
}

/// A unit's name as the sandbox's one-stop system writes it (DonViXuLy), or a name no unit has
/// for a code the tree does not hold.
pub(crate) fn unit_name(state: &State, code: &str) -> String {
    state
        .data
        .unit_names
        .get(code)
        .cloned()
        .unwrap_or_else(|| format!("Đơn vị {code}"))
}

/// The dossiers the data set holds now (canonical fields), in a stable order.
pub(crate) fn dossiers(state: &State) -> Vec<Value> {
    let source = state.source.lock().expect("lock");
    source
        .get("dossiers")
        .map(|records| {
            records
                .iter()
                .map(|r| r.fields.clone())
                .filter(shown)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_24_hex_and_stable() {
        let a = object_id("agency", "000.10.00.H55");
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, object_id("agency", "000.10.00.H55"));
        assert_ne!(a, object_id("sector", "000.10.00.H55"));
    }

    #[test]
    fn swapped_statuses_swap_one_two_three_eight() {
        let q = super::super::Quirks {
            status_codes: "swapped".into(),
            ..Default::default()
        };
        let got: Vec<String> = ["1", "2", "3", "8", "9"]
            .iter()
            .map(|s| status_code(&q, s))
            .collect();
        assert_eq!(got, ["2", "1", "8", "3", "9"]);
    }
}
