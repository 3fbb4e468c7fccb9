//! The national portal's envelope as a ministry-style adapter serves it: a login answering a
//! `session`, services posted with it, `{error_code, message, result}` answers with HTTP 200.

use super::super::State;
use super::{dossiers, error_code, field, instant, status_code};
use crate::domain::Instant;
use axum::Json;
use axum::extract::State as Shared;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static LOGINS: AtomicU64 = AtomicU64::new(0);

/// How the envelope writes instants: `yyyyMMddHHmmss` in `DanhSachHoSo`, `dd/MM/yyyy HH:mm:ss`
/// in `TraCuuHoSo` (as the ministry adapter does).
#[derive(Clone, Copy)]
enum Dates {
    Compact,
    DayMonth,
}

fn answer(state: &State, code: i64, message: &str, result: Option<Value>) -> Response {
    let mut body = json!({"error_code": error_code(&state.data.quirks, code), "message": message});
    if let Some(r) = result {
        body["result"] = r;
    }
    Json(body).into_response()
}

pub(super) async fn login(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let n = LOGINS.fetch_add(1, Ordering::Relaxed);
    let admitted = match super::super::admit(&state, "envelope", format!("POST auth #{n}")) {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = login_answer(&state, &headers, &body);
    admitted.answer(reply).await
}

fn login_answer(state: &State, headers: &HeaderMap, body: &str) -> Response {
    if let Some(refused) = super::gateway::check(state, headers) {
        return refused;
    }
    if let Some(code) = &state.data.quirks.dstcode {
        let sent = headers.get("dstcode").and_then(|v| v.to_str().ok());
        if sent != Some(code.as_str()) {
            return answer(state, -1, "dstcode không đúng", None);
        }
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return answer(state, -1, "Dữ liệu đăng nhập không hợp lệ", None);
    };
    let ok = state.data.accounts.iter().any(|a| {
        a.system == "envelope"
            && Some(a.username.as_str()) == v.get("username").and_then(Value::as_str)
            && Some(a.password.as_str()) == v.get("password").and_then(Value::as_str)
    });
    if !ok {
        return answer(state, -1, "Sai tên đăng nhập hoặc mật khẩu", None);
    }
    let n = state.issued.fetch_add(1, Ordering::Relaxed);
    let session = format!("sandbox-envelope-session-{n}");
    state
        .protocols
        .sessions
        .lock()
        .expect("lock")
        .insert(session.clone(), state.clock.now_ms());
    let mut body =
        json!({"error_code": error_code(&state.data.quirks, 0), "message": "Đăng nhập thành công"});
    body["session"] = Value::String(session);
    Json(body).into_response()
}

pub(super) async fn integration(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let admitted = match super::super::admit(&state, "envelope", format!("POST integration {body}"))
    {
        Ok(a) => a,
        Err(answer) => return *answer,
    };
    let reply = call(&state, &headers, &body);
    admitted.answer(reply).await
}

fn call(state: &State, headers: &HeaderMap, body: &str) -> Response {
    if let Some(refused) = super::gateway::check(state, headers) {
        return refused;
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return answer(state, -1, "Dữ liệu không hợp lệ", None);
    };
    let session = v.get("session").and_then(Value::as_str).unwrap_or_default();
    let issued = state
        .protocols
        .sessions
        .lock()
        .expect("lock")
        .get(session)
        .copied();
    let lifetime = state.data.quirks.session_seconds as i64 * 1000;
    match issued {
        None => return answer(state, -1, "Phiên làm việc không hợp lệ", None),
        Some(at) if lifetime > 0 && state.clock.now_ms() - at >= lifetime => {
            state.fired("session_expired");
            return answer(
                state,
                -1,
                "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại",
                None,
            );
        }
        Some(_) => {}
    }
    let param = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    match param("service") {
        "DanhSachHoSo" => {
            let day = |k: &str| chrono::NaiveDate::parse_from_str(param(k), "%Y-%m-%d").ok();
            let (Some(from), Some(to)) = (day("ngayNhan1"), day("ngayNhan2")) else {
                return answer(state, -1, "ngayNhan1, ngayNhan2: yyyy-MM-dd", None);
            };
            let mut found: Vec<Value> = dossiers(state)
                .into_iter()
                .filter(|r| {
                    instant(r, "NgayTiepNhan").is_some_and(|i| {
                        let d = i.to_local().date();
                        from <= d && d <= to
                    })
                })
                .collect();
            found.sort_by(|a, b| {
                (instant(a, "NgayTiepNhan"), field(a, "MaHoSo"))
                    .cmp(&(instant(b, "NgayTiepNhan"), field(b, "MaHoSo")))
            });
            let result: Vec<Value> = found
                .iter()
                .map(|r| render(state, r, Dates::Compact))
                .collect();
            answer(state, 0, "Thành công", Some(Value::Array(result)))
        }
        "TraCuuHoSo" => {
            let key = param("mahoso");
            let result: Vec<Value> = dossiers(state)
                .iter()
                .filter(|r| field(r, "MaHoSo") == key)
                .map(|r| render(state, r, Dates::DayMonth))
                .collect();
            if state.data.quirks.soft_lookups {
                answer(state, -3, "Thành công", Some(Value::Array(result)))
            } else {
                answer(state, 0, "Thành công", Some(Value::Array(result)))
            }
        }
        other => answer(state, -1, &format!("Dịch vụ {other} không tồn tại"), None),
    }
}

/// A canonical dossier as `DongBoHoSoMC` carries it: every value a string, no unit code (the
/// handling unit's name only), supplement requests as a list (the latest in the middle, so only a
/// client that takes the latest reads it right).
fn render(state: &State, r: &Value, dates: Dates) -> Value {
    render_with(&state.data.quirks, &state.data.unit_names, r, dates)
}

/// A canonical dossier as `DongBoHoSoMC` carries it, for a system with `quirks` whose units are
/// named `names` (the pusher sends the same shape).
pub(crate) fn item(
    quirks: &super::super::Quirks,
    names: &std::collections::HashMap<String, String>,
    r: &Value,
) -> Value {
    render_with(quirks, names, r, Dates::Compact)
}

fn render_with(
    q: &super::super::Quirks,
    names: &std::collections::HashMap<String, String>,
    r: &Value,
    dates: Dates,
) -> Value {
    let write = |i: Instant| match dates {
        Dates::Compact => i.to_compact_local(),
        Dates::DayMonth => i.to_local().format("%d/%m/%Y %H:%M:%S").to_string(),
    };
    let date = |name: &str| instant(r, name).map(write).unwrap_or_default();
    let requests: Vec<Value> = instant(r, "NgayYeuCauBoSung")
        .map(|yc| {
            [-86_400, 0, -3 * 86_400]
                .iter()
                .map(|shift| json!({"NgayBoSung": write(Instant(yc.0 + shift)), "NgayHenTraTruoc": "", "NgayHenTraMoi": ""}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "MaHoSo": field(r, "MaHoSo"),
        "MaTTHC": field(r, "MaTTHC"),
        "TenTTHC": field(r, "TenTTHC"),
        "MaLinhVuc": field(r, "MaLinhVuc"),
        "TenLinhVuc": field(r, "TenLinhVuc"),
        "KenhThucHien": field(r, "KenhThucHien"),
        "ChuHoSo": "Nguyễn Văn A",
        "LoaiDoiTuong": "1",
        "TrangThaiHoSo": status_code(q, field(r, "TrangThaiHoSo")),
        "NgayTiepNhan": date("NgayTiepNhan"),
        "NgayHenTra": date("NgayHenTra"),
        "NgayKetThucXuLy": date("NgayKetThucXuLy"),
        "NgayTra": date("NgayTra"),
        "HinhThuc": "1",
        "DonViXuLy": names
            .get(field(r, "MaDonViXuLy"))
            .cloned()
            .unwrap_or_else(|| format!("Đơn vị {}", field(r, "MaDonViXuLy"))),
        "LoaiKetQua": field(r, "LoaiKetQua"),
        "DanhSachHoSoBoSung": requests,
        "TaiLieuNop": [],
        "DanhSachGiayToKetQua": [],
        "DanhSachLePhi": [],
    })
}
