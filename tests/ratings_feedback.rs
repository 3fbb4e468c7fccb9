//! The satisfaction summary and II.05a/II.05 against hand-checked figures
//! (tests/fixtures/hl-pakn-small/README.md works them out), from files and from the store.

mod common;

use common::*;
use serde_json::Value;

fn small(name: &str) -> String {
    own_fixture("hl-pakn-small", name)
}

fn expected(form: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(small(&format!("expected-{form}-2023-Q3.json"))).unwrap(),
    )
    .unwrap()
}

fn report(form: &str, sources: &[&str]) -> Value {
    let units = small("units.toml");
    let mut args = vec![
        "--units",
        units.as_str(),
        "--period",
        "2023-Q3",
        "--form",
        form,
    ];
    args.extend_from_slice(sources);
    report_json(&args)
}

fn assert_same_satisfaction(expected: &Value, got: &Value) {
    assert_eq!(expected["form"], got["form"]);
    assert_eq!(expected["period"], got["period"]);
    assert_eq!(expected["reports"], got["reports"]);
    assert_eq!(expected["aggregates"], got["aggregates"]);
    assert_eq!(error_findings(expected), error_findings(got));
}

#[test]
fn satisfaction_summary_matches_the_hand_figures() {
    let (ratings, dossiers) = (small("ratings.ndjson"), small("dossiers.ndjson"));
    let got = report("HL", &["--ratings", &ratings, "--input", &dossiers]);
    assert_same_satisfaction(&expected("HL"), &got);
    let warnings: Vec<&Value> = got["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "warning")
        .collect();
    assert!(
        warnings
            .iter()
            .any(|f| f["code"] == "duplicate_record" && f["record"] == "R07")
    );
}

#[test]
fn satisfaction_without_dossiers_has_no_coverage() {
    let got = report("HL", &["--ratings", &small("ratings.ndjson")]);
    for r in got["reports"]
        .as_array()
        .unwrap()
        .iter()
        .chain(got["aggregates"].as_array().unwrap())
    {
        assert!(r["coverage"].is_null() && r["resolved"].is_null(), "{r}");
        assert!(r["satisfaction_rate"].is_number());
    }
}

#[test]
fn ii05a_and_ii05_match_the_hand_figures() {
    let feedback = small("feedback.ndjson");
    for form in ["II.05a", "II.05"] {
        let got = report(form, &["--feedback", &feedback]);
        assert_same_figures(&expected(form), &got);
    }
}

#[test]
fn a_form_without_its_records_says_which_flag_is_missing() {
    let units = small("units.toml");
    let out = run(&[
        "report", "--units", &units, "--period", "2023-Q3", "--form", "HL",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HL needs rating records; pass them with --ratings"),
        "{err}"
    );
}

#[test]
fn from_the_store_the_figures_are_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    for (kind, file) in [
        ("dossiers", "dossiers.ndjson"),
        ("ratings", "ratings.ndjson"),
        ("feedback", "feedback.ndjson"),
    ] {
        let out = run(&[
            "import",
            "--kind",
            kind,
            "--input",
            &small(file),
            "--database-url",
            &db,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Ratings: 13 lines, R07 twice (the second is newer), R12 unreadable.
    let again = run(&[
        "import",
        "--kind",
        "ratings",
        "--input",
        &small("ratings.ndjson"),
        "--database-url",
        &db,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "new 0, updated 0, unchanged 12, rejected 1"
    );
    let from_store = ["--from-store", "--database-url", db.as_str()];
    assert_same_satisfaction(&expected("HL"), &report("HL", &from_store));
    for form in ["II.05a", "II.05"] {
        assert_same_figures(&expected(form), &report(form, &from_store));
    }
}
