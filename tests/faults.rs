//! Both clients against the sandbox under each fault of its plan, black-box: the real binary pulls
//! the golden dossiers (and a small set of ratings and feedback) from the sandbox's source API and
//! pushes the reports to its two reporting systems with each unit's own login. Whatever the fault, a run ends with exactly the records the
//! source holds (at their latest version) and exactly one draft per (system, form, period, unit),
//! each written once; a draft the "person" approved or edited is left as the person left it. Every
//! run's whole trace output (every target at trace, the HTTP libraries' named) is searched for passwords, tokens and full citizen-ID
//! numbers.

mod common;

use baocao_sync::domain::{Instant, RecordKind};
use baocao_sync::store::{self, Store};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const DEPT: &str = "000.10.00.H55";
const DISTRICT: &str = "000.00.30.H55";

/// (system, unit, username, password) of the units that have logins.
const LOGINS: [(&str, &str, &str, &str); 4] = [
    ("central", DEPT, "051234567890", "mk-so-trung-uong"),
    ("central", DISTRICT, "051234567891", "mk-huyen-trung-uong"),
    (
        "provincial",
        DEPT,
        "van.thu.so1@quangngai.gov.vn",
        "mk-so-tinh",
    ),
    (
        "provincial",
        DISTRICT,
        "van.thu.huyen1@quangngai.gov.vn",
        "mk-huyen-tinh",
    ),
];
const SOURCE_SECRET: &str = "bí-mật-lgsp";

/// What must never appear in any output.
fn secrets() -> Vec<&'static str> {
    let mut v = vec![
        SOURCE_SECRET,
        "sandbox-source-access",
        "sandbox-central-access",
        "sandbox-provincial-access",
        "sandbox-central-refresh",
        "sandbox-provincial-refresh",
    ];
    for (system, _, user, password) in LOGINS {
        v.push(password);
        if system == "central" {
            v.push(user);
        }
    }
    v
}

/// The reports the two units file by the shipped duties that have something to report: (form,
/// unit). Their II.05a and II.05 have no feedback record of theirs in the data (the feedback
/// fixture's units are others): "nothing to report", never a zero draft.
const REPORTS: [(&str, &str); 4] = [
    ("II.06a", DEPT),
    ("II.01-ĐC", DEPT),
    ("II.06", DISTRICT),
    ("II.01-ĐC", DISTRICT),
];

struct World {
    _dir: tempfile::TempDir,
    sandbox: Sandbox,
    db: String,
    key: PathBuf,
    upstreams: PathBuf,
}

fn accounts(faults: &str) -> String {
    let mut text = format!(
        "[[clients]]\nsystem = \"source\"\nclient_id = \"lgsp\"\nclient_secret = \"{SOURCE_SECRET}\"\n\
         [[clients]]\nsystem = \"central\"\nclient_id = \"baocao-sync\"\n\
         [[clients]]\nsystem = \"provincial\"\nclient_id = \"baocao-sync\"\n"
    );
    for (system, unit, user, password) in LOGINS {
        text.push_str(&format!(
            "[[accounts]]\nsystem = \"{system}\"\nusername = \"{user}\"\npassword = \"{password}\"\nunits = [\"{unit}\"]\n"
        ));
    }
    // The fault plan first: its top-level keys (token_seconds) must come before any table.
    format!("{faults}\n{text}")
}

