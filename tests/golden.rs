//! The golden fixture: `report` reproduces the expected II.06a and II.06 figures exactly, from
//! NDJSON and from the same dossiers as a JSON array, CSV and XLSX written by the test.

mod common;

use baocao_sync::domain::Dossier;
use baocao_sync::sources::export::FromWire;
use common::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::Value;
use std::path::Path;

/// The dossier fields, as the library reads them.
const FIELDS: &[&str] = <Dossier as FromWire>::FIELDS;

fn expected(form: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("expected-{form}-2023-Q3.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn report(input: &Path, form: &str) -> Value {
    report_json(&[
        "--input",
        input.to_str().unwrap(),
        "--units",
        fixture("units.toml").to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        form,
        "--format",
        "json",
    ])
}

/// The fixture's lines that are JSON objects, as field maps (the fixture may hold lines that are
/// not JSON: those cannot be carried into another format and are left out of the conversions).
fn fixture_records() -> Vec<serde_json::Map<String, Value>> {
    std::fs::read_to_string(fixture("dossiers.ndjson"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?.as_object().cloned())
        .collect()
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[test]
fn ii06a_from_ndjson_matches_the_golden_figures() {
    let got = report(&fixture("dossiers.ndjson"), "II.06a");
    assert_same_figures(&expected("II.06a"), &got);
}

#[test]
fn ii06_from_ndjson_matches_the_golden_figures() {
    let got = report(&fixture("dossiers.ndjson"), "II.06");
    assert_same_figures(&expected("II.06"), &got);
}

#[test]
fn json_array_csv_and_xlsx_give_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let records = fixture_records();

    let json = dir.path().join("dossiers.json");
    std::fs::write(&json, serde_json::to_string_pretty(&records).unwrap()).unwrap();

    let csv = dir.path().join("dossiers.csv");
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut bytes);
        w.write_record(FIELDS).unwrap();
        for r in &records {
            w.write_record(FIELDS.iter().map(|f| text(r.get(*f))))
                .unwrap();
        }
        w.flush().unwrap();
    }
    std::fs::write(&csv, bytes).unwrap();

    // XLSX as an official would save it: numbers as numbers, compact local instants as Excel
    // date cells, everything else as text.
    let xlsx = dir.path().join("dossiers.xlsx");
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm:ss");
    let ws = book.add_worksheet();
    for (c, f) in FIELDS.iter().enumerate() {
        ws.write_string(0, c as u16, *f).unwrap();
    }
    for (i, r) in records.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, f) in FIELDS.iter().enumerate() {
            let c = c as u16;
            let t = text(r.get(*f));
            if t.is_empty() {
                continue;
            }
            let compact = t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit());
            if f.starts_with("Ngay") && compact {
                let dt = ExcelDateTime::parse_from_str(&format!(
                    "{}-{}-{} {}:{}:{}",
                    &t[0..4],
                    &t[4..6],
                    &t[6..8],
                    &t[8..10],
                    &t[10..12],
                    &t[12..14]
                ))
                .unwrap();
                ws.write_datetime_with_format(row, c, &dt, &date).unwrap();
            } else if matches!(*f, "TrangThaiHoSo" | "KenhThucHien") && t.parse::<f64>().is_ok() {
                ws.write_number(row, c, t.parse::<f64>().unwrap()).unwrap();
            } else {
                ws.write_string(row, c, t).unwrap();
            }
        }
    }
    book.save(&xlsx).unwrap();

    for form in ["II.06a", "II.06"] {
        let from_ndjson = report(&fixture("dossiers.ndjson"), form);
        for input in [&json, &csv, &xlsx] {
            let got = report(input, form);
            assert_same_figures(&expected(form), &got);
            assert_same_figures(&from_ndjson, &got);
        }
    }
}

#[test]
fn vietnamese_survives_csv_and_xlsx_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "report",
        "--input",
        fixture("dossiers.ndjson").to_str().unwrap(),
        "--units",
        fixture("units.toml").to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("CSV is UTF-8");
    assert!(
        text.starts_with('\u{feff}'),
        "CSV starts with a byte-order mark"
    );
    assert!(text.contains("Hộ tịch (Bộ Tư pháp)"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("000.00.30.H55,,_total,Tổng số,22,8,10,4,13,6,2,5,9,5,4"))
    );

    for form in ["II.06a", "II.06"] {
        let path = dir.path().join(format!("{form}.xlsx"));
        let out = run(&[
            "report",
            "--input",
            fixture("dossiers.ndjson").to_str().unwrap(),
            "--units",
            fixture("units.toml").to_str().unwrap(),
            "--period",
            "2023-Q3",
            "--form",
            form,
            "--format",
            "xlsx",
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use calamine::{Reader, Xlsx, open_workbook};
        let mut book: Xlsx<_> = open_workbook(&path).unwrap();
        let names = book.sheet_names();
        assert_eq!(names.last().map(String::as_str), Some("Phát hiện dữ liệu"));
        assert_eq!(names[0], "Mục lục", "the index comes first");
        let first = book.worksheet_range(&names[1]).unwrap();
        let cells: Vec<String> = first.cells().map(|(_, _, v)| v.to_string()).collect();
        assert!(
            cells
                .iter()
                .any(|c| c == &format!("Biểu số {form}/VPCP/KSTT")),
            "{cells:?}"
        );
        assert!(
            cells
                .iter()
                .any(|c| c.contains("Từ ngày 15/06/2023 đến ngày 14/09/2023"))
        );
        assert!(cells.iter().any(|c| c == "(13)"));
        assert!(cells.iter().any(|c| c == "Hộ tịch (Bộ Tư pháp)"));
    }
}
