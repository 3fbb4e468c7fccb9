//! A store holding several quarters: the current quarter's report reads what the quarter needs,
//! not the years behind it, and says the same as a full read. On both backends, with a
//! real-shaped history (`generate --shape real --quarters 4`): the dossiers the report decodes
//! are counted against an independent count of those the window and the column-4 check need
//! (domain.md §5, read here on its own), and the output is compared with the report of the whole
//! file and with the report of a store holding the quarter alone. Old dossiers then change (some
//! reopened, some closed now, some deleted) and the store follows.

mod common;

use chrono::NaiveDate;
use common::stores::{BACKENDS, TestDb};
use common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Q3 2023 by the Decree: 15 June to 14 September; the column-4 check compares with Q2, from
/// 15 March.
const FIRST: (i32, u32, u32) = (2023, 6, 15);
const PREVIOUS_FIRST: (i32, u32, u32) = (2023, 3, 15);

fn date(t: (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.0, t.1, t.2).unwrap()
}

/// A line of the file as this test reads it.
struct Line {
    key: String,
    updated: String,
    text: String,
    /// `None`: a date no calendar has (the import rejects the line).
    readable: bool,
    status: u8,
    deleted: bool,
    received: Option<NaiveDate>,
    finished: Option<NaiveDate>,
    field: String,
    name: String,
}

/// The local day of an export's date: `yyyyMMddHHmmss` or `yyyy-MM-dd HH:mm:ss`, both local
/// time. `Err` for a date no calendar has.
fn local_day(text: &str) -> Result<Option<NaiveDate>, ()> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if text.is_empty() {
        return Ok(None);
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap();
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(4..6), n(6..8))
        .map(Some)
        .ok_or(())
}

fn read_lines(path: &Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
            let (received, finished) = (
                local_day(&s("NgayTiepNhan")),
                local_day(&s("NgayKetThucXuLy")),
            );
            Line {
                key: s("MaHoSo"),
                updated: s("CapNhatLuc"),
                text: l.to_owned(),
                readable: received.is_ok() && finished.is_ok(),
                status: s("TrangThaiHoSo").trim().parse().unwrap(),
                deleted: s("DaXoa") == "1",
                received: received.unwrap_or(None),
                finished: finished.unwrap_or(None),
                field: s("MaLinhVuc"),
                name: s("TenLinhVuc"),
            }
        })
        .collect()
}

/// Each key's latest readable version (CapNhatLuc: a later one replaces an earlier one).
fn latest(lines: &[Line]) -> HashMap<&str, &Line> {
    let mut out: HashMap<&str, &Line> = HashMap::new();
    for l in lines.iter().filter(|l| l.readable) {
        match out.get(l.key.as_str()) {
            Some(kept) if kept.updated >= l.updated => {}
            _ => {
                out.insert(&l.key, l);
            }
        }
    }
    out
}

/// Whether a report of a period from day `from` needs the dossier (domain.md §5): excluded
/// statuses (1, 3) and deleted dossiers no period counts; one without a reception date, still
/// open (statuses other than 7, 9, 10), finished without a finish date or before it was received
/// is counted or named by every period; one finished normally is outside every period that
/// starts after its finish day.
fn needed_from(l: &Line, from: NaiveDate) -> bool {
    if matches!(l.status, 1 | 3) || l.deleted {
        return false;
    }
    let Some(received) = l.received else {
        return true;
    };
    if !matches!(l.status, 7 | 9 | 10) {
        return true;
    }
    let Some(finished) = l.finished else {
        return true;
    };
    finished < received || finished >= from
}

/// What the report of the period from `FIRST` reads: the dossiers it needs, and for the column-4
/// check of the period before, those that need reading from `PREVIOUS_FIRST` on.
fn needed(l: &Line) -> bool {
    needed_from(l, date(PREVIOUS_FIRST))
}

/// Dossiers the period itself needs (decoded whole).
fn in_window(l: &Line) -> bool {
    needed_from(l, date(FIRST))
}