/// A sandbox with the golden dossiers and `faults`, a store with every login sealed, and an
/// upstreams file whose requests time out after `timeout_ms` and back off from 100 ms.
fn world(faults: &str, timeout_ms: u64) -> World {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sandbox");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture("dossiers.ndjson"), data.join("dossiers.ndjson")).unwrap();
    for kind in ["ratings", "feedback"] {
        let file = format!("{kind}.ndjson");
        std::fs::copy(own_fixture("hl-pakn-small", &file), data.join(&file)).unwrap();
    }
    std::fs::write(data.join("accounts.toml"), accounts(faults)).unwrap();
    let sandbox = Sandbox::spawn(&data);
    let base = &sandbox.base;
    let upstreams = dir.path().join("upstreams.toml");
    let extra = format!(
        "timeout_ms = {timeout_ms}\nretry = {{ max_attempts = 6, backoff_ms = 100, cap_seconds = 5 }}\n"
    );
    sandbox_upstreams(&upstreams, base, &extra);
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    init_key(&key);
    creds_set(&db, &key, "source", "*", "lgsp", SOURCE_SECRET);
    for (system, unit, user, password) in LOGINS {
        creds_set(&db, &key, system, unit, user, password);
    }
    World {
        _dir: dir,
        sandbox,
        db,
        key,
        upstreams,
    }
}

