//! The pipeline's compute stage on a hand-made province, figures worked out by hand: the duties
//! say who sums whom; a report that breaks an identity withholds every aggregate and narrative
//! that includes it, and nothing else; the narrative finds each figure by its metric in the form
//! definition, wherever a regime puts the column.
//!
//! Province P → district D1 (communes A, B), district D2 (commune C). Period 2023-Q3
//! (15/06–14/09/2023). Dossiers:
//! - A1 at A: received 01/05 (before the period), still processing: carried over, pending.
//! - A2 at A: received 01/07, due 10/07, finished 03/07: resolved early.
//! - B1 at B: received 02/07, due 05/07, finished 05/07: resolved on time.
//! - C1 at C: received 01/08, due 20/08, processing: pending, overdue at the period's end.
//! - D1 at D1 itself: received 01/07, due 10/07, finished 04/07: resolved early.

use baocao_sync::domain::{Dossier, Period, UnitTree};
use baocao_sync::duties::Duties;
use baocao_sync::forms::FormCatalog;
use baocao_sync::sources::export::parse_raw;
use baocao_sync::sync::compute::{Contents, Setup, compute};
use baocao_sync::sync::outbox::Computed;
use baocao_sync::sync::records::Loaded;
use std::path::Path;

const UNITS: &str = r#"
[[units]]
code = "P"
name = "Tỉnh"
kind = "province"
parent = ""
[[units]]
code = "D1"
name = "Huyện 1"
kind = "district"
parent = "P"
[[units]]
code = "A"
name = "Xã A"
kind = "commune"
parent = "D1"
[[units]]
code = "B"
name = "Xã B"
kind = "commune"
parent = "D1"
[[units]]
code = "D2"
name = "Huyện 2"
kind = "district"
parent = "P"
[[units]]
code = "C"
name = "Xã C"
kind = "commune"
parent = "D2"
"#;

/// The districts sum their communes only (not their own dossiers).
const DUTIES: &str = r#"
regime = "TT01/2020"
name = "test"
[systems.central]
name = "central"
account = "x"
[[duties]]
kind = "commune"
forms = ["II.06a", "II.01-ĐC"]
systems = ["central"]
deadline_days = 3
[[duties]]
kind = "district"
forms = ["II.06", "II.01-ĐC"]
aggregates = ["commune"]
systems = ["central"]
deadline_days = 5
"#;

const DOSSIERS: &str = r#"{"MaHoSo":"A1","TrangThaiHoSo":"4","KenhThucHien":"1","MaDonViXuLy":"A","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch","NgayTiepNhan":"20230501080000","NgayHenTra":"20230801080000"}
{"MaHoSo":"A2","TrangThaiHoSo":"10","KenhThucHien":"2","MaDonViXuLy":"A","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","NgayKetThucXuLy":"20230703080000"}
{"MaHoSo":"B1","TrangThaiHoSo":"10","KenhThucHien":"1","MaDonViXuLy":"B","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch","NgayTiepNhan":"20230702080000","NgayHenTra":"20230705080000","NgayKetThucXuLy":"20230705100000"}
{"MaHoSo":"C1","TrangThaiHoSo":"2","KenhThucHien":"2","MaDonViXuLy":"C","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch","NgayTiepNhan":"20230801080000","NgayHenTra":"20230820080000"}
{"MaHoSo":"D1","TrangThaiHoSo":"10","KenhThucHien":"1","MaDonViXuLy":"D1","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","NgayKetThucXuLy":"20230704080000"}"#;

/// The shipped form definitions with `edits` (file, from, to) applied.
fn forms(edits: &[(&str, &str, &str)]) -> FormCatalog {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/forms");
    for regime in std::fs::read_dir(&source).unwrap().flatten() {
        let to = dir.path().join(regime.file_name());
        std::fs::create_dir_all(&to).unwrap();
        for file in std::fs::read_dir(regime.path()).unwrap().flatten() {
            let mut text = std::fs::read_to_string(file.path()).unwrap();
            for (name, from, into) in edits {
                if file.file_name().to_str() == Some(name) {
                    assert!(text.contains(from), "{name} has `{from}`");
                    text = text.replace(from, into);
                }
            }
            std::fs::write(to.join(file.file_name()), text).unwrap();
        }
    }
    baocao_sync::configuration::forms(dir.path()).unwrap()
}

