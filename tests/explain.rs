//! `explain` on the golden fixture: for every cell of the expected II.06a and II.06, the dossiers
//! listed are as many as the expected figure; and every listed reason is checked against the
//! dossier's raw record — each date it quotes is one of the record's dates (or the period's
//! bounds), and the record's raw dates satisfy the column's rule as domain.md words it.

mod common;

use baocao_sync::domain::{Dossier, Period, UnitTree};
use baocao_sync::forms::FormCatalog;
use baocao_sync::forms::explain::{Cell, CountedDossier, explain};
use baocao_sync::sources::export::parse_raw;
use chrono::{NaiveDate, TimeZone};
use common::*;
use serde_json::Value;
use std::collections::HashMap;

/// A raw instant's local day (Asia/Ho_Chi_Minh), parsed here, not by the product.
fn local_day(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let ict = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    if raw.len() == 14 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&raw[..8], "%Y%m%d").ok();
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S") {
        return Some(ict.from_local_datetime(&t).unwrap().date_naive());
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&ict).date_naive())
}

struct Raw {
    received: Option<NaiveDate>,
    due: Option<NaiveDate>,
    finished: Option<NaiveDate>,
    supplement: Option<NaiveDate>,
    status: u8,
    channel: String,
    withdrawn: bool,
}

fn raw_records() -> HashMap<String, Raw> {
    let text = std::fs::read_to_string(fixture("dossiers.ndjson")).unwrap();
    let mut out = HashMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let s = |k: &str| match &v[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let result = s("LoaiKetQua").to_lowercase().replace(' ', "");
        out.insert(
            s("MaHoSo"),
            Raw {
                received: local_day(&s("NgayTiepNhan")),
                due: local_day(&s("NgayHenTra")),
                finished: local_day(&s("NgayKetThucXuLy")),
                supplement: local_day(&s("NgayYeuCauBoSung")),
                status: s("TrangThaiHoSo").trim().parse().unwrap_or(0),
                channel: s("KenhThucHien").trim().to_owned(),
                withdrawn: result == "trảlại/xinrút",
            },
        );
    }
    out
}

/// Checks one listed dossier against its raw record.
fn check(d: &CountedDossier, column: u32, raw: &Raw, t: NaiveDate, end: NaiveDate) {
    let fmt = |x: Option<NaiveDate>| x.map(|x| x.format("%d/%m/%Y").to_string());
    assert_eq!(d.received, fmt(raw.received), "{}", d.record);
    assert_eq!(d.due, fmt(raw.due), "{}", d.record);
    assert_eq!(d.finished, fmt(raw.finished), "{}", d.record);
    // Every date the reason quotes is one of the record's, or the period's bounds.
    let allowed: Vec<String> = [
        raw.received,
        raw.due,
        raw.finished,
        raw.supplement,
        Some(t),
        Some(end),
    ]
    .into_iter()
    .flatten()
    .map(|x| x.format("%d/%m/%Y").to_string())
    .collect();
    for word in d.reason.split([' ', ',', ':', '(', ')']) {
        if word.len() == 10 && word.as_bytes()[2] == b'/' {
            assert!(
                allowed.iter().any(|a| a == word),
                "{}: {} in `{}`",
                d.record,
                word,
                d.reason
            );
        }
    }
    assert!(
        d.reason.starts_with(&format!("cột {column}: ")),
        "{}",
        d.reason
    );
    let received = raw
        .received
        .expect("a counted dossier has a reception date");
    let closes = matches!(raw.status, 7 | 9 | 10);
    let closed_in = closes && raw.finished.is_some_and(|k| t <= k && k <= end);
    let pending = !(closes && raw.finished.is_some_and(|k| k <= end));
    let paused =
        matches!(raw.status, 6 | 8) || (raw.status == 5 && raw.supplement.is_none_or(|y| y <= end));
    let withdrawn = raw.status == 7 || raw.withdrawn;
    let holds = match column {
        3 => received <= end,
        4 => t <= received && raw.channel == "2",
        5 => t <= received && (raw.channel == "1" || raw.channel == "3"),
        6 => received < t,
        7 => closed_in,
        8 => closed_in && !withdrawn && raw.due.is_some_and(|h| raw.finished.unwrap() < h),
        9 => closed_in && (withdrawn || raw.due.is_none_or(|h| raw.finished.unwrap() == h)),
        10 => closed_in && !withdrawn && raw.due.is_some_and(|h| raw.finished.unwrap() > h),
        11 => pending,
        12 => pending && (paused || raw.due.is_none_or(|h| h >= end)),
        13 => pending && !paused && raw.due.is_some_and(|h| h < end),
        _ => false,
    };
    assert!(
        holds,
        "{} does not belong in column {column}: {}",
        d.record, d.reason
    );
}

