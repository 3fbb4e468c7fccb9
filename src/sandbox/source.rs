//! The procedure-handling system's record API (upstreams.md §1): `GET /source/v1/{dossiers,
//! ratings,feedback}` with `updated_from` (inclusive), `updated_to` (exclusive), optional `agency`,
//! `size` (1–1000) and keyset paging by (`CapNhatLuc`, key) through an opaque `after` cursor.

use super::State;
use crate::domain::Instant;
use axum::Json;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One record the sandbox holds: its ordering key and its fields.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub updated: Instant,
    pub key: String,
    pub agency: String,
    pub fields: Value,
    /// Times the fault plan changed it.
    pub changes: u32,
}

impl SourceRecord {
    /// The record is updated at `now`.
    fn change(&mut self, now: Instant) {
        self.updated = now;
        self.fields["CapNhatLuc"] = Value::String(now.to_rfc3339_utc());
        self.changes += 1;
    }
}

/// Reads NDJSON records of a kind: key field, agency field. Records without a readable
/// CapNhatLuc cannot be placed in any window and are left out of the data set.
pub fn records_from_ndjson(text: &str, key_field: &str, agency_field: &str) -> Vec<SourceRecord> {
    let mut out: Vec<SourceRecord> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let s = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
            let updated = Instant::parse(&s("CapNhatLuc")).ok()?;
            Some(SourceRecord {
                updated,
                key: s(key_field),
                agency: s(agency_field),
                fields: v,
                changes: 0,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.updated, &a.key).cmp(&(b.updated, &b.key)));
    out
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error_code": code, "message": message})),
    )
        .into_response()
}

pub(super) async fn list(
    Shared(state): Shared<Arc<State>>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let admitted = match super::admit(&state, "source", format!("GET {kind}?{}", sorted_query(&q)))
    {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let answer = page(&state, &kind, &q, &headers);
    admitted.answer(answer).await
}

fn page(state: &State, kind: &str, q: &HashMap<String, String>, headers: &HeaderMap) -> Response {
    let authorised = super::bearer(state, "source", headers).is_some();
    if !authorised {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a source token is needed",
        );
    }
    let mut source = state.source.lock().expect("lock");
    let Some(records) = source.get_mut(kind) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "dossiers, ratings or feedback",
        );
    };
    let instant = |name: &str| -> Result<Instant, String> {
        let text = q.get(name).ok_or_else(|| format!("{name} is required"))?;
        Instant::parse(text).map_err(|e| e.to_string())
    };
    let (from, to) = match (instant("updated_from"), instant("updated_to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, "invalid", &e),
    };
    let size = match q.get("size").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return error(StatusCode::BAD_REQUEST, "invalid", "size is 1 to 1000"),
    };
    let after: Option<(i64, String)> = match q.get("after") {
        None => None,
        Some(c) => match c
            .split_once('~')
            .and_then(|(secs, key)| Some((secs.parse().ok()?, key.to_owned())))
        {
            Some(cursor) => Some(cursor),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "after is a cursor this server gave",
                );
            }
        },
    };
    let agency = q.get("agency");
    let selected = |r: &SourceRecord| {
        r.updated >= from && r.updated < to && agency.is_none_or(|a| *a == r.agency)
    };
    let beyond =
        |r: &SourceRecord, (secs, key): &(i64, String)| (r.updated.0, &r.key) > (*secs, key);
    if let Some(cursor) = &after {
        let every = state.data.faults.records_change_every_pages;
        let n = state.later_pages.fetch_add(1, Ordering::Relaxed) + 1;
        if every.is_some_and(|e| e > 0 && n % e == 0) {
            // A person updates two records mid-walk: the one just served, and the next one.
            let served = records
                .iter()
                .position(|r| (r.updated.0, &r.key) == (cursor.0, &cursor.1));
            let ahead = records
                .iter()
                .position(|r| selected(r) && beyond(r, cursor));
            let now = Instant(state.clock.now_ms().div_euclid(1000));
            for i in [served, ahead].into_iter().flatten() {
                records[i].change(now);
                state.fired("record_changed");
            }
            records.sort_by(|a, b| (a.updated, &a.key).cmp(&(b.updated, &b.key)));
        }
    }
    let page: Vec<&SourceRecord> = records
        .iter()
        .filter(|r| selected(r))
        .filter(|r| after.as_ref().is_none_or(|c| beyond(r, c)))
        .take(size + 1)
        .collect();
    let more = page.len() > size;
    let page = &page[..page.len().min(size)];
    let next = if more {
        page.last().map(|r| format!("{}~{}", r.updated.0, r.key))
    } else {
        None
    };
    Json(json!({"content": page.iter().map(|r| &r.fields).collect::<Vec<_>>(), "next_after": next}))
        .into_response()
}

/// `GET /_sandbox/records/{kind}`: what the source holds now, as (key, CapNhatLuc), and the keys
/// the fault plan changed.
pub(super) async fn inspect(
    Shared(state): Shared<Arc<State>>,
    Path(kind): Path<String>,
) -> Response {
    let source = state.source.lock().expect("lock");
    let Some(records) = source.get(&kind) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "dossiers, ratings or feedback",
        );
    };
    let held: Vec<Value> = records
        .iter()
        .map(|r| json!({"key": r.key, "CapNhatLuc": r.fields["CapNhatLuc"], "changes": r.changes}))
        .collect();
    Json(json!(held)).into_response()
}

/// `POST /_sandbox/records/{kind}` with NDJSON: the source's records change as a day at the
/// one-stop desk changes them — each line replaces the record of its key (or adds one) — and the
/// next pages serve them in (CapNhatLuc, key) order. Answers how many were taken.
pub(super) async fn put_records(
    Shared(state): Shared<Arc<State>>,
    Path(kind): Path<String>,
    body: String,
) -> Response {
    let (key_field, agency_field) = match kind.as_str() {
        "dossiers" => ("MaHoSo", "MaDonViXuLy"),
        "ratings" => ("MaDanhGia", "MaDonVi"),
        "feedback" => ("MaPAKN", "MaDonVi"),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "dossiers, ratings or feedback",
            );
        }
    };
    let incoming = records_from_ndjson(&body, key_field, agency_field);
    let taken = incoming.len();
    if kind == "dossiers" {
        for r in &incoming {
            super::protocols::changed_dossier(&state, &r.key);
        }
    }
    let mut source = state.source.lock().expect("lock");
    let records = source.entry(kind).or_default();
    let replaced: std::collections::HashSet<&str> =
        incoming.iter().map(|r| r.key.as_str()).collect();
    records.retain(|r| !replaced.contains(r.key.as_str()));
    records.extend(incoming);
    records.sort_by(|a, b| (a.updated, &a.key).cmp(&(b.updated, &b.key)));
    Json(json!({"taken": taken})).into_response()
}

/// The query in a stable order, to name a request.
fn sorted_query(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("&")
}
