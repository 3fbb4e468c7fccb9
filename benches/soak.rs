//! `cargo bench --bench soak`: a whole quarter unattended (issue 20), from the quarter's first
//! day (15/06/2023) to its last deadline (19/09/2023), on the simulated clock: two daemon
//! replicas on one PostgreSQL database and the sandbox, an incremental pull every 15 minutes
//! (about 9,300 slots), BENCH_CHANGES_PER_DAY (10,000) source changes a day, the pre-fill and the
//! daily refreshes, people acting on drafts, one replica killed, the database stopped, both
//! replicas stopped for a night (`tests/common/soak.rs` tells the story; `tests/soak.rs` runs its
//! last days in CI). Checks the same end as the test, then prints the figures (fires, writes, RSS
//! of each replica at day 2 and at the end, store size, outbox depth, connections, wall time) and
//! plots the samples to `docs/benchmarks-soak.svg`.
//!
//! The story's database commits asynchronously (`synchronous_commit = off`, its own database
//! only): compressed 7,200 times, a quarter's commits otherwise wait seconds on a small
//! machine's disk, longer than a 15-minute slot lasts (125 ms).
//!
//! BENCH_SOAK_SPEED (7200: a day in 12 s), BENCH_DOSSIERS (10,000), BENCH_UNITS (20),
//! BENCH_SOAK_SEED. Disk: a few hundred MB (the database and the replicas' logs).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/soak.rs"]
mod soak;
#[path = "../tests/common/worlds.rs"]
mod worlds;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let story = soak::Story {
        speed: env_or("BENCH_SOAK_SPEED", 7200),
        dossiers: env_or("BENCH_DOSSIERS", 10_000),
        units: env_or("BENCH_UNITS", 20),
        changes_per_day: env_or("BENCH_CHANGES_PER_DAY", 10_000),
        deadline_days: 5,
        start: "2023-06-15T00:00:00+07:00",
        end: "2023-09-19T20:00:00+07:00",
        seed: env_or("BENCH_SOAK_SEED", 20),
        sample_hours: 3,
        asynchronous_commit: true,
    };
    println!("soak: {story:?}");
    let ended = soak::run(&story, dir.path());
    let faults = soak::faults(&ended, 15 * 60);
    let count = |prefix: &str| {
        ended
            .fires
            .iter()
            .filter(|f| f.job.starts_with(prefix))
            .count()
    };
    let writes: u64 = ended
        .reports
        .values()
        .map(|r| r["writes"].as_u64().unwrap_or(0))
        .sum();
    let mb = |kb: Option<u64>| kb.map_or("-".to_owned(), |kb| format!("{:.0}", kb as f64 / 1024.0));
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| wall time | {:.0} s |", ended.wall.as_secs_f64());
    println!(
        "| fires | {} ({} pulls, {} pre-fill, {} refresh) |",
        ended.fires.len(),
        count("pull"),
        count("prefill:"),
        count("refresh:")
    );
    let gaps = soak::unexplained_gaps(&ended, 15 * 60);
    let skipped = soak::skipped_slots(&gaps, 15 * 60);
    let longest = gaps.iter().map(|(a, b)| b.0 - a.0).max().unwrap_or(0);
    println!(
        "| pull slots no tick reached, outside outages (the store stalled longer than a slot's {:.0} ms of real time; each coalesced into the next) | {skipped} in {} gaps, the longest {:.1} h ({:.1} s real) |",
        900_000.0 / story.speed as f64,
        gaps.len(),
        longest as f64 / 3600.0,
        longest as f64 / story.speed as f64
    );
    println!("| source changes posted | {} |", ended.changes_posted);
    println!("| person actions | {} |", ended.person_actions);
    println!(
        "| drafts held / writes | {} / {writes} |",
        ended.reports.len()
    );
    // Growth is measured over each replica's first process, from day 2 to its last day (the
    // story kills one at the pre-fill and stops both the night before the last refresh). A
    // sample is an instant: one taken while a pull runs (at 7200× pulls run most of the time)
    // holds that pull's pages too, so each day is its samples' median, taken every few hours.
    let first = ended.samples.first().map_or(0, |s| s.at.0);
    for (n, name) in ["A", "B"].iter().enumerate() {
        let Some(pid) = ended
            .samples
            .iter()
            .find(|s| s.at.0 >= first + 86_400)
            .and_then(|s| s.pid[n])
        else {
            continue;
        };
        let lived: Vec<&soak::Sample> = ended
            .samples
            .iter()
            .filter(|s| s.pid[n] == Some(pid) && s.rss_kb[n].is_some())
            .collect();
        let Some(last) = lived.last().map(|s| s.at.0) else {
            continue;
        };
        let median_kb = |from: i64, to: i64| {
            let mut day: Vec<u64> = lived
                .iter()
                .filter(|s| s.at.0 >= from && s.at.0 < to)
                .filter_map(|s| s.rss_kb[n])
                .collect();
            day.sort_unstable();
            day.get(day.len() / 2).copied()
        };
        let growth = |from: Option<u64>, to: Option<u64>| match (from, to) {
            (Some(a), Some(b)) if a > 0 => {
                format!("{:+.1} %", (b as f64 - a as f64) * 100.0 / a as f64)
            }
            _ => "-".to_owned(),
        };
        // Day 2's median against the last day's, as the issue words it; and, less at the mercy
        // of one day's pulls (daily medians of a flat quarter range over ±6 %), the median of the
        // week from day 2 against that of the last week.
        let day2 = median_kb(first + 86_400, first + 2 * 86_400);
        let end = median_kb(last - 86_400 + 1, last + 1);
        let week2 = median_kb(first + 86_400, first + 8 * 86_400);
        let last_week = median_kb(last - 7 * 86_400 + 1, last + 1);
        let all: Vec<u64> = lived.iter().filter_map(|s| s.rss_kb[n]).collect();
        println!(
            "| RSS replica {name} (target: growth ≤ +10 % from day 2 to the end of its first process, day {:.0}) | median of day 2 / of the last day {} / {} MB: {}; median of the week from day 2 / of the last week {} / {} MB: {}; samples {}–{} MB |",
            (last - first) as f64 / 86_400.0,
            mb(day2),
            mb(end),
            growth(day2, end),
            mb(week2),
            mb(last_week),
            growth(week2, last_week),
            mb(all.iter().min().copied()),
            mb(all.iter().max().copied())
        );
    }
    let last = ended.samples.last();
    if let Some(last) = last {
        println!(
            "| store at the end | {:.1} MB, {} connections, outbox depth {} |",
            last.store_bytes as f64 / 1e6,
            last.connections,
            last.outbox_depth
        );
    }
    println!(
        "| cores | {} |",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("day,rss_a_kb,rss_b_kb,store_bytes,outbox_depth,connections");
    for s in &ended.samples {
        let kb = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
        println!(
            "{:.2},{},{},{},{},{}",
            (s.at.0 - first) as f64 / 86_400.0,
            kb(s.rss_kb[0]),
            kb(s.rss_kb[1]),
            s.store_bytes,
            s.outbox_depth,
            s.connections
        );
    }
    plot(&ended.samples);
    if !faults.is_empty() {
        let kept = std::env::temp_dir().join(format!("baocao-soak-bench-{}", story.seed));
        std::fs::create_dir_all(&kept).expect("a folder for the logs");
        for log in &ended.logs {
            std::fs::copy(log, kept.join(log.file_name().expect("a log file"))).expect("copy");
        }
        eprintln!("the replicas' logs are kept in {}", kept.display());
        eprintln!(
            "the quarter did not end as it should:\n{}",
            faults.join("\n")
        );
        std::process::exit(1);
    }
}

