//! `reconcile` against the golden "theirs" fixture (tests/fixtures/reconcile-golden/README.md works
//! every figure out by hand): the flat table, and the same figures in the template layout.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn theirs(name: &str) -> String {
    own_fixture("reconcile-golden", name)
}

/// `reconcile` of the golden dossiers' 2023-Q3 against `theirs_file`.
fn reconcile_command(theirs_file: &str) -> std::process::Command {
    let mut command = bin();
    command
        .args([
            "reconcile",
            "--input",
            fixture("dossiers.ndjson").to_str().unwrap(),
        ])
        .args(["--units", fixture("units.toml").to_str().unwrap()])
        .args(["--period", "2023-Q3", "--theirs", theirs_file]);
    command
}

/// Runs `reconcile` on the golden dossiers; its exit code and JSON.
fn reconcile(theirs_file: &str) -> (i32, Value) {
    answer(
        reconcile_command(theirs_file)
            .args(["--form", "II.06a"])
            .output()
            .unwrap(),
    )
}

/// `reconcile`'s exit code and the JSON it printed.
fn answer(out: std::process::Output) -> (i32, Value) {
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "reconcile printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// A dossier the README's table moves: dossier, unit, field, reading, [(column, change)].
type ReadmeMove = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Vec<(u32, i64)>,
);
/// Cells by (unit, row, column): the explaining moves (dossier, reading, change) and the
/// unexplained part.
type Cells = BTreeMap<(String, String, u32), (Vec<(String, String, i64)>, i64)>;

/// The moves the README's table gives.
fn readme_moves() -> Vec<ReadmeMove> {
    vec![
        (
            "000.00.30106.H55-230811-000284",
            "000.00.30106.H55",
            "G09-CT",
            "withdrawn_by_dates",
            vec![(9, -1), (8, 1)],
        ),
        (
            "000.11.00.H55-230629-000399",
            "000.11.00.H55",
            "G13-DD",
            "withdrawn_by_dates",
            vec![(9, -1), (10, 1)],
        ),
        (
            "000.11.00.H55-230723-000265",
            "000.11.00.H55",
            "G08-DN",
            "withdrawn_by_dates",
            vec![(9, -1), (10, 1)],
        ),
        (
            "000.00.30100.H55-230724-000029",
            "000.00.30100.H55",
            "G09-HT",
            "unknown_channel_in_total",
            vec![(3, 1), (7, 1), (8, 1)],
        ),
        (
            "000.00.30100.H55-230826-000381",
            "000.00.30100.H55",
            "G10-XD",
            "unknown_channel_in_total",
            vec![(3, 1), (11, 1), (13, 1)],
        ),
        (
            "000.00.31.H55-230803-000377",
            "000.00.31.H55",
            "G09-CT",
            "unknown_channel_in_total",
            vec![(3, 1), (7, 1), (10, 1)],
        ),
        (
            "000.00.31103.H55-230708-000292",
            "000.00.31103.H55",
            "G13-DD",
            "unknown_channel_in_total",
            vec![(3, 1), (7, 1), (8, 1)],
        ),
        (
            "000.00.30106.H55-230718-000088",
            "000.00.30106.H55",
            "G08-HTX",
            "finished_before_received_counted",
            vec![(3, 1), (4, 1), (7, 1), (8, 1)],
        ),
        (
            "000.00.31107.H55-230729-000229",
            "000.00.31107.H55",
            "G09-CC",
            "finished_before_received_counted",
            vec![(3, 1), (5, 1), (7, 1), (8, 1)],
        ),
        (
            "000.00.30102.H55-230805-000010",
            "000.00.30102.H55",
            "G09-CT",
            "resolved_without_reception_date",
            vec![(7, 1), (8, 1)],
        ),
    ]
}

/// The fault no reading explains: Sở 2, G09-HT, +1 in (3), (11), (12).
const FAULT: (&str, &str, [u32; 3]) = ("000.11.00.H55", "G09-HT", [3, 11, 12]);

/// Expected explained moves and unexplained parts by (unit, field, column), fields only or with
/// the unit totals as well.
fn expected_cells(with_totals: bool) -> Cells {
    let mut cells: Cells = BTreeMap::new();
    for (dossier, unit, field, reading, changes) in readme_moves() {
        for (column, change) in changes {
            let mut rows = vec![field];
            if with_totals {
                rows.push("_total");
            }
            for row in rows {
                cells
                    .entry((unit.to_owned(), row.to_owned(), column))
                    .or_default()
                    .0
                    .push((dossier.to_owned(), reading.to_owned(), change));
            }
        }
    }
    for column in FAULT.2 {
        let mut rows = vec![FAULT.1];
        if with_totals {
            rows.push("_total");
        }
        for row in rows {
            cells
                .entry((FAULT.0.to_owned(), row.to_owned(), column))
                .or_default()
                .1 += 1;
        }
    }
    for (moves, _) in cells.values_mut() {
        moves.sort();
    }
    cells
}

