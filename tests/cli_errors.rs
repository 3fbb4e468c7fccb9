//! Unusable input gets one clear line on standard error and a non-zero exit; a malformed record
//! inside a good file is a finding by position, and the rest is counted.

mod common;

use common::*;

fn report_args<'a>(input: &'a str, period: &'a str, form: &'a str, units: &'a str) -> Vec<&'a str> {
    vec![
        "report", "--input", input, "--units", units, "--period", period, "--form", form,
    ]
}

fn assert_one_line_error(out: &std::process::Output, mentions: &str) {
    assert!(!out.status.success(), "should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(mentions), "`{mentions}` in: {err}");
}

#[test]
fn unusable_input_is_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let units = fixture("units.toml");
    let units = units.to_str().unwrap();
    let good = fixture("dossiers.ndjson");
    let good = good.to_str().unwrap();

    let out = run(&report_args(
        "/no/such/file.ndjson",
        "2023-Q3",
        "II.06a",
        units,
    ));
    assert_one_line_error(&out, "no such file: /no/such/file.ndjson");

    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"[{"MaHoSo": "A", "TrangThaiHoSo": "2"}, {"MaHoSo": "#,
    )
    .unwrap();
    let out = run(&report_args(
        broken.to_str().unwrap(),
        "2023-Q3",
        "II.06a",
        units,
    ));
    assert_one_line_error(&out, "is not a JSON array");

    let not_array = dir.path().join("object.json");
    std::fs::write(&not_array, r#"{"MaHoSo": "A"}"#).unwrap();
    let out = run(&report_args(
        not_array.to_str().unwrap(),
        "2023-Q3",
        "II.06a",
        units,
    ));
    assert_one_line_error(&out, "is not a JSON array");

    let out = run(&report_args(good, "2023-Q5", "II.06a", units));
    assert_one_line_error(&out, "unknown period `2023-Q5`");

    let out = run(&report_args(good, "2023-Q3", "II.07", units));
    assert_one_line_error(&out, "unknown form `II.07`");

    let forest = dir.path().join("forest.toml");
    std::fs::write(
        &forest,
        "[[units]]\ncode=\"A\"\nname=\"a\"\nkind=\"province\"\nparent=\"\"\n[[units]]\ncode=\"B\"\nname=\"b\"\nkind=\"province\"\nparent=\"\"\n",
    )
    .unwrap();
    let out = run(&report_args(
        good,
        "2023-Q3",
        "II.06a",
        forest.to_str().unwrap(),
    ));
    assert_one_line_error(&out, "do not form one tree");

    let bad_header = dir.path().join("bad.csv");
    std::fs::write(&bad_header, "foo,bar\n1,2\n").unwrap();
    let out = run(&report_args(
        bad_header.to_str().unwrap(),
        "2023-Q3",
        "II.06a",
        units,
    ));
    assert_one_line_error(&out, "no MaHoSo column");

    let unknown_ext = dir.path().join("dossiers.txt");
    std::fs::write(&unknown_ext, "").unwrap();
    let out = run(&report_args(
        unknown_ext.to_str().unwrap(),
        "2023-Q3",
        "II.06a",
        units,
    ));
    assert_one_line_error(&out, "--input-format");

    let mut xlsx_to_stdout = report_args(good, "2023-Q3", "II.06a", units);
    xlsx_to_stdout.extend(["--format", "xlsx"]);
    assert_one_line_error(&run(&xlsx_to_stdout), "--out");
}

#[test]
fn malformed_records_are_findings_by_position_and_the_rest_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let units = fixture("units.toml");
    let good = std::fs::read_to_string(fixture("dossiers.ndjson")).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines.insert(2, "{not json".to_owned());
    lines.insert(
        5,
        r#"{"MaHoSo": "BAD-STATUS", "TrangThaiHoSo": "12", "NgayTiepNhan": "20230701080000"}"#
            .to_owned(),
    );
    lines.insert(
        7,
        r#"{"MaHoSo": "BAD-DATE", "TrangThaiHoSo": "2", "NgayTiepNhan": "01/07/2023"}"#.to_owned(),
    );
    lines.insert(9, "[1, 2]".to_owned());
    let path = dir.path().join("mixed.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();

    let base = report_json(&[
        "--input",
        fixture("dossiers.ndjson").to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    let got = report_json(&[
        "--input",
        path.to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    assert_eq!(
        reports_by_unit(&base),
        reports_by_unit(&got),
        "the good records are all counted"
    );
    let invalid: Vec<String> = error_findings(&got)
        .into_iter()
        .filter(|(c, _)| c == "invalid_record")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(invalid, ["BAD-DATE", "BAD-STATUS", "line:10", "line:3"]);

    // The same in a CSV: a row with too many cells is skipped by its row number.
    let csv = dir.path().join("mixed.csv");
    std::fs::write(
        &csv,
        "MaHoSo,TrangThaiHoSo,NgayTiepNhan,KenhThucHien,MaDonViXuLy,MaLinhVuc\n\
         A,2,20230701080000,2,000.10.00.H55,G09-HT\n\
         B,2,20230701080000,2,000.10.00.H55,G09-HT,extra\n\
         C,4,20230702080000,1,000.10.00.H55,G09-HT\n",
    )
    .unwrap();
    let got = report_json(&[
        "--input",
        csv.to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    assert_eq!(
        error_findings(&got),
        [("invalid_record".to_owned(), "row:3".to_owned())]
    );
    assert_eq!(got["reports"][0]["total"]["3"], 2);
}

#[test]
fn standard_input_needs_a_format() {
    let units = fixture("units.toml");
    let mut child = bin()
        .args([
            "report",
            "--input",
            "-",
            "--input-format",
            "ndjson",
            "--units",
        ])
        .arg(&units)
        .args(["--period", "2023-q3", "--form", "ii.06a"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(fixture("dossiers.ndjson")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["period"]["id"], "2023-Q3");
    assert_eq!(got["form"], "II.06a");
}
