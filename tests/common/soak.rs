//! The unattended quarter (issue 20) as one story on a simulated clock: a sandbox, a PostgreSQL
//! store reached through a proxy, and two daemon replicas, all reading the same clock (an epoch and
//! a speed). The story script changes the source every simulated hour, people act on drafts,
//! one replica is killed, the database stops, both replicas are stopped for a while; then the
//! end is checked against a clean `sync` of the same final data (a separate world on SQLite).
//! The short story runs in CI (`tests/soak.rs`); the benchmark command runs the whole quarter
//! with sampling (`benches/soak.rs`).

#![allow(dead_code)]

use crate::common::proxy::Proxy;
use crate::common::stores::TestDb;
use crate::worlds::{self, Seeded, World};
use baocao_sync::domain::Instant;
use baocao_sync::sync::Simulation;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What story to run.
#[derive(Debug, Clone)]
pub struct Story {
    /// How many times as fast as real time the clock runs.
    pub speed: u32,
    /// The generated province.
    pub dossiers: usize,
    pub units: usize,
    /// Source changes (dossiers whose channel is swapped) per simulated day.
    pub changes_per_day: usize,
    /// Every duty's deadline, in days after the cut-off (2023-09-14).
    pub deadline_days: i64,
    /// Where the story starts and ends (RFC 3339, ICT).
    pub start: &'static str,
    pub end: &'static str,
    pub seed: u64,
    /// Sample the replicas' memory, the store and the outbox every this many simulated hours.
    pub sample_hours: i64,
    /// The story's database commits without waiting for its WAL to reach the disk
    /// (`synchronous_commit = off`): a quarter's commits compressed into minutes wait seconds
    /// on a small machine's disk otherwise, and a slot lasts 125 ms of real time at 7200×. What
    /// is tested is unchanged: the database is cut off by a proxy, never crashed.
    pub asynchronous_commit: bool,
}

/// One sample of the running system.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    /// Resident memory of each replica (A, B) running then, in kB.
    pub rss_kb: [Option<u64>; 2],
    /// The process of each replica sampled (a restarted replica is a new process).
    pub pid: [Option<u32>; 2],
    pub store_bytes: i64,
    pub outbox_depth: i64,
    pub connections: i64,
}

/// What the story left, for the checks and the benchmark's figures.
pub struct Ended {
    pub fires: Vec<baocao_sync::store::Fire>,
    /// Periods of simulated time when no replica could claim a fire: both stopped, the store away.
    pub outages: Vec<(Instant, Instant)>,
    /// The reports each reporting system holds (the sandbox's inspection).
    pub reports: BTreeMap<String, Value>,
    /// What a clean `sync` of the final data writes, by report.
    pub clean: BTreeMap<String, Value>,
    /// Reports a person left as they were, with what the person left (status, version, content).
    pub kept_by_person: BTreeMap<String, Value>,
    /// Reports a person deleted (recreated or not since), with the writes they had received.
    pub deleted: BTreeMap<String, u64>,
    /// Writes by report, from the store's audit (answers created, updated, recreated).
    pub audited_writes: BTreeMap<String, u64>,
    pub samples: Vec<Sample>,
    /// The replica killed during the pre-fill left it unfinished, and another ran it again.
    pub orphaned: bool,
    pub changes_posted: usize,
    pub person_actions: usize,
    pub wall: std::time::Duration,
    pub logs: Vec<PathBuf>,
}

fn at(text: &str) -> Instant {
    Instant::parse(text).unwrap()
}

fn key(r: &Value) -> String {
    format!(
        "{}/{}/{}/{}",
        r["system"].as_str().unwrap_or_default(),
        r["form"].as_str().unwrap_or_default(),
        r["period"].as_str().unwrap_or_default(),
        r["unit"].as_str().unwrap_or_default()
    )
}

