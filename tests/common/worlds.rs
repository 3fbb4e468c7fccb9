//! Worlds to break and compare: a sandbox process serving a generated province, a fresh store,
//! the units' logins. Shared by tests/crash.rs and tests/faults_at_scale.rs (small provinces, in
//! CI) and the benchmark command (`cargo bench --bench province`: twenty drills and every fault at
//! province size).
//!
//! A crash drill is a world of its own (a sandbox process serving a generated province, a fresh store,
//! the units' logins) in which `sync` is killed with SIGKILL at a point of a stage drawn from a
//! seed (`BAOCAO_DRILL_KILL`, src/drill.rs), then run again normally. Every run reads the same
//! frozen clock: a morning after the period's records have all arrived for the first, an hour later for the one
//! after it (past every lease the killed run held). A clean world runs the same two runs
//! unharmed. Both must end in the same state: the records, the watermarks, each outbox row's
//! outcome class and content, and each remote draft's content hash, version and write count.

#![allow(dead_code)]

use baocao_sync::domain::RecordKind;
use baocao_sync::store::{self, OutboxFilter, OutboxState, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The period drilled, and the two instants its runs read: after the last record the generator
/// dates (dossiers close up to twenty days after the cut-off, feedback up to thirty), so that the second run of a
/// clean world finds nothing new and every difference is the crash's.
pub const PERIOD: &str = "2023-Q3";
pub const FIRST_RUN: &str = "2023-11-01T07:30:00+07:00";
pub const NEXT_RUN: &str = "2023-11-01T08:30:00+07:00";
/// The stages a drill can kill in, as src/drill.rs names them.
pub const STAGES: [&str; 4] = ["pull", "store", "compute", "deliver"];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_baocao-sync")
}

/// A generated province in `dir` (dossiers, ratings, feedback, units, logins).
pub fn province(dir: &Path, dossiers: usize, units: usize) -> PathBuf {
    let data = dir.join("province");
    let spec = baocao_sync::synth::Spec {
        dossiers,
        ratings: dossiers / 5,
        feedback: dossiers / 50,
        units,
        seed: 7,
        ..Default::default()
    };
    baocao_sync::synth::write_data_set(&spec, &data).expect("the province is generated");
    data
}

/// A small deterministic generator (splitmix64), so that a printed seed replays the same drills.
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in 1..=n.
    pub fn pick(&mut self, n: u64) -> u64 {
        1 + self.next() % n.max(1)
    }
}

