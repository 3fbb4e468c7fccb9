//! `cargo bench --bench curve`: the cost curve of II.06a on real-shaped lines (issue 16).
//!
//! 1. **One quarter** at 100 k, 1 M, 5 M and 10 M dossiers (BENCH_SIZES): the report from the
//!    NDJSON file; the import into SQLite and PostgreSQL (rate, peak memory, store size); the
//!    report from each store; PostgreSQL's own aggregate over the same rows in typed columns with
//!    a DBA's indexes (the anchor, `common/anchor.rs`), and its table's size.
//! 2. **History**: the current quarter (BENCH_QUARTER dossiers, 1 M) from stores holding 1, 4 and
//!    10 quarters (BENCH_HISTORY), on both stores, against the anchor over the same rows.
//! 3. **Pre-fill over history**: the daemon's whole pre-fill of the current quarter (`sync` against
//!    the sandbox serving it, `common/pipeline.rs`) into an empty store and into one already
//!    holding the 9 earlier quarters (BENCH_PREFILL_QUARTERS − 1, imported as the same source: the
//!    pull then reads only what the sandbox serves, as an incremental one would), then an
//!    incremental day of BENCH_CHANGED (10,000) changed dossiers on each.
//!
//! The lines are `generate --shape real` (seed 42, 200 units): every value a string, the 17
//! fields with their full names, ~520 bytes a line, a few percent with export defects; a history
//! keeps ~1 % of each old quarter open and changes 2 % of them during the last quarter. The real
//! binary runs as a child process; its wall time and its own peak RSS (wait4) are measured; the
//! reports are the best of three at every size. Prints a markdown table and writes the plots
//! `docs/benchmarks-curve.svg` and `docs/benchmarks-history.svg`.
//!
//! Disk: the 10 M file (5.2 GB), its two stores (~1 GB each) and the anchor (~2.5 GB) at once,
//! about 10 GB under BENCH_DIR (the system's temporary directory by default); each size is
//! removed before the next. BENCH_STORES=sqlite,postgres; BENCH_SECTIONS=curve,history,prefill;
//! BENCH_POSTGRES (postgres://postgres@127.0.0.1:5432 by default).

mod common;

use common::{
    Measured, anchor, drop_database, env_list, env_or, fresh_database, pipeline, runtime,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn best_of(n: usize, args: &[&str]) -> Measured {
    (0..n)
        .map(|_| common::measure(args, &[0]).0)
        .min_by(|a, b| a.wall.cmp(&b.wall))
        .expect("n > 0")
}

/// The store's size on disk: the SQLite file after a checkpoint, or PostgreSQL's tables of
/// dossiers with their indexes.
fn store_bytes(url: &str) -> u64 {
    runtime().block_on(async {
        use sqlx::Connection;
        if let Some(path) = url.strip_prefix("sqlite://") {
            let mut c = sqlx::SqliteConnection::connect(url).await.expect("open");
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut c)
                .await
                .expect("checkpoint");
            drop(c);
            std::fs::metadata(path).map_or(0, |m| m.len())
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
            let bytes: i64 = sqlx::query_scalar(
                "SELECT SUM(pg_total_relation_size(t))::BIGINT FROM unnest(ARRAY['dossier_blocks', \
                 'dossier_fields', 'dossier_sources', 'rejected_records']) AS t",
            )
            .fetch_one(&mut c)
            .await
            .expect("sizes");
            bytes as u64
        }
    })
}

/// One measured point of a series.
#[derive(Debug, Clone)]
struct Point {
    series: String,
    x: f64,
    seconds: f64,
}

struct Bench {
    dir: PathBuf,
    stores: Vec<String>,
    rows: Vec<[String; 4]>,
    points: Vec<Point>,
}

impl Bench {
    fn row(&mut self, what: String, measured: String, note: String) {
        let row = [what, measured, note, String::new()];
        println!("  {} | {} | {}", row[0], row[1], row[2]);
        self.rows.push(row);
    }

