//! `push` end to end: dossiers imported into the store, units' logins sealed in the vault, the
//! sandbox serving the central reporting system; drafts created once, then unchanged, a person's
//! edit left alone unless an operator forces that one report, and the figures the sandbox holds
//! equal to the golden ones. The records came from an export, not a pull, so the freshness gate
//! holds until an operator accepts that, with a reason the audit keeps. (Push under each fault of
//! the sandbox's plan: tests/faults.rs; the pipeline from a pull: tests/daemon.rs.)

mod common;

use common::*;
use serde_json::Value;

fn sandbox(dir: &std::path::Path) -> Sandbox {
    std::fs::write(dir.join("accounts.toml"), CENTRAL_ACCOUNTS).unwrap();
    Sandbox::spawn(dir)
}

/// A store with the golden dossiers and two units' sealed logins, and a sandbox: returns the
/// `push` of 2023-Q3 to the central system with the world in `dir` (its upstreams, vault key
/// and store), and `extra` arguments.
fn push_command(dir: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let (key, upstreams, units) = (
        dir.join("key"),
        dir.join("upstreams.toml"),
        fixture("units.toml"),
    );
    let mut command = bin();
    command
        .args(["push", "--period", "2023-Q3", "--system", "central"])
        .args(["--units", units.to_str().unwrap()])
        .args(client_args(&upstreams, &key, &db))
        .args(extra);
    command
}

/// sandbox's base URL and a function that runs `push` with extra arguments.
fn setup(dir: &std::path::Path) -> (Sandbox, impl Fn(&[&str]) -> String) {
    let sandbox = sandbox(dir);
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let key = dir.join("key");
    let upstreams = dir.join("upstreams.toml");
    let base = sandbox.base.clone();
    sandbox_upstreams(&upstreams, &base, "");
    import_golden(&db);
    init_key(&key);
    for (unit, user, password) in [
        ("000.10.00.H55", "051234567890", "mk-so"),
        ("000.00.30.H55", "051234567891", "mk-huyen"),
    ] {
        creds_set(&db, &key, "central", unit, user, password);
    }
    let dir = dir.to_owned();
    let push = move |extra: &[&str]| {
        let out = push_command(&dir, extra)
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        // 2: some reports need someone (units without a login); 0: all good.
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [
            "mk-so",
            "mk-huyen",
            "051234567890",
            "051234567891",
            "sandbox-central-access",
        ] {
            assert!(!all.contains(secret), "`{secret}` leaked");
        }
        String::from_utf8(out.stdout).unwrap()
    };

    (sandbox, push)
}

