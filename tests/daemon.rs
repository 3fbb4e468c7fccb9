//! The daemon's pipeline end to end, black-box: a generated two-tier province served by the
//! sandbox, the real binary on a fresh store of each backend.
//! - The story: the source is down, `sync` writes nothing, exits 2 and every report waits for the
//!   source; the source comes back, `sync` puts every duty's drafts in both systems exactly once
//!   and exits 0; again, and nothing is written.
//! - Two daemons on one PostgreSQL database, a pre-fill due: one of them runs it, every report is
//!   written once.
//! - A daemon killed with SIGKILL while it delivers, at several points, then started again: the
//!   reporting systems end as they end after an uninterrupted run.

mod common;

use baocao_sync::domain::Instant;
use baocao_sync::store::{OutboxFilter, OutboxState, Store};
use common::stores::TestDb;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// A generated province in a sandbox, a store, a vault key, every login, and a configuration file.
struct Province {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    db: TestDb,
    config: PathBuf,
}

/// (system, form, unit) → (content hash, version, writes), as the reporting systems hold them.
type Held = BTreeMap<(String, String, String), (Value, u64, u64)>;

impl Province {
    /// `units` units of a two-tier province for 2026-Q1; `faults` the sandbox's plan (TOML);
    /// `deadline_days` replaces the duties' deadlines (to keep the period in the schedule's
    /// window at a later "now").
    fn new(backend: &str, units: usize, faults: &str, deadline_days: Option<u32>) -> Province {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        output_with(
            bin().args([
                "generate",
                "--dossiers",
                "1500",
                "--ratings",
                "400",
                "--feedback",
                "300",
                "--units",
                &units.to_string(),
                "--tiers",
                "2",
                "--period",
                "2026-Q1",
                "--out",
                data.to_str().unwrap(),
            ]),
            &[0],
        );
        let plan = dir.path().join("faults.toml");
        std::fs::write(&plan, faults).unwrap();
        let sandbox = Sandbox::spawn_with(&data, &["--faults", plan.to_str().unwrap()]);
        let db = TestDb::new(backend);
        let key = dir.path().join("vault.key");
        init_key(&key);
        let mut duties = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duties/two-tier-2026.toml"),
        )
        .unwrap();
        if let Some(days) = deadline_days {
            for d in [3, 5, 7] {
                duties = duties.replace(
                    &format!("deadline_days = {d}\n"),
                    &format!("deadline_days = {days}\n"),
                );
            }
        }
        std::fs::write(dir.path().join("duties.toml"), duties).unwrap();
        let base = &sandbox.base;
        let mut upstreams = String::new();
        for system in ["central", "provincial", "source"] {
            upstreams.push_str(&format!(
                "[upstreams.{system}]\nbase_url = \"{base}/{system}\"\ntoken_url = \"{base}/{system}/oauth/token\"\n\
                 client_id = \"baocao-sync\"\ntimeout_ms = 5000\n\
                 retry = {{ max_attempts = 4, backoff_ms = 50, cap_seconds = 1, budget_seconds = 2 }}\n"
            ));
        }
        let config = dir.path().join("baocao-sync.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\ndatabase_url = \"{db}\"\n[vault]\nkey_file = \"{key}\"\n\
                 [files]\nunits = \"{units}\"\nduties = \"{duties}\"\n\
                 [pull]\nhistory_from = \"2025-01-01\"\nwindow_days = 120\n\
                 [delivery]\nworkers_per_system = 3\nlease_seconds = 60\nshutdown_grace_seconds = 10\n\
                 [http]\nenabled = false\n\
                 {upstreams}",
                db = db.url(),
                key = key.display(),
                units = data.join("units.toml").display(),
                duties = dir.path().join("duties.toml").display(),
            ),
        )
        .unwrap();
        let p = Province {
            dir,
            sandbox,
            db,
            config,
        };
        let logins = data.join("logins.csv");
        p.cli(
            &["creds", "import", "--csv", logins.to_str().unwrap()],
            &[0],
        );
        p
    }

    /// Runs a command with the province's configuration; its standard output.
    fn cli(&self, args: &[&str], codes: &[i32]) -> String {
        output_with(
            bin()
                .env_remove("BAOCAO__PULL__HISTORY_FROM")
                .env_remove("BAOCAO__PULL__WINDOW_DAYS")
                .args(args)
                .args(["--config", self.config.to_str().unwrap()]),
            codes,
        )
    }

    /// Every report the two-tier duties ask for: communes and departments file II.05a, II.06a
    /// and II.01-ĐC in both systems; the province II.05, II.06 and II.01-ĐC centrally.
    fn expected(&self) -> Vec<(String, String, String)> {
        let units = std::fs::read_to_string(self.dir.path().join("data/units.toml")).unwrap();
        let tree: toml::Value = toml::from_str(&units).unwrap();
        let mut out = Vec::new();
        for u in tree["units"].as_array().unwrap() {
            let (code, kind) = (u["code"].as_str().unwrap(), u["kind"].as_str().unwrap());
            let (forms, systems): (&[&str], &[&str]) = match kind {
                "province" => (&["II.05", "II.06", "II.01-ĐC"], &["central"]),
                _ => (
                    &["II.05a", "II.06a", "II.01-ĐC"],
                    &["central", "provincial"],
                ),
            };
            for f in forms {
                for s in systems {
                    out.push((s.to_string(), f.to_string(), code.to_owned()));
                }
            }
        }
        out.sort();
        out
    }

    fn held(&self) -> Held {
        let list: Vec<Value> =
            reqwest::blocking::get(format!("{}/_sandbox/reports", self.sandbox.base))
                .unwrap()
                .json()
                .unwrap();
        list.iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap().to_owned();
                (
                    (s("system"), s("form"), s("unit")),
                    (
                        r["content_hash"].clone(),
                        r["version"].as_u64().unwrap(),
                        r["writes"].as_u64().unwrap(),
                    ),
                )
            })
            .collect()
    }

    fn writes(&self) -> u64 {
        self.held().values().map(|(_, _, w)| w).sum()
    }

    fn daemon(&self, now: &str) -> Daemon {
        self.daemon_with(now, &[])
    }

    /// A daemon with `env` set (a drill, another host name).
    fn daemon_with(&self, now: &str, env: &[(&str, &str)]) -> Daemon {
        let log = std::fs::File::create(self.dir.path().join(format!("daemon-{now}.log"))).unwrap();
        let child = bin()
            .envs(env.iter().copied())
            .env_remove("BAOCAO__PULL__HISTORY_FROM")
            .env_remove("BAOCAO__PULL__WINDOW_DAYS")
            .env("RUST_LOG", "info")
            .args([
                "daemon",
                "--config",
                self.config.to_str().unwrap(),
                "--now",
                now,
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Daemon(child)
    }

    /// Waits until `done` holds of the outbox (other processes are working on it), at most a
    /// minute; the rows as they are then.
    fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[baocao_sync::store::OutboxRow]) -> bool,
    ) -> Vec<baocao_sync::store::OutboxRow> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt.block_on(self.db.open());
        let started = std::time::Instant::now();
        loop {
            let rows = rt.block_on(store.outbox(&OutboxFilter::default())).unwrap();
            if done(&rows) {
                return rows;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{what} did not happen; the outbox: {}\n{}",
                baocao_sync::sync::summarize(&rows),
                self.logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The daemons' logs, for a failure's message.
    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("daemon-") {
                out.push_str(&format!("--- {name}\n"));
                out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        out
    }

    fn wait_for_writes(&self, at_least: u64) {
        let started = std::time::Instant::now();
        while self.writes() < at_least {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{at_least} writes\n{}",
                self.logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Every report delivered and settled (no row pending, in flight or waiting for a retry).
fn settled(expected: usize) -> impl Fn(&[baocao_sync::store::OutboxRow]) -> bool {
    move |rows| {
        rows.len() == expected
            && rows.iter().all(|r| {
                matches!(
                    r.state,
                    OutboxState::Created
                        | OutboxState::Updated
                        | OutboxState::Unchanged
                        | OutboxState::Recreated
                )
            })
    }
}

/// A daemon process; killed when dropped.
struct Daemon(Child);

impl Daemon {
    fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }

    /// SIGTERM, and the exit status once it has stopped.
    fn terminate(mut self) -> i32 {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        self.0.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn story(backend: &str) {
    let p = Province::new(backend, 12, "outage = [\"source\"]\n", None);
    let expected = p.expected();
    let sync = ["sync", "--period", "2026-Q1"];

    let down = p.cli(&sync, &[2]);
    assert!(down.contains("freshness gate holds"), "{down}");
    assert!(
        p.held().is_empty(),
        "nothing is written while the source is down"
    );
    let status = p.cli(&["status", "--period", "2026-Q1"], &[0]);
    let rows: Vec<&str> = status
        .lines()
        .filter(|l| l.contains(" central ") || l.contains(" provincial "))
        .collect();
    assert_eq!(rows.len(), expected.len(), "{status}");
    assert!(
        rows.iter().all(|l| l.contains("waiting_for_source")),
        "{status}"
    );
    assert!(status.contains("latest pull FAILED"), "{status}");

    reqwest::blocking::Client::new()
        .post(format!("{}/_sandbox/outage/source/off", p.sandbox.base))
        .send()
        .unwrap();
    let up = p.cli(&sync, &[0]);
    assert_eq!(
        up.lines().last().unwrap(),
        format!("created {}", expected.len()),
        "{up}"
    );
    let held = p.held();
    assert_eq!(held.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(
        held.values()
            .all(|(_, version, writes)| (*version, *writes) == (1, 1)),
        "every draft written exactly once"
    );

    let again = p.cli(&sync, &[0]);
    assert_eq!(
        again.lines().last().unwrap(),
        format!("unchanged {}", expected.len()),
        "{again}"
    );
    assert_eq!(p.held(), held, "nothing written the second time");

    // A dry run says what a run would do and does nothing: every draft would be verified again.
    let dry = p.cli(&["sync", "--period", "2026-Q1", "--dry-run"], &[2]);
    assert_eq!(
        dry.lines().last().unwrap(),
        format!("would be: pending {}", expected.len()),
        "{dry}"
    );
    let status = p.cli(&["status", "--period", "2026-Q1"], &[0]);
    assert!(
        status.contains(&format!(
            "{} reports: unchanged {}",
            expected.len(),
            expected.len()
        )),
        "{status}"
    );
}

#[test]
fn the_story_on_sqlite() {
    story("sqlite");
}

#[test]
fn the_story_on_postgresql() {
    story("postgres");
}

#[test]
fn two_daemons_on_one_postgresql_database_run_a_fire_once_and_write_each_report_once() {
    let p = Province::new("postgres", 12, "", None);
    let expected = p.expected();
    // The morning after 2026-Q1's cut-off, half an hour after its pre-fill was due.
    let now = "2026-03-15T07:30:00+07:00";
    let (a, b) = (p.daemon(now), p.daemon(now));
    p.wait_for("the pre-fill", settled(expected.len()));
    let held = p.held();
    assert_eq!(held.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(
        held.values().all(|(_, v, w)| (*v, *w) == (1, 1)),
        "each report written once"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(p.db.open());
    let fires = rt.block_on(store.fires("prefill:")).unwrap();
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert_eq!(
        fires[0].slot,
        Instant::parse("2026-03-15T07:00:00+07:00").unwrap()
    );
    assert_eq!(
        rt.block_on(store.runs(Some("2026-Q1"), 10)).unwrap().len(),
        1,
        "the pre-fill ran once"
    );
    assert_eq!(a.terminate(), 0, "a SIGTERM ends the daemon cleanly");
    assert_eq!(b.terminate(), 0);
}

#[test]
fn a_pre_fill_fire_leaves_the_period_to_an_earlier_one_still_running_in_a_live_process() {
    // Another daemon (another host, beating) claimed the 07:00 pre-fill and has not finished it:
    // its run may be over and its drafts-ready announcement waiting, the run lock free. The
    // 08:00 fire must not pre-fill the period a second time.
    let p = Province::new("sqlite", 4, "", None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(p.db.open());
    let at = |s: &str| Instant::parse(s).unwrap();
    let (seven, now) = (at("2026-03-15T07:00:00+07:00"), "2026-03-15T08:10:00+07:00");
    let other = "otherhost-4242-abcd";
    assert!(
        rt.block_on(store.claim_fire("prefill:2026-Q1", seven, other, seven))
            .unwrap()
    );
    rt.block_on(store.beat(other, at(now), seven)).unwrap();
    let d = p.daemon(now);
    let started = std::time::Instant::now();
    let eight = at("2026-03-15T08:00:00+07:00");
    let outcome = loop {
        let fires = rt.block_on(store.fires("prefill:")).unwrap();
        if let Some(o) = fires
            .iter()
            .find(|f| f.slot == eight)
            .and_then(|f| f.outcome.clone())
        {
            break o;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the 08:00 pre-fill ended: {fires:?}\n{}",
            std::fs::read_to_string(p.dir.path().join(format!("daemon-{now}.log")))
                .unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        outcome,
        "busy: the pre-fill of 2026-Q1 is running in otherhost-4242-abcd (the fire of 2026-03-15T00:00:00Z)"
    );
    assert!(p.held().is_empty(), "nothing was pre-filled");
    assert!(
        rt.block_on(store.runs(Some("2026-Q1"), 10))
            .unwrap()
            .is_empty(),
        "no run of the period"
    );
    assert_eq!(d.terminate(), 0);
}

#[test]
fn a_daemon_killed_while_it_delivers_ends_as_an_uninterrupted_run() {
    // Slow answers (given after the write is done) keep writes in flight when the kill comes;
    // the deadlines are moved so that the period is still worked on at the chosen "now", when
    // every record of the period has arrived.
    let faults = "slow_every = 3\nslow_ms = 600\n";
    let t0 = "2026-06-01T08:00:00+07:00";
    let later = |minutes: i64| {
        (chrono::DateTime::parse_from_rfc3339(t0).unwrap() + chrono::Duration::minutes(minutes))
            .to_rfc3339()
    };
    let reference = Province::new("sqlite", 6, faults, Some(120));
    let expected = reference.expected().len();
    let d = reference.daemon(t0);
    reference.wait_for("the uninterrupted run", settled(expected));
    assert_eq!(d.terminate(), 0);
    let clean = reference.held();
    assert_eq!(clean.len(), expected);

    let p = Province::new("sqlite", 6, faults, Some(120));
    for (kill_after, minutes) in [(6, 0), (18, 61)] {
        let d = p.daemon(&later(minutes));
        p.wait_for_writes(kill_after);
        d.kill9();
        let written = p.writes();
        assert!(
            written < expected as u64,
            "the kill came during delivery ({written} of {expected} written)"
        );
    }
    // Started again later: leases have expired, and the run leases too.
    let d = p.daemon(&later(122));
    p.wait_for("the run after the kills", settled(expected));
    assert_eq!(d.terminate(), 0);
    assert_eq!(
        p.held(),
        clean,
        "same drafts, same versions, each written once"
    );
}

#[test]
fn a_replica_on_another_host_killed_mid_delivery_is_recovered_once_its_heartbeat_stops() {
    // Leases of 15 minutes: without the heartbeat, what the killed replica held would wait that
    // long (real minutes, as its clock and the next replica's run); the test waits one.
    let faults = "slow_every = 3\nslow_ms = 600\n";
    let p = Province::new("postgres", 6, faults, Some(120));
    let config = std::fs::read_to_string(&p.config).unwrap();
    std::fs::write(
        &p.config,
        config.replace("lease_seconds = 60", "lease_seconds = 900"),
    )
    .unwrap();
    let expected = p.expected();
    let t0 = "2026-06-01T08:00:00+07:00";
    // A replica "on another host" (its name says so: this host cannot ask the kernel about it)
    // kills itself right after its second write, before recording the answer.
    let mut a = p.daemon_with(
        t0,
        &[
            ("HOSTNAME", "elsewhere"),
            ("BAOCAO_DRILL_KILL", "deliver:2"),
        ],
    );
    a.0.wait().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(p.db.open());
    let rows = rt.block_on(store.outbox(&OutboxFilter::default())).unwrap();
    let held: Vec<_> = rows
        .iter()
        .filter(|r| r.state == OutboxState::Sending)
        .filter_map(|r| r.lease.as_ref())
        .collect();
    assert!(
        !held.is_empty() && held.iter().all(|l| l.owner.starts_with("elsewhere-")),
        "the killed replica left drafts in flight: {held:?}"
    );
    assert!(p.writes() >= 2);

    // The next replica starts two minutes later (by its clock), well within those leases.
    let later = (chrono::DateTime::parse_from_rfc3339(t0).unwrap() + chrono::Duration::minutes(2))
        .to_rfc3339();
    let status = p.cli(&["status", "--period", "2026-Q1", "--now", &later], &[0, 2]);
    assert!(
        status.contains("held by elsewhere-") && status.contains("that process is gone"),
        "{status}"
    );
    let b = p.daemon(&later);
    p.wait_for(
        "the drafts the stopped replica held",
        settled(expected.len()),
    );
    assert_eq!(b.terminate(), 0);
    let held = p.held();
    assert_eq!(held.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(
        held.values().all(|(_, v, w)| (*v, *w) == (1, 1)),
        "each report written once, the interrupted writes replayed, not repeated"
    );
    assert!(
        rt.block_on(store.heartbeats()).unwrap().is_empty(),
        "the stopped replica's heartbeat is forgotten, the clean one's removed at its stop"
    );
}