impl World {
    /// Runs the binary with the store, key and upstreams; fails on a non-zero exit or a secret
    /// anywhere in its output; returns standard output.
    fn run(&self, command: &str, extra: &[&str]) -> String {
        let mut args = vec![command];
        args.extend(client_args(&self.upstreams, &self.key, &self.db));
        args.extend_from_slice(extra);
        // Two delivery workers per system: the sandbox's clock moves on with every call, whoever
        // makes it, so many concurrent workers would age each other's tokens faster than the
        // plan's "tokens expire every 30 seconds" means.
        let out = bin()
            .env("RUST_LOG", TRACE_EVERY_TARGET)
            .env("BAOCAO__DELIVERY__WORKERS_PER_SYSTEM", "2")
            .args(&args)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        // `push` ends with 2 when some report needs someone: here, units without a login.
        let allowed: &[i32] = if command == "push" { &[0, 2] } else { &[0] };
        assert!(
            allowed.contains(&out.status.code().unwrap_or(-1)),
            "{command} failed:\n{stdout}\n{stderr}"
        );
        assert!(stderr.contains("TRACE"), "the trace output is captured");
        assert_http_libraries_traced(&stderr);
        for secret in secrets() {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "`{secret}` leaked in the output of {command}"
            );
        }
        stdout.into_owned()
    }

    /// Pulls a kind twice: now, and (as a later scheduled run would) a day later, which picks up
    /// what changed during the first walk.
    fn pull_twice(&self, kind: &str, page_size: &str) -> (String, String) {
        let args = ["--kind", kind, "--page-size", page_size];
        let first = self.run("pull", &args);
        let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let second = self.run("pull", &[&args[..], &["--now", &later]].concat());
        (first, second)
    }

    /// Pulls the three kinds, twice each; every dossier is new exactly once.
    fn pull_all(&self) {
        let (first, second) = self.pull_twice("dossiers", "50");
        let new = |out: &str| -> usize {
            assert!(out.contains("rejected 0"), "{out}");
            let count = out.strip_prefix("new ").unwrap().split(',').next();
            count.unwrap().parse().unwrap()
        };
        // A record that moved ahead of the walk is new to the second pull; none is new twice.
        assert_eq!(new(&first) + new(&second), 400, "{first}{second}");
        self.pull_twice("ratings", "4");
        self.pull_twice("feedback", "4");
    }

    fn push(&self) -> String {
        self.run(
            "push",
            &[
                "--period",
                "2023-Q3",
                "--units",
                fixture("units.toml").to_str().unwrap(),
            ],
        )
    }

    fn get(&self, path: &str) -> Value {
        reqwest::blocking::get(format!("{}{path}", self.sandbox.base))
            .unwrap()
            .json()
            .unwrap()
    }

    /// The sandbox's reports by (system, form, unit).
    fn held(&self) -> BTreeMap<(String, String, String), Value> {
        let list = self.get("/_sandbox/reports");
        let mut held = BTreeMap::new();
        for r in list.as_array().unwrap() {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            assert_eq!(s("period"), "2023-Q3");
            let previous = held.insert((s("system"), s("form"), s("unit")), r.clone());
            assert!(previous.is_none(), "one report per key");
        }
        held
    }

    /// The store holds exactly the source's records, each at its latest CapNhatLuc, or (for the
    /// ones that cannot be read) a reject under its key.
    fn assert_store_matches_source(&self) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let store = runtime.block_on(store::open(&self.db)).unwrap();
        for (kind, record_kind, key_field) in [
            ("dossiers", RecordKind::Dossier, "MaHoSo"),
            ("ratings", RecordKind::Rating, "MaDanhGia"),
            ("feedback", RecordKind::Feedback, "MaPAKN"),
        ] {
            let mut source: BTreeMap<String, Instant> = BTreeMap::new();
            for r in self
                .get(&format!("/_sandbox/records/{kind}"))
                .as_array()
                .unwrap()
            {
                let at = Instant::parse(r["CapNhatLuc"].as_str().unwrap()).unwrap();
                let key = r["key"].as_str().unwrap().to_owned();
                let latest = source.entry(key).or_insert(at);
                *latest = (*latest).max(at);
            }
            let stored: BTreeMap<String, Instant> = if record_kind == RecordKind::Dossier {
                let dossiers = runtime.block_on(store.dossiers(None)).unwrap();
                dossiers
                    .into_iter()
                    .map(|d| (d.key.to_string(), d.updated_at.get().unwrap()))
                    .collect()
            } else {
                let raws = runtime
                    .block_on(store.raw_records(record_kind, None))
                    .unwrap();
                raws.iter()
                    .map(|raw| {
                        let v: Value = serde_json::from_str(raw).unwrap();
                        let at = Instant::parse(v["CapNhatLuc"].as_str().unwrap()).unwrap();
                        (v[key_field].as_str().unwrap().to_owned(), at)
                    })
                    .collect()
            };
            let rejects = runtime.block_on(store.rejects(record_kind, None)).unwrap();
            let mut expected = source.clone();
            for f in &rejects {
                let key = &f.record;
                assert!(
                    expected.remove(key).is_some(),
                    "{kind}: reject {key} is a source record"
                );
            }
            assert_eq!(
                stored, expected,
                "{kind}: the store holds what the source holds"
            );
            if record_kind == RecordKind::Dossier {
                assert_eq!(
                    (source.len(), rejects.len()),
                    (400, 0),
                    "the golden data set"
                );
            } else {
                assert!(!stored.is_empty(), "{kind} pulled");
            }
            if record_kind == RecordKind::Rating {
                assert!(
                    !rejects.is_empty(),
                    "R11 and R12 cannot be read: kept as rejects"
                );
            }
        }
    }

    /// Every report of every login is held once, written once, with the golden figures — except
    /// those a person touched, which are as the person left them.
    fn assert_one_draft_each(&self, touched: &[(&str, &str, &str, &str)]) {
        let held = self.held();
        let mut expected = Vec::new();
        for (system, unit, _, _) in LOGINS {
            for (form, u) in REPORTS {
                if u == unit {
                    expected.push((system.to_owned(), form.to_owned(), unit.to_owned()));
                }
            }
        }
        expected.sort();
        assert_eq!(
            held.keys().cloned().collect::<Vec<_>>(),
            expected,
            "exactly one draft per (system, form, period, unit)"
        );
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("expected-II.06a-2023-Q3.json")).unwrap(),
        )
        .unwrap();
        let dept_total = &golden["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unit"] == DEPT)
            .unwrap()["total"];
        for ((system, form, unit), r) in &held {
            let person = touched.iter().find(|(s, f, u, _)| {
                (*s, *f, *u) == (system.as_str(), form.as_str(), unit.as_str())
            });
            match person {
                Some((_, _, _, "approve")) => {
                    assert_eq!(r["status"], "approved", "{system} {form} {unit}");
                    assert_eq!(r["writes"], 1, "not written after approval");
                }
                Some((_, _, _, action)) => {
                    assert_eq!(*action, "edit");
                    assert_eq!(r["status"], "draft");
                    assert_eq!(
                        r["content_hash"], "sha256:edited-by-a-person",
                        "the person's edit stands: {system} {form} {unit}"
                    );
                    assert_eq!(r["updated_by"], "a person");
                }
                None => {
                    assert_eq!(r["status"], "draft");
                    assert_eq!(r["writes"], 1, "written once: {system} {form} {unit}");
                    assert_eq!(r["person"], Value::Null);
                    let rows = r["rows"].as_array().unwrap();
                    if form == "II.01-ĐC" {
                        assert!(rows.is_empty(), "a narrative has text, not rows");
                        let text = r["text"].as_str().unwrap();
                        assert!(text.contains(unit.as_str()) && text.contains("[CẦN BỔ SUNG]"));
                        continue;
                    }
                    let total = rows.iter().find(|row| row["key"] == "_total").unwrap();
                    if form == "II.06a" {
                        assert_eq!(&total["values"], dept_total, "the golden figures");
                    }
                }
            }
        }
    }
}