/// A report's JSON and what it read: dossiers decoded whole, and scanned (reception columns).
fn report(units: &Path, source: &[&str]) -> (Value, (u64, u64)) {
    let mut args = vec![
        "report",
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ];
    args.extend_from_slice(source);
    let out = bin().env("RUST_LOG", "info").args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "report failed: {stderr}");
    let count = |what: &str| -> u64 {
        stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix(what))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the report says what it read ({what}): {stderr}"))
    };
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        (count("decoded="), count("scanned=")),
    )
}

fn import(db: &str, file: &Path) {
    let out = run(&[
        "import",
        "--input",
        file.to_str().unwrap(),
        "--database-url",
        db,
    ]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_lines<'a>(path: &Path, lines: impl IntoIterator<Item = &'a str>) {
    let text: Vec<&str> = lines.into_iter().collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

/// Everything a report says but where it read from. A file's report also names the lines a
/// file holds twice (`duplicate_record`); a store keeps the later version and has no second line.
fn without_origin(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove("input");
        o.remove("source");
        if let Some(Value::Array(findings)) = o.get_mut("findings") {
            findings.retain(|f| f["code"] != "duplicate_record");
            // Where an unreadable line was in the file it came in (another file, another line).
            for f in findings {
                if let Some(m) = f["message"].as_str()
                    && let Some(start) = m.find("(line:")
                    && let Some(len) = m[start..].find(')')
                {
                    f["message"] = format!("{}{}", &m[..start], &m[start + len + 1..]).into();
                }
            }
        }
    }
    doc
}

/// Where two documents first differ (a JSON path and both values), if they do.
fn difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(v), Some(w)) => difference(v, w, &format!("{at}.{k}")),
                (v, w) => Some(format!("{at}.{k}: {v:?} against {w:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| difference(v, w, &format!("{at}[{i}]")))
            .or_else(|| {
                (x.len() != y.len()).then(|| format!("{at}: {} items against {}", x.len(), y.len()))
            }),
        _ => (a != b).then(|| format!("{at}: {a} against {b}")),
    }
}

fn assert_same(got: &Value, expected: &Value, what: &str) {
    let (got, expected) = (
        without_origin(got.clone()),
        without_origin(expected.clone()),
    );
    if let Some(d) = difference(&got, &expected, "") {
        panic!("{what}: {d}");
    }
}

