//! `plan` for the shipped example shows the 2023 letter's table.

mod common;

use common::*;
use std::path::Path;

#[test]
fn the_shipped_example_shows_the_letters_table() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/units.example.toml");
    let out = run(&[
        "plan",
        "--period",
        "2023-Q3",
        "--units",
        units.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let expect = |kind: &str, forms: &[&str], deadline: &str, signed: bool| {
        let matching: Vec<_> = rows.iter().filter(|r| r["kind"] == kind).collect();
        assert!(!matching.is_empty(), "{kind}");
        for r in matching {
            assert_eq!(r["forms"], serde_json::json!(forms), "{kind}");
            assert_eq!(r["deadline"], deadline, "{kind}");
            assert_eq!(r["signed"], signed, "{kind}");
            assert_eq!(r["systems"], serde_json::json!(["central", "provincial"]));
        }
    };
    expect(
        "commune",
        &["II.05a", "II.06a", "II.01-ĐC"],
        "2023-09-17",
        false,
    );
    expect(
        "district-office",
        &["II.05a", "II.06a"],
        "2023-09-17",
        false,
    );
    expect(
        "district",
        &["II.05", "II.06", "II.01-ĐC"],
        "2023-09-19",
        true,
    );
    expect(
        "department",
        &["II.05a", "II.06a", "II.01-ĐC"],
        "2023-09-19",
        true,
    );

    let text = run(&[
        "plan",
        "--period",
        "2023-Q3",
        "--units",
        units.to_str().unwrap(),
    ]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("UBND xã Bình Thạnh")
            && text.contains("17/09/2023")
            && text.contains("19/09/2023")
    );
}

#[test]
fn a_period_of_another_regime_is_refused_with_the_reason() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/units.example.toml");
    let out = run(&[
        "plan",
        "--period",
        "2026-Q2",
        "--units",
        units.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("falls under TT05/2025"));
}