/// The push summary line's counts.
fn summary(out: &str) -> BTreeMap<String, usize> {
    out.lines()
        .last()
        .unwrap()
        .split(", ")
        .map(|part| {
            let (name, n) = part.rsplit_once(' ').unwrap();
            (name.to_owned(), n.parse().unwrap())
        })
        .collect()
}

/// Pull twice, push twice, and check both ends. Pushes may only create, update or find drafts
/// unchanged (and "skip" forms the units do not file yet); nothing is left pending. `fired`: the
/// faults that must have fired (the sandbox counts them), so no scenario passes by not happening.
fn scenario(faults: &str, timeout_ms: u64, fired: &[&str]) -> World {
    let w = world(faults, timeout_ms);
    w.pull_all();
    w.assert_store_matches_source();
    for run in [w.push(), w.push()] {
        let counts = summary(&run);
        for name in counts.keys() {
            assert!(
                [
                    "created",
                    "updated",
                    "unchanged",
                    "nothing_to_report",
                    "no_credential"
                ]
                .contains(&name.as_str()),
                "{run}"
            );
        }
    }
    let second = summary(&w.push());
    assert_eq!(second.get("unchanged"), Some(&8), "{second:?}");
    w.assert_one_draft_each(&[]);
    let counts = w.get("/_sandbox/faults");
    for fault in fired {
        assert!(counts[fault].as_u64() > Some(0), "{fault} fired: {counts}");
    }
    if fired.is_empty() {
        assert_eq!(counts, serde_json::json!({}), "no fault without a plan");
    }
    w
}

#[test]
fn without_faults() {
    scenario("", 10_000, &[]);
}

#[test]
fn transient_503_with_retry_after() {
    scenario(
        "[faults]\ntransient_every = 3\ntransient_status = 503\n",
        10_000,
        &["transient"],
    );
}

#[test]
fn a_rate_of_server_errors() {
    // 500 without Retry-After: exponential back-off with jitter.
    scenario(
        "[faults]\ntransient_every = 4\ntransient_status = 500\n",
        10_000,
        &["transient"],
    );
}

#[test]
fn bursts_of_429_with_retry_after() {
    // Every 6th request meets two 429s asking for a one-second wait, which the client honours.
    scenario(
        "[faults]\nrate_limit_every = 6\nrate_limit_burst = 2\nretry_after_seconds = 1\n",
        10_000,
        &["rate_limited"],
    );
}

#[test]
fn slow_answers_time_out_and_are_retried() {
    // Every 5th request answers after 1.5 s, the client gives up after 1 s; a write that landed
    // while the client had stopped waiting is not written twice.
    scenario(
        "[faults]\nslow_every = 5\nslow_ms = 1500\n",
        1_000,
        &["slow"],
    );
}

