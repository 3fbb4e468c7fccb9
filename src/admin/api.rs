//! The JSON API (operators only): period status (unit × form × system), runs, the outbox,
//! findings, the audit, a figure explained; `POST /api/sync` runs the pipeline over a scope and
//! `POST /api/outbox/{id}/retry` arms a report again; and the Prometheus `/metrics`.

use super::{Authed, Shared, view};
use crate::domain::Period;
use crate::forms::explain::{Cell, explain as explain_cell};
use crate::store::{OutboxFilter, OutboxRow, Store};
use crate::sync::{self, RunOptions, Scope, outbox::Event};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn bad(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(json!({"error_code": code, "message": message.to_string()})),
    )
        .into_response()
}

fn period(text: &str) -> Result<Period, Response> {
    text.parse().map_err(|_: crate::domain::PeriodError| {
        bad(
            StatusCode::NOT_FOUND,
            "unknown_period",
            super::words::period_error(text),
        )
    })
}

/// A failure of the pipeline or the store, said in Vietnamese (the detail is logged).
fn failed(status: StatusCode, code: &str, e: impl Into<sync::SyncError>) -> Response {
    bad(status, code, super::words::sync_error(&e.into()))
}

fn row_json(r: &OutboxRow) -> Value {
    json!({
        "id": r.id, "system": r.report.system, "form": r.report.form, "period": r.report.period,
        "unit": r.report.unit, "state": r.state.as_str(), "detail": r.detail,
        "remote_version": r.remote_version, "our_version": r.our_version,
        "attempts": r.attempts, "next_attempt_at": r.next_attempt_at.map(|t| t.to_rfc3339_utc()),
        "content_hash": r.content_hash, "changed_at": r.changed_at.to_rfc3339_utc(),
    })
}

pub async fn status(_who: Authed, State(state): State<Shared>, Path(p): Path<String>) -> Response {
    let p = match period(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let engine = &state.engine;
    let result = async {
        let (_, reports) = engine.reports(&Scope::period(p.clone()))?;
        let rows = view::rows(engine, &p).await?;
        let list: Vec<Value> = reports
            .iter()
            .map(|id| match rows.get(&(id.unit.clone(), id.form.clone(), id.system.clone())) {
                Some(r) => row_json(r),
                None => json!({"system": id.system, "form": id.form, "period": id.period, "unit": id.unit, "state": null}),
            })
            .collect();
        Ok::<_, sync::SyncError>(json!({"period": p.summary(), "reports": list}))
    }
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => failed(StatusCode::BAD_REQUEST, "invalid", e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct Filter {
    period: Option<String>,
    unit: Option<String>,
    form: Option<String>,
    system: Option<String>,
    limit: Option<i64>,
}

pub async fn outbox(
    _who: Authed,
    State(state): State<Shared>,
    Query(f): Query<Filter>,
) -> Response {
    let filter = OutboxFilter {
        id: None,
        system: f.system,
        form: f.form,
        period: f.period,
        unit: f.unit,
    };
    match state.engine.store.outbox(&filter).await {
        Ok(rows) => Json(json!(rows.iter().map(row_json).collect::<Vec<_>>())).into_response(),
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, "store", e),
    }
}

pub async fn runs(_who: Authed, State(state): State<Shared>, Query(f): Query<Filter>) -> Response {
    match state
        .engine
        .store
        .runs(f.period.as_deref(), f.limit.unwrap_or(50))
        .await
    {
        Ok(runs) => Json(json!(runs
            .iter()
            .map(|r| json!({
                "id": r.id, "cause": r.cause, "actor": r.actor, "period": r.period, "scope": r.scope,
                "started_at": r.started_at.to_rfc3339_utc(),
                "finished_at": r.finished_at.map(|t| t.to_rfc3339_utc()),
                "outcome": r.outcome, "summary": r.summary,
            }))
            .collect::<Vec<_>>()))
        .into_response(),
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, "store", e),
    }
}

pub async fn audit(_who: Authed, State(state): State<Shared>, Query(f): Query<Filter>) -> Response {
    match state
        .engine
        .store
        .audit(
            f.period.as_deref(),
            f.unit.as_deref(),
            f.limit.unwrap_or(200),
        )
        .await
    {
        Ok(lines) => {
            Json(json!(lines
            .iter()
            .map(|a| json!({
                "at": a.at.map(|t| t.to_rfc3339_utc()), "actor": a.actor, "action": a.action,
                "system": a.system, "form": a.form, "period": a.period, "unit": a.unit,
                "content_hash": a.content_hash, "base_version": a.base_version,
                "new_version": a.new_version, "answer": a.answer, "reason": a.reason,
            }))
            .collect::<Vec<_>>()))
            .into_response()
        }
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, "store", e),
    }
}

