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

/// One record the sandbox holds: its ordering key and its fields.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub updated: Instant,
    pub key: String,
    pub agency: String,
    pub fields: Value,
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
    if let Some(answer) = super::fault(&state, format!("GET {kind}?{}", sorted_query(&q))) {
        return answer;
    }
    let authorised = super::bearer(&state, "source", &headers).is_some();
    if !authorised {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a source token is needed",
        );
    }
    let Some(records) = state.source.get(&kind) else {
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
    let after: Option<(i64, String)> = q.get("after").and_then(|c| {
        let (secs, key) = c.split_once('~')?;
        Some((secs.parse().ok()?, key.to_owned()))
    });
    let agency = q.get("agency");
    let page: Vec<&SourceRecord> = records
        .iter()
        .filter(|r| r.updated >= from && r.updated < to)
        .filter(|r| agency.is_none_or(|a| *a == r.agency))
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|(secs, key)| (r.updated.0, &r.key) > (*secs, key))
        })
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

/// The query in a stable order, to name a request.
fn sorted_query(q: &HashMap<String, String>) -> String {
    let mut pairs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join("&")
}