/// Every differing cell of the result, as the expectation is written.
fn got_cells(result: &Value) -> Cells {
    let mut out = BTreeMap::new();
    for c in result["cells"].as_array().unwrap() {
        let difference = c["difference"].as_i64().unwrap();
        let unexplained = c["unexplained"].as_i64().unwrap();
        let moves: Vec<(String, String, i64)> = c["explained"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["dossier"].as_str().unwrap().to_owned(),
                    m["reading"].as_str().unwrap().to_owned(),
                    m["change"].as_i64().unwrap(),
                )
            })
            .collect();
        let sum: i64 = moves.iter().map(|m| m.2).sum();
        assert_eq!(sum + unexplained, difference, "{c}");
        assert_eq!(
            difference,
            c["theirs"].as_i64().unwrap() - c["ours"].as_i64().unwrap()
        );
        if difference != 0 || !moves.is_empty() {
            let mut moves = moves;
            moves.sort();
            let key = (
                c["unit"].as_str().unwrap().to_owned(),
                c["field"].as_str().unwrap().to_owned(),
                c["column"].as_u64().unwrap() as u32,
            );
            out.insert(key, (moves, unexplained));
        }
    }
    out
}

fn readings(result: &Value) -> Vec<(String, bool, u64, u64, u64)> {
    result["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reading"].as_str().unwrap().to_owned(),
                r["in_effect"].as_bool().unwrap(),
                r["dossiers"].as_u64().unwrap(),
                r["difference_without"].as_u64().unwrap(),
                r["difference_with"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The README's four readings in effect; then the three later readings, which their system does
/// not apply: each would move the tables apart, so none is taken. From the dossiers' own fields:
/// one resolved dossier has no TN (#10: its (3) would grow), seven status-7 dossiers have no KT
/// (each counted in (3), (4)/(5)/(6), (11) and (12)/(13): 28 cells), and no dossier finished in
/// the period was received after it.
fn expected_readings(scale: u64) -> Vec<(String, bool, u64, u64, u64)> {
    let steps = [31, 25, 13, 5, 3].map(|d| d * scale);
    let mut out: Vec<_> = [
        ("withdrawn_by_dates", 3),
        ("unknown_channel_in_total", 4),
        ("finished_before_received_counted", 2),
        ("resolved_without_reception_date", 1),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, n))| ((*name).to_owned(), true, *n, steps[i], steps[i + 1]))
    .collect();
    let left = steps[4];
    for (name, n, apart) in [
        ("received_without_reception_date_counted", 1, scale),
        ("withdrawn_without_finish_date_dropped", 7, 28 * scale),
        ("finished_in_period_received_after_end_counted", 0, 0),
    ] {
        out.push((name.to_owned(), false, n, left, left + apart));
    }
    out
}

#[test]
fn the_flat_table_reconciles_as_the_readme_works_it_out() {
    let (code, result) = reconcile(&theirs("theirs-flat.csv"));
    assert_eq!(code, 4, "something is left unexplained");
    assert_eq!(readings(&result), expected_readings(1));
    assert_eq!(got_cells(&result), expected_cells(false));
    let summary = &result["summary"];
    assert_eq!(
        (
            summary["cells"].as_u64(),
            summary["differing"].as_u64(),
            summary["difference"].as_u64(),
            summary["unexplained"].as_u64()
        ),
        (Some(1001), Some(31), Some(31), Some(3))
    );
    let unmatched = result["unmatched"].as_array().unwrap();
    assert_eq!(unmatched.len(), 1, "{unmatched:?}");
    assert_eq!(unmatched[0]["unit"], "000.99.99.H55");
    assert_eq!(unmatched[0]["problem"], "unknown_unit");
    assert_eq!(result["units_only_ours"], json!([]));
}