/// The built-in duties with every deadline `days` after the cut-off.
fn duties(dir: &Path, days: i64) -> PathBuf {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duties/quang-ngai-2023.toml"),
    )
    .unwrap();
    let text: String = shipped
        .lines()
        .map(|l| {
            if l.starts_with("deadline_days = ") {
                format!("deadline_days = {days}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let file = dir.join("duties.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// A replica of the daemon on the simulated clock, its log appended to `log`.
struct Replica {
    child: Child,
    log: PathBuf,
}

impl Replica {
    fn start(config: &Path, simulate: &str, start: &str, log_path: &Path) -> Replica {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_baocao-sync"))
            .args(["daemon", "--simulate", simulate, "--now", start, "--config"])
            .arg(config)
            .env("BAOCAO__HTTP__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Replica {
            child,
            log: log_path.to_owned(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and its exit (0: a clean stop).
    fn stop(mut self) -> Option<i32> {
        self.check_alive();
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        if status.code().is_none() {
            self.died(status);
        }
        status.code()
    }

    /// Panics if the replica is no longer running: the story never lets one go on its own.
    fn check_alive(&mut self) {
        if let Some(gone) = self.child.try_wait().unwrap() {
            self.died(gone);
        }
    }

    fn died(&self, status: std::process::ExitStatus) -> ! {
        use std::os::unix::process::ExitStatusExt;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        panic!(
            "replica {} ended on its own or uncleanly: exit {:?}, signal {:?}, core dumped {}; the last lines of {}:\n{tail}",
            self.child.id(),
            status.code(),
            status.signal(),
            status.core_dumped(),
            self.log.display()
        );
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What happens in the story, at an instant of the simulated clock.
#[derive(Debug, Clone)]
enum Event {
    /// The source changes this many dossiers.
    Changes(usize),
    /// A person acts on a draft.
    Person(&'static str),
    KillOne,
    RestartOne,
    CutStore,
    RestoreStore,
    StopBoth,
    StartBoth,
    Sample,
}

/// The dossiers of the period whose channel can be swapped (the ones the changes pick from).
fn swappable(data: &Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("dossiers.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|d| {
            let received = d["NgayTiepNhan"].as_str().unwrap_or_default();
            (received.starts_with("202307") || received.starts_with("202308"))
                && matches!(d["KenhThucHien"].as_str(), Some("1" | "2"))
        })
        .collect()
}

/// Every record of the data set dated as updated at `cap` at the latest: during the story only
/// its script changes the source (the generator dates updates weeks past the cut-off), so that
/// the clean run and the last refresh read the same records.
fn updated_by(data: &Path, cap: Instant) {
    let cap = cap.to_local().format("%Y%m%d%H%M%S").to_string();
    for file in ["dossiers.ndjson", "ratings.ndjson", "feedback.ndjson"] {
        let path = data.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            let mut record: Value = serde_json::from_str(line).unwrap();
            if record["CapNhatLuc"]
                .as_str()
                .is_some_and(|u| u > cap.as_str())
            {
                record["CapNhatLuc"] = cap.clone().into();
            }
            out.push_str(&format!("{record}\n"));
        }
        std::fs::write(&path, out).unwrap();
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

fn reports(address: &str) -> BTreeMap<String, Value> {
    let list: Vec<Value> = http()
        .get(format!("{address}/_sandbox/reports"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    list.into_iter().map(|r| (key(&r), r)).collect()
}

fn post_dossiers(address: &str, lines: &str) {
    let answer = http()
        .post(format!("{address}/_sandbox/records/dossiers"))
        .body(lines.to_owned())
        .send()
        .unwrap();
    assert!(answer.status().is_success(), "the sandbox took the changes");
}

/// The story's script: every event at its simulated instant, in order.
fn script(story: &Story, rng: &mut Seeded) -> Vec<(Instant, Event)> {
    let (start, end) = (at(story.start), at(story.end));
    let cutoff_next = at("2023-09-15T07:00:00+07:00");
    let last_refresh = Instant(cutoff_next.0 + (story.deadline_days - 1) * 86_400);
    let mut out = Vec::new();
    // Changes every hour until an hour before the last refresh.
    let per_hour = story.changes_per_day.div_ceil(24);
    let mut t = Instant((start.0 / 3600 + 1) * 3600);
    while t.0 < last_refresh.0 - 3600 {
        out.push((t, Event::Changes(per_hour)));
        t = Instant(t.0 + 3600);
    }
    // People between the pre-fill and the last refresh: eight actions at random moments.
    let window = (cutoff_next.0 + 3 * 3600, last_refresh.0 - 3600);
    for verb in [
        "edit", "approve", "release", "delete", "edit", "approve", "release", "send",
    ] {
        let t = window.0 + rng.pick((window.1 - window.0) as u64) as i64;
        out.push((Instant(t), Event::Person(verb)));
    }
    // The replica running the pre-fill killed while it runs, back an hour later: killed as its
    // claim commits (`kill_at_claim`), reaped from ten minutes before the pre-fill's instant.
    let kill = cutoff_next.0 - 600;
    out.push((Instant(kill), Event::KillOne));
    out.push((Instant(kill + 3600), Event::RestartOne));
    // The database away for two simulated hours, in the afternoon after the pre-fill.
    let cut = cutoff_next.0 + 5 * 3600 + rng.pick(4 * 3600) as i64;
    out.push((Instant(cut), Event::CutStore));
    out.push((Instant(cut + 2 * 3600), Event::RestoreStore));
    // Both replicas stopped for two hours and a bit the night before the last refresh.
    let night = last_refresh.0 - 6 * 3600;
    out.push((Instant(night), Event::StopBoth));
    out.push((Instant(night + 2 * 3600 + 600), Event::StartBoth));
    let mut t = start;
    while t < end {
        out.push((t, Event::Sample));
        t = Instant(t.0 + story.sample_hours * 3600);
    }
    out.sort_by_key(|(t, _)| t.0);
    out
}

/// The process of a fire's owner (`host-pid-salt`).
fn pid_of(owner: &str) -> Option<u32> {
    owner.rsplit('-').nth(1).and_then(|p| p.parse().ok())
}

/// Kills the replica among `pids` that claims the fire `(job, slot)` as soon as its claim commits,
/// and hands the claim (job, slot, owner) on. A trigger of the test's own notifies a listener:
/// a small province's pre-fill lasts a few tens of milliseconds, less than a poll of the fires
/// table, or the story's thread busy with an earlier event, could be sure to catch. The store's
/// migrations have run (`World::with` imported the logins).
fn kill_at_claim(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    (job, slot): (String, i64),
    pids: Vec<u32>,
) -> std::sync::mpsc::Receiver<(String, i64, String)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut listener = runtime.block_on(async {
        let pg = sqlx::PgPool::connect(url).await.unwrap();
        for statement in [
            "CREATE FUNCTION soak_claimed() RETURNS trigger AS $$ BEGIN \
             PERFORM pg_notify('soak_claimed', NEW.slot || ' ' || NEW.claimed_by || ' ' || NEW.job); \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER soak_claimed AFTER INSERT ON fires FOR EACH ROW \
             EXECUTE FUNCTION soak_claimed()",
        ] {
            sqlx::query(statement).execute(&pg).await.unwrap();
        }
        pg.close().await;
        let mut listener = sqlx::postgres::PgListener::connect(url).await.unwrap();
        listener.listen("soak_claimed").await.unwrap();
        listener
    });
    runtime.spawn(async move {
        while let Ok(notice) = listener.recv().await {
            let mut parts = notice.payload().splitn(3, ' ');
            let (Some(claimed_slot), Some(owner), Some(claimed_job)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if claimed_job != job || claimed_slot.parse() != Ok(slot) {
                continue;
            }
            if let Some(pid) = pid_of(owner).filter(|p| pids.contains(p)) {
                // SAFETY: a signal to a child of this process, not yet reaped.
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
            let _ = tx.send((job, slot, owner.to_owned()));
            return;
        }
    });
    rx
}

/// The replica `kill_at_claim` killed, taken out of `replicas` and reaped, with the claim, if its
/// claim comes within `wait`.
fn reap(
    replicas: &mut [Option<Replica>],
    claims: &std::sync::mpsc::Receiver<(String, i64, String)>,
    wait: std::time::Duration,
) -> Option<(usize, (String, i64, String))> {
    let claim = claims.recv_timeout(wait).ok()?;
    let pid = pid_of(&claim.2);
    let n = (0..replicas.len())
        .find(|&n| replicas[n].as_ref().is_some_and(|r| Some(r.pid()) == pid))
        .unwrap_or(0);
    if let Some(r) = replicas[n].take() {
        r.kill();
    }
    Some((n, claim))
}

/// Runs the story and returns what it left; panics when the system under test fails it outright
/// (a replica that does not stop cleanly).
pub fn run(story: &Story, dir: &Path) -> Ended {
    let wall = std::time::Instant::now();
    let data = worlds::province(dir, story.dossiers, story.units);
    updated_by(&data, Instant(at(story.start).0 - 3600));
    let duties = duties(dir, story.deadline_days);
    let anchor_ms = chrono::Utc::now().timestamp_millis() + 2_000;
    let simulate = format!("{}@{anchor_ms}", story.speed);
    let sim = Simulation::parse(&simulate, at(story.start)).unwrap();
    let sim_now = || {
        Instant(
            sim.at_ms(chrono::Utc::now().timestamp_millis())
                .div_euclid(1000),
        )
    };
    let setup = worlds::Setup {
        duties: Some(duties.clone()),
        sandbox_extra: vec![
            "--simulate".into(),
            simulate.clone(),
            "--now".into(),
            story.start.into(),
        ],
        ..worlds::Setup::default()
    };
    let db = TestDb::new("postgres");
    if story.asynchronous_commit {
        let (_, name) = db.url().rsplit_once('/').unwrap();
        let statement = format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off");
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let pg = sqlx::PgPool::connect(db.url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pg)
                .await
                .unwrap();
            pg.close().await;
        });
    }
    let proxy = Proxy::spawn("127.0.0.1:5432");
    let (_, name) = db.url().rsplit_once('/').unwrap();
    let through = format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port);
    let world = World::with(&data, &dir.join("soak"), through, &setup);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let logs = [dir.join("replica-a.log"), dir.join("replica-b.log")];
    let start_replica = |n: usize| Replica::start(world.config(), &simulate, story.start, &logs[n]);

    let mut rng = Seeded::new(story.seed);
    let events = script(story, &mut rng);
    let pool = swappable(&data);
    assert!(!pool.is_empty(), "the province has dossiers to change");
    let mut finals: BTreeMap<String, String> = BTreeMap::new();
    let mut kept_by_person: BTreeMap<String, Value> = BTreeMap::new();
    let mut deleted = BTreeMap::new();
    let mut edited = std::collections::BTreeSet::new();
    let mut outages = Vec::new();
    let mut samples = Vec::new();
    let (mut changes_posted, mut person_actions) = (0, 0);
    let mut replicas: Vec<Option<Replica>> = vec![Some(start_replica(0)), Some(start_replica(1))];
    let prefill = (
        format!("prefill:{}", worlds::PERIOD),
        at("2023-09-15T07:00:00+07:00").0,
    );
    let pids = replicas.iter().flatten().map(Replica::pid).collect();
    let claims = kill_at_claim(&runtime, db.url(), prefill, pids);
    let mut down_since = None;
    let (mut killed, mut killed_fire) = (0, None);

    for (when, event) in events {
        while sim_now() < when {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        match event {
            Event::Changes(n) => {
                let stamp = sim_now().to_local().format("%Y%m%d%H%M%S").to_string();
                let mut lines = String::new();
                for _ in 0..n {
                    let mut d = pool[rng.pick(pool.len() as u64) as usize - 1].clone();
                    let key = d["MaHoSo"].as_str().unwrap().to_owned();
                    if let Some(last) = finals.get(&key) {
                        d = serde_json::from_str(last).unwrap();
                    }
                    let swapped = if d["KenhThucHien"] == "1" { "2" } else { "1" };
                    d["KenhThucHien"] = swapped.into();
                    d["CapNhatLuc"] = stamp.clone().into();
                    finals.insert(key, d.to_string());
                    lines.push_str(&format!("{d}\n"));
                }
                post_dossiers(world.address(), &lines);
                changes_posted += n;
            }
            Event::Person(verb) => {
                let held = reports(world.address());
                let drafts: Vec<&Value> = held
                    .values()
                    .filter(|r| r["status"] == "draft" && r["version"].as_u64() > Some(0))
                    .collect();
                if drafts.is_empty() {
                    continue;
                }
                let target = drafts[rng.pick(drafts.len() as u64) as usize - 1].clone();
                let k = key(&target);
                let steps: &[&str] = match verb {
                    "release" => &["approve", "release"],
                    "send" => &["approve", "sign", "send"],
                    other => std::slice::from_ref(match other {
                        "edit" => &"edit",
                        "approve" => &"approve",
                        _ => &"delete",
                    }),
                };
                for step in steps {
                    let answer = http()
                        .post(format!("{}/_sandbox/reports/{k}/{step}", world.address()))
                        .send()
                        .unwrap();
                    assert!(answer.status().is_success(), "{step} {k}");
                }
                person_actions += 1;
                kept_by_person.remove(&k);
                match verb {
                    // Released, it is a draft again: ours to update, unless a person's typing
                    // is in it (then it stays theirs).
                    "release" if !edited.contains(&k) => {}
                    "delete" => {
                        let before = target["writes"].as_u64().unwrap_or(0);
                        *deleted.entry(k.clone()).or_default() += before;
                        edited.remove(&k);
                    }
                    _ => {
                        if verb == "edit" {
                            edited.insert(k.clone());
                        }
                        let after = reports(world.address()).remove(&k).unwrap();
                        kept_by_person.insert(k, after);
                    }
                }
            }
            Event::KillOne => {
                // The replica whose claim of the pre-fill committed, killed then by the listener,
                // is reaped here, unless a sample reaped it first (replica A, killed now, if no
                // claim comes in time).
                if killed_fire.is_none() {
                    let wait = std::time::Duration::from_secs(20);
                    match reap(&mut replicas, &claims, wait) {
                        Some((n, claim)) => (killed, killed_fire) = (n, Some(claim)),
                        None => {
                            if let Some(r) = replicas[0].take() {
                                r.kill();
                            }
                            killed = 0;
                        }
                    }
                }
            }
            Event::RestartOne => replicas[killed] = Some(start_replica(killed)),
            Event::CutStore => {
                proxy.cut();
                down_since = Some(sim_now());
            }
            Event::RestoreStore => {
                proxy.restore();
                outages.push((down_since.take().unwrap(), sim_now()));
            }
            Event::StopBoth => {
                let from = sim_now();
                for slot in &mut replicas {
                    if let Some(r) = slot.take() {
                        assert_eq!(r.stop(), Some(0), "a replica stops cleanly");
                    }
                }
                down_since = Some(from);
            }
            Event::StartBoth => {
                replicas = vec![Some(start_replica(0)), Some(start_replica(1))];
                outages.push((down_since.take().unwrap(), sim_now()));
            }
            Event::Sample => {
                if killed_fire.is_none()
                    && let Some((n, claim)) = reap(&mut replicas, &claims, Default::default())
                {
                    (killed, killed_fire) = (n, Some(claim));
                }
                for r in replicas.iter_mut().flatten() {
                    r.check_alive();
                }
                let pid = [0, 1].map(|n| replicas[n].as_ref().map(|r| r.pid()));
                let rss_kb = pid.map(|p| p.map(rss_kb));
                let (store_bytes, outbox_depth, connections) = runtime.block_on(async {
                    let pg = sqlx::PgPool::connect(db.url()).await.unwrap();
                    let size: i64 =
                        sqlx::query_scalar("SELECT pg_database_size(current_database())")
                            .fetch_one(&pg)
                            .await
                            .unwrap();
                    let depth: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')",
                    )
                    .fetch_one(&pg)
                    .await
                    .unwrap_or(0);
                    let connections: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()",
                    )
                    .fetch_one(&pg)
                    .await
                    .unwrap();
                    pg.close().await;
                    (size, depth, connections - 1)
                });
                samples.push(Sample {
                    at: sim_now(),
                    rss_kb,
                    pid,
                    store_bytes,
                    outbox_depth,
                    connections,
                });
            }
        }
    }
    while sim_now() < at(story.end) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for slot in &mut replicas {
        if let Some(r) = slot.take() {
            assert_eq!(r.stop(), Some(0), "a replica stops cleanly at the end");
        }
    }

    let (fires, audited_writes) = runtime.block_on(async {
        use baocao_sync::store::Store;
        let store = db.open().await;
        let fires = store.fires("").await.unwrap();
        let mut writes: BTreeMap<String, u64> = BTreeMap::new();
        for entry in store.audit(None, None, 1_000_000).await.unwrap() {
            let written = matches!(
                entry.answer.as_deref(),
                Some("created" | "updated" | "recreated" | "found_written")
            );
            if entry.action == "write" && written {
                let k = format!(
                    "{}/{}/{}/{}",
                    entry.system.unwrap_or_default(),
                    entry.form.unwrap_or_default(),
                    entry.period.unwrap_or_default(),
                    entry.unit.unwrap_or_default()
                );
                *writes.entry(k).or_default() += 1;
            }
        }
        (fires, writes)
    });
    let held = reports(world.address());
    let orphaned = killed_fire.is_some_and(|(job, slot, holder)| {
        fires
            .iter()
            .any(|f| f.job == job && f.slot.0 == slot && f.claimed_by != holder)
    });

    // The clean run: the same province and the same final changes, one `sync` at the last
    // refresh's instant, on SQLite.
    let last_refresh =
        Instant(at("2023-09-15T07:00:00+07:00").0 + (story.deadline_days - 1) * 86_400);
    let clean_setup = worlds::Setup {
        duties: Some(duties),
        ..worlds::Setup::default()
    };
    let clean_db = format!("sqlite://{}", dir.join("clean.db").display());
    let clean = World::with(&data, &dir.join("clean"), clean_db, &clean_setup);
    let lines: String = finals.values().map(|l| format!("{l}\n")).collect();
    if !lines.is_empty() {
        post_dossiers(clean.address(), &lines);
    }
    let stamp = last_refresh
        .to_local()
        .format("%Y-%m-%dT%H:%M:%S+07:00")
        .to_string();
    clean.sync(&stamp, None);
    let clean_reports = reports(clean.address());
    drop(proxy);
    Ended {
        fires,
        outages,
        reports: held,
        clean: clean_reports,
        kept_by_person,
        deleted,
        audited_writes,
        samples,
        orphaned,
        changes_posted,
        person_actions,
        wall: wall.elapsed(),
        logs: logs.to_vec(),
    }
}

/// Pull slots no replica claimed while nothing was down: the pulls on each side of each gap.
/// Ticks come every simulated minute, but a tick's reads take real time; when the store stalls
/// for longer than a slot lasts in real time (125 ms at 7200×), a slot passes with no tick, and
/// the next pull reads what it would have (`faults` checks that it is the latest slot due).
pub fn unexplained_gaps(ended: &Ended, pull_every: i64) -> Vec<(Instant, Instant)> {
    let pulls: Vec<&baocao_sync::store::Fire> =
        ended.fires.iter().filter(|f| f.job == "pull").collect();
    pulls
        .windows(2)
        .filter(|pair| pair[1].slot.0 - pair[0].slot.0 != pull_every)
        .filter(|pair| {
            !ended
                .outages
                .iter()
                .any(|(from, to)| pair[0].slot.0 < to.0 && pair[1].slot.0 + pull_every > from.0)
        })
        .map(|pair| (pair[0].slot, pair[1].slot))
        .collect()
}

/// How many slots the gaps left out.
pub fn skipped_slots(gaps: &[(Instant, Instant)], pull_every: i64) -> i64 {
    gaps.iter().map(|(a, b)| (b.0 - a.0) / pull_every - 1).sum()
}

/// What does not hold at the end of a story, in words (empty when everything holds).
pub fn faults(ended: &Ended, pull_every: i64) -> Vec<String> {
    let mut out = Vec::new();
    // Every fire finished, none failed.
    for f in &ended.fires {
        match f.outcome.as_deref() {
            None => out.push(format!("fire {} {} never finished", f.job, f.slot)),
            Some(o) if o.starts_with("failed") => {
                out.push(format!("fire {} {} failed: {o}", f.job, f.slot))
            }
            Some(_) => {}
        }
    }
    // Pulls: the fire after a gap is the latest slot due when it was claimed (the missed ones
    // coalesced into it). Gaps themselves: `unexplained_gaps`.
    let pulls: Vec<&baocao_sync::store::Fire> =
        ended.fires.iter().filter(|f| f.job == "pull").collect();
    for pair in pulls.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.slot.0 - a.slot.0 == pull_every {
            continue;
        }
        if b.slot.0 != b.claimed_at.0.div_euclid(pull_every) * pull_every {
            out.push(format!(
                "after a gap the pull of {} ran, not the latest slot due at {}",
                b.slot, b.claimed_at
            ));
        }
    }
    let done = |prefix: &str| {
        ended
            .fires
            .iter()
            .filter(|f| f.job.starts_with(prefix) && f.outcome.as_deref() == Some("done"))
            .count()
    };
    // Each period's pre-fill ended `done` once (the whole quarter also holds the one before's).
    let prefill_jobs: std::collections::BTreeSet<&str> = ended
        .fires
        .iter()
        .filter(|f| f.job.starts_with("prefill:"))
        .map(|f| f.job.as_str())
        .collect();
    for job in prefill_jobs {
        if done(job) != 1 {
            let prefills: Vec<_> = ended.fires.iter().filter(|f| f.job == job).collect();
            out.push(format!("{job}: {} done, not 1: {prefills:?}", done(job)));
        }
    }
    // Reports: as the clean run computed them, unless a person keeps them.
    for (k, expected) in &ended.clean {
        let held = ended.reports.get(k);
        if let Some(kept) = ended.kept_by_person.get(k) {
            let same = held.is_some_and(|h| {
                ["status", "version", "content_hash", "rows"]
                    .iter()
                    .all(|f| h[f] == kept[f])
            });
            if !same {
                out.push(format!("{k}: a person left it {kept}, now {held:?}"));
            }
            continue;
        }
        match held {
            None if ended.deleted.contains_key(k) => {}
            None => out.push(format!("{k}: missing")),
            Some(h) if h["content_hash"] != expected["content_hash"] => out.push(format!(
                "{k}: holds {} where the clean run wrote {}",
                h["content_hash"], expected["content_hash"]
            )),
            Some(_) => {}
        }
    }
    // The quarter before the story's (its last days fall in the story's first ones, when the
    // whole quarter runs) is held to the writes' checks below, not to the clean run of this one.
    let this_quarter = format!("/{}/", worlds::PERIOD);
    for k in ended.reports.keys() {
        if k.contains(&this_quarter) && !ended.clean.contains_key(k) {
            out.push(format!(
                "{k}: written, but the clean run has no such report"
            ));
        }
    }
    // Writes: none in vain, each one in the audit.
    let mut writes = HashMap::new();
    for (k, r) in &ended.reports {
        if r["rewrites"].as_u64() != Some(0) {
            out.push(format!(
                "{k}: {} writes of content it already held",
                r["rewrites"]
            ));
        }
        let w = r["writes"].as_u64().unwrap_or(0) + ended.deleted.get(k).copied().unwrap_or(0);
        writes.insert(k.clone(), w);
        let audited = ended.audited_writes.get(k).copied().unwrap_or(0);
        if audited != w {
            out.push(format!("{k}: {w} writes, {audited} in the audit"));
        }
    }
    for k in ended.audited_writes.keys() {
        if !writes.contains_key(k) && !ended.deleted.contains_key(k) {
            out.push(format!(
                "{k}: audited writes of a report the system does not hold"
            ));
        }
    }
    out
}
