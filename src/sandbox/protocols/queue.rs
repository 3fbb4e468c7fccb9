//! A queue of dossiers with acknowledgements (the civil-status inter-connected services):
//! `POST GetToken {userName, password}` → `{token, refreshToken, refreshTokenExpiryTime}` (accounts
//! of system `queue`), `GET LayDanhSachHoSo` (Bearer) → `{data: [...]}`, up to 50 items not yet
//! acknowledged, `PUT CapNhatDaNhanHoSo {maHoSo, daNhan: true}` → a text saying it worked. Every
//! dossier of the data set is queued at first; a record changed through `/_sandbox/records` is
//! queued again. Items use lowerCamel names and ISO instants with `+0700`.

use super::super::State;
use super::{dossiers, field, instant};
use crate::domain::Instant;
use axum::Json;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const BATCH: usize = 50;
static TOKENS: AtomicU64 = AtomicU64::new(0);

/// Queues every dossier of the data set once, on first use.
fn started(state: &State) {
    let all: Vec<String> = {
        let q = state.protocols.queue.lock().expect("lock");
        if q.started {
            return;
        }
        drop(q);
        dossiers(state)
            .iter()
            .map(|r| field(r, "MaHoSo").to_owned())
            .collect()
    };
    let mut q = state.protocols.queue.lock().expect("lock");
    if q.started {
        return;
    }
    q.started = true;
    for key in all {
        if q.queued.insert(key.clone()) {
            q.waiting.push_back(key);
        }
    }
}

/// Queues a dossier that changed (`/_sandbox/records`).
pub(crate) fn changed(state: &State, key: &str) {
    let mut q = state.protocols.queue.lock().expect("lock");
    if q.started && q.queued.insert(key.to_owned()) {
        q.waiting.push_back(key.to_owned());
    }
}

fn iso(at: Instant) -> String {
    at.to_local().format("%Y-%m-%dT%H:%M:%S+0700").to_string()
}

fn render(r: &Value) -> Value {
    let date = |name: &str| instant(r, name).map(iso).unwrap_or_default();
    json!({
        "id": super::object_id("queue", field(r, "MaHoSo")),
        "maHoSo": field(r, "MaHoSo"),
        "maTTHC": field(r, "MaTTHC"),
        "tenTTHC": field(r, "TenTTHC"),
        "maLinhVuc": field(r, "MaLinhVuc"),
        "tenLinhVuc": field(r, "TenLinhVuc"),
        "maDonVi": field(r, "MaDonViXuLy"),
        "kenhThucHien": field(r, "KenhThucHien"),
        "trangThaiHoSo": field(r, "TrangThaiHoSo"),
        "ngayTiepNhan": date("NgayTiepNhan"),
        "ngayHenTra": date("NgayHenTra"),
        "ngayYeuCauBoSung": date("NgayYeuCauBoSung"),
        "ngayKetThucXuLy": date("NgayKetThucXuLy"),
        "ngayTra": date("NgayTra"),
        "loaiKetQua": field(r, "LoaiKetQua"),
    })
}

pub(super) async fn token(Shared(state): Shared<Arc<State>>, body: String) -> Response {
    let n = TOKENS.fetch_add(1, Ordering::Relaxed);
    let admitted = match super::super::admit(&state, "queue", format!("POST GetToken #{n}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let ok = state.data.accounts.iter().any(|a| {
        a.system == "queue"
            && Some(a.username.as_str()) == v.get("userName").and_then(Value::as_str)
            && Some(a.password.as_str()) == v.get("password").and_then(Value::as_str)
    });
    let reply = if ok {
        let n = state.issued.fetch_add(1, Ordering::Relaxed);
        let token = format!("sandbox-queue-token-{n}");
        state.access.lock().expect("lock").insert(
            token.clone(),
            super::super::Issued {
                system: "queue".to_owned(),
                holder: "queue".to_owned(),
                calls: 0,
                issued_ms: state.clock.now_ms(),
            },
        );
        Json(json!({"token": token, "refreshToken": format!("r-{token}"),
                    "refreshTokenExpiryTime": "2099-01-01T00:00:00"}))
        .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Tài khoản hoặc mật khẩu không đúng"})),
        )
            .into_response()
    };
    admitted.answer(reply).await
}

pub(super) async fn list(Shared(state): Shared<Arc<State>>, headers: HeaderMap) -> Response {
    let n = TOKENS.fetch_add(1, Ordering::Relaxed);
    let admitted = match super::super::admit(&state, "queue", format!("GET list #{n}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = if super::super::bearer(&state, "queue", &headers).is_none() {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized"})),
        )
            .into_response()
    } else {
        started(&state);
        let keys: Vec<String> = state
            .protocols
            .queue
            .lock()
            .expect("lock")
            .waiting
            .iter()
            .take(BATCH)
            .cloned()
            .collect();
        let all = dossiers(&state);
        let by_key: std::collections::HashMap<&str, &Value> =
            all.iter().map(|r| (field(r, "MaHoSo"), r)).collect();
        let data: Vec<Value> = keys
            .iter()
            .filter_map(|k| by_key.get(k.as_str()).map(|r| render(r)))
            .collect();
        Json(json!({"data": data})).into_response()
    };
    admitted.answer(reply).await
}

pub(super) async fn ack(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let admitted = match super::super::admit(&state, "queue", format!("PUT ack {body}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = if super::super::bearer(&state, "queue", &headers).is_none() {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized"})),
        )
            .into_response()
    } else {
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let key = v.get("maHoSo").and_then(Value::as_str).unwrap_or_default();
        let received = v.get("daNhan").and_then(Value::as_bool).unwrap_or(false);
        let mut q = state.protocols.queue.lock().expect("lock");
        if !received || key.is_empty() {
            (StatusCode::OK, "Dữ liệu không hợp lệ").into_response()
        } else {
            // An acknowledgement sent again (its answer was lost) succeeds again.
            if q.queued.remove(key) {
                q.waiting.retain(|k| k != key);
                q.acknowledged += 1;
            }
            "Cập nhật thành công".into_response()
        }
    };
    admitted.answer(reply).await
}

/// `GET /_sandbox/queue`: how many wait, how many were acknowledged.
pub(super) async fn inspect(Shared(state): Shared<Arc<State>>) -> Response {
    started(&state);
    let q = state.protocols.queue.lock().expect("lock");
    Json(json!({"waiting": q.waiting.len(), "acknowledged": q.acknowledged})).into_response()
}
