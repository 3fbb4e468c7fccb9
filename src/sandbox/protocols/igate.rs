//! VNPT iGate's REST API, as public client scripts show it: a Keycloak realm `digo` (password and
//! client-credentials grants; clients and accounts of system `igate`), `GET /pa/dossier/search`
//! with `accepted-`, `appointment-` and `result-returned-from/to`, `page` (from 0) and `size`,
//! answering `{content: [...]}` with no total; `GET /pa/dossier/{id}/--online`; catalogue
//! entries by ObjectId under `/ba/{agency,sector,procedure}/{id}`. Dossiers name their agency,
//! procedure and field by ObjectId; statuses and channels are numbers; instants are ISO 8601 with
//! `+07:00`, or local time with a literal `Z` (quirk `literal_z`); channels may be reversed
//! (quirk `channels = "reversed"`: 1 online, 2 at the counter).

use super::super::State;
use super::{dossiers, field, instant, object_id, unit_name};
use crate::domain::Instant;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

pub(super) async fn token(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    super::super::tokens::issue(&state, "igate".to_owned(), &headers, &form)
}

/// An instant as this iGate writes it.
fn iso(state: &State, at: Instant) -> String {
    let local = at.to_local().format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    if state.data.quirks.literal_z {
        format!("{local}Z")
    } else {
        format!("{local}+07:00")
    }
}

/// An instant a client sent (`+07:00`, `Z`, or local without an offset).
fn parse(text: &str) -> Option<Instant> {
    let t = text.trim().replace(' ', "+");
    chrono::DateTime::parse_from_rfc3339(&t)
        .ok()
        .map(|d| Instant(d.timestamp()))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(Instant::from_local)
        })
}

fn remember(state: &State, catalogue: &str, code: &str, name: &str) -> String {
    let id = object_id(catalogue, code);
    state.protocols.objects.lock().expect("lock").insert(
        id.clone(),
        (catalogue.to_owned(), code.to_owned(), name.to_owned()),
    );
    id
}

/// A canonical dossier as this iGate shows it.
fn render(state: &State, r: &Value) -> Value {
    let date = |name: &str| {
        instant(r, name)
            .map(|i| Value::String(iso(state, i)))
            .unwrap_or(Value::Null)
    };
    let number = |text: &str| -> Value {
        text.parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned()))
    };
    let channel = match (
        state.data.quirks.channels.as_str(),
        field(r, "KenhThucHien"),
    ) {
        ("reversed", "1") => "2",
        ("reversed", "2") => "1",
        (_, c) => c,
    };
    let unit = field(r, "MaDonViXuLy");
    let name = unit_name(state, unit);
    let requests: Vec<Value> = instant(r, "NgayYeuCauBoSung")
        .map(|yc| {
            [-2 * 86_400, 0, -86_400]
                .iter()
                .map(|shift| json!({"requestDate": iso(state, Instant(yc.0 + shift))}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": object_id("dossier", field(r, "MaHoSo")),
        "code": field(r, "MaHoSo"),
        "procedure": {"id": remember(state, "procedure", field(r, "MaTTHC"), field(r, "TenTTHC"))},
        "sector": {"id": remember(state, "sector", field(r, "MaLinhVuc"), field(r, "TenLinhVuc"))},
        "agency": {"id": remember(state, "agency", unit, &name), "name": name},
        "applyMethod": {"id": number(channel)},
        "dossierStatus": {"id": number(field(r, "TrangThaiHoSo"))},
        "acceptedDate": date("NgayTiepNhan"),
        "appointmentDate": date("NgayHenTra"),
        "completedDate": date("NgayKetThucXuLy"),
        "returnedDate": date("NgayTra"),
        "additionalRequests": requests,
        "result": {"name": field(r, "LoaiKetQua")},
        "applicant": {"data": {"fullname": "Nguyễn Văn A"}},
    })
}

fn authorised(state: &State, headers: &HeaderMap) -> bool {
    super::super::bearer(state, "igate", headers).is_some()
}

pub(super) async fn search(
    Shared(state): Shared<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    let admitted =
        match super::super::admit(&state, "igate", format!("GET search?{}", pairs.join("&"))) {
            Ok(a) => a,
            Err(answer) => return *answer,
        };
    let reply = search_answer(&state, &q, &headers);
    admitted.answer(reply).await
}

fn search_answer(state: &State, q: &HashMap<String, String>, headers: &HeaderMap) -> Response {
    if !authorised(state, headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let window = [
        ("accepted", "NgayTiepNhan"),
        ("appointment", "NgayHenTra"),
        ("result-returned", "NgayTra"),
    ]
    .iter()
    .find_map(|(p, f)| {
        let from = q.get(&format!("{p}-from"))?;
        let to = q.get(&format!("{p}-to"))?;
        Some((*f, parse(from), parse(to)))
    });
    let Some((field_name, Some(from), Some(to))) = window else {
        return error(
            StatusCode::BAD_REQUEST,
            "a window is needed: accepted-, appointment- or result-returned-from/to, ISO 8601",
        );
    };
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let size: usize = q
        .get("size")
        .and_then(|s| s.parse().ok())
        .filter(|s| (1..=500).contains(s))
        .unwrap_or(20);
    let mut found: Vec<Value> = dossiers(state)
        .into_iter()
        .filter(|r| instant(r, field_name).is_some_and(|i| from <= i && i <= to))
        .collect();
    found.sort_by(|a, b| {
        (instant(a, field_name), field(a, "MaHoSo"))
            .cmp(&(instant(b, field_name), field(b, "MaHoSo")))
    });
    let content: Vec<Value> = found
        .iter()
        .skip(page * size)
        .take(size)
        .map(|r| render(state, r))
        .collect();
    // A slice: no total, no page count.
    Json(json!({"content": content, "number": page, "size": size})).into_response()
}

pub(super) async fn detail(
    Shared(state): Shared<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admitted = match super::super::admit(&state, "igate", format!("GET dossier {id}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = if !authorised(&state, &headers) {
        error(StatusCode::UNAUTHORIZED, "Unauthorized")
    } else {
        match dossiers(&state)
            .iter()
            .find(|r| object_id("dossier", field(r, "MaHoSo")) == id)
        {
            Some(r) => Json(render(&state, r)).into_response(),
            None => error(StatusCode::NOT_FOUND, "dossier not found"),
        }
    };
    admitted.answer(reply).await
}

pub(super) async fn catalogue(
    Shared(state): Shared<Arc<State>>,
    Path((catalogue, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let admitted = match super::super::admit(&state, "igate", format!("GET {catalogue} {id}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = if !authorised(&state, &headers) {
        error(StatusCode::UNAUTHORIZED, "Unauthorized")
    } else {
        let known = state
            .protocols
            .objects
            .lock()
            .expect("lock")
            .get(&id)
            .cloned();
        match known {
            Some((c, code, name)) if c == catalogue => {
                Json(json!({"id": id, "code": code, "name": name})).into_response()
            }
            _ => error(StatusCode::NOT_FOUND, "not found"),
        }
    };
    admitted.answer(reply).await
}