/// Their figures in the template layout, written by the product's own XLSX writer from the flat
/// table (units and fields by code; the unknown unit has no sheet).
fn template(dir: &std::path::Path) -> String {
    use baocao_sync::domain::{Period, UnitTree};
    use baocao_sync::forms::FormCatalog;
    use baocao_sync::forms::table::UnitReport;
    use baocao_sync::render::{Document, Reports, texts::DocumentTexts};

    let units =
        UnitTree::from_toml(&std::fs::read_to_string(fixture("units.toml")).unwrap()).unwrap();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for line in std::fs::read_to_string(fixture("dossiers.ndjson"))
        .unwrap()
        .lines()
    {
        if let Ok(d) = serde_json::from_str::<Value>(line)
            && let (Some(code), Some(name)) = (d["MaLinhVuc"].as_str(), d["TenLinhVuc"].as_str())
        {
            names
                .entry(code.to_owned())
                .or_insert_with(|| name.to_owned());
        }
    }
    let by_name: BTreeMap<String, String> =
        names.iter().map(|(c, n)| (n.clone(), c.clone())).collect();
    let mut reports: BTreeMap<String, (Vec<Value>, BTreeMap<String, u64>)> = BTreeMap::new();
    let mut csv = csv::Reader::from_path(theirs("theirs-flat.csv")).unwrap();
    for row in csv.records() {
        let row = row.unwrap();
        let unit = match units.find(&row[0]) {
            Some(id) => units.get(id).code.clone(),
            None if row[0] == *"UBND huyện 1" => "000.00.30.H55".to_owned(),
            None => continue,
        };
        let field = by_name
            .get(&row[1])
            .cloned()
            .unwrap_or_else(|| row[1].to_owned());
        let values: BTreeMap<String, u64> = (3..=13)
            .map(|c| (c.to_string(), row[c as usize - 1].parse().unwrap()))
            .collect();
        let entry = reports.entry(unit).or_default();
        for (c, v) in &values {
            *entry.1.entry(c.clone()).or_default() += v;
        }
        entry
            .0
            .push(json!({"key": field, "label": names[&field], "values": values}));
    }
    let reports: Vec<UnitReport> = reports
        .into_iter()
        .map(|(unit, (rows, total))| {
            serde_json::from_value(json!({"unit": unit, "rows": rows, "total": total})).unwrap()
        })
        .collect();
    let period: Period = "2023-Q3".parse().unwrap();
    let catalog = FormCatalog::builtin();
    let regime = catalog.regime_for(&period).unwrap();
    let doc = Document {
        form: regime.form("II.06a").unwrap(),
        regime: &regime.info,
        period: &period,
        units: &units,
        reports: Reports::PerUnit(&reports),
        findings: &[],
        texts: &DocumentTexts::builtin(),
    };
    let path = dir.join("theirs-template.xlsx");
    std::fs::write(&path, baocao_sync::render::xlsx::to_bytes(&doc).unwrap()).unwrap();
    path.display().to_string()
}

#[test]
fn the_template_layout_reconciles_with_its_totals() {
    let dir = tempfile::tempdir().unwrap();
    let (code, result) = reconcile(&template(dir.path()));
    assert_eq!(code, 4);
    assert_eq!(readings(&result), expected_readings(2));
    assert_eq!(got_cells(&result), expected_cells(true));
    assert_eq!(result["summary"]["unexplained"].as_u64(), Some(6));
    assert_eq!(
        result["unmatched"],
        json!([]),
        "the index and findings sheets are not tables"
    );
}