fn contents(forms: &FormCatalog) -> Contents {
    let units = UnitTree::from_toml(UNITS).unwrap();
    let duties = Duties::from_toml(DUTIES).unwrap();
    let setup = Setup {
        units: &units,
        duties: &duties,
        forms,
        catalog: None,
        checks: None,
        question: None,
    };
    let period: Period = "2023-Q3".parse().unwrap();
    let regime = setup.regime(&period).unwrap();
    let mut loaded = Loaded::default();
    let batch = parse_raw::<Dossier>(DOSSIERS.lines(), false);
    loaded.dossiers = Some(loaded.take(batch));
    loaded.ratings = Some(Vec::new());
    loaded.feedback = Some(Vec::new());
    compute(&setup, regime, loaded, &period).unwrap()
}

/// The `_total` row's value of column `n` in a draft.
fn total(c: &Computed, n: &str) -> u64 {
    let Computed::Draft(d) = c else {
        panic!("a draft, not {c:?}")
    };
    d.rows.iter().find(|r| r.key == "_total").unwrap().values[n]
}

fn text(c: &Computed) -> &str {
    let Computed::Draft(d) = c else {
        panic!("a draft, not {c:?}")
    };
    d.text.as_deref().unwrap()
}

#[test]
fn the_duties_say_who_sums_whom() {
    let c = contents(&FormCatalog::builtin());
    // D1 sums A (A1, A2) and B (B1), not its own D1: 3 received, 2 resolved, 1 pending.
    let d1 = c.get("D1", "II.06").unwrap();
    assert_eq!(
        ["3", "6", "7", "8", "9", "11"].map(|n| total(d1, n)),
        [3, 1, 2, 1, 1, 1]
    );
    let d2 = c.get("D2", "II.06").unwrap();
    assert_eq!(["3", "11", "12", "13"].map(|n| total(d2, n)), [1, 1, 0, 1]);
    // The province has no duty; districts file no II.06a of their own.
    assert!(c.get("P", "II.06").is_none() && c.get("D1", "II.06a").is_none());
    assert_eq!(total(c.get("B", "II.06a").unwrap(), "9"), 1);
}

#[test]
fn a_broken_identity_withholds_what_includes_it_and_nothing_else() {
    // Column 6 (carried over) left out of its identity: A, which has a carried-over dossier,
    // breaks it; B and C do not.
    let broken = forms(&[("II.06a.toml", "\"3 = 4 + 5 + 6\"", "\"3 = 4 + 5\"")]);
    let c = contents(&broken);
    let withheld =
        |unit: &str, form: &str| matches!(c.get(unit, form), Some(Computed::Withheld(_)));
    assert!(withheld("A", "II.06a"));
    assert!(
        withheld("D1", "II.06"),
        "D1's aggregate includes A's report"
    );
    assert!(
        withheld("A", "II.01-ĐC") && withheld("D1", "II.01-ĐC"),
        "and so do their narratives"
    );
    assert_eq!(total(c.get("B", "II.06a").unwrap(), "3"), 1, "B stands");
    assert_eq!(
        total(c.get("D2", "II.06").unwrap(), "3"),
        1,
        "D2 includes nothing withheld"
    );
    assert!(matches!(c.get("C", "II.01-ĐC"), Some(Computed::Draft(_))));
}

#[test]
fn the_narrative_finds_each_figure_by_its_metric() {
    // A regime that swaps the columns of "early" and "late": the narrative still says A
    // resolved 1 dossier early and none late.
    let swapped = forms(&[
        (
            "II.06a.toml",
            "metric = \"closed_early\"",
            "metric = \"swap_me\"",
        ),
        (
            "II.06a.toml",
            "metric = \"closed_late\"",
            "metric = \"closed_early\"",
        ),
        (
            "II.06a.toml",
            "metric = \"swap_me\"",
            "metric = \"closed_late\"",
        ),
    ]);
    let c = contents(&swapped);
    assert_eq!(
        total(c.get("A", "II.06a").unwrap(), "10"),
        1,
        "column 10 now holds early"
    );
    let a = text(c.get("A", "II.01-ĐC").unwrap());
    assert!(
        a.contains("trả trước hạn 1 hồ sơ, đúng hạn 0 hồ sơ, quá hạn 0 hồ sơ"),
        "{a}"
    );
    // Overdue by field: none resolved late, one pending overdue (A1).
    assert!(a.contains("| Hộ tịch | 0 | 1 |"), "{a}");
}