/// The samples against the day of the story: each replica's RSS (MB), the store (MB), the outbox
/// depth and the open connections, as SVG.
fn plot(samples: &[soak::Sample]) {
    use plotters::prelude::*;
    if samples.is_empty() {
        return;
    }
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks-soak.svg");
    let day = |s: &soak::Sample| (s.at.0 - samples[0].at.0) as f64 / 86_400.0;
    let mut series: Vec<(&str, Vec<(f64, f64)>)> = vec![
        ("RSS replica A (MB)", Vec::new()),
        ("RSS replica B (MB)", Vec::new()),
        ("store (MB)", Vec::new()),
        ("outbox depth", Vec::new()),
        ("connections", Vec::new()),
    ];
    for s in samples {
        let x = day(s);
        for (line, kb) in series.iter_mut().zip(s.rss_kb) {
            if let Some(kb) = kb {
                line.1.push((x, kb as f64 / 1024.0));
            }
        }
        series[2].1.push((x, s.store_bytes as f64 / 1e6));
        series[3].1.push((x, s.outbox_depth as f64));
        series[4].1.push((x, s.connections as f64));
    }
    let x_max = samples.last().map_or(1.0, day).max(1.0);
    let y_max = series
        .iter()
        .flat_map(|(_, l)| l.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;
    let root = SVGBackend::new(&file, (900, 520)).into_drawing_area();
    root.fill(&WHITE).expect("draw");
    let colours = [BLUE, RED, GREEN, MAGENTA, BLACK];
    let mut chart = ChartBuilder::on(&root)
        .caption("A quarter unattended: samples", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .expect("chart");
    chart
        .configure_mesh()
        .x_desc("day of the story")
        .draw()
        .expect("draw");
    for (i, (name, line)) in series.into_iter().enumerate() {
        let colour = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .expect("draw")
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
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