#[test]
fn tokens_expiring_every_30_seconds() {
    // The sandbox's clock moves 7 s per call: each token serves four or five calls.
    scenario(
        "token_seconds = 30\n[faults]\nseconds_per_call = 7\n",
        10_000,
        &["token_refused"],
    );
}

#[test]
fn tokens_worn_out_after_a_few_calls() {
    scenario(
        "[faults]\ntokens_expire_after_calls = 3\n",
        10_000,
        &["token_refused"],
    );
}

#[test]
fn records_changing_between_pages() {
    let w = scenario(
        "[faults]\nrecords_change_every_pages = 2\n",
        10_000,
        &["record_changed"],
    );
    let changed = w
        .get("/_sandbox/records/dossiers")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["changes"] != 0)
        .count();
    assert!(changed >= 4, "the fault plan changed records: {changed}");
}

#[test]
fn a_person_approves_and_edits_drafts() {
    // After our create (request 2), a person approves one draft and edits another; a third draft
    // is typed in by hand between our read-back and our write (after request 1).
    let person = |system: &str, form: &str, unit: &str, action: &str, after: u64| {
        format!(
            "[[faults.person]]\nreport = \"{system}/{form}/2023-Q3/{unit}\"\naction = \"{action}\"\nafter_request = {after}\n"
        )
    };
    let faults = [
        person("central", "II.06a", DEPT, "approve", 2),
        person("provincial", "II.06a", DEPT, "edit", 2),
        person("central", "II.06", DISTRICT, "edit", 1),
    ]
    .concat();
    let w = world(&faults, 10_000);
    w.pull_all();
    let first = summary(&w.push());
    assert_eq!(
        (first.get("created"), first.get("edited_by_person")),
        (Some(&7), Some(&1)),
        "{first:?}"
    );
    let second = summary(&w.push());
    assert_eq!(
        (
            second.get("unchanged"),
            second.get("locked"),
            second.get("edited_by_person")
        ),
        (Some(&5), Some(&1), Some(&2)),
        "{second:?}"
    );
    w.assert_one_draft_each(&[
        ("central", "II.06a", DEPT, "approve"),
        ("provincial", "II.06a", DEPT, "edit"),
        ("central", "II.06", DISTRICT, "edit"),
    ]);
    let held = w.held();
    let typed_in = &held[&("central".into(), "II.06".into(), DISTRICT.into())];
    assert_eq!(typed_in["writes"], 0, "never written by us");
}

#[test]
fn a_released_draft_is_seen_at_the_next_run_and_a_forced_push_that_loses_a_race_says_so() {
    // central/II.06a: a person approves it after our create (request 2).
    // provincial/II.06a: a person edits it after our create; then, while an operator forces it,
    // approves it between the forced push's read-back (request 4) and its write.
    let person = |system: &str, action: &str, after: u64| {
        format!(
            "[[faults.person]]\nreport = \"{system}/II.06a/2023-Q3/{DEPT}\"\naction = \"{action}\"\nafter_request = {after}\n"
        )
    };
    let faults = [
        person("central", "approve", 2),
        person("provincial", "edit", 2),
        person("provincial", "approve", 4),
    ]
    .concat();
    let w = world(&faults, 10_000);
    w.pull_all();
    w.push();
    let second = summary(&w.push());
    assert_eq!(
        (second.get("locked"), second.get("edited_by_person")),
        (Some(&1), Some(&1)),
        "{second:?}"
    );

    // The forced push finds the person's approval at its write (409): it must not exit 0.
    let out = bin()
        .args(["force-push", &format!("provincial/II.06a/2023-Q3/{DEPT}")])
        .args(["--reason", "the department asked for the computed figures"])
        .args(["--units", fixture("units.toml").to_str().unwrap()])
        .args(client_args(&w.upstreams, &w.key, &w.db))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not overwritten"), "{stderr}");
    let held = w.held();
    let raced = &held[&("provincial".into(), "II.06a".into(), DEPT.into())];
    assert_eq!(raced["status"], "approved", "{raced}");
    assert_eq!(
        raced["content_hash"], "sha256:edited-by-a-person",
        "{raced}"
    );

    // The person returns the approved central draft to draft: the next run reads it back and
    // finds our content there (its version unchanged), so it is ours again, and nothing is
    // written twice.
    let url = format!(
        "{}/_sandbox/reports/central/II.06a/2023-Q3/{DEPT}/release",
        w.sandbox.base
    );
    let released: Value = reqwest::blocking::Client::new()
        .post(url)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(released["status"], "draft");
    let third = summary(&w.push());
    assert_eq!(
        third.get("locked"),
        Some(&1),
        "only the raced one: {third:?}"
    );
    let held = w.held();
    let central = &held[&("central".into(), "II.06a".into(), DEPT.into())];
    assert_eq!(
        (central["status"].as_str(), central["writes"].as_u64()),
        (Some("draft"), Some(1)),
        "{central}"
    );
    let store = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = store::open(&w.db).await.unwrap();
        s.outbox(&Default::default()).await.unwrap()
    });
    let row = store
        .iter()
        .find(|r| {
            r.report.system == "central" && r.report.form == "II.06a" && r.report.unit == DEPT
        })
        .unwrap();
    assert_eq!(row.state, baocao_sync::store::OutboxState::Unchanged);
}