/// The seed of a drill series: `BAOCAO_DRILL_SEED` when given (to replay one), else the clock's.
pub fn seed() -> u64 {
    std::env::var("BAOCAO_DRILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// The sandbox in a process of its own.
struct Sandbox {
    child: std::process::Child,
    address: String,
}

impl Sandbox {
    fn start(data: &Path, extra: &[String]) -> Sandbox {
        let mut child = Command::new(bin())
            .args(["sandbox", "--data"])
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the sandbox starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sandbox says where it listens");
        let address = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address")
            .to_owned();
        Sandbox { child, address }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sync run's end.
pub struct Ran {
    pub killed: bool,
    /// Points of each stage the run passed (only when it was not killed).
    pub points: BTreeMap<String, u64>,
    pub stdout: String,
    pub stderr: String,
}

/// A sandbox, a store and the units' logins: one drill, or the clean run drills are compared to.
pub struct World {
    sandbox: Sandbox,
    config: PathBuf,
    pub url: String,
}

/// What a world's sandbox and upstreams are told beyond the defaults.
#[derive(Default, Clone)]
pub struct Setup {
    /// A sandbox fault plan (src/sandbox/mod.rs `Faults`, as TOML), if any.
    pub faults: Option<String>,
    /// Lines added to each `[upstreams.*]` section (`timeout_ms`, `retry`).
    pub upstream_extra: String,
    /// The duties file, instead of the built-in duties.
    pub duties: Option<PathBuf>,
    /// Arguments added to the sandbox's command line (its simulated clock).
    pub sandbox_extra: Vec<String>,
}

impl World {
    /// A world over `data` in `work` (created), storing in `url`.
    pub fn new(data: &Path, work: &Path, url: String) -> World {
        World::with(data, work, url, &Setup::default())
    }

    pub fn with(data: &Path, work: &Path, url: String, setup: &Setup) -> World {
        std::fs::create_dir_all(work).unwrap();
        let mut extra = setup.sandbox_extra.clone();
        if let Some(plan) = &setup.faults {
            let file = work.join("faults.toml");
            std::fs::write(&file, plan).unwrap();
            extra.extend(["--faults".to_owned(), file.display().to_string()]);
        }
        let sandbox = Sandbox::start(data, &extra);
        let key = work.join("vault.key");
        let status = Command::new(bin())
            .args(["creds", "init-key", "--out"])
            .arg(&key)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "creds init-key");
        let a = &sandbox.address;
        let mut text = format!(
            "[store]\ndatabase_url = \"{url}\"\n[vault]\nkey_file = \"{}\"\n[files]\nunits = \"{}\"\n\
             [pull]\nhistory_from = \"2022-01-01\"\n",
            key.display(),
            data.join("units.toml").display()
        );
        if let Some(duties) = &setup.duties {
            text = text.replacen(
                "[pull]",
                &format!("duties = \"{}\"\n[pull]", duties.display()),
                1,
            );
        }
        for system in ["central", "provincial", "source"] {
            text.push_str(&format!(
                "[upstreams.{system}]\nbase_url = \"{a}/{system}\"\ntoken_url = \"{a}/{system}/oauth/token\"\nclient_id = \"baocao-sync\"\n{}\n",
                setup.upstream_extra
            ));
        }
        let config = work.join("baocao-sync.toml");
        std::fs::write(&config, text).unwrap();
        let status = Command::new(bin())
            .args(["creds", "import", "--csv"])
            .arg(data.join("logins.csv"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "creds import");
        World {
            sandbox,
            config,
            url,
        }
    }

    /// `sync` of the period at `now` (a frozen clock), killed at `kill` (`(stage, n)`) if given.
    pub fn sync(&self, now: &str, kill: Option<(&str, u64)>) -> Ran {
        let mut command = Command::new(bin());
        command
            .args(["sync", "--period", PERIOD, "--timings", "--freeze-clock"])
            .args(["--now", now, "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "warn")
            .env_remove("BAOCAO_DRILL_KILL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((stage, n)) = kill {
            command.env("BAOCAO_DRILL_KILL", format!("{stage}:{n}"));
        }
        let out = command.output().expect("sync runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        use std::os::unix::process::ExitStatusExt;
        let killed = out.status.signal() == Some(libc::SIGKILL);
        // 2: something waits for someone or for time (a retry under faults): the next run goes on.
        assert!(
            killed || matches!(out.status.code(), Some(0 | 2)),
            "sync ended with {}:\n{stdout}\n{stderr}",
            out.status
        );
        let points = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|v| v.get("drill_points").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        Ran {
            killed,
            points,
            stdout,
            stderr,
        }
    }

    /// What the drill compares: the store's records, watermarks and outbox, and the sandbox's
    /// drafts.
    pub fn state(&self) -> State {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut state = runtime.block_on(async {
            let store = store::open(&self.url).await.expect("the store opens");
            let mut dossiers: Vec<String> = store
                .dossiers(None)
                .await
                .unwrap()
                .iter()
                .map(|d| format!("{d:?}"))
                .collect();
            dossiers.sort();
            let mut records = BTreeMap::new();
            records.insert("dossier".to_owned(), dossiers);
            for kind in [RecordKind::Rating, RecordKind::Feedback] {
                let mut raws = store.raw_records(kind, None).await.unwrap();
                raws.sort();
                records.insert(kind.as_str().to_owned(), raws);
            }
            for kind in [
                RecordKind::Dossier,
                RecordKind::Rating,
                RecordKind::Feedback,
            ] {
                let mut rejects: Vec<String> = store
                    .rejects(kind, None)
                    .await
                    .unwrap()
                    .iter()
                    .map(|f| format!("{} {}", f.record, f.message))
                    .collect();
                rejects.sort();
                records.insert(format!("{} rejects", kind.as_str()), rejects);
            }
            let mut watermarks = BTreeMap::new();
            for kind in [
                RecordKind::Dossier,
                RecordKind::Rating,
                RecordKind::Feedback,
            ] {
                let mark = store.watermark("default", kind).await.unwrap();
                watermarks.insert(kind.as_str().to_owned(), mark.map(|m| m.0));
            }
            let outbox = store
                .outbox(&OutboxFilter::default())
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    (
                        r.report.to_string(),
                        (outcome_class(r.state).to_owned(), r.content_hash),
                    )
                })
                .collect();
            State {
                records,
                watermarks,
                outbox,
                remote: BTreeMap::new(),
            }
        });
        let held: Value =
            reqwest::blocking::get(format!("{}/_sandbox/reports", self.sandbox.address))
                .and_then(|r| r.json())
                .expect("the sandbox lists what it holds");
        for r in held.as_array().expect("a list") {
            let key = ["system", "form", "period", "unit"]
                .map(|k| r[k].as_str().unwrap_or_default().to_owned())
                .join("/");
            state.remote.insert(
                key,
                Remote {
                    content_hash: r["content_hash"].as_str().map(str::to_owned),
                    version: r["version"].as_u64().unwrap_or(0),
                    writes: r["writes"].as_u64().unwrap_or(0),
                    status: r["status"].as_str().unwrap_or_default().to_owned(),
                },
            );
        }
        state
    }
}

impl World {
    /// The configuration file `sync` runs with.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The sandbox's address (`http://127.0.0.1:PORT`).
    pub fn address(&self) -> &str {
        &self.sandbox.address
    }

    /// How often each fault of the sandbox's plan fired (`GET /_sandbox/faults`).
    pub fn faults_fired(&self) -> BTreeMap<String, u64> {
        reqwest::blocking::get(format!("{}/_sandbox/faults", self.sandbox.address))
            .and_then(|r| r.json())
            .expect("the sandbox counts its faults")
    }
}

/// Runs `sync` at the first instant, then an hour later each time, until no outbox row waits for
/// a retry and every pull succeeded (at most `max_runs`); how many runs it took.
pub fn settle(world: &World, max_runs: usize) -> usize {
    let first = chrono::DateTime::parse_from_rfc3339(FIRST_RUN).unwrap();
    for run in 0..max_runs {
        let now = (first + chrono::Duration::hours(run as i64)).to_rfc3339();
        let ran = world.sync(&now, None);
        let pulled = !ran.stdout.contains(": failed:");
        let state = world.state();
        let waiting = state
            .outbox
            .values()
            .any(|(class, _)| matches!(class.as_str(), "retrying" | "sending" | "pending"));
        if pulled && !waiting {
            return run + 1;
        }
    }
    max_runs
}

/// (name, fault plan): each fault of the sandbox's plan that leaves the data as it is, at a rate
/// far above what a real day brings, then all of them at once. (Records changing between pages
/// and a person's edits change what the right end state is: tests/faults.rs covers those.)
pub const FAULT_PLANS: [(&str, &str); 7] = [
    ("503 on every other request", "transient_every = 2\n"),
    (
        "502 on every third request",
        "transient_every = 3\ntransient_status = 502\n",
    ),
    (
        "bursts of 429",
        "rate_limit_every = 3\nrate_limit_burst = 2\n",
    ),
    (
        "slow answers past the timeout",
        "slow_every = 5\nslow_ms = 700\n",
    ),
    (
        "tokens worn out after 4 calls",
        "tokens_expire_after_calls = 4\n",
    ),
    (
        "token endpoint's error pages",
        "token_transient_every = 2\ntokens_expire_after_calls = 5\n",
    ),
    (
        "all at once",
        "transient_every = 4\nrate_limit_every = 5\nrate_limit_burst = 2\nslow_every = 9\n\
         slow_ms = 700\ntokens_expire_after_calls = 6\ntoken_transient_every = 4\n",
    ),
];

/// Requests time out after 400 ms and are tried up to 8 times from 50 ms.
pub const UPSTREAM_EXTRA: &str =
    "timeout_ms = 400\nretry = { max_attempts = 8, backoff_ms = 50, cap_seconds = 2 }";

/// A final outcome, as drills compare them: a draft in place (however it got there), or the state.
pub fn outcome_class(state: OutboxState) -> &'static str {
    match state {
        OutboxState::Created
        | OutboxState::Updated
        | OutboxState::Unchanged
        | OutboxState::Recreated => "delivered",
        other => other.as_str(),
    }
}

/// One remote draft, as the sandbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub content_hash: Option<String>,
    pub version: u64,
    pub writes: u64,
    pub status: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct State {
    /// Records by kind (and rejects), each as the store gives it back, sorted.
    pub records: BTreeMap<String, Vec<String>>,
    pub watermarks: BTreeMap<String, Option<i64>>,
    /// Report → (outcome class, content hash).
    pub outbox: BTreeMap<String, (String, Option<String>)>,
    pub remote: BTreeMap<String, Remote>,
}

impl State {
    /// The state without its watermarks (they follow the clock of the last run).
    pub fn without_watermarks(mut self) -> State {
        self.watermarks.clear();
        self
    }

    /// Where `self` differs from `clean`, in words (empty when they agree).
    pub fn differences(&self, clean: &State) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, records) in &clean.records {
            let ours = self.records.get(kind).map_or(0, Vec::len);
            if self.records.get(kind) != Some(records) {
                out.push(format!(
                    "{kind}: {ours} records where the clean run has {} (or their contents differ)",
                    records.len()
                ));
            }
        }
        if self.watermarks != clean.watermarks {
            out.push(format!(
                "watermarks {:?} where the clean run has {:?}",
                self.watermarks, clean.watermarks
            ));
        }
        for (report, want) in &clean.outbox {
            match self.outbox.get(report) {
                Some(got) if got == want => {}
                got => out.push(format!(
                    "outbox {report}: {got:?} where the clean run has {want:?}"
                )),
            }
        }
        for report in self
            .outbox
            .keys()
            .filter(|r| !clean.outbox.contains_key(*r))
        {
            out.push(format!(
                "outbox {report}: a row the clean run does not have"
            ));
        }
        for (report, want) in &clean.remote {
            match self.remote.get(report) {
                Some(got) if got == want => {}
                got => out.push(format!(
                    "draft {report}: {got:?} where the clean run has {want:?}"
                )),
            }
        }
        for report in self
            .remote
            .keys()
            .filter(|r| !clean.remote.contains_key(*r))
        {
            out.push(format!(
                "draft {report}: a draft the clean run does not have"
            ));
        }
        out
    }
}

/// A drill's plan: where the first run is killed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stage: &'static str,
    pub point: u64,
}

/// `count` drills from `seed`, spread over the stages in turn, each at a point drawn among those
/// the clean run passed.
pub fn plans(seed: u64, count: usize, points: &BTreeMap<String, u64>) -> Vec<Plan> {
    let mut rng = Seeded::new(seed);
    let stages: Vec<&'static str> = STAGES
        .into_iter()
        .filter(|s| points.get(*s).copied().unwrap_or(0) > 0)
        .collect();
    assert!(
        !stages.is_empty(),
        "the clean run passed no drill point: {points:?}"
    );
    (0..count)
        .map(|i| {
            let stage = stages[i % stages.len()];
            Plan {
                stage,
                point: rng.pick(points[stage]),
            }
        })
        .collect()
}

/// The clean world's two runs: its state, and the points its first run passed.
pub fn clean_run(data: &Path, work: &Path, url: String) -> (State, BTreeMap<String, u64>) {
    let world = World::new(data, work, url);
    let first = world.sync(FIRST_RUN, None);
    assert!(!first.killed);
    world.sync(NEXT_RUN, None);
    (world.state(), first.points)
}

/// What one drill found.
pub struct Drilled {
    /// How the killed run's world differed from the clean one before the normal run (the crash's
    /// half-done work: proof that the comparison sees it).
    pub left_by_the_crash: usize,
    /// How it differs after the normal run: must be none.
    pub differences: Vec<String>,
}

/// One drill: killed as planned, then run normally.
pub fn drill(data: &Path, work: &Path, url: String, plan: &Plan, clean: &State) -> Drilled {
    let world = World::new(data, work, url);
    let first = world.sync(FIRST_RUN, Some((plan.stage, plan.point)));
    let mut differences = Vec::new();
    if !first.killed {
        differences.push(format!(
            "the run was not killed at {} point {}: {}",
            plan.stage, plan.point, first.stderr
        ));
    }
    let left_by_the_crash = world.state().differences(clean).len();
    world.sync(NEXT_RUN, None);
    differences.extend(world.state().differences(clean));
    Drilled {
        left_by_the_crash,
        differences,
    }
}

/// One drill of a series, as it ended.
pub struct DrillRun {
    pub plan: Plan,
    pub drilled: Drilled,
    pub seconds: f64,
}

/// A clean world, then `count` drills from `seed` (each in a world of its own); `store` gives a
/// fresh database URL for a name. The clean run's points per stage, and each drill.
pub fn drill_series(
    data: &Path,
    dir: &Path,
    store: &mut dyn FnMut(&str) -> String,
    seed: u64,
    count: usize,
) -> (BTreeMap<String, u64>, Vec<DrillRun>) {
    let (clean, points) = clean_run(data, &dir.join("clean"), store("clean"));
    assert!(!clean.remote.is_empty(), "the clean run delivered drafts");
    assert!(
        clean.remote.values().all(|r| r.writes == 1),
        "the clean world's second run found nothing new to write"
    );
    let runs = plans(seed, count, &points)
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let started = std::time::Instant::now();
            let name = format!("drill-{i}");
            let drilled = drill(data, &dir.join(&name), store(&name), &plan, &clean);
            DrillRun {
                plan,
                drilled,
                seconds: started.elapsed().as_secs_f64(),
            }
        })
        .collect();
    (points, runs)
}

