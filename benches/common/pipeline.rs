//! The daemon's whole pipeline against the sandbox, measured: `sync` of 2023-Q3 the morning after
//! its cut-off (pull over HTTP, store, compute every form for every unit, deliver every draft to
//! both reporting systems), then an incremental day (`changed` dossiers of the period pending at
//! the cut-off get their resolution, entered the next morning). Shared by the province bench (an
//! empty store) and the curve bench (a store already holding earlier quarters).

use super::Measured;
use super::worlds::World;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

/// One `sync` run: its cost and the stages' seconds it printed (`--timings`).
pub struct Run {
    pub cost: Measured,
    pub timings: Value,
}

impl Run {
    /// Seconds of a stage (`pull`, `store`, `compute`, `deliver`).
    pub fn stage(&self, name: &str) -> f64 {
        self.timings[name].as_f64().unwrap_or(0.0)
    }

    /// "12.3 s (pull 4.5 s of which storing 1.2 s, compute …), 321 MB".
    pub fn describe(&self) -> String {
        format!(
            "{:.1} s (pull {:.1} s of which storing {:.1} s, compute {:.1} s, deliver {:.1} s), {:.0} MB",
            self.cost.wall.as_secs_f64(),
            self.stage("pull"),
            self.stage("store"),
            self.stage("compute"),
            self.stage("deliver"),
            self.cost.peak_rss_mb
        )
    }
}

/// What a pre-fill and the incremental day after it cost.
pub struct Measures {
    pub prefill: Run,
    /// Drafts the sandbox's reporting systems hold after the pre-fill.
    pub drafts: usize,
    pub day: Run,
    /// Changed dossiers the sandbox took for the day.
    pub changed: u64,
}

/// Runs the pre-fill and the incremental day of the sandbox serving `data`, storing in `url`
/// (which may already hold records of the source `default`), working in `work`.
pub fn run(data: &Path, work: &Path, url: String, changed: usize) -> Measures {
    let world = World::new(data, work, url);
    let cfg = world.config().display().to_string();
    let a = world.address().to_owned();
    let sync = |now: &str| {
        let (cost, stderr) = super::measure(
            &[
                "sync",
                "--period",
                "2023-Q3",
                "--config",
                &cfg,
                "--now",
                now,
                "--timings",
            ],
            &[0, 2],
        );
        let timings = stderr
            .lines()
            .find_map(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .filter(|v| v.get("timings").is_some())
            })
            .unwrap_or_else(|| panic!("sync printed no timings:\n{stderr}"))["timings"]
            .clone();
        Run { cost, timings }
    };

    // The morning after the cut-off of 2023-Q3 (D = 14/09/2023).
    let prefill = sync("2023-09-15T07:30:00+07:00");
    let held: Value = reqwest::blocking::get(format!("{a}/_sandbox/reports"))
        .and_then(|r| r.json())
        .expect("the sandbox lists what it holds");
    let drafts = held.as_array().map_or(0, Vec::len);
    assert!(drafts > 0, "drafts were delivered");

    let lines = day_of_changes(data, changed);
    let client = reqwest::blocking::Client::new();
    let mut taken = 0;
    for chunk in lines.chunks(1_000) {
        let answer: Value = client
            .post(format!("{a}/_sandbox/records/dossiers"))
            .body(chunk.join("\n"))
            .send()
            .and_then(|r| r.json())
            .expect("the sandbox takes the day's changes");
        taken += answer["taken"].as_u64().unwrap_or(0);
    }
    let day = sync("2023-09-17T07:30:00+07:00");
    Measures {
        prefill,
        drafts,
        day,
        changed: taken,
    }
}

/// `changed` dossiers received in July 2023 and pending at the cut-off, resolved on 12/09 and
/// entered on 16/09.
fn day_of_changes(data: &Path, changed: usize) -> Vec<String> {
    let file = std::io::BufReader::new(
        std::fs::File::open(data.join("dossiers.ndjson")).expect("the data set's dossiers"),
    );
    let mut lines = Vec::with_capacity(changed);
    for line in file.lines() {
        if lines.len() >= changed {
            break;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(&line.expect("a line")) else {
            continue;
        };
        let pending = matches!(v["TrangThaiHoSo"].as_str(), Some("2" | "4"));
        let received = v["NgayTiepNhan"].as_str().unwrap_or("");
        if pending && received.starts_with("202307") {
            v["TrangThaiHoSo"] = "10".into();
            v["NgayKetThucXuLy"] = "20230912100000".into();
            v["CapNhatLuc"] = "20230916090000".into();
            lines.push(v.to_string());
        }
    }
    lines
}
