//! The services one-stop systems call on the receiver, each storing before it answers.

use super::{Receiver, answer, refused};
use crate::domain::{Dossier, FindingCode, Instant, RecordKind, ResultKind, Status};
use crate::drill::{Stage, point};
use crate::sources::ingest::{self, Native};
use crate::sources::mapping::Lookups;
use crate::store::{Reject, Store};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub(super) async fn call(r: &Receiver, client: &str, service: &str, v: &Value) -> Response {
    match service {
        "DongBoHoSoMC" => dossiers(r, client, v).await,
        "CapNhatTienDoHoSoMC" => progress(r, client, v).await,
        "TraCuuHoSo" => look_up(r, v).await,
        "DongBoDanhGia" => ratings(r, client, v).await,
        other => answer(
            -1,
            &format!(
                "Dịch vụ `{other}` không được hỗ trợ (DongBoHoSoMC, CapNhatTienDoHoSoMC, TraCuuHoSo, DongBoDanhGia)"
            ),
        ),
    }
}

/// The batch's items (`data`), or the answer saying what is wrong.
fn items(v: &Value) -> Result<&Vec<Value>, Box<Response>> {
    match v.get("data") {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(Box::new(answer(-1, "`data` phải là danh sách các bản ghi"))),
    }
}

/// The store failed: nothing is answered as received, the client sends again.
fn unavailable(r: &Receiver, e: &crate::store::StoreError) -> Response {
    tracing::error!(source = %r.name(), error = %e, "a pushed batch could not be stored");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(
            json!({"error_code": -1, "message": "Chưa lưu được dữ liệu; vui lòng gửi lại sau"}),
        ),
    )
        .into_response()
}

/// One bad item, as the answer lists it.
fn bad(record: &str, message: &str) -> Value {
    json!({"MaHoSo": record, "error_code": -1, "message": message})
}

fn summary(kind: &str, received: usize, bad: Vec<Value>) -> Response {
    if bad.is_empty() {
        answer(0, &format!("Thành công: đã nhận {received} {kind}"))
    } else {
        refused(
            -1,
            &format!(
                "{} trong {received} {kind} không nhận được (xem từng bản ghi trong result); các bản ghi còn lại đã được lưu",
                bad.len()
            ),
            Value::Array(bad),
        )
    }
}

/// `DongBoHoSoMC {isUpdating, data: [dossier, …]}`: whether it says updating or not, each
/// dossier replaces what is stored when it differs.
async fn dossiers(r: &Receiver, client: &str, v: &Value) -> Response {
    let items = match items(v) {
        Ok(i) => i,
        Err(a) => return *a,
    };
    point(Stage::Receive);
    let natives: Vec<Native> = items
        .iter()
        .map(|value| Native {
            value: value.clone(),
            remote_id: None,
        })
        .collect();
    let _one = r.writing.lock().await;
    let at = (r.now)();
    let stored = ingest::dossiers(
        &r.store,
        &r.mapping,
        &r.units,
        &Lookups::new(),
        &natives,
        at,
        false,
    )
    .await;
    match stored {
        Ok(stored) => {
            r.log(RecordKind::Dossier, at, Ok(items.len() as i64)).await;
            point(Stage::Answer);
            tracing::info!(source = %r.name(), client, items = items.len(), new = stored.counts.new,
                updated = stored.counts.updated, rejected = stored.rejected.len(), "DongBoHoSoMC stored");
            let bad: Vec<Value> = stored
                .rejected
                .iter()
                .map(|f| bad(&f.record, &f.message))
                .collect();
            summary("hồ sơ", items.len(), bad)
        }
        Err(e) => {
            r.log(RecordKind::Dossier, at, Err(e.to_string())).await;
            unavailable(r, &e)
        }
    }
}

/// One item of the processing log, read.
struct Step {
    key: String,
    status: Status,
    result: Option<String>,
    at: Instant,
}

