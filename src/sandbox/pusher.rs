//! A one-stop system pushing to a receiver as it pushes to the national portal: it logs in,
//! sends its dossiers in `DongBoHoSoMC` batches and its satisfaction in `DongBoDanhGia`
//! aggregates (one item per unit, calendar month and question), retrying what did not arrive.
//! The demo plays it against the daemon's receiver; tests build on its items.

use super::Quirks;
use crate::domain::Instant;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The question the sandbox's one-stop system asks.
pub const QUESTION: &str = "Mức độ hài lòng chung về việc giải quyết thủ tục hành chính";

/// The data set's dossiers (canonical NDJSON) as `DongBoHoSoMC` items, deleted ones left out.
pub fn dossier_items(ndjson: &str, names: &HashMap<String, String>) -> Vec<Value> {
    let quirks = Quirks::default();
    ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(super::protocols::shown)
        .map(|r| super::protocols::envelope::item(&quirks, names, &r))
        .collect()
}

/// The data set's ratings (canonical NDJSON) as `DongBoDanhGia` aggregates: per unit and calendar
/// month, the raters and each level's share in whole percents, as one-stop systems write them.
pub fn rating_items(ndjson: &str, names: &HashMap<String, String>) -> Vec<Value> {
    let mut counts: BTreeMap<(String, i32, u32), [u64; 3]> = BTreeMap::new();
    for r in ndjson
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let text = |k: &str| {
            r.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (Ok(at), Ok(level)) = (
            Instant::parse(&text("ThoiGianDanhGia")),
            text("MucDo").parse::<usize>(),
        ) else {
            continue;
        };
        if !(1..=3).contains(&level) {
            continue;
        }
        let day = at.to_local().date();
        use chrono::Datelike;
        counts
            .entry((text("MaDonVi"), day.year(), day.month()))
            .or_default()[level - 1] += 1;
    }
    counts
        .into_iter()
        .map(|((unit, year, month), c)| {
            let total: u64 = c.iter().sum();
            let share = |n: u64| format!("{}%", (n * 100 + total / 2) / total);
            json!({
                "NgayTongHop": format!("{month}-{year}"),
                "TongSoNguoiDanhGia": total.to_string(),
                "PhanTramDanhGia": {"RatHaiLong": share(c[0]), "HaiLong": share(c[1]), "ChuaHaiLong": share(c[2])},
                "NoiDung": QUESTION,
                "Madonvi": unit,
                "TenDonVi": names.get(&unit).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// What a push did.
#[derive(Debug, Default)]
pub struct Pushed {
    pub batches: usize,
    /// Items the receiver answered an error for, with its message.
    pub refused: Vec<(String, String)>,
    pub retries: usize,
}

/// Logs in to the receiver at `base` and sends `items` to `service` in batches of `batch`,
/// sending a batch again (logging in again when the session is gone) until it is answered.
pub async fn push(
    base: &str,
    login: (&str, &str),
    dstcode: Option<&str>,
    service: &str,
    items: &[Value],
    batch: usize,
) -> Result<Pushed, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let mut pushed = Pushed::default();
    let mut session = log_in(&http, base, login, dstcode).await?;
    for chunk in items.chunks(batch.max(1)) {
        let mut tries = 0;
        loop {
            tries += 1;
            if tries > 50 {
                return Err(format!(
                    "a batch of {service} was not received after 50 tries"
                ));
            }
            let body = json!({"session": session, "service": service, "isUpdating": "True", "data": chunk});
            let answer = http
                .post(format!("{base}/integration"))
                .json(&body)
                .send()
                .await;
            let answer = match answer {
                Ok(a) if a.status().is_success() => a,
                _ => {
                    pushed.retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let v: Value = answer.json().await.map_err(|e| e.to_string())?;
            let code = crate::auth::source::code_text(&v["error_code"]);
            let message = v["message"].as_str().unwrap_or_default();
            if code != "0" && crate::catalog::fold(message).contains("phien lam viec") {
                session = log_in(&http, base, login, dstcode).await?;
                continue;
            }
            if let Some(bad) = v["result"].as_array() {
                for b in bad {
                    pushed.refused.push((
                        b["MaHoSo"].as_str().unwrap_or_default().to_owned(),
                        b["message"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
            pushed.batches += 1;
            break;
        }
    }
    Ok(pushed)
}

async fn log_in(
    http: &reqwest::Client,
    base: &str,
    (username, password): (&str, &str),
    dstcode: Option<&str>,
) -> Result<String, String> {
    for _ in 0..20 {
        let mut request = http
            .post(format!("{base}/auth"))
            .json(&json!({"username": username, "password": password}));
        if let Some(code) = dstcode {
            request = request.header("dstcode", code);
        }
        match request.send().await {
            Ok(a) if a.status().is_success() => {
                let v: Value = a.json().await.map_err(|e| e.to_string())?;
                return v["session"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("the receiver refused the login: {}", v["message"]));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Err("the receiver did not answer the login".to_owned())
}
