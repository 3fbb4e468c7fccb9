//! `cargo bench --bench report`: the speed and memory targets of the core issue, measured on the
//! real binary (built by cargo in the bench profile) as a child process.
//!
//! Generates 1,000,000 dossiers over 200 units (BENCH_DOSSIERS / BENCH_UNITS override), then
//! measures wall time and peak RSS of:
//!   1. `report --form II.06a` from the NDJSON file (target ≤ 3 s, ≤ 500 MB),
//!   2. `import` into a fresh SQLite file (target ≥ 100,000 dossiers/s),
//!   3. `report --form II.06a --from-store` (target ≤ 5 s),
//!   4. `report --form II.06` from the NDJSON file (for the record).
//!
//! Not a test: it asserts nothing and never runs in CI.

mod common;

use common::{Measured, env_or};
use std::path::Path;
use std::time::Instant;

fn measure(args: &[&str]) -> Measured {
    common::measure(args, &[0]).0
}

fn main() {
    // cargo passes `--bench`; any other argument is a filter we do not support.
    let dossiers = env_or("BENCH_DOSSIERS", 1_000_000);
    let units = env_or("BENCH_UNITS", 200);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path();
    let t = Instant::now();
    let spec = baocao_sync::synth::Spec {
        dossiers,
        units,
        seed: 42,
        ..Default::default()
    };
    baocao_sync::synth::write_data_set(&spec, data).expect("generate");
    let size = std::fs::metadata(data.join("dossiers.ndjson"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "generated {dossiers} dossiers over {units} units ({:.0} MB NDJSON) in {:.1} s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let p = |name: &str| data.join(name).to_str().expect("utf-8 path").to_owned();
    let (input, unit_file, out) = (p("dossiers.ndjson"), p("units.toml"), p("out.json"));
    let db = format!("sqlite://{}", p("bench.db"));
    let report = |form: &'static str, source: &[&str]| {
        let mut a = vec![
            "report", "--units", &unit_file, "--period", "2023-Q3", "--form", form, "--out", &out,
        ];
        a.extend_from_slice(source);
        measure(&a)
    };

    let rows = [
        (
            "report II.06a from NDJSON",
            report("II.06a", &["--input", &input]),
            "≤ 3 s, ≤ 500 MB",
        ),
        (
            "import into SQLite",
            measure(&["import", "--input", &input, "--database-url", &db]),
            "≥ 100,000 dossiers/s",
        ),
        (
            "report II.06a from store",
            report("II.06a", &["--from-store", "--database-url", &db]),
            "≤ 5 s",
        ),
        (
            "report II.06 from NDJSON",
            report("II.06", &["--input", &input]),
            "(for the record)",
        ),
    ];
    println!(
        "{:<28} {:>9} {:>12} {:>16}  target",
        "run", "wall s", "peak RSS MB", "dossiers/s"
    );
    for (name, m, target) in rows {
        println!(
            "{name:<28} {:>9.2} {:>12.0} {:>16.0}  {target}",
            m.wall.as_secs_f64(),
            m.peak_rss_mb,
            dossiers as f64 / m.wall.as_secs_f64()
        );
    }
    let _ = Path::new(&out);
}