#[test]
fn a_reading_their_system_does_not_apply_is_not_taken() {
    // Their table equal to ours but for reading 2 alone: only it is in effect, and its dossiers
    // keep column 9 for the withdrawn one (#4), as reading 1 is not theirs.
    let dir = tempfile::tempdir().unwrap();
    let flat = std::fs::read_to_string(theirs("theirs-flat.csv")).unwrap();
    let ours = report_json(&[
        "--input",
        fixture("dossiers.ndjson").to_str().unwrap(),
        "--units",
        fixture("units.toml").to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    let mut rows: BTreeMap<(String, String), BTreeMap<u32, i64>> = BTreeMap::new();
    for r in ours["reports"].as_array().unwrap() {
        for row in r["rows"].as_array().unwrap() {
            let values = row["values"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_i64().unwrap()))
                .collect();
            rows.insert(
                (
                    r["unit"].as_str().unwrap().to_owned(),
                    row["key"].as_str().unwrap().to_owned(),
                ),
                values,
            );
        }
    }
    for (_, unit, field, reading, changes) in readme_moves() {
        if reading != "unknown_channel_in_total" {
            continue;
        }
        let cell = rows
            .entry((unit.to_owned(), field.to_owned()))
            .or_insert_with(|| (3..=13).map(|c| (c, 0)).collect());
        for (column, change) in changes {
            // #4 is withdrawn: without reading 1 it is on time (9), not early (8).
            let column = if unit == "000.00.30100.H55" && field == "G09-HT" && column == 8 {
                9
            } else {
                column
            };
            *cell.get_mut(&column).unwrap() += change;
        }
    }
    let mut text = flat.lines().next().unwrap().to_owned() + "\n";
    for ((unit, field), values) in &rows {
        let v: Vec<String> = values.values().map(i64::to_string).collect();
        text += &format!("{unit},{field},{}\n", v.join(","));
    }
    let path = dir.path().join("only-reading-2.csv");
    std::fs::write(&path, text).unwrap();
    let (code, result) = reconcile(path.to_str().unwrap());
    assert_eq!(
        code, 0,
        "everything explained, every row matched: {}",
        result["summary"]
    );
    let in_effect: Vec<String> = readings(&result)
        .into_iter()
        .filter(|r| r.1)
        .map(|r| r.0)
        .collect();
    assert_eq!(in_effect, ["unknown_channel_in_total"]);
    assert_eq!(result["summary"]["difference"].as_u64(), Some(12));
    assert_eq!(result["summary"]["unexplained"].as_u64(), Some(0));
}

#[test]
fn the_workbook_is_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.xlsx");
    let status = reconcile_command(&theirs("theirs-flat.csv"))
        .args(["--format", "xlsx", "--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(4));
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(&out).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "Tổng hợp",
            "Chênh lệch",
            "Hồ sơ giải thích",
            "Không khớp",
            "Toàn bộ ô"
        ]
    );
    let moves = book.worksheet_range("Hồ sơ giải thích").unwrap();
    assert_eq!(moves.height(), 1 + 28, "one line per explained cell move");
    let differing = book.worksheet_range("Chênh lệch").unwrap();
    assert_eq!(differing.height(), 1 + 31);
    let summary: Vec<String> = book
        .worksheet_range("Tổng hợp")
        .unwrap()
        .cells()
        .map(|(_, _, v)| v.to_string())
        .collect();
    assert!(
        summary
            .iter()
            .any(|c| c.starts_with("Hồ sơ \"Trả lại/Xin rút\""))
    );
}

/// `reconcile` of tests/fixtures/reconcile-readings against `theirs_file`: exit code and JSON.
fn reconcile_readings(theirs_file: &str) -> (i32, Value) {
    let file = |name: &str| own_fixture("reconcile-readings", name);
    answer(
        bin()
            .args(["reconcile", "--input", &file("dossiers.ndjson")])
            .args(["--units", &file("units.toml"), "--period", "2023-Q3"])
            .args(["--form", "II.06a", "--theirs", theirs_file])
            .output()
            .unwrap(),
    )
}

/// The README's table: each moved dossier (number), its field, and per column the change with
/// the reading(s) that make it.
type DossierMoves = (u32, &'static str, Vec<(u32, i64, &'static str)>);

fn readings_readme() -> Vec<DossierMoves> {
    const WBD: &str = "withdrawn_by_dates";
    const UC: &str = "unknown_channel_in_total";
    const FBR: &str = "finished_before_received_counted";
    const RW: &str = "resolved_without_reception_date";
    const RC: &str = "received_without_reception_date_counted";
    const WD: &str = "withdrawn_without_finish_date_dropped";
    const AE: &str = "finished_in_period_received_after_end_counted";
    vec![
        (3, "G09-CT", vec![(8, 1, WBD), (9, -1, WBD)]),
        (4, "G09-CC", vec![(10, 1, WBD), (9, -1, WBD)]),
        (5, "G09-LS", vec![(3, 1, UC), (11, 1, UC), (13, 1, UC)]),
        (6, "G09-TG", vec![(3, 1, UC), (7, 1, UC), (8, 1, UC)]),
        (
            7,
            "G09-QT",
            vec![(3, 1, FBR), (4, 1, FBR), (7, 1, FBR), (8, 1, FBR)],
        ),
        (
            8,
            "G09-NV",
            vec![(3, 1, FBR), (5, 1, FBR), (7, 1, FBR), (9, 1, FBR)],
        ),
        (9, "G09-LLTP", vec![(3, 1, RC), (7, 1, RW), (8, 1, RW)]),
        (10, "G09-BT", vec![(3, 1, RC), (7, 1, RW), (10, 1, RW)]),
        (
            11,
            "G09-GD",
            vec![(3, -1, WD), (4, -1, WD), (11, -1, WD), (13, -1, WD)],
        ),
        (
            12,
            "G09-HG",
            vec![(3, -1, WD), (6, -1, WD), (11, -1, WD), (12, -1, WD)],
        ),
        (13, "G09-TT", vec![(3, 1, AE), (7, 1, AE), (8, 1, AE)]),
        (14, "G09-DG", vec![(3, 1, AE), (7, 1, AE), (9, 1, AE)]),
        (
            15,
            "G09-QL",
            vec![
                (
                    3,
                    1,
                    "withdrawn_by_dates+received_without_reception_date_counted",
                ),
                (7, 1, "withdrawn_by_dates+resolved_without_reception_date"),
                (10, 1, "withdrawn_by_dates+resolved_without_reception_date"),
            ],
        ),
    ]
}

