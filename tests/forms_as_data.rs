//! Forms are data: editing a temporary copy of config/forms changes the output of the same binary.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn copy_forms() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/forms");
    for regime in std::fs::read_dir(&src).unwrap() {
        let regime = regime.unwrap().path();
        let target = dir.path().join(regime.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        for f in std::fs::read_dir(&regime).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, target.join(f.file_name().unwrap())).unwrap();
        }
    }
    let forms = dir.path().to_path_buf();
    (dir, forms)
}

fn edit(forms: &Path, file: &str, from: &str, to: &str) {
    let path = forms.join("TT01-2020").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} contains {from}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn report(forms: &Path, form: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "report".to_owned(),
        "--input".to_owned(),
        fixture("dossiers.ndjson").display().to_string(),
        "--units".to_owned(),
        fixture("units.toml").display().to_string(),
        "--period".to_owned(),
        "2023-Q3".to_owned(),
        "--form".to_owned(),
        form.to_owned(),
        "--forms-dir".to_owned(),
        forms.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    bin().args(&args).output().unwrap()
}

#[test]
fn an_unedited_copy_gives_the_golden_figures() {
    let (_keep, forms) = copy_forms();
    let out = report(&forms, "II.06", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("expected-II.06-2023-Q3.json")).unwrap(),
    )
    .unwrap();
    assert_same_figures(&expected, &serde_json::from_slice(&out.stdout).unwrap());
}

#[test]
fn a_header_edit_shows_in_the_workbook() {
    let (_keep, forms) = copy_forms();
    edit(
        &forms,
        "II.06a.toml",
        "header = \"Trực tuyến\"",
        "header = \"Tiếp nhận trực tuyến (cột 4)\"",
    );
    let xlsx = forms.join("out.xlsx");
    let out = report(
        &forms,
        "II.06a",
        &["--format", "xlsx", "--out", xlsx.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    // The index sheet comes first, then a sheet per unit.
    let sheet = book.sheet_names()[1].clone();
    let cells: Vec<String> = book
        .worksheet_range(&sheet)
        .unwrap()
        .cells()
        .map(|(_, _, v)| v.to_string())
        .collect();
    assert!(cells.iter().any(|c| c == "Tiếp nhận trực tuyến (cột 4)"));
    assert!(!cells.iter().any(|c| c == "Trực tuyến"));
    assert!(
        cells.iter().any(|c| c == "Trong kỳ"),
        "the group over it stays"
    );
}

#[test]
fn a_metric_moved_to_another_column_moves_the_figures() {
    let (_keep, forms) = copy_forms();
    // Swap what columns 8 (early) and 10 (late) show.
    edit(
        &forms,
        "II.06a.toml",
        "metric = \"closed_early\"",
        "metric = \"TEMP\"",
    );
    edit(
        &forms,
        "II.06a.toml",
        "metric = \"closed_late\"",
        "metric = \"closed_early\"",
    );
    edit(
        &forms,
        "II.06a.toml",
        "metric = \"TEMP\"",
        "metric = \"closed_late\"",
    );
    let out = report(&forms, "II.06a", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = got["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"] == "000.00.30.H55")
        .unwrap()["total"]
        .clone();
    // Golden: 8 = 6, 10 = 5 for this unit.
    assert_eq!(
        (total["8"].as_u64(), total["10"].as_u64()),
        (Some(5), Some(6))
    );
}

#[test]
fn a_broken_identity_withholds_reports_and_exits_3() {
    let (_keep, forms) = copy_forms();
    edit(&forms, "II.06a.toml", "\"3 = 4 + 5 + 6\"", "\"3 = 4 + 5\"");
    let out = report(&forms, "II.06a", &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("identity 3 = 4 + 5 does not hold"), "{err}");
    // Units without carried-over dossiers still satisfy it and are reported.
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        got["reports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["total"]["6"] == 0)
    );
}

#[test]
fn a_definition_naming_an_unknown_metric_is_a_clear_error() {
    let (_keep, forms) = copy_forms();
    edit(
        &forms,
        "II.06a.toml",
        "metric = \"closed_late\"",
        "metric = \"closed_later\"",
    );
    let out = report(&forms, "II.06a", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown metric `closed_later`"), "{err}");
}