#[test]
fn the_current_quarter_reads_what_it_needs_and_says_what_a_full_read_says() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(&[
        "generate",
        "--shape",
        "real",
        "--quarters",
        "4",
        "--dossiers",
        "6000",
        "--units",
        "20",
        "--seed",
        "11",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (input, units) = (data.join("dossiers.ndjson"), data.join("units.toml"));
    // One unit moves from online to the counter between the quarters: the column-4 check must
    // name it, and for that read the previous quarter, most of it closed before this one.
    let moved = "000.00.30.H55";
    let text: Vec<String> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["MaDonViXuLy"] == moved {
                let before = local_day(v["NgayTiepNhan"].as_str().unwrap())
                    .ok()
                    .flatten()
                    .is_some_and(|d| d < date(FIRST));
                v["KenhThucHien"] = if before { "2" } else { "1" }.into();
            }
            v.to_string()
        })
        .collect();
    write_lines(&input, text.iter().map(String::as_str));
    let lines = read_lines(&input);
    let kept = latest(&lines);
    let need: usize = kept.values().filter(|l| needed(l)).count();
    let window: usize = kept.values().filter(|l| in_window(l)).count();
    let earlier = need - window;
    assert!(
        need < kept.len() / 2,
        "most of a 4-quarter history is behind the period ({need} of {})",
        kept.len()
    );

    // The quarter alone, as the rules see it: the dossiers it needs, every version of them, and
    // what the listed exceptions read beyond the window — each field's first dossier and first
    // name (labels, `unknown_field`) and the unreadable lines (their findings).
    let needed_keys: HashSet<&str> = kept
        .iter()
        .filter(|(_, l)| needed(l))
        .map(|(k, _)| *k)
        .collect();
    let mut firsts: HashSet<&str> = HashSet::new();
    let (mut first_of, mut named) = (HashSet::new(), HashSet::new());
    for l in lines.iter().filter(|l| l.readable) {
        if first_of.insert(l.field.as_str()) {
            firsts.insert(&l.key);
        }
        if !l.name.is_empty() && named.insert(l.field.as_str()) {
            firsts.insert(&l.key);
        }
    }
    let quarter_alone = dir.path().join("quarter.ndjson");
    write_lines(
        &quarter_alone,
        lines
            .iter()
            .filter(|l| {
                !l.readable
                    || needed_keys.contains(l.key.as_str())
                    || firsts.contains(l.key.as_str())
            })
            .map(|l| l.text.as_str()),
    );

    // Later, old dossiers change: every 50th closed one is reopened, every 40th still-open one
    // closes in the quarter, every 60th is deleted.
    let changes: Vec<String> = kept
        .values()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut v: Value = serde_json::from_str(&l.text).unwrap();
            let closed = matches!(l.status, 7 | 9 | 10) && l.finished.is_some();
            if closed && l.finished.is_some_and(|f| f < date(PREVIOUS_FIRST)) && i % 50 == 0 {
                v["TrangThaiHoSo"] = "4".into();
            } else if !closed && l.received.is_some() && i % 40 == 0 {
                v["TrangThaiHoSo"] = "9".into();
                v["NgayKetThucXuLy"] = "20230801090000".into();
            } else if i % 60 == 0 {
                v["DaXoa"] = "1".into();
            } else {
                return None;
            }
            v["CapNhatLuc"] = "20230905080000".into();
            Some(v.to_string())
        })
        .collect();
    assert!(changes.len() > 50, "{} changes", changes.len());
    let changes_file = dir.path().join("changes.ndjson");
    write_lines(&changes_file, changes.iter().map(String::as_str));
    let after_file = dir.path().join("after.ndjson");
    write_lines(
        &after_file,
        lines
            .iter()
            .map(|l| l.text.as_str())
            .chain(changes.iter().map(String::as_str)),
    );
    let after_lines = read_lines(&after_file);
    let after_need = latest(&after_lines).values().filter(|l| needed(l)).count();

    let (whole, _) = report(&units, &["--input", input.to_str().unwrap()]);
    assert!(
        whole["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "online_share_shift" && f["record"] == moved),
        "the unit that moved to the counter is named"
    );
    let (whole_after, _) = report(&units, &["--input", after_file.to_str().unwrap()]);
    for backend in BACKENDS {
        let history = TestDb::new(backend);
        import(history.url(), &input);
        let (stored, (decoded, scanned)) =
            report(&units, &["--from-store", "--database-url", history.url()]);
        assert!(
            decoded as usize <= window && scanned as usize <= earlier,
            "{backend}: decoded {decoded} and scanned {scanned}; the window needs {window}, the previous \
             period {earlier} more; the history holds {}",
            kept.len()
        );
        assert_same(
            &stored,
            &whole,
            &format!("{backend}: the history store says what the whole file says"),
        );

        let alone = TestDb::new(backend);
        import(alone.url(), &quarter_alone);
        let (by_itself, _) = report(&units, &["--from-store", "--database-url", alone.url()]);
        assert_same(
            &stored,
            &by_itself,
            &format!("{backend}: the history store says what the quarter alone says"),
        );

        import(history.url(), &changes_file);
        let (changed, (decoded, scanned)) =
            report(&units, &["--from-store", "--database-url", history.url()]);
        assert!(
            (decoded + scanned) as usize <= after_need,
            "{backend}: after the changes, read {decoded} + {scanned} of the {after_need} needed"
        );
        assert_same(
            &changed,
            &whole_after,
            &format!(
                "{backend}: after old dossiers changed, the store says what the whole file says"
            ),
        );
    }
}
