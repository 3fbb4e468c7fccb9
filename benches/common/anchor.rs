//! The anchor: the same dossiers in a typed PostgreSQL table, and II.06a as one SQL aggregate.
//! Written from domain.md §5 on its own (it shares no code with the product): the figures it
//! gives are checked against the product's.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// A local calendar day (Asia/Ho_Chi_Minh) from the three instant forms, `None` when empty;
/// `Err` when the text is none of them (the record is then unreadable).
fn day(v: &Value) -> Result<Option<NaiveDate>, ()> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return Err(()),
    };
    if text.is_empty() {
        return Ok(None);
    }
    let ict = FixedOffset::east_opt(7 * 3600).unwrap();
    if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S")
            .map(|t| Some(t.date()))
            .map_err(|_| ());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(t.with_timezone(&ict).date_naive()));
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
        .map(|t| Some(ict.from_local_datetime(&t).unwrap().date_naive()))
        .map_err(|_| ())
}

/// An instant as seconds, for ordering versions (absent is oldest).
fn seconds(v: &Value) -> Option<i64> {
    let text = text(v);
    let ict = FixedOffset::east_opt(7 * 3600).unwrap();
    if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        let t = NaiveDateTime::parse_from_str(&text, "%Y%m%d%H%M%S").ok()?;
        return Some(ict.from_local_datetime(&t).unwrap().timestamp());
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&text) {
        return Some(t.timestamp());
    }
    let t = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(ict.from_local_datetime(&t).unwrap().timestamp())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Loads the readable dossiers (the latest CapNhatLuc of a key; the last on a tie) and the
/// unit codes; returns how many dossiers.
pub async fn load(url: &str, input: &Path, units: &Path) -> usize {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    for sql in [
        "CREATE UNLOGGED TABLE anchor_units (code TEXT PRIMARY KEY)",
        "CREATE UNLOGGED TABLE anchor_in (ord BIGINT, key TEXT, unit TEXT, field TEXT, channel TEXT, \
         status INT, tn DATE, ht DATE, yc DATE, kt DATE, withdrawal BOOL, deleted BOOL, updated BIGINT)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let codes: Vec<String> = std::fs::read_to_string(units)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("code = \"")?
                .strip_suffix('"')
                .map(str::to_owned)
        })
        .collect();
    for code in codes {
        sqlx::query("INSERT INTO anchor_units VALUES ($1)")
            .bind(code)
            .execute(&mut c)
            .await
            .unwrap();
    }
    let mut copy = c
        .copy_in_raw("COPY anchor_in FROM STDIN (FORMAT csv)")
        .await
        .unwrap();
    let mut buf = String::new();
    let reader = std::io::BufReader::new(std::fs::File::open(input).unwrap());
    let mut n = 0usize;
    for (ord, line) in reader.lines().enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(&line.unwrap()) else {
            continue;
        };
        let status = text(&v["TrangThaiHoSo"])
            .parse::<i32>()
            .ok()
            .filter(|s| (1..=10).contains(s));
        let dates: Result<Vec<Option<NaiveDate>>, ()> = [
            "NgayTiepNhan",
            "NgayHenTra",
            "NgayYeuCauBoSung",
            "NgayKetThucXuLy",
            "NgayTra",
            "CapNhatLuc",
        ]
        .iter()
        .map(|f| day(&v[*f]))
        .collect();
        let (Some(status), Ok(dates), key) = (status, dates, text(&v["MaHoSo"])) else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        let kind: String = text(&v["LoaiKetQua"]).to_lowercase();
        let kind: String = kind.split('/').map(str::trim).collect::<Vec<_>>().join("/");
        let withdrawal = kind == "trả lại/xin rút";
        let d = |i: usize| dates[i].map_or(String::new(), |d| d.to_string());
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        buf.push_str(&format!(
            "{ord},{},{},{},{},{status},{},{},{},{},{withdrawal},{},{}\n",
            q(&key),
            q(&text(&v["MaDonViXuLy"])),
            q(&text(&v["MaLinhVuc"])),
            q(&text(&v["KenhThucHien"])),
            d(0),
            d(1),
            d(2),
            d(3),
            matches!(text(&v["DaXoa"]).to_lowercase().as_str(), "1" | "true"),
            seconds(&v["CapNhatLuc"]).map_or(String::new(), |s| s.to_string()),
        ));
        n += 1;
        if buf.len() > 1 << 20 {
            copy.send(std::mem::take(&mut buf).into_bytes())
                .await
                .unwrap();
        }
    }
    copy.send(buf.into_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    // One row per key: the latest CapNhatLuc (instants compared as the product compares them:
    // absent is oldest), the last in the file on a tie.
    for sql in [
        "CREATE UNLOGGED TABLE anchor AS SELECT DISTINCT ON (key) * FROM anchor_in \
         ORDER BY key, updated DESC NULLS LAST, ord DESC",
        "ANALYZE anchor",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }
    n
}