/// `CapNhatTienDoHoSoMC {data: [{MaHoSo, TrangThai, ThoiDiemXuLy, …}]}`: the status a dossier
/// reached and when. Applied in time order to the stored dossier: its status, and the instant the
/// status means — 5 the supplement request, 7 and 9 the finish, 10 the return (and the finish if
/// there was none). A step older than what the dossier already shows is stale and changes
/// nothing; a step for a dossier never sent is the item's error (and a reject under its code).
async fn progress(r: &Receiver, client: &str, v: &Value) -> Response {
    let items = match items(v) {
        Ok(i) => i,
        Err(a) => return *a,
    };
    point(Stage::Receive);
    let mut bad_items = Vec::new();
    let mut steps = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = super::text(item, "MaHoSo");
        let record = if key.is_empty() {
            format!("row:{}", i + 1)
        } else {
            key.clone()
        };
        let raw_status = match item.get("TrangThai") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let read = (|| -> Result<Step, String> {
            if key.is_empty() {
                return Err("MaHoSo is missing".to_owned());
            }
            let (status, result) = r.mapping.status(&raw_status)?;
            let status = Status::parse(&status)
                .ok_or_else(|| format!("TrangThai `{raw_status}` is not a status code"))?;
            let at = r
                .mapping
                .instant(&super::text(item, "ThoiDiemXuLy"))
                .map_err(|e| format!("ThoiDiemXuLy: {e}"))?
                .ok_or("ThoiDiemXuLy is missing")?;
            Ok(Step {
                key: key.clone(),
                status,
                result,
                at,
            })
        })();
        match read {
            Ok(step) => steps.push(step),
            Err(why) => bad_items.push(bad(&record, &why)),
        }
    }
    steps.sort_by_key(|s| s.at);
    let _one = r.writing.lock().await;
    let at = (r.now)();
    let keys: Vec<&str> = steps.iter().map(|s| s.key.as_str()).collect();
    let stored = match r.store.dossiers_by_keys(r.name(), &keys).await {
        Ok(d) => d,
        Err(e) => return unavailable(r, &e),
    };
    let mut by_key: std::collections::HashMap<String, (Dossier, bool)> = stored
        .into_iter()
        .map(|d| (d.key.to_string(), (d, false)))
        .collect();
    let mut rejects = Vec::new();
    for step in &steps {
        match by_key.get_mut(&step.key) {
            Some((dossier, changed)) => *changed |= apply(dossier, step),
            None => {
                let why = format!(
                    "progress for dossier {} arrived before the dossier itself (DongBoHoSoMC); send the dossier, then its progress",
                    step.key
                );
                bad_items.push(bad(&step.key, &why));
                rejects.push(Reject {
                    record_key: step.key.clone(),
                    reason: why,
                    raw: String::new(),
                    code: FindingCode::InvalidRecord,
                });
            }
        }
    }
    let changed: Vec<&Dossier> = by_key
        .values()
        .filter(|(_, c)| *c)
        .map(|(d, _)| d)
        .collect();
    let written = async {
        if !changed.is_empty() {
            r.store.upsert_dossiers(r.name(), &changed).await?;
        }
        if !rejects.is_empty() {
            r.store
                .record_rejects(RecordKind::Dossier, r.name(), &rejects)
                .await?;
        }
        Ok::<(), crate::store::StoreError>(())
    };
    if let Err(e) = written.await {
        r.log(RecordKind::Dossier, at, Err(e.to_string())).await;
        return unavailable(r, &e);
    }
    r.log(RecordKind::Dossier, at, Ok(items.len() as i64)).await;
    point(Stage::Answer);
    tracing::info!(source = %r.name(), client, items = items.len(), changed = changed.len(), "CapNhatTienDoHoSoMC stored");
    summary("bước xử lý", items.len(), bad_items)
}

/// Applies one step; `true` when the dossier changed.
fn apply(d: &mut Dossier, step: &Step) -> bool {
    let latest = [d.supplement_requested_at, d.finished_at, d.returned_at]
        .iter()
        .filter_map(|m| m.get())
        .max();
    if latest.is_some_and(|l| step.at < l) {
        return false;
    }
    let before = d.clone();
    d.status = step.status;
    match step.status.code() {
        5 => d.supplement_requested_at = step.at.into(),
        7 | 9 if d.finished_at.is_none() => d.finished_at = step.at.into(),
        10 => {
            d.returned_at = step.at.into();
            if d.finished_at.is_none() {
                d.finished_at = step.at.into();
            }
        }
        _ => {}
    }
    if let Some(result) = &step.result {
        d.result_kind = ResultKind::from_text(result);
    }
    *d != before
}

/// `TraCuuHoSo {mahoso}`: what is stored under that code, as `DongBoHoSoMC` carries it.
async fn look_up(r: &Receiver, v: &Value) -> Response {
    let key = [super::text(v, "mahoso"), super::text(v, "MaHoSo")]
        .into_iter()
        .find(|k| !k.is_empty())
        .unwrap_or_default();
    let found = match r.store.dossiers_by_keys(r.name(), &[key.as_str()]).await {
        Ok(d) => d,
        Err(e) => return unavailable(r, &e),
    };
    let result: Vec<Value> = found.iter().map(render).collect();
    axum::Json(json!({"error_code": 0, "message": "Thành công", "result": result})).into_response()
}

fn render(d: &Dossier) -> Value {
    let at = |m: crate::domain::Moment| m.get().map(|i| i.to_compact_local()).unwrap_or_default();
    json!({
        "MaHoSo": &*d.key,
        "MaTTHC": &*d.procedure_code,
        "MaLinhVuc": &*d.field_code,
        "TenLinhVuc": &*d.field_name,
        "MaDonViXuLy": &*d.unit_code,
        "KenhThucHien": &*d.channel,
        "TrangThaiHoSo": d.status.code().to_string(),
        "NgayTiepNhan": at(d.received_at),
        "NgayHenTra": at(d.due_at),
        "NgayYeuCauBoSung": at(d.supplement_requested_at),
        "NgayKetThucXuLy": at(d.finished_at),
        "NgayTra": at(d.returned_at),
        "LoaiKetQua": if d.result_kind == ResultKind::Withdrawal { "Trả lại/Xin rút" } else { "" },
    })
}

/// `DongBoDanhGia {data: [...]}`: satisfaction as monthly aggregates.
async fn ratings(r: &Receiver, client: &str, v: &Value) -> Response {
    let items = match items(v) {
        Ok(i) => i,
        Err(a) => return *a,
    };
    point(Stage::Receive);
    let _one = r.writing.lock().await;
    let at = (r.now)();
    let stored = crate::sources::rating_months::store_items(
        &r.store,
        r.name(),
        items,
        &r.units,
        &r.settings.mapping.units.codes,
        at,
    )
    .await;
    match stored {
        Ok(stored) => {
            r.log(RecordKind::Rating, at, Ok(items.len() as i64)).await;
            point(Stage::Answer);
            tracing::info!(source = %r.name(), client, items = items.len(), rejected = stored.rejected.len(), "DongBoDanhGia stored");
            let bad: Vec<Value> = stored.rejected.iter().map(|(k, why)| bad(k, why)).collect();
            summary("kết quả đánh giá", items.len(), bad)
        }
        Err(e) => {
            r.log(RecordKind::Rating, at, Err(e.to_string())).await;
            unavailable(r, &e)
        }
    }
}
