//! The embedded store: import is idempotent, newer versions replace older ones, and
//! `report --from-store` gives the figures the file gives.

mod common;

use common::*;

fn import(db: &str, input: &str) -> String {
    let out = run(&["import", "--input", input, "--database-url", db]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn import_is_idempotent_and_from_store_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("nested/store.db").display());
    let input = fixture("dossiers.ndjson");
    let input = input.to_str().unwrap();

    let lines = std::fs::read_to_string(input).unwrap();
    let readable = lines
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    let first = import(&db, input);
    assert!(first.starts_with("new "), "{first}");
    let numbers: Vec<u64> = first
        .split(", ")
        .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let (new, updated, unchanged, rejected) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    assert_eq!(updated, 0);
    assert_eq!(
        new + unchanged + rejected,
        lines.lines().filter(|l| !l.trim().is_empty()).count() as u64
    );
    assert!(new > 0 && (new as usize) <= readable);

    let again = import(&db, input);
    assert_eq!(
        again,
        format!(
            "new 0, updated 0, unchanged {}, rejected {rejected}",
            new + unchanged
        )
    );

    for form in ["II.06a", "II.06"] {
        let args = |source: &[&str]| {
            let mut a: Vec<String> = source.iter().map(|s| s.to_string()).collect();
            a.extend(
                [
                    "--units",
                    fixture("units.toml").to_str().unwrap(),
                    "--period",
                    "2023-Q3",
                    "--form",
                    form,
                ]
                .map(str::to_owned),
            );
            a
        };
        let from_file = report_json(
            &args(&["--input", input])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let from_store = report_json(
            &args(&["--from-store", "--database-url", &db])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_same_figures(&from_file, &from_store);
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("expected-{form}-2023-Q3.json"))).unwrap(),
        )
        .unwrap();
        assert_same_figures(&expected, &from_store);
    }
}

#[test]
fn newer_versions_replace_older_and_older_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let units = fixture("units.toml");
    let write = |name: &str, lines: &[&str]| {
        let p = dir.path().join(name);
        std::fs::write(&p, lines.join("\n")).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let v1 = r#"{"MaHoSo":"X-1","TrangThaiHoSo":"4","KenhThucHien":"2","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch (Bộ Tư pháp)","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","CapNhatLuc":"20230701080000"}"#;
    let v2 = r#"{"MaHoSo":"X-1","TrangThaiHoSo":"10","KenhThucHien":"2","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch (Bộ Tư pháp)","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","NgayKetThucXuLy":"20230705080000","CapNhatLuc":"20230705080000"}"#;
    let other = r#"{"MaHoSo":"X-2","TrangThaiHoSo":"2","KenhThucHien":"1","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","NgayTiepNhan":"20230702080000","CapNhatLuc":"20230702080000"}"#;
    let bad = r#"{"MaHoSo":"X-3","TrangThaiHoSo":"99","CapNhatLuc":"20230702080000"}"#;

    assert_eq!(
        import(&db, &write("a.ndjson", &[v1, other, bad])),
        "new 2, updated 0, unchanged 0, rejected 1"
    );
    assert_eq!(
        import(&db, &write("b.ndjson", &[v2])),
        "new 0, updated 1, unchanged 0, rejected 0"
    );
    assert_eq!(
        import(&db, &write("c.ndjson", &[v1])),
        "new 0, updated 0, unchanged 1, rejected 0"
    );
    // The same key twice in one file: processed in order, the newer one stays.
    assert_eq!(
        import(&db, &write("d.ndjson", &[v2, v1])),
        "new 0, updated 0, unchanged 2, rejected 0"
    );

    let got = report_json(&[
        "--from-store",
        "--database-url",
        &db,
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    let total = &got["reports"][0]["total"];
    assert_eq!(total["3"], 2, "{got}");
    assert_eq!(total["7"], 1, "X-1 is resolved in its newer version");
    assert_eq!(total["8"], 1);
    assert_eq!(total["11"], 1);
    assert_eq!(
        error_findings(&got),
        [("invalid_record".to_owned(), "X-3".to_owned())]
    );
}