    /// Generates a data set; its folder.
    fn generate(&self, name: &str, dossiers: usize, quarters: usize) -> PathBuf {
        let data = self.dir.join(name);
        let t = Instant::now();
        let spec = baocao_sync::synth::Spec {
            dossiers,
            units: env_or("BENCH_UNITS", 200),
            seed: 42,
            shape: baocao_sync::synth::Shape::Real,
            quarters,
            ..Default::default()
        };
        baocao_sync::synth::write_data_set(&spec, &data).expect("generate");
        // On disk before anything is measured: a report run while the kernel still writes out
        // the gigabytes just generated measures the writeback too.
        std::fs::File::open(data.join("dossiers.ndjson"))
            .and_then(|f| f.sync_all())
            .expect("flush the generated dossiers");
        let size = std::fs::metadata(data.join("dossiers.ndjson")).map_or(0, |m| m.len());
        println!(
            "{name}: {dossiers} dossiers over {quarters} quarter(s), {:.0} MB NDJSON, generated in {:.1} s",
            size as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        data
    }

    /// Reports II.06a of 2023-Q3 from `source`, the best of `runs`.
    fn report(&self, data: &Path, source: &[&str], runs: usize) -> Measured {
        let units = data.join("units.toml").display().to_string();
        let out = self.dir.join("out.json").display().to_string();
        let mut a = vec![
            "report", "--units", &units, "--period", "2023-Q3", "--form", "II.06a", "--out", &out,
        ];
        a.extend_from_slice(source);
        best_of(runs, &a)
    }

    /// A fresh, empty store of `backend` named `name`; its URL.
    fn fresh_store(&self, backend: &str, name: &str) -> String {
        if backend == "sqlite" {
            let path = self.dir.join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            format!("sqlite://{}", path.display())
        } else {
            fresh_database(name)
        }
    }

    /// Imports the data set into a fresh store of `backend`; the store's URL, the import's cost
    /// and the store's size. The store's schema is created first, untimed (an import of an empty
    /// file): a store is created once, and PostgreSQL's migrations, each committed, take
    /// 0.10–0.16 s here, a third of a 100 k import.
    fn import(&self, data: &Path, backend: &str, name: &str) -> (String, Measured, u64) {
        let url = self.fresh_store(backend, name);
        let empty = self.dir.join("empty.ndjson");
        std::fs::write(&empty, b"").expect("an empty file");
        import_into(&empty, &url);
        let m = import_into(&data.join("dossiers.ndjson"), &url);
        (url.clone(), m, store_bytes(&url))
    }

    /// The anchor over the data set: loaded, indexed, its aggregate the best of three.
    fn anchor(&self, data: &Path, name: &str) -> (f64, u64) {
        let url = fresh_database(name);
        let t = Instant::now();
        let loaded = runtime().block_on(anchor::load(
            &url,
            &data.join("dossiers.ndjson"),
            &data.join("units.toml"),
        ));
        let bytes = runtime().block_on(anchor::index(&url));
        println!(
            "  (anchor: {loaded} lines in typed columns, indexed, in {:.1} s; {:.0} MB with its indexes)",
            t.elapsed().as_secs_f64(),
            bytes as f64 / 1e6
        );
        let (seconds, _) = runtime().block_on(anchor::aggregate(&url, 3));
        drop_database(name);
        (seconds, bytes)
    }

    fn point(&mut self, series: &str, x: f64, m: Measured) {
        self.points.push(Point {
            series: series.to_owned(),
            x,
            seconds: m.wall.as_secs_f64(),
        });
    }
}

/// `import` of a dossier file into the store at `url` (as the source `default`).
fn import_into(input: &Path, url: &str) -> Measured {
    let input = input.display().to_string();
    common::measure(&["import", "--input", &input, "--database-url", url], &[0]).0
}

/// Splits a history's dossiers: the first `earlier` lines (the earlier quarters, written oldest
/// first) to `earlier.ndjson` beside them, the rest (the current quarter) to a folder `current`
/// holding them as its `dossiers.ndjson` beside links to the set's other files; that folder.
fn split_current(data: &Path, earlier: usize) -> PathBuf {
    use std::io::{BufRead, BufWriter, Write};
    let current = data.join("current");
    std::fs::create_dir_all(&current).expect("folder");
    let input = std::io::BufReader::new(
        std::fs::File::open(data.join("dossiers.ndjson")).expect("the history's dossiers"),
    );
    let mut old = BufWriter::new(std::fs::File::create(data.join("earlier.ndjson")).expect("file"));
    let mut now =
        BufWriter::new(std::fs::File::create(current.join("dossiers.ndjson")).expect("file"));
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.expect("a line");
        let out = if i < earlier { &mut old } else { &mut now };
        out.write_all(&line)
            .and_then(|()| out.write_all(b"\n"))
            .expect("write");
    }
    old.flush().and_then(|()| now.flush()).expect("flush");
    for entry in std::fs::read_dir(data).expect("the data set").flatten() {
        let name = entry.file_name();
        let path = entry.path();
        if path.is_file() && name != "dossiers.ndjson" && name != "earlier.ndjson" {
            std::os::unix::fs::symlink(&path, current.join(&name)).expect("link");
        }
    }
    current
}