pub async fn findings(
    _who: Authed,
    State(state): State<Shared>,
    Path(p): Path<String>,
    Query(f): Query<Filter>,
) -> Response {
    let p = match period(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.view.tables(&state.engine, &p).await {
        Ok(t) => {
            let list: Vec<Value> = t
                .computed
                .findings
                .iter()
                .filter(|x| {
                    f.unit
                        .as_deref()
                        .is_none_or(|u| x.unit.as_deref() == Some(u))
                })
                .map(|x| {
                    json!({
                        "code": x.code, "severity": x.severity, "record": x.record, "unit": x.unit,
                        "message": x.message, "message_vi": x.describe_vi(),
                    })
                })
                .collect();
            Json(json!(list)).into_response()
        }
        Err(e) => failed(StatusCode::BAD_REQUEST, "invalid", e),
    }
}

#[derive(serde::Deserialize)]
pub struct ExplainQuery {
    form: String,
    unit: String,
    row: String,
    column: u32,
}

pub async fn explain(
    _who: Authed,
    State(state): State<Shared>,
    Path(p): Path<String>,
    Query(q): Query<ExplainQuery>,
) -> Response {
    let p = match period(&p) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let engine = &state.engine;
    let result = async {
        let tables = state.view.tables(engine, &p).await?;
        let regime = engine.setup().regime(&p)?;
        let def = regime
            .form(&q.form)
            .map_err(|e| sync::SyncError::Config(e.to_string()))?;
        explain_cell(
            regime,
            def,
            crate::forms::explain::Ordered {
                dossiers: &tables.dossiers,
                order: tables.order.as_deref(),
            },
            &engine.parts.units,
            &p,
            crate::forms::aggregate::Aggregation::ByKind(&tables.aggregation_rules),
            &Cell {
                unit: q.unit.clone(),
                row: q.row.clone(),
                column: q.column,
            },
        )
        .map_err(|e| sync::SyncError::Config(e.to_string()))
    }
    .await;
    match result {
        Ok(e) => Json(json!(e)).into_response(),
        Err(e) => failed(StatusCode::BAD_REQUEST, "invalid", e),
    }
}

#[derive(serde::Deserialize)]
pub struct SyncBody {
    period: String,
    unit: Option<String>,
    form: Option<String>,
    system: Option<String>,
    accept_stale: Option<String>,
}

/// Runs the pipeline over a scope (pull, gate, compute, outbox); the daemon's workers deliver.
pub async fn sync(
    who: Authed,
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<SyncBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(body)) => body,
        Err(e) => {
            tracing::warn!(error = %e, "a sync request was refused");
            return bad(
                e.status(),
                "bad_request",
                "Nội dung yêu cầu phải là JSON (application/json) có trường period, ví dụ \
                 {\"period\": \"2023-Q3\"}",
            );
        }
    };
    if let Err(r) = who.check_csrf(csrf_header(&headers)) {
        return r;
    }
    let p = match period(&body.period) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(message) = view::not_ended(&p, state.engine.clock.now()) {
        return bad(
            StatusCode::UNPROCESSABLE_ENTITY,
            "period_not_ended",
            message,
        );
    }
    let scope = Scope {
        period: p,
        unit: body.unit,
        form: body.form,
        system: body.system,
    };
    let opts = RunOptions {
        pull: true,
        deliver: false,
        accept_stale: body.accept_stale,
        actor: who.operator.actor(),
        cause: "http".to_owned(),
        ..RunOptions::default()
    };
    match state.engine.run(&scope, &opts, &sync::Quiet).await {
        Ok(report) => Json(json!({
            "period": report.period.summary(),
            "gate": report.gate,
            "accepted_stale": report.accepted_stale,
            "summary": sync::summarize(&report.rows),
            "reports": report.rows.iter().map(row_json).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e @ sync::SyncError::Busy(_)) => failed(StatusCode::CONFLICT, "busy", e),
        Err(e) => failed(StatusCode::BAD_REQUEST, "invalid", e),
    }
}

fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|v| v.to_str().ok())
}

pub async fn retry(
    who: Authed,
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = who.check_csrf(csrf_header(&headers)) {
        return r;
    }
    let engine = &state.engine;
    let done = sync::operate(
        &engine.store,
        &OutboxFilter::id(id),
        Event::Retry,
        &who.operator.actor(),
        "outbox_retry",
        "",
        engine.clock.now(),
        &engine.policy(),
    )
    .await;
    match done {
        Ok(done) if done.changed.is_empty() && done.refused.is_empty() => bad(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("Không có báo cáo số {id} trong hàng đợi gửi"),
        ),
        Ok(done) => {
            engine.delivery.wake();
            match done.refused.first() {
                Some(r) => bad(
                    StatusCode::CONFLICT,
                    "refused",
                    super::words::refusal(r.why),
                ),
                None => Json(row_json(&done.changed[0])).into_response(),
            }
        }
        Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, "store", e),
    }
}

/// Prometheus text; the outbox's gauges are read from the store as it is scraped.
pub async fn metrics(_who: Authed, State(state): State<Shared>) -> Response {
    let engine = &state.engine;
    if let Ok(rows) = engine.store.outbox(&OutboxFilter::default()).await {
        let now = engine.clock.now();
        let mut counts: std::collections::BTreeMap<&str, std::collections::HashMap<_, usize>> =
            std::collections::BTreeMap::new();
        for r in &rows {
            *counts
                .entry(r.report.period.as_str())
                .or_default()
                .entry(r.state)
                .or_default() += 1;
        }
        // Every state of every period with reports, so a state that emptied reads 0.
        let by_state: Vec<(String, &'static str, usize)> = counts
            .iter()
            .flat_map(|(period, n)| {
                crate::store::OutboxState::ALL.iter().map(|s| {
                    (
                        (*period).to_owned(),
                        s.as_str(),
                        n.get(s).copied().unwrap_or(0),
                    )
                })
            })
            .collect();
        let leases = rows.iter().filter(|r| r.lease_is_live(now)).count();
        crate::telemetry::events::outbox(&by_state, leases);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}