#[test]
fn push_creates_once_then_leaves_drafts_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, push) = setup(dir.path());
    let base = &sandbox.base;
    let imported = ["--accept-stale", "the golden export was imported by hand"];
    // Nothing was pulled: the gate holds and nothing is sent.
    let held = push(&[]);
    assert!(held.contains("freshness gate holds"), "{held}");
    assert!(
        reqwest::blocking::get(format!("{base}/_sandbox/reports"))
            .unwrap()
            .json::<Vec<Value>>()
            .unwrap()
            .is_empty(),
        "nothing is sent while the gate holds"
    );
    // The department files II.06a and II.01-ĐC, the district II.06 and II.01-ĐC for its
    // subtree; their II.05a/II.05 have no feedback to report; the rest have no login yet.
    let first = push(&imported);
    assert!(
        first.lines().last().unwrap().contains("created 4"),
        "{first}"
    );
    assert!(
        first.contains("000.00.30100.H55   II.06a    central     no_credential"),
        "{first}"
    );
    assert!(
        first.lines().last().unwrap().contains("nothing_to_report"),
        "{first}"
    );

    let second = push(&imported);
    assert!(
        second.lines().last().unwrap().contains("unchanged 4") && !second.contains("created"),
        "{second}"
    );

    let narrative = push(
        &[
            &imported[..],
            &["--unit", "000.10.00.H55", "--form", "II.01-DC"],
        ]
        .concat(),
    );
    assert!(
        narrative.lines().last() == Some("unchanged 1"),
        "a form is named by its code or its ASCII alias: {narrative}"
    );

    let held: Vec<Value> = reqwest::blocking::get(format!("{base}/_sandbox/reports"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(held.len(), 4, "one draft per (system, form, period, unit)");
    assert!(
        held.iter()
            .all(|r| r["writes"] == 1 && r["status"] == "draft")
    );
    let dept = held
        .iter()
        .find(|r| r["unit"] == "000.10.00.H55" && r["form"] == "II.06a")
        .unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("expected-II.06a-2023-Q3.json")).unwrap(),
    )
    .unwrap();
    let golden = expected["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"] == "000.10.00.H55")
        .unwrap();
    let total = dept["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "_total")
        .unwrap();
    assert_eq!(
        total["values"], golden["total"],
        "the draft's figures are the golden ones"
    );
    let district = held
        .iter()
        .find(|r| r["unit"] == "000.00.30.H55" && r["form"] == "II.06")
        .unwrap();
    assert!(
        district["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "commune/_subtotal")
    );

    // A person edits the department's draft: the next push leaves it; an operator may force
    // that one report, with a reason.
    let edit = format!("{base}/_sandbox/reports/central/II.06a/2023-Q3/000.10.00.H55/edit");
    reqwest::blocking::Client::new().post(edit).send().unwrap();
    let third = push(
        &[
            &imported[..],
            &["--unit", "000.10.00.H55", "--form", "II.06a"],
        ]
        .concat(),
    );
    assert!(
        third.contains("edited_by_person") && third.contains("a person changed the draft"),
        "{third}"
    );
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    let upstreams = dir.path().join("upstreams.toml");
    let units = fixture("units.toml");
    let forced = output_with(
        bin()
            .args([
                "force-push",
                "central/II.06a/2023-Q3/000.10.00.H55",
                "--reason",
                "Sở Tư pháp asked for the computed figures",
                "--units",
                units.to_str().unwrap(),
            ])
            .args(client_args(&upstreams, &key, &db)),
        &[0],
    );
    assert!(forced.contains("updated"), "{forced}");
    let after: Vec<Value> = reqwest::blocking::get(format!("{base}/_sandbox/reports"))
        .unwrap()
        .json()
        .unwrap();
    let dept = after
        .iter()
        .find(|r| r["unit"] == "000.10.00.H55" && r["form"] == "II.06a")
        .unwrap();
    assert_eq!(
        (dept["version"].as_u64(), dept["writes"].as_u64()),
        (Some(3), Some(2))
    );
}

/// The text of a DOCX's body, its runs joined.
fn docx_text(path: &std::path::Path) -> String {
    let xml = document_xml(&std::fs::read(path).unwrap());
    // Each paragraph on a line of its own, the tags dropped.
    let xml = xml.replace("</w:p>", "\n");
    let mut text = String::new();
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[test]
fn the_chase_letter_lists_exactly_the_units_whose_reports_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, push) = setup(dir.path());
    let base = &sandbox.base;
    push(&["--accept-stale", "the golden export was imported by hand"]);
    // People act in the central system: Sở 1 sends both its drafts; UBND huyện 1 approves its
    // II.06 and leaves its II.01-ĐC a draft.
    let act = |form: &str, unit: &str, verb: &str| {
        let url = format!("{base}/_sandbox/reports/central/{form}/2023-Q3/{unit}/{verb}");
        let answer = reqwest::blocking::Client::new().post(url).send().unwrap();
        assert!(answer.status().is_success(), "{form} {unit} {verb}");
    };
    for form in ["II.06a", "II.01-ĐC"] {
        for verb in ["approve", "sign", "send"] {
            act(form, "000.10.00.H55", verb);
        }
    }
    act("II.06", "000.00.30.H55", "approve");

    let out = dir.path().join("chase.docx");
    let key = dir.path().join("key");
    let upstreams = dir.path().join("upstreams.toml");
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let units = fixture("units.toml");
    let mut args = vec![
        "letter",
        "chase",
        "--period",
        "2023-Q3",
        "--system",
        "central",
        "--units",
        units.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(client_args(&upstreams, &key, &db));
    output_with(bin().args(&args), &[0]);
    let text = docx_text(&out);

    // Listed: every unit the duties ask reports of (config/duties/quang-ngai-2023.toml: communes,
    // district offices, districts, departments; the fixture's units.toml) but Sở 1, which sent
    // everything — the others have no login here, so their state cannot be read.
    let tree: toml::Value =
        toml::from_str(&std::fs::read_to_string(fixture("units.toml")).unwrap()).unwrap();
    let mut expected: Vec<String> = tree["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            ["commune", "district-office", "district", "department"]
                .contains(&u["kind"].as_str().unwrap())
        })
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .filter(|n| n != "Sở 1")
        .collect();
    expected.sort();
    let mut listed: Vec<String> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("- ")?
                .split_once(", trên ")
                .map(|(u, _)| u.to_owned())
        })
        .collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed, expected, "{text}");
    // How far each got, kept apart: approved but not signed (a district signs), still a draft.
    let district = text
        .lines()
        .find(|l| l.starts_with("- UBND huyện 1, trên"))
        .unwrap();
    assert!(
        district.contains("II.06/VPCP/KSTT (đã duyệt, chưa ký số)"),
        "{district}"
    );
    assert!(
        district.contains("II.01-ĐC/VPCP/KSTT (bản nháp chưa duyệt)"),
        "{district}"
    );
    // A unit without a login is said to have none, not to be late.
    let no_login = text
        .lines()
        .find(|l| l.starts_with("- Sở 2, trên"))
        .unwrap();
    assert!(
        no_login.contains("(chưa có tài khoản của đơn vị để đọc trạng thái)"),
        "{no_login}"
    );
    // Nothing to report is said apart, and the instant the states were read is given.
    assert!(text.contains("- Sở 1: II.05a/VPCP/KSTT"), "{text}");
    assert!(text.contains("(thời điểm đọc trạng thái báo cáo trên các hệ thống)"));
    assert!(text.contains("V/v đôn đốc gửi báo cáo định kỳ quý III"));
}