#[test]
fn token_endpoints_answering_a_gateways_error_page() {
    // Every 3rd token request meets a 502 with an HTML body: transient, retried, and no unit is
    // marked login_failed for it.
    scenario(
        "[faults]\ntoken_transient_every = 3\ntoken_transient_status = 502\n",
        10_000,
        &["token_transient"],
    );
}

#[test]
fn every_fault_at_once() {
    let faults = "token_seconds = 30\n[faults]\ntransient_every = 5\nrate_limit_every = 7\n\
                  rate_limit_burst = 2\nslow_every = 11\nslow_ms = 1500\nseconds_per_call = 5\n\
                  records_change_every_pages = 3\ntoken_transient_every = 4\n";
    scenario(
        faults,
        1_000,
        &[
            "transient",
            "rate_limited",
            "slow",
            "token_refused",
            "record_changed",
            "token_transient",
        ],
    );
}

#[test]
fn a_draft_a_person_deletes_is_created_again_each_time() {
    // A server that remembers Idempotency-Keys for a day would replay an earlier creation's 201
    // and write nothing if a re-creation reused its key: the draft would stay missing.
    let w = world("", 10_000);
    w.pull_all();
    w.push();
    let report = format!("/_sandbox/reports/central/II.06a/2023-Q3/{DEPT}");
    for round in 1..=2 {
        reqwest::blocking::Client::new()
            .post(format!("{}{report}/delete", w.sandbox.base))
            .send()
            .unwrap();
        let again = summary(&w.push());
        assert_eq!(again.get("recreated"), Some(&1), "round {round}: {again:?}");
        let held = w.held();
        let r = &held[&("central".into(), "II.06a".into(), DEPT.into())];
        assert_eq!(r["writes"], 1, "round {round}: written again");
        assert_eq!(r["status"], "draft");
    }
    // Then it stands: the next push finds it unchanged.
    assert_eq!(summary(&w.push()).get("unchanged"), Some(&8));
}

#[test]
fn the_sandbox_reads_a_fault_plan_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("faults.toml");
    std::fs::write(&plan, "transient_every = 1\ntransient_status = 502\n").unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("accounts.toml"), accounts("")).unwrap();
    let sandbox = Sandbox::spawn_with(&data, &["--faults", plan.to_str().unwrap()]);
    let answer = reqwest::blocking::get(format!(
        "{}/source/v1/dossiers?updated_from=2023-01-01T00:00:00Z&updated_to=2024-01-01T00:00:00Z",
        sandbox.base
    ))
    .unwrap();
    assert_eq!(answer.status(), 502, "every request's first attempt fails");
}