fn cost(m: Measured) -> String {
    format!("{:.2} s, {:.0} MB", m.wall.as_secs_f64(), m.peak_rss_mb)
}

fn millions(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{} M", n as f64 / 1e6)
    } else {
        format!("{} k", n / 1000)
    }
}

fn main() {
    let sizes: Vec<usize> = env_list("BENCH_SIZES", "100000,1000000,5000000,10000000")
        .iter()
        .map(|s| s.parse().expect("BENCH_SIZES: numbers"))
        .collect();
    let history: Vec<usize> = env_list("BENCH_HISTORY", "1,4,10")
        .iter()
        .map(|s| s.parse().expect("BENCH_HISTORY: numbers"))
        .collect();
    let per_quarter = env_or("BENCH_QUARTER", 1_000_000);
    let sections = env_list("BENCH_SECTIONS", "curve,history,prefill");
    let root = std::env::var("BENCH_DIR").map_or_else(|_| std::env::temp_dir(), PathBuf::from);
    let dir = tempfile::tempdir_in(root).expect("temp dir");
    let mut bench = Bench {
        dir: dir.path().to_owned(),
        stores: env_list("BENCH_STORES", "sqlite,postgres"),
        rows: Vec::new(),
        points: Vec::new(),
    };
    let with_postgres = bench.stores.iter().any(|s| s == "postgres");

    if sections.iter().any(|s| s == "curve") {
        let mut first_ndjson: Option<(usize, Measured)> = None;
        for &n in &sizes {
            let data = bench.generate("one-quarter", n, 1);
            let input = data.join("dossiers.ndjson").display().to_string();
            // The same statistic at every size: the best of three at 1 M against one run at
            // 10 M read the ratios high by the spread of single runs (10-20 % here).
            let runs = 3;
            let m = bench.report(&data, &["--input", &input], runs);
            let ratio = first_ndjson
                .filter(|(base, _)| *base == 1_000_000 && n > *base)
                .map(|(_, b)| {
                    format!(
                        "{:.2} × the 1 M time",
                        m.wall.as_secs_f64() / b.wall.as_secs_f64()
                    )
                })
                .unwrap_or_default();
            if n == 1_000_000 {
                first_ndjson = Some((n, m));
            }
            bench.row(
                format!("{}: report from NDJSON", millions(n)),
                cost(m),
                ratio,
            );
            bench.point("NDJSON", n as f64 / 1e6, m);
            let anchor = with_postgres.then(|| bench.anchor(&data, "bench_curve_anchor"));
            if let Some((seconds, bytes)) = anchor {
                bench.row(
                    format!("{}: PostgreSQL's indexed aggregate (anchor)", millions(n)),
                    format!("{seconds:.2} s"),
                    format!("table with indexes {:.0} MB", bytes as f64 / 1e6),
                );
                bench.points.push(Point {
                    series: "PostgreSQL aggregate".into(),
                    x: n as f64 / 1e6,
                    seconds,
                });
            }
            for backend in bench.stores.clone() {
                let (url, imported, bytes) = bench.import(&data, &backend, "bench_curve_store");
                bench.row(
                    format!("{}: import into {backend}", millions(n)),
                    cost(imported),
                    format!(
                        "{:.0} /s; store {:.0} MB{}",
                        n as f64 / imported.wall.as_secs_f64(),
                        bytes as f64 / 1e6,
                        anchor.map_or(String::new(), |(_, a)| format!(
                            " = {:.2} × the anchor's table",
                            bytes as f64 / a as f64
                        ))
                    ),
                );
                let m = bench.report(&data, &["--from-store", "--database-url", &url], runs);
                bench.row(
                    format!("{}: report from {backend}", millions(n)),
                    cost(m),
                    anchor.map_or(String::new(), |(a, _)| {
                        format!("{:.2} × the anchor", m.wall.as_secs_f64() / a)
                    }),
                );
                bench.point(&format!("{backend} store"), n as f64 / 1e6, m);
                if backend == "postgres" {
                    drop_database("bench_curve_store");
                }
            }
            std::fs::remove_dir_all(&data).expect("clean up");
            for entry in std::fs::read_dir(&bench.dir).expect("dir").flatten() {
                if entry.file_name().to_string_lossy().ends_with(".db") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        plot(
            &bench.points,
            "docs/benchmarks-curve.svg",
            "II.06a of one quarter, real-shaped lines",
            "million dossiers",
        );
    }

    if sections.iter().any(|s| s == "history") {
        let mut alone: Vec<(String, f64)> = Vec::new();
        let mut history_points = Vec::new();
        for &q in &history {
            let data = bench.generate("history", per_quarter * q, q);
            let anchor = with_postgres.then(|| bench.anchor(&data, "bench_history_anchor"));
            if let Some((seconds, _)) = anchor {
                bench.row(
                    format!("current quarter, {q} quarter(s) held: PostgreSQL's indexed aggregate"),
                    format!("{seconds:.2} s"),
                    String::new(),
                );
                history_points.push(Point {
                    series: "PostgreSQL aggregate".into(),
                    x: q as f64,
                    seconds,
                });
            }
            for backend in bench.stores.clone() {
                let (url, imported, bytes) = bench.import(&data, &backend, "bench_history_store");
                bench.row(
                    format!("{q} quarter(s): import into {backend}"),
                    cost(imported),
                    format!(
                        "{:.0} /s; store {:.0} MB",
                        (per_quarter * q) as f64 / imported.wall.as_secs_f64(),
                        bytes as f64 / 1e6
                    ),
                );
                let m = bench.report(&data, &["--from-store", "--database-url", &url], 3);
                let base = alone.iter().find(|(b, _)| *b == backend).map(|(_, s)| *s);
                if q == 1 {
                    alone.push((backend.clone(), m.wall.as_secs_f64()));
                }
                let mut note = Vec::new();
                if let Some(b) = base {
                    note.push(format!(
                        "{:.2} × the quarter alone",
                        m.wall.as_secs_f64() / b
                    ));
                }
                if let Some((a, _)) = anchor {
                    note.push(format!("{:.2} × the anchor", m.wall.as_secs_f64() / a));
                }
                bench.row(
                    format!("current quarter, {q} quarter(s) held: report from {backend}"),
                    cost(m),
                    note.join("; "),
                );
                history_points.push(Point {
                    series: format!("{backend} store"),
                    x: q as f64,
                    seconds: m.wall.as_secs_f64(),
                });
                if backend == "postgres" {
                    drop_database("bench_history_store");
                }
            }
            std::fs::remove_dir_all(&data).expect("clean up");
        }
        plot(
            &history_points,
            "docs/benchmarks-history.svg",
            "II.06a of the current quarter (1 M) by quarters held",
            "quarters in the store",
        );
    }

    if sections.iter().any(|s| s == "prefill") {
        let q = env_or("BENCH_PREFILL_QUARTERS", 10);
        let changed = env_or("BENCH_CHANGED", 10_000);
        let data = bench.generate("prefill", per_quarter * q, q);
        let current = split_current(&data, per_quarter * (q - 1));
        for backend in bench.stores.clone() {
            let url = bench.fresh_store(&backend, "bench_prefill_empty");
            let work = bench.dir.join(format!("prefill-empty-{backend}"));
            let empty = pipeline::run(&current, &work, url, changed);
            bench.row(
                format!(
                    "whole pre-fill on {backend}, empty history ({} drafts)",
                    empty.drafts
                ),
                empty.prefill.describe(),
                String::new(),
            );
            let url = bench.fresh_store(&backend, "bench_prefill_held");
            let imported = import_into(&data.join("earlier.ndjson"), &url);
            println!(
                "  ({} earlier quarters imported into {backend} in {:.1} s)",
                q - 1,
                imported.wall.as_secs_f64()
            );
            let work = bench.dir.join(format!("prefill-held-{backend}"));
            let held = pipeline::run(&current, &work, url, changed);
            bench.row(
                format!(
                    "whole pre-fill on {backend}, {} earlier quarters held ({} drafts)",
                    q - 1,
                    held.drafts
                ),
                held.prefill.describe(),
                format!(
                    "{:.2} × the pre-fill with an empty history",
                    held.prefill.cost.wall.as_secs_f64() / empty.prefill.cost.wall.as_secs_f64()
                ),
            );
            bench.row(
                format!(
                    "incremental day on {backend}, {q} quarters held: {} changed dossiers",
                    held.changed
                ),
                held.day.describe(),
                format!("empty history: {:.1} s", empty.day.cost.wall.as_secs_f64()),
            );
            if backend == "postgres" {
                drop_database("bench_prefill_empty");
                drop_database("bench_prefill_held");
            }
            let _ = std::fs::remove_dir_all(bench.dir.join(format!("prefill-empty-{backend}")));
            let _ = std::fs::remove_dir_all(bench.dir.join(format!("prefill-held-{backend}")));
        }
        std::fs::remove_dir_all(&data).expect("clean up");
    }

    println!("\n| what | measured | note |\n|---|---|---|");
    for r in &bench.rows {
        println!("| {} | {} | {} |", r[0], r[1], r[2]);
    }
    println!(
        "(machine: {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}

/// A line per series, seconds against `x` (on a log scale), written as SVG (no fonts needed to write it).
fn plot(points: &[Point], path: &str, title: &str, x_label: &str) {
    use plotters::prelude::*;
    if points.is_empty() {
        return;
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let mut series: Vec<&str> = points.iter().map(|p| p.series.as_str()).collect();
    series.sort_unstable();
    series.dedup();
    let x_max = points.iter().map(|p| p.x).fold(0.0, f64::max) * 1.1;
    let x_min = points.iter().map(|p| p.x).fold(f64::MAX, f64::min) * 0.9;
    let y_max = points.iter().map(|p| p.seconds).fold(0.0, f64::max) * 1.1;
    let root = SVGBackend::new(&file, (900, 520)).into_drawing_area();
    root.fill(&WHITE).expect("draw");
    let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max)
        .expect("chart");
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("seconds")
        .draw()
        .expect("draw");
    for (i, name) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let mut line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.series == *name)
            .map(|p| (p.x, p.seconds))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))
            .expect("draw")
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart
            .draw_series(line.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .expect("draw");
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()
        .expect("draw");

    root.present().expect("write the plot");
    println!("plot written to {}", file.display());
}
