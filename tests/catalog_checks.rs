//! The field catalogue (published labels, unknown_field) and the column-4 checks, through `report`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn catalog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalog")
}

fn dossier(
    key: &str,
    field: (&str, &str),
    channel: &str,
    received: &str,
    procedure: &str,
) -> Value {
    json!({"MaHoSo": key, "MaTTHC": procedure, "MaLinhVuc": field.0, "TenLinhVuc": field.1,
           "MaDonViXuLy": "000.10.00.H55", "KenhThucHien": channel, "TrangThaiHoSo": "4",
           "NgayTiepNhan": received, "NgayHenTra": "20231231000000", "CapNhatLuc": received})
}

fn report(input: &Path, extra: &[&str]) -> Value {
    let units = fixture("units.toml");
    let mut args = vec![
        "--input",
        input.to_str().unwrap(),
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ];
    args.extend_from_slice(extra);
    report_json(&args)
}

#[test]
fn the_catalogue_gives_published_labels_and_flags_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_ndjson(
        dir.path(),
        &[
            dossier("A1", ("HT-LOCAL", "ho tich"), "2", "20230701080000", "1.0"),
            dossier("A2", ("HT-LOCAL", "Hộ tịch"), "1", "20230702080000", "1.0"),
            dossier(
                "A3",
                ("XX-1", "Lĩnh vực địa phương"),
                "1",
                "20230703080000",
                "1.0",
            ),
        ],
    );
    let catalog = catalog_dir().display().to_string();
    let with = report(&input, &["--catalog", &catalog]);
    let labels: Vec<(&str, &str)> = with["reports"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["label"].as_str().unwrap()))
        .collect();
    assert_eq!(
        labels,
        [
            ("HT-LOCAL", "Hộ tịch (Bộ Tư pháp)"),
            ("XX-1", "Lĩnh vực địa phương")
        ]
    );
    assert_eq!(finding_records(&with, "unknown_field"), ["A3"]);

    let without = report(&input, &[]);
    assert_eq!(
        without["reports"][0]["rows"][0]["label"], "ho tich",
        "first name seen, no catalogue"
    );
    assert!(
        finding_records(&without, "unknown_field").is_empty(),
        "raised only when a catalogue is configured"
    );
}

#[test]
fn column_4_checks_warn_and_count_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    // 2023-Q2 (15/03-14/06): 30 dossiers at the counter; 2023-Q3: 30 online, 3 of them for a
    // procedure the catalogue says is not offered online.
    for i in 0..30 {
        records.push(dossier(
            &format!("Q2-{i}"),
            ("G09-HT", "Hộ tịch (Bộ Tư pháp)"),
            "1",
            "20230501080000",
            "1.001193",
        ));
        let procedure = if i < 3 { "1.001614" } else { "1.001193" };
        records.push(dossier(
            &format!("Q3-{i}"),
            ("G09-HT", "Hộ tịch (Bộ Tư pháp)"),
            "2",
            "20230801080000",
            procedure,
        ));
    }
    let input = write_ndjson(dir.path(), &records);
    let catalog = catalog_dir().display().to_string();
    let got = report(&input, &["--catalog", &catalog]);
    assert_eq!(
        finding_records(&got, "online_share_shift"),
        ["000.10.00.H55"]
    );
    assert_eq!(
        finding_records(&got, "procedure_not_online"),
        ["Q3-0", "Q3-1", "Q3-2"]
    );
    assert!(
        got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] == "warning")
    );
    // Warnings leave the figures alone: 30 carried over from Q2 and 30 received online.
    let total = &got["reports"][0]["total"];
    assert_eq!(
        (
            total["3"].as_u64(),
            total["4"].as_u64(),
            total["6"].as_u64()
        ),
        (Some(60), Some(30), Some(30))
    );

    // A higher threshold in a checks file silences the share check.
    let checks = dir.path().join("checks.toml");
    std::fs::write(
        &checks,
        "[column_4]\nonline_share_shift_points = 101.0\nmin_received = 20\n",
    )
    .unwrap();
    let quiet = report(&input, &["--checks", checks.to_str().unwrap()]);
    assert!(finding_records(&quiet, "online_share_shift").is_empty());
}

#[test]
fn catalog_import_merges_a_national_database_csv() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["fields.toml", "procedures.toml"] {
        std::fs::copy(catalog_dir().join(f), dir.path().join(f)).unwrap();
    }
    let csv = dir.path().join("csdl.csv");
    std::fs::write(&csv, "MaTTHC,TenTTHC,MaLinhVuc,TenLinhVuc,TrucTuyen\n2.000001,Cấp phép,G99-NEW,Lĩnh vực mới (Bộ Nội vụ),1\n")
        .unwrap();
    let out = run(&[
        "catalog",
        "import",
        "--csv",
        csv.to_str().unwrap(),
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "fields added 1, renamed 0; procedures added 1, updated 0"
    );
    let fields = std::fs::read_to_string(dir.path().join("fields.toml")).unwrap();
    assert!(fields.contains("Lĩnh vực mới (Bộ Nội vụ)") && fields.contains("Hộ tịch (Bộ Tư pháp)"));
}