#[test]
fn a_push_killed_mid_delivery_is_finished_by_the_next_at_once_not_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, push) = setup(dir.path());
    let imported = ["--accept-stale", "the golden export was imported by hand"];
    // Killed right after its first draft was written, before the answer was recorded: that
    // row, and any its worker claimed with it, stay `sending` under the dead process's lease
    // (300 s).
    let killed = push_command(dir.path(), &imported)
        .env("BAOCAO_DRILL_KILL", "deliver:1")
        .output()
        .unwrap();
    assert!(killed.status.code().is_none(), "killed by the drill");
    // `status` says what the row waits for: a gone process's lease.
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let (key, upstreams) = (dir.path().join("key"), dir.path().join("upstreams.toml"));
    let status = output_with(
        bin()
            .args(["status", "--period", "2023-Q3", "--system", "central"])
            .args(["--units", fixture("units.toml").to_str().unwrap()])
            .args(client_args(&upstreams, &key, &db)),
        &[0, 2],
    );
    let sending = status
        .lines()
        .find(|l| l.contains(" sending "))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        sending.contains("held by ") && sending.contains("that process is gone"),
        "{sending}"
    );
    // At once, within that lease: the process is gone, so its row is delivered now (the write
    // replayed under its Idempotency-Key) and nothing is left sending.
    let next = push(&imported);
    assert!(!next.contains("sending"), "{next}");
    let last = next.lines().last().unwrap();
    assert!(
        last.contains("created") || last.contains("unchanged"),
        "{next}"
    );
    let created = last
        .split(", ")
        .filter_map(|part| {
            let (state, n) = part.rsplit_once(' ')?;
            ["created", "unchanged"]
                .contains(&state.trim())
                .then(|| n.parse::<usize>().ok())
                .flatten()
        })
        .sum::<usize>();
    assert_eq!(created, 4, "every draft of a clean push: {next}");
}
