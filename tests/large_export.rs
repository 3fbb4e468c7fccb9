//! `report` of a dossier table from an export file folds each dossier as it is read, keeping 40
//! bytes of it (`forms::streamed`); from standard input it reads the dossiers whole. Both must
//! print the same bytes: over a generated real-shaped history (defects, duplicates, open
//! dossiers of old quarters), and over hand-made lines for each case the fold treats apart
//! (duplicates on a tie and out of order, a field changed between versions, an unknown field, a
//! procedure not offered online). The golden fixture's figures (tests/golden.rs) and the catalogue's
//! checks (tests/catalog_checks.rs) go through the fold too, since they read files.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalog")
}

/// `report` of `form` from `input`, as a file or on standard input; its output.
fn report(input: &Path, units: &Path, form: &str, catalog: bool, stdin: bool) -> Output {
    let mut c = bin();
    c.env("RUST_LOG", "info").args([
        "report",
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        form,
    ]);
    if catalog {
        c.arg("--catalog").arg(catalog_dir());
    }
    if stdin {
        c.args(["--input", "-", "--input-format", "ndjson"])
            .stdin(std::fs::File::open(input).unwrap());
    } else {
        c.arg("--input").arg(input);
    }
    let out = c.output().expect("the binary runs");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "report failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The report from the file and from standard input, which must be the same bytes; the file's
/// run's log and its JSON.
fn both_ways(input: &Path, units: &Path, form: &str, catalog: bool) -> (String, Value) {
    let folded = report(input, units, form, catalog, false);
    let whole = report(input, units, form, catalog, true);
    assert!(
        folded.stdout == whole.stdout,
        "{form} (catalogue: {catalog}) from {} differs between the file and standard input",
        input.display()
    );
    assert_eq!(folded.status.code(), whole.status.code());
    (
        String::from_utf8_lossy(&folded.stderr).into_owned(),
        serde_json::from_slice(&folded.stdout).expect("report prints JSON"),
    )
}

#[test]
fn a_real_shaped_history_reads_the_same_folded_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    output_with(
        bin().args([
            "generate",
            "--shape",
            "real",
            "--dossiers",
            "12000",
            "--quarters",
            "4",
            "--units",
            "30",
            "--seed",
            "11",
            "--out",
            data.to_str().unwrap(),
        ]),
        &[0],
    );
    let (input, units) = (data.join("dossiers.ndjson"), data.join("units.toml"));
    for form in ["II.06a", "II.06"] {
        for catalog in [false, true] {
            let (_, doc) = both_ways(&input, &units, form, catalog);
            // The history carries what the fold treats apart; a run without them proves little.
            assert!(!finding_records(&doc, "duplicate_record").is_empty());
            assert!(!finding_records(&doc, "invalid_record").is_empty());
        }
    }
}

fn line(key: &str, field: (&str, &str), channel: &str, procedure: &str, updated: &str) -> Value {
    json!({"MaHoSo": key, "MaTTHC": procedure, "MaLinhVuc": field.0, "TenLinhVuc": field.1,
           "MaDonViXuLy": "000.10.00.H55", "KenhThucHien": channel, "TrangThaiHoSo": "4",
           "NgayTiepNhan": "20230720080000", "NgayHenTra": "20231231000000",
           "CapNhatLuc": updated})
}

#[test]
fn duplicates_fields_and_procedures_read_the_same_folded_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let units = fixture("units.toml");
    let (f, g, h) = (
        ("F-NEW", "Lĩnh vực F"),
        ("G-NEW", "Lĩnh vực G"),
        ("H-NEW", "Lĩnh vực H"),
    );
    let input = write_ndjson(
        dir.path(),
        &[
            // A tie: the last one read counts. An older version after a newer one is ignored.
            line("A", h, "2", "1.001614", "20230801000000"),
            line("A", h, "1", "1.001614", "20230801000000"),
            line("B", h, "2", "P-2", "20230805000000"),
            line("B", h, "1", "P-2", "20230802000000"),
            // C's first version is of G, its newer one of F: C counts in its first place, ahead
            // of E, so C is F's first dossier and no longer G's; G's is D, with D's name.
            line("C", g, "2", "1.001614", "20230701000000"),
            line("D", ("G-NEW", ""), "1", "P-3", "20230801000000"),
            line("E", f, "1", "P-3", "20230801000000"),
            line("C", f, "2", "1.001614", "20230809000000"),
        ],
    );
    let (_, doc) = both_ways(&input, &units, "II.06a", true);
    // Hand-worked: one warning per version read after the first, named by the key.
    assert_eq!(finding_records(&doc, "duplicate_record"), ["A", "B", "C"]);
    // No field is in the catalogue: each named by its first dossier.
    assert_eq!(finding_records(&doc, "unknown_field"), ["A", "C", "D"]);
    // 1.001614 is not offered online: A counts in person (the tie), C online.
    assert_eq!(finding_records(&doc, "procedure_not_online"), ["C"]);
    both_ways(&input, &units, "II.06", true);
    both_ways(&input, &units, "II.06a", false);
}

#[test]
fn a_field_first_whose_key_was_not_kept_reads_the_file_whole() {
    // Five dossiers of F, each later moved to G, ahead of W, F's only dossier in the end: the
    // fold keeps the key texts of a field's first four dossiers, so W's is not kept.
    let dir = tempfile::tempdir().unwrap();
    let units = fixture("units.toml");
    let (f, g) = (("F-NEW", "Lĩnh vực F"), ("G-NEW", "Lĩnh vực G"));
    let mut lines: Vec<Value> = (1..=5)
        .map(|i| line(&format!("K{i}"), f, "1", "P-1", "20230701000000"))
        .collect();
    lines.push(line("W", f, "1", "P-1", "20230701000000"));
    lines.extend((1..=5).map(|i| line(&format!("K{i}"), g, "1", "P-1", "20230801000000")));
    let input = write_ndjson(dir.path(), &lines);
    let (log, doc) = both_ways(&input, &units, "II.06a", true);
    assert!(
        log.contains("reading the dossiers whole"),
        "the fold said it could not be exact: {log}"
    );
    assert_eq!(finding_records(&doc, "unknown_field"), ["K1", "W"]);
}