/// One fault plan's world, as it settled.
pub struct FaultRun {
    pub name: &'static str,
    pub runs: usize,
    pub fired: BTreeMap<String, u64>,
    pub differences: Vec<String>,
    pub seconds: f64,
}

/// A fault-free world, then one world per plan of [`FAULT_PLANS`], each settled and compared
/// with it (watermarks aside: they follow the last run's clock).
pub fn fault_series(
    data: &Path,
    dir: &Path,
    store: &mut dyn FnMut(&str) -> String,
) -> Vec<FaultRun> {
    let setup = |faults: Option<&str>| Setup {
        faults: faults.map(str::to_owned),
        upstream_extra: UPSTREAM_EXTRA.to_owned(),
        ..Setup::default()
    };
    let clean_world = World::with(
        data,
        &dir.join("fault-free"),
        store("fault-free"),
        &setup(None),
    );
    settle(&clean_world, 2);
    let clean = clean_world.state().without_watermarks();
    assert!(
        !clean.remote.is_empty(),
        "the fault-free run delivered drafts"
    );
    drop(clean_world);
    FAULT_PLANS
        .iter()
        .enumerate()
        .map(|(i, (name, plan))| {
            let started = std::time::Instant::now();
            let label = format!("fault-{i}");
            let world = World::with(data, &dir.join(&label), store(&label), &setup(Some(plan)));
            let runs = settle(&world, 6);
            let fired = world.faults_fired();
            let differences = world.state().without_watermarks().differences(&clean);
            FaultRun {
                name,
                runs,
                fired,
                differences,
                seconds: started.elapsed().as_secs_f64(),
            }
        })
        .collect()
}
