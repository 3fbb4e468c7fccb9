//! The reporting systems' report API (upstreams.md §2) over an in-memory set of reports, with the
//! "person" actions tests need (approve, edit, delete) and an inspection endpoint that tells what each
//! system holds and how many writes each report got.

use super::{PersonVerb, ReportId, State};
use axum::Json;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// One report as a reporting system holds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldReport {
    pub system: String,
    pub form: String,
    pub period: String,
    pub unit: String,
    pub status: String,
    pub version: u64,
    pub rows: Value,
    pub text: Value,
    pub content_hash: Value,
    pub updated_by: String,
    /// Writes this report received (replayed idempotent requests not counted).
    pub writes: u64,
    /// Of those, writes that brought the content it already held (a client writing in vain).
    pub rewrites: u64,
    /// The person's last action on it (`approve`, `edit`), if any.
    pub person: Option<String>,
}

impl HeldReport {
    /// A draft not yet written (version 0), before its first write or a person's typing.
    fn empty((system, form, period, unit): &ReportId) -> HeldReport {
        HeldReport {
            system: system.clone(),
            form: form.clone(),
            period: period.clone(),
            unit: unit.clone(),
            status: "draft".into(),
            version: 0,
            rows: json!([]),
            text: Value::Null,
            content_hash: Value::Null,
            updated_by: String::new(),
            writes: 0,
            rewrites: 0,
            person: None,
        }
    }

    /// A client's write of `body`: a new version.
    fn write(&mut self, user: &str, body: &Value) {
        if self.version > 0 && self.content_hash == body["content_hash"] {
            self.rewrites += 1;
        }
        self.version += 1;
        self.rows = body["rows"].clone();
        self.text = body["text"].clone();
        self.content_hash = body["content_hash"].clone();
        self.updated_by = user.to_owned();
        self.writes += 1;
    }
}