/// II.06a of 2023-Q3 (T = 15/06/2023, D = 14/09/2023) as one query; the best wall time of
/// `runs`, and its figures.
pub async fn aggregate(
    url: &str,
    runs: usize,
) -> (f64, BTreeMap<(String, String), BTreeMap<u32, u64>>) {
    use sqlx::{Connection, Row};
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    let sql = "WITH d AS ( \
          SELECT unit, field, channel, status, tn, ht, yc, \
                 CASE WHEN status IN (7, 9, 10) THEN kt END AS closed, \
                 (status = 7 OR (status IN (9, 10) AND withdrawal)) AS wd, \
                 (status IN (6, 8) OR (status = 5 AND (yc IS NULL OR yc <= DATE '2023-09-14'))) AS paused \
          FROM anchor \
          WHERE status NOT IN (1, 3) AND NOT deleted AND tn IS NOT NULL AND tn <= DATE '2023-09-14' \
            AND NOT (status IN (9, 10) AND kt IS NULL) \
            AND NOT (status IN (7, 9, 10) AND kt IS NOT NULL AND kt < tn) \
            AND NOT (status IN (7, 9, 10) AND kt IS NOT NULL AND kt < DATE '2023-06-15') \
            AND NOT (tn >= DATE '2023-06-15' AND channel NOT IN ('1', '2', '3')) \
            AND unit IN (SELECT code FROM anchor_units)) \
        SELECT unit, field, \
          COUNT(*) AS c3, \
          COUNT(*) FILTER (WHERE tn >= DATE '2023-06-15' AND channel = '2') AS c4, \
          COUNT(*) FILTER (WHERE tn >= DATE '2023-06-15' AND channel IN ('1', '3')) AS c5, \
          COUNT(*) FILTER (WHERE tn < DATE '2023-06-15') AS c6, \
          COUNT(*) FILTER (WHERE closed BETWEEN DATE '2023-06-15' AND DATE '2023-09-14') AS c7, \
          COUNT(*) FILTER (WHERE closed BETWEEN DATE '2023-06-15' AND DATE '2023-09-14' AND NOT wd AND ht IS NOT NULL AND closed < ht) AS c8, \
          COUNT(*) FILTER (WHERE closed BETWEEN DATE '2023-06-15' AND DATE '2023-09-14' AND (wd OR ht IS NULL OR closed = ht)) AS c9, \
          COUNT(*) FILTER (WHERE closed BETWEEN DATE '2023-06-15' AND DATE '2023-09-14' AND NOT wd AND ht IS NOT NULL AND closed > ht) AS c10, \
          COUNT(*) FILTER (WHERE closed IS NULL OR closed > DATE '2023-09-14') AS c11, \
          COUNT(*) FILTER (WHERE (closed IS NULL OR closed > DATE '2023-09-14') AND (paused OR ht IS NULL OR ht >= DATE '2023-09-14')) AS c12, \
          COUNT(*) FILTER (WHERE (closed IS NULL OR closed > DATE '2023-09-14') AND NOT paused AND ht IS NOT NULL AND ht < DATE '2023-09-14') AS c13 \
        FROM d GROUP BY unit, field";
    let mut best = f64::MAX;
    let mut figures = BTreeMap::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rows = sqlx::query(sql)
            .fetch_all(&mut c)
            .await
            .expect("the aggregate runs");
        best = best.min(t.elapsed().as_secs_f64());
        figures = rows
            .iter()
            .map(|r| {
                let values = (3..=13)
                    .map(|c| (c as u32, r.get::<i64, _>(c as usize - 1) as u64))
                    .collect();
                ((r.get::<String, _>(0), r.get::<String, _>(1)), values)
            })
            .collect();
    }
    (best, figures)
}

/// The indexes a DBA would give the table for this query: the key (for upserts), the reception
/// and finish dates, the status; what they and the table take on disk (bytes).
pub async fn index(url: &str) -> u64 {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    for sql in [
        "CREATE UNIQUE INDEX anchor_key ON anchor (key)",
        "CREATE INDEX anchor_tn ON anchor (tn)",
        "CREATE INDEX anchor_kt ON anchor (kt)",
        "CREATE INDEX anchor_status ON anchor (status)",
        "ANALYZE anchor",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('anchor')")
        .fetch_one(&mut c)
        .await
        .unwrap();
    bytes as u64
}