/// Every explained move of the result: (dossier's number, field, column, change, reading).
fn moves_of(result: &Value) -> std::collections::BTreeSet<(u32, String, u32, i64, String)> {
    let mut out = std::collections::BTreeSet::new();
    for c in result["cells"].as_array().unwrap() {
        for m in c["explained"].as_array().unwrap() {
            let dossier = m["dossier"].as_str().unwrap();
            let number: u32 = dossier.rsplit('-').next().unwrap().parse().unwrap();
            out.insert((
                number,
                c["field"].as_str().unwrap().to_owned(),
                c["column"].as_u64().unwrap() as u32,
                m["change"].as_i64().unwrap(),
                m["reading"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn every_reading_moves_the_dossiers_its_readme_names() {
    let (code, result) = reconcile_readings(&own_fixture("reconcile-readings", "theirs-flat.csv"));
    assert_eq!(code, 0, "everything explained: {}", result["summary"]);
    let steps = [41, 37, 31, 23, 17, 14, 6, 0];
    let expected: Vec<_> = [
        "withdrawn_by_dates",
        "unknown_channel_in_total",
        "finished_before_received_counted",
        "resolved_without_reception_date",
        "received_without_reception_date_counted",
        "withdrawn_without_finish_date_dropped",
        "finished_in_period_received_after_end_counted",
    ]
    .iter()
    .enumerate()
    .map(|(i, r)| ((*r).to_owned(), true, 2, steps[i], steps[i + 1]))
    .collect();
    assert_eq!(readings(&result), expected);
    let readme: std::collections::BTreeSet<_> = readings_readme()
        .into_iter()
        .flat_map(|(n, field, cells)| {
            cells.into_iter().map(move |(column, change, reading)| {
                (n, field.to_owned(), column, change, reading.to_owned())
            })
        })
        .collect();
    assert_eq!(moves_of(&result), readme);
    let s = &result["summary"];
    assert_eq!(
        (
            s["cells"].as_u64(),
            s["differing"].as_u64(),
            s["difference"].as_u64()
        ),
        (Some(154), Some(41), Some(41))
    );
    assert_eq!(s["unexplained"].as_u64(), Some(0));
    assert_eq!(result["unmatched"], json!([]));
}

#[test]
fn a_fault_of_three_in_one_cell_is_left_exactly_unexplained() {
    let dir = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(own_fixture("reconcile-readings", "theirs-flat.csv")).unwrap();
    let faulty = original.replace(
        "000.20.00.H55,G09-GD,0,0,0,0,0,0,0,0,0,0,0",
        "000.20.00.H55,G09-GD,0,0,0,0,0,0,0,0,3,0,0",
    );
    assert_ne!(faulty, original);
    let path = dir.path().join("theirs.csv");
    std::fs::write(&path, faulty).unwrap();
    let (code, result) = reconcile_readings(path.to_str().unwrap());
    assert_eq!(code, 4, "something is left unexplained");
    let s = &result["summary"];
    assert_eq!(
        (
            s["differing"].as_u64(),
            s["difference"].as_u64(),
            s["unexplained"].as_u64()
        ),
        (Some(41), Some(42), Some(3))
    );
    let steps = [42, 38, 32, 24, 18, 15, 9, 3];
    for (i, r) in readings(&result).iter().enumerate() {
        assert_eq!((r.1, r.3, r.4), (true, steps[i], steps[i + 1]), "{}", r.0);
    }
    let left: Vec<&Value> = result["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["unexplained"].as_i64() != Some(0))
        .collect();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (
            &left[0]["field"],
            &left[0]["column"],
            &left[0]["unexplained"]
        ),
        (&json!("G09-GD"), &json!(11), &json!(3))
    );
    assert_eq!(
        left[0]["candidates"],
        json!([{"dossier": "000.20.00.H55-230810-000011", "finding": "withdrawn_without_finish_date"}])
    );
}