/// `{"error_code", "message", …extra}`.
fn error_body(code: &str, extra: Value) -> Value {
    let mut body = json!({"error_code": code, "message": code.replace('_', " ")});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

fn api_error(status: StatusCode, code: &str, extra: Value) -> Response {
    (status, Json(error_body(code, extra))).into_response()
}

/// Whether an account may enter data for a unit (no list: every unit).
fn may_enter(state: &State, system: &str, user: &str, unit: &str) -> bool {
    state
        .data
        .accounts
        .iter()
        .find(|a| a.system == system && a.username == user)
        .is_some_and(|a| a.units.is_empty() || a.units.iter().any(|u| u == unit))
}

type ReportPath = Path<ReportId>;

pub(super) async fn get(
    Shared(state): Shared<Arc<State>>,
    Path(id): ReportPath,
    headers: HeaderMap,
) -> Response {
    let (system, form, period, unit) = &id;
    let admitted = match super::admit(
        &state,
        system,
        format!("GET {system}/{form}/{period}/{unit}"),
    ) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    if super::bearer(&state, system, &headers).is_none() {
        return api_error(StatusCode::UNAUTHORIZED, "unauthorized", json!({}));
    }
    let answer = {
        let reports = state.reports.lock().expect("lock");
        match reports.get(&id) {
            None => api_error(StatusCode::NOT_FOUND, "not_found", json!({})),
            Some(r) => Json(json!({
                "form": r.form, "period": r.period, "unit": r.unit, "status": r.status, "version": r.version,
                "rows": r.rows, "text": r.text, "content_hash": r.content_hash, "updated_by": r.updated_by,
                "updated_at": "2023-09-15T01:02:03Z",
            }))
            .into_response(),
        }
    };
    answered(&state, &id);
    admitted.answer(answer).await
}

pub(super) async fn put_draft(
    Shared(state): Shared<Arc<State>>,
    Path(id): ReportPath,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    let (system, form, period, unit) = &id;
    let admitted = match super::admit(
        &state,
        system,
        format!("PUT {system}/{form}/{period}/{unit}"),
    ) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let Some(user) = super::bearer(&state, system, &headers) else {
        return api_error(StatusCode::UNAUTHORIZED, "unauthorized", json!({}));
    };
    let idempotency = headers
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let replay = idempotency.as_ref().and_then(|k| {
        state
            .idempotent
            .lock()
            .expect("lock")
            .get(&(system.clone(), k.clone()))
            .cloned()
    });
    let (status, answer) = match replay {
        Some(first) => first,
        None => {
            let (status, answer) = write(&state, &user, &id, &headers, &body);
            // Only final answers are remembered (upstreams.md §2): 403, 422, 429 and 5xx were
            // refused before anything was written, so the same key may come again.
            if let Some(k) = idempotency
                && matches!(status.as_u16(), 200 | 201 | 409 | 412 | 428)
            {
                state
                    .idempotent
                    .lock()
                    .expect("lock")
                    .insert((system.clone(), k), (status, answer.clone()));
            }
            (status, answer)
        }
    };
    answered(&state, &id);
    admitted
        .answer((status, Json(answer)).into_response())
        .await
}

/// A request to report `id` was answered: the person acts if this is one of their moments.
fn answered(state: &State, id: &ReportId) {
    let n = {
        let mut counts = state.report_requests.lock().expect("lock");
        let n = counts.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let named = format!("{}/{}/{}/{}", id.0, id.1, id.2, id.3);
    for p in &state.data.faults.person {
        if p.report == named && p.after_request == n {
            let mut reports = state.reports.lock().expect("lock");
            act(&mut reports, id, p.action);
            state.fired("person");
        }
    }
}

/// A person approves, edits or deletes a draft (an edit of a missing draft types one in by
/// hand); the report as it is after, if any.
fn act(
    reports: &mut HashMap<ReportId, HeldReport>,
    id: &ReportId,
    verb: PersonVerb,
) -> Option<HeldReport> {
    if verb == PersonVerb::Delete {
        reports.remove(id);
        return None;
    }
    let r = reports
        .entry(id.clone())
        .or_insert_with(|| HeldReport::empty(id));
    match verb {
        PersonVerb::Approve => r.status = "approved".into(),
        PersonVerb::Sign => r.status = "signed".into(),
        PersonVerb::Send => r.status = "sent".into(),
        PersonVerb::Release => r.status = "draft".into(),
        PersonVerb::Edit => {
            r.version += 1;
            r.content_hash = json!("sha256:edited-by-a-person");
            r.updated_by = "a person".into();
        }
        PersonVerb::Delete => unreachable!("handled above"),
    }
    r.person = Some(format!("{verb:?}").to_lowercase());
    Some(r.clone())
}

fn write(
    state: &State,
    user: &str,
    id: &ReportId,
    headers: &HeaderMap,
    body: &Value,
) -> (StatusCode, Value) {
    let (system, _, _, unit) = id;
    let err = |s: StatusCode, code: &str, extra: Value| (s, error_body(code, extra));
    if !may_enter(state, system, user, unit) {
        return err(StatusCode::FORBIDDEN, "forbidden", json!({}));
    }
    if !body["rows"].is_array() {
        return err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            json!({"details": "rows must be an array"}),
        );
    }
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_owned())
        .map(|v| v.parse::<u64>().ok());
    let mut reports = state.reports.lock().expect("lock");
    match reports.get_mut(id) {
        Some(r) => {
            if r.status != "draft" {
                return err(StatusCode::CONFLICT, "not_draft", json!({}));
            }
            match if_match {
                None => err(
                    StatusCode::PRECONDITION_REQUIRED,
                    "precondition_required",
                    json!({}),
                ),
                Some(v) if v != Some(r.version) => err(
                    StatusCode::PRECONDITION_FAILED,
                    "version_mismatch",
                    json!({"current_version": r.version}),
                ),
                Some(_) => {
                    r.write(user, body);
                    (StatusCode::OK, json!({"version": r.version}))
                }
            }
        }
        None => {
            let r = reports
                .entry(id.clone())
                .or_insert_with(|| HeldReport::empty(id));
            r.write(user, body);
            (StatusCode::CREATED, json!({"version": 1}))
        }
    }
}

/// `GET /_sandbox/reports`: every report every system holds, with its write count.
pub(super) async fn inspect(Shared(state): Shared<Arc<State>>) -> Response {
    let reports = state.reports.lock().expect("lock");
    let mut list: Vec<&HeldReport> = reports.values().collect();
    list.sort_by(|a, b| {
        (&a.system, &a.form, &a.period, &a.unit).cmp(&(&b.system, &b.form, &b.period, &b.unit))
    });
    Json(json!(list)).into_response()
}

/// `POST /_sandbox/reports/{system}/{form}/{period}/{unit}/{action}`: a person approves the report
/// (`approve`), signs it (`sign`), sends it (`send`), returns an approved one to draft (`release`: the version stays), edits the draft
/// (`edit`: a new version with other content; typed in by hand if there was none), or deletes it.
pub(super) async fn person(
    Shared(state): Shared<Arc<State>>,
    Path((system, form, period, unit, action)): Path<(String, String, String, String, String)>,
) -> Response {
    let verb = match action.as_str() {
        "approve" => PersonVerb::Approve,
        "sign" => PersonVerb::Sign,
        "send" => PersonVerb::Send,
        "release" => PersonVerb::Release,
        "edit" => PersonVerb::Edit,
        "delete" => PersonVerb::Delete,
        _ => return api_error(StatusCode::BAD_REQUEST, "unknown_action", json!({})),
    };
    let mut reports = state.reports.lock().expect("lock");
    match act(&mut reports, &(system, form, period, unit), verb) {
        Some(r) => Json(json!({"status": r.status, "version": r.version})).into_response(),
        None => Json(json!({"status": "deleted"})).into_response(),
    }
}