#[test]
fn every_figure_of_the_golden_ii06a_and_ii06_is_its_dossiers() {
    let text = std::fs::read_to_string(fixture("dossiers.ndjson")).unwrap();
    let dossiers: Vec<Dossier> = parse_raw::<Dossier>(text.lines(), false).records;
    let units =
        UnitTree::from_toml(&std::fs::read_to_string(fixture("units.toml")).unwrap()).unwrap();
    let period: Period = "2023-Q3".parse().unwrap();
    let (t, end) = (period.first_day, period.last_day);
    let catalog = FormCatalog::builtin();
    let regime = catalog.regime_for(&period).unwrap();
    let raw = raw_records();
    let mut cells = 0;
    for form in ["II.06a", "II.06"] {
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("expected-{form}-2023-Q3.json"))).unwrap(),
        )
        .unwrap();
        let def = regime.form(form).unwrap();
        for report in expected["reports"].as_array().unwrap() {
            let unit = report["unit"].as_str().unwrap();
            let mut rows: Vec<(String, &Value)> = vec![("_total".into(), &report["total"])];
            match form {
                "II.06a" => {
                    for r in report["rows"].as_array().unwrap() {
                        rows.push((r["key"].as_str().unwrap().to_owned(), &r["values"]));
                    }
                }
                _ => {
                    for s in report["sections"].as_array().unwrap() {
                        let kind = s["kind"].as_str().unwrap();
                        rows.push((format!("{kind}/_subtotal"), &s["subtotal"]));
                        for r in s["rows"].as_array().unwrap() {
                            let key = format!("{kind}/{}", r["key"].as_str().unwrap());
                            rows.push((key, &r["values"]));
                        }
                    }
                }
            }
            for (row, values) in rows {
                for (column, figure) in values.as_object().unwrap() {
                    let column: u32 = column.parse().unwrap();
                    let cell = Cell {
                        unit: unit.to_owned(),
                        row: row.clone(),
                        column,
                    };
                    let e = explain(
                        regime,
                        def,
                        dossiers[..].into(),
                        &units,
                        &period,
                        Default::default(),
                        &cell,
                    )
                    .unwrap();
                    assert_eq!(
                        e.counted.len() as u64,
                        figure.as_u64().unwrap(),
                        "{form} {unit} {row} column {column}"
                    );
                    for d in &e.counted {
                        check(d, column, &raw[&d.record], t, end);
                    }
                    for l in &e.left_out {
                        assert_ne!(l.code, "", "{}", l.record);
                    }
                    cells += 1;
                }
            }
        }
    }
    assert!(cells > 500, "{cells} cells checked");
}

#[test]
fn explain_as_json_text_and_xlsx() {
    let args = |format: &str| {
        vec![
            "explain".to_owned(),
            "--input".into(),
            fixture("dossiers.ndjson").display().to_string(),
            "--units".into(),
            fixture("units.toml").display().to_string(),
            "--period".into(),
            "2023-Q3".into(),
            "--form".into(),
            "II.06a".into(),
            "--unit".into(),
            "000.10.00.H55".into(),
            "--row".into(),
            "_total".into(),
            "--column".into(),
            "10".into(),
            "--format".into(),
            format.into(),
        ]
    };
    let json: Value = serde_json::from_str(&output_with(bin().args(args("json")), &[0])).unwrap();
    assert_eq!(
        json["figure"], 4,
        "the golden II.06a says 4 late at the department"
    );
    assert_eq!(json["counted"].as_array().unwrap().len(), 4);
    let text = output_with(bin().args(args("text")), &[0]);
    assert!(text.contains("đã giải quyết quá hạn: kết thúc"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.xlsx");
    let mut a = args("xlsx");
    a.extend(["--out".into(), out.display().to_string()]);
    output_with(bin().args(&a), &[0]);
    assert!(
        std::fs::read(&out).unwrap().starts_with(b"PK"),
        "a workbook"
    );
    // A row that is not one of the form's, and a unit that does not aggregate, say so.
    let mut bad = args("text");
    bad[8] = "II.06".into();
    let out = bin().args(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such report"));
}
