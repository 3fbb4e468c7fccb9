//! `pull` end to end: the sandbox serves the golden dossiers as the procedure-handling system; the
//! first pull stores them all, the next finds nothing new, a full re-pull of the period changes
//! nothing, and the figures from the store are the golden ones. (Pull under each fault of the
//! sandbox's plan: tests/faults.rs.)

mod common;

use common::*;

#[test]
fn pull_stores_every_record_once_and_the_figures_follow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sandbox");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture("dossiers.ndjson"), data.join("dossiers.ndjson")).unwrap();
    std::fs::write(
        data.join("accounts.toml"),
        "[[clients]]\nsystem = \"source\"\nclient_id = \"lgsp\"\nclient_secret = \"bí-mật-lgsp\"\n",
    )
    .unwrap();
    let sandbox = Sandbox::spawn(&data);
    let base = sandbox.base.clone();

    let upstreams = dir.path().join("upstreams.toml");
    sandbox_upstreams(&upstreams, &base, "");
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    init_key(&key);
    creds_set(&db, &key, "source", "*", "lgsp", "bí-mật-lgsp");

    let pull = |extra: &[&str]| {
        let mut args = vec!["pull"];
        args.extend(client_args(&upstreams, &key, &db));
        args.extend_from_slice(extra);
        let out = bin().env("RUST_LOG", "debug").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("bí-mật-lgsp") && !all.contains("sandbox-source-access"),
            "a secret leaked"
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = pull(&[]);
    assert!(
        first.starts_with("new 400, updated 0, unchanged 0, rejected 0"),
        "{first}"
    );
    let second = pull(&[]);
    assert!(
        second.starts_with("new 0, updated 0, unchanged 0, rejected 0"),
        "nothing changed since: {second}"
    );
    let full = pull(&["--full", "--period", "2023-Q3", "--window-days", "7"]);
    assert!(full.starts_with("new 0, updated 0, unchanged "), "{full}");
    assert!(
        !full.contains("(1 windows"),
        "a re-pull of a period is split into windows: {full}"
    );

    for form in ["II.06a", "II.06"] {
        let got = report_json(&[
            "--from-store",
            "--database-url",
            &db,
            "--units",
            fixture("units.toml").to_str().unwrap(),
            "--period",
            "2023-Q3",
            "--form",
            form,
        ]);
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("expected-{form}-2023-Q3.json"))).unwrap(),
        )
        .unwrap();
        assert_same_figures(&expected, &got);
    }
}

#[test]
fn the_sandbox_serves_a_generated_data_set() {
    // `generate` writes a data set the sandbox serves as is, its demo logins included.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(&[
        "generate",
        "--dossiers",
        "3000",
        "--ratings",
        "600",
        "--feedback",
        "300",
        "--units",
        "30",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let sandbox = Sandbox::spawn(&data);
    let base = &sandbox.base;
    let upstreams = dir.path().join("upstreams.toml");
    sandbox_upstreams(&upstreams, base, "");
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    init_key(&key);
    creds_set(&db, &key, "source", "*", "lgsp", "demo-lgsp");
    // The first unit after the root is a department: its central account is the first one.
    creds_set(
        &db,
        &key,
        "central",
        "000.10.00.H55",
        "099000000001",
        "demo-1",
    );
    let common = client_args(&upstreams, &key, &db);
    let pulled = bin().arg("pull").args(common).output().unwrap();
    let pulled = String::from_utf8_lossy(&pulled.stdout);
    let new: usize = pulled
        .strip_prefix("new ")
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{pulled}"));
    // About 2 % of generated records carry an export's problems (some unreadable, some repeated).
    assert!((2800..=3000).contains(&new), "{pulled}");
    // Only dossiers were pulled: the freshness gate holds back every form, since the narrative
    // reads ratings and feedback too. `sync` pulls every kind, then pushes.
    let units = data.join("units.toml");
    let scope = [
        "--period",
        "2023-Q3",
        "--units",
        units.to_str().unwrap(),
        "--unit",
        "000.10.00.H55",
        "--system",
        "central",
    ];
    let held = output_with(bin().arg("push").args(scope).args(common), &[2]);
    assert_eq!(held.lines().last(), Some("waiting_for_source 3"), "{held}");
    let synced = output_with(bin().arg("sync").args(scope).args(common), &[0]);
    assert_eq!(synced.lines().last(), Some("created 3"), "{synced}");
}
