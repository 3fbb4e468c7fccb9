//! Real one-stop systems as sources (../shared/spec/real-sources.md), each against the sandbox
//! serving the same generated dossiers an export holds: the figures pulled through a protocol are
//! the figures of the export, with each protocol's quirks switched on; every quirk is also shown
//! to matter (the same pull without its handling gives other figures, or fails); and a pull gets
//! through a gateway's bad day (30 % of calls failing, login and token endpoints included) on its
//! own.

mod common;

use common::sources::{Province, assert_same_as_export};

/// The national portal's envelope, pulled by reception-day windows from a ministry-style
/// adapter, with the quirks one-stop systems show.
const ENVELOPE: &str = r#"
[[sources]]
name = "dvc"
protocol = "envelope_window"
base_url = "{base}/envelope"
windows = { days = 31 }
retry = { base_ms = 20, cap_seconds = 1, budget_seconds = 120 }

[sources.mapping]
# This system reads "received" as 1 and "refused" as 8 (real-sources.md: swapped 1/2 and 3/8).
status = { "1" = "2", "2" = "1", "3" = "8", "4" = "4", "5" = "5", "6" = "6", "7" = { status = "7", result = "Trả lại/Xin rút" }, "8" = "3", "9" = "9", "10" = "10" }
"#;

const ENVELOPE_QUIRKS: &str =
    "error_codes = \"string\"\nstatus_codes = \"swapped\"\nsoft_lookups = true\n";

#[test]
fn the_envelope_gives_the_figures_of_the_export() {
    let p = Province::new(900, 24, ENVELOPE_QUIRKS, None);
    let config = p.config("envelope", ENVELOPE, &p.sqlite("envelope"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("from `dvc`"), "{out}");

    for form in ["II.06a", "II.06"] {
        assert_same_as_export(
            &p.report_from_export(form),
            &p.report_from_store(&config, form),
        );
    }
}

/// The TOML of one of docs/sources.md's worked examples, verbatim.
fn docs_example(name: &str) -> String {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sources.md")).unwrap();
    let after = text
        .split(&format!("<!-- example:{name} -->"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/sources.md has the example `{name}`"));
    let body = after.split_once("```toml\n").unwrap().1;
    body.split_once("\n```").unwrap().0.to_owned()
}

#[test]
fn igate_configured_with_the_documented_example_gives_the_figures_of_the_export() {
    let p = Province::new(900, 24, "channels = \"reversed\"\nliteral_z = true\n", None);
    // Only the addresses change: the sandbox stands in for the province's iGate and its Keycloak.
    let example = docs_example("igate")
        .replace("https://igate.example.gov.vn", "{base}/igate")
        .replace("https://sso.example.gov.vn/auth", "{base}/igate");
    let config = p.config("igate", &example, &p.sqlite("igate"));
    p.login(&config, "igate", "igate", "demo-igate");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("from `igate`"), "{out}");
    for form in ["II.06a", "II.06"] {
        assert_same_as_export(
            &p.report_from_export(form),
            &p.report_from_store(&config, form),
        );
    }
}

#[test]
fn a_queue_drained_and_acknowledged_gives_the_figures_of_the_export() {
    let p = Province::new(600, 16, "", None);
    let config = p.config(
        "queue",
        &docs_example("ack_queue").replace("https://hotich.example.gov.vn/api", "{base}/queue"),
        &p.sqlite("queue"),
    );
    p.login(&config, "hotich", "hotich", "demo-hotich");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let queue: serde_json::Value = reqwest::blocking::get(format!("{}/_sandbox/queue", p.base()))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        queue["waiting"], 0,
        "every item stored was acknowledged: {queue}"
    );
    assert!(queue["acknowledged"].as_u64().unwrap() > 500, "{queue}");
    for form in ["II.06a", "II.06"] {
        assert_same_as_export(
            &p.report_from_export(form),
            &p.report_from_store(&config, form),
        );
    }
    // A second drain finds nothing and changes nothing.
    let (again, _, code) = p.pull(&config, &[]);
    assert_eq!(code, 0);
    assert!(
        again.starts_with("new 0, updated 0, unchanged 0"),
        "{again}"
    );
}

/// Each quirk of real-sources.md matters: the same pull without its handling gives other figures
/// or fails.
#[test]
fn every_quirk_needs_its_handling() {
    use common::sources::same_figures;
    // The envelope: statuses swapped, units by name, error codes as strings, sessions that expire
    // (the sandbox's clock runs two minutes a call; a session lives five).
    let p = Province::new(
        500,
        16,
        "error_codes = \"string\"\nstatus_codes = \"swapped\"\nsession_seconds = 300\n",
        Some("seconds_per_call = 120\n"),
    );
    let export = p.report_from_export("II.06a");
    let run = |name: &str, sources: &str| {
        let config = p.config(name, sources, &p.sqlite(name));
        p.login(&config, "dvc", "dvc", "demo-dvc");
        let (out, err, code) = p.pull(&config, &[]);
        (config, out, err, code)
    };
    let (config, out, err, code) = run("handled", ENVELOPE);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_same_as_export(&export, &p.report_from_store(&config, "II.06a"));
    let fired: serde_json::Value = reqwest::blocking::get(format!("{}/_sandbox/faults", p.base()))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        fired["session_expired"].as_u64().unwrap_or(0) > 0,
        "sessions expired: {fired}"
    );

    let no_status_table = ENVELOPE.replace("status = {", "# status = {");
    let (config, out, err, code) = run("statuses", &no_status_table);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        !same_figures(&export, &p.report_from_store(&config, "II.06a")),
        "swapped status codes read as they are give other figures"
    );

    let by_code = format!("{ENVELOPE}units = {{ by = [\"code\"] }}\n");
    let (config, _, _, code) = run("units", &by_code);
    assert_eq!(code, 0);
    let got = p.report_from_store(&config, "II.06a");
    assert!(!same_figures(&export, &got), "no unit codes on this path");
    assert!(
        got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "unmapped_value"
                && f["message"].as_str().unwrap().contains("units.by")),
        "each unit that matches nothing is named with the setting to fix"
    );

    let no_relogin = ENVELOPE.replace(
        "[sources.mapping]",
        "[sources.envelope]\nsession_gone_messages = []\n\n[sources.mapping]",
    );
    let (_, out, err, code) = run("sessions", &no_relogin);
    assert_eq!(
        code, 2,
        "an expired session not recognised stops the pull\n{out}\n{err}"
    );
    assert!(err.contains("hết hạn"), "{err}");

    // iGate: channels reversed, local times with a literal Z, 0-based pages with no total.
    let i = Province::new(500, 16, "channels = \"reversed\"\nliteral_z = true\n", None);
    let export = i.report_from_export("II.06a");
    let igate = |name: &str, extra: &str| {
        let sources = format!(
            "[[sources]]\nname = \"igate\"\nprotocol = \"igate\"\nbase_url = \"{{base}}/igate\"\n\
             windows = {{ days = 30, page_size = 7 }}\n{extra}\n\
             [sources.auth]\nkind = \"oauth2_password\"\n\
             token_url = \"{{base}}/igate/realms/digo/protocol/openid-connect/token\"\nclient_id = \"digo\"\n"
        );
        let config = i.config(name, &sources, &i.sqlite(name));
        i.login(&config, "igate", "igate", "demo-igate");
        let (out, err, code) = i.pull(&config, &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        i.report_from_store(&config, "II.06a")
    };
    let mapped = "[sources.mapping]\nlocal_z = true\nchannel = { \"1\" = \"2\", \"2\" = \"1\", \"3\" = \"3\" }\n";
    assert_same_as_export(&export, &igate("paged", mapped));
    let no_channels = "[sources.mapping]\nlocal_z = true\n";
    assert!(
        !same_figures(&export, &igate("channels", no_channels)),
        "reversed channels"
    );
    let no_z = "[sources.mapping]\nchannel = { \"1\" = \"2\", \"2\" = \"1\", \"3\" = \"3\" }\n";
    assert!(
        !same_figures(&export, &igate("z", no_z)),
        "a literal Z on local time"
    );
    let one_based = format!("[sources.igate]\nfirst_page = 1\n{mapped}");
    assert!(
        !same_figures(&export, &igate("pages", &one_based)),
        "pages from 0"
    );
}

/// Dossiers received long ago are read again by key: a change the reception windows no longer
/// see is stored; a dossier the source no longer returns stays, counted as last read, named in a
/// finding. The look-up's success answered as "-3 Thành công" is success.
#[test]
fn open_dossiers_are_read_again_by_key() {
    use common::sources::{change_at_source, dossiers};
    let p = Province::new(500, 16, "soft_lookups = true\n", None);
    let sources = "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\n\
                   base_url = \"{base}/envelope\"\nwindows = { days = 31 }\n";
    let config = p.config("lookups", sources, &p.sqlite("lookups"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Two dossiers still open, received in July: one is resolved, one disappears at the source.
    let all = dossiers(&p);
    let open: Vec<&serde_json::Value> = all
        .iter()
        .filter(|d| {
            matches!(d["TrangThaiHoSo"].as_str(), Some("2" | "4"))
                && d["NgayTiepNhan"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("202307"))
                && d["DaXoa"] != "1"
        })
        .take(2)
        .collect();
    assert_eq!(open.len(), 2);
    let mut resolved = open[0].clone();
    resolved["TrangThaiHoSo"] = "10".into();
    resolved["NgayKetThucXuLy"] = "20230810100000".into();
    resolved["CapNhatLuc"] = "20230810100000".into();
    let mut deleted = open[1].clone();
    deleted["DaXoa"] = "1".into();
    change_at_source(&p, &[resolved.clone(), deleted]);
    // Seven hours on: the reception windows re-read are August's only; the look-ups are due.
    let (out, err, code) = p.pull_at(&config, "2023-11-01T14:30:00+07:00", &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("open dossiers read again (1 no longer returned)"),
        "{out}"
    );
    // The export with the resolved dossier as the source has it now; the deleted one is kept as
    // last read, so the export keeps it too.
    let changed = p.dir.path().join("changed.ndjson");
    let text: String = all
        .iter()
        .map(|d| {
            if d["MaHoSo"] == resolved["MaHoSo"] {
                &resolved
            } else {
                d
            }
        })
        .map(|d| format!("{d}\n"))
        .collect();
    std::fs::write(&changed, text).unwrap();
    let got = p.report_from_store(&config, "II.06a");
    assert_same_as_export(&p.report_from_file(&changed, "II.06a"), &got);
    let gone = open[1]["MaHoSo"].as_str().unwrap();
    assert!(
        got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "missing_at_source" && f["record"] == gone),
        "the dossier the source no longer returns is named"
    );
    // Without reading "-3 Thành công" as success, the look-ups stop the pull.
    let strict = format!("{sources}[sources.envelope]\nsoft_codes = []\n");
    let config = p.config("strict", &strict, &p.sqlite("strict"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let (_, _, code) = p.pull(&config, &[]);
    assert_eq!(code, 0);
    let (out, err, code) = p.pull_at(&config, "2023-11-01T14:30:00+07:00", &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("-3"), "{err}");
}

/// Under 30 % of calls failing (APIs, logins and token endpoints alike), the first pull of every
/// protocol ends complete on its own: retries go by time, not by count.
#[test]
fn a_gateways_bad_day_ends_in_a_complete_first_pull() {
    let p = Province::new(400, 12, "", Some("transient_rate = 0.3\nseed = 7\n"));
    let fast = "retry = { base_ms = 10, cap_seconds = 1, budget_seconds = 300 }";
    let sources = format!(
        "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"{{base}}/envelope\"\n\
         windows = {{ days = 31 }}\nprecedence = 1\n{fast}\n\n\
         [[sources]]\nname = \"igate\"\nprotocol = \"igate\"\nbase_url = \"{{base}}/igate\"\n\
         windows = {{ days = 31, page_size = 20 }}\nprecedence = 2\n{fast}\n\
         [sources.auth]\nkind = \"oauth2_password\"\n\
         token_url = \"{{base}}/igate/realms/digo/protocol/openid-connect/token\"\nclient_id = \"digo\"\n\n\
         [[sources]]\nname = \"hotich\"\nprotocol = \"ack_queue\"\nbase_url = \"{{base}}/queue\"\nprecedence = 3\n{fast}\n\n\
         [[sources]]\nname = \"lgsp\"\nprotocol = \"baocao\"\nbase_url = \"{{base}}/source\"\n\
         windows = {{ days = 60 }}\nprecedence = 4\n{fast}\n\
         [sources.auth]\nkind = \"oauth2_client_credentials\"\ntoken_url = \"{{base}}/source/oauth/token\"\n"
    );
    let config = p.config("faults", &sources, &p.sqlite("faults"));
    for (source, user, password) in [
        ("dvc", "dvc", "demo-dvc"),
        ("igate", "igate", "demo-igate"),
        ("hotich", "hotich", "demo-hotich"),
        ("lgsp", "lgsp", "demo-lgsp"),
    ] {
        p.login(&config, source, user, password);
    }
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    for source in ["dvc", "igate", "hotich", "lgsp"] {
        assert!(out.contains(&format!("from `{source}`")), "{out}");
    }
    let fired: serde_json::Value = reqwest::blocking::get(format!("{}/_sandbox/faults", p.base()))
        .unwrap()
        .json()
        .unwrap();
    assert!(fired["transient_rate"].as_u64().unwrap() > 50, "{fired}");
    // Four sources sent the same dossiers: each counts once, from the first by precedence.
    let got = p.report_from_store(&config, "II.06a");
    assert_same_as_export(&p.report_from_export("II.06a"), &got);
    assert!(
        got["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "duplicate_record"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .contains("from source `dvc` and from `igate`")),
        "the other copies are named"
    );
}

/// `check-config --probe-source` reads a window, stores nothing, and names every value its tables
/// do not map.
#[test]
fn the_probe_names_every_value_no_table_maps() {
    use common::sources::dossiers;
    let p = Province::new(500, 16, "", None);
    // A status table without 10, a channel table without 3 (and 4, which one dossier in a
    // hundred carries); units by name, and one unit code the tree does not hold.
    let sources = "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"{base}/envelope\"\n\
                   [sources.mapping]\nstatus = { \"1\" = \"1\", \"2\" = \"2\", \"3\" = \"3\", \"4\" = \"4\", \"5\" = \"5\", \"6\" = \"6\", \"7\" = \"7\", \"8\" = \"8\", \"9\" = \"9\" }\n\
                   channel = { \"1\" = \"1\", \"2\" = \"2\" }\n";
    let config = p.config("probe", sources, &p.sqlite("probe"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let out = common::bin()
        .args([
            "check-config",
            "--probe-source",
            "dvc",
            "--window",
            "2023-06-15..2023-09-14",
        ])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the window holds, from the export itself.
    let in_window: Vec<serde_json::Value> = dossiers(&p)
        .into_iter()
        .filter(|d| d["DaXoa"] != "1")
        .filter(|d| {
            d["NgayTiepNhan"]
                .as_str()
                .is_some_and(|t| ("20230615".."20230915").contains(&&t[..8.min(t.len())]))
        })
        .collect();
    let has = |field: &str, value: &str| in_window.iter().any(|d| d[field] == value);
    assert!(has("TrangThaiHoSo", "10") && has("KenhThucHien", "3"));
    let mut expected = vec![
        "TrangThaiHoSo `10`".to_owned(),
        "KenhThucHien `3`".to_owned(),
    ];
    if has("KenhThucHien", "4") {
        expected.push("KenhThucHien `4`".to_owned());
    }
    if has("MaDonViXuLy", "000.99.99.H55") {
        expected.push("MaDonViXuLy `Đơn vị 000.99.99.H55`".to_owned());
    }
    for value in &expected {
        assert!(text.contains(value.as_str()), "{value} is named:\n{text}");
    }
    assert!(text.contains("sources.dvc.mapping.status.\"10\""), "{text}");
    assert!(text.contains("sources.dvc.mapping.channel.\"3\""), "{text}");
    assert!(text.contains("nothing was stored"), "{text}");
    let stored = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use baocao_sync::store::Store;
        let store = baocao_sync::store::open(&p.sqlite("probe")).await.unwrap();
        store
            .sources(baocao_sync::domain::RecordKind::Dossier)
            .await
            .unwrap()
    });
    assert!(stored.is_empty(), "the probe stores nothing: {stored:?}");
}

/// The whole pipeline on a real protocol: a period waits until every dossier still open at the
/// source has been read again after its records settled, then its drafts go out.
#[test]
fn a_period_waits_for_its_open_dossiers_to_be_read_again() {
    let p = Province::new(400, 12, "", None);
    let sources = |per_pull: &str| {
        format!(
            "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"{{base}}/envelope\"\n\
             windows = {{ days = 31 }}\nlookups = {{ per_second = 1000, {per_pull} }}\n"
        )
    };
    let db = p.sqlite("pipeline");
    let config = p.sync_config("pipeline", &sources("per_pull = 5"), &db);
    // `creds check` tries the source's login with the units'.
    let check = |config: &std::path::Path| {
        let out = common::bin()
            .args(["creds", "check", "--config"])
            .arg(config)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let checked = check(&config);
    assert!(checked.contains("0 to chase"), "{checked}");
    p.login(&config, "dvc", "dvc", "not-the-password");
    let checked = check(&config);
    assert!(
        checked
            .lines()
            .any(|l| l.starts_with("dvc") && l.contains("login fails")),
        "{checked}"
    );
    p.login(&config, "dvc", "dvc", "demo-dvc");
    // Pulled before the cut-off: many dossiers are still open.
    let (out, err, code) = p.pull_at(&config, "2023-09-13T12:00:00+07:00", &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The pre-fill reads them again by key, five a pull here: not all of them.
    let (out, err, code) = p.sync(&config, common::sources::NOW);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("still open at `dvc` were last read before"),
        "{out}"
    );
    // Ten minutes' worth a pull (the default): every one is read, the gate opens, drafts go out.
    let config = p.sync_config("pipeline", &sources("parallel = 4"), &db);
    let (out, err, code) = p.sync(&config, "2023-11-01T08:30:00+07:00");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("created"), "{out}");
    assert_same_as_export(
        &p.report_from_export("II.06a"),
        &p.report_from_store(&config, "II.06a"),
    );
}

/// `demo --source` runs the daemon end to end on each protocol.
#[test]
fn the_demo_runs_on_every_protocol() {
    use std::io::BufRead;
    for source in ["envelope_window", "igate", "receiver"] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = common::bin()
            .args(["demo", "--source", source, "--dir"])
            .arg(dir.path().join("demo"))
            .args([
                "--units",
                "12",
                "--dossiers",
                "600",
                "--ratings",
                "120",
                "--feedback",
                "60",
            ])
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut summary = None;
        for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if line.contains(" reports for ") {
                summary = Some(line.clone());
            }
            if line.starts_with("press Ctrl-C") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let summary = summary.unwrap_or_else(|| panic!("{source}: the demo settled"));
        assert!(summary.contains("created"), "{source}: {summary}");
        assert!(
            !summary.contains("waiting_for_source") && !summary.contains("retrying"),
            "{source}: {summary}"
        );
    }
}

/// Every kind of authentication reaches what it fronts: the envelope's session login with a
/// `dstcode`, behind a WSO2 gateway and behind VNPT's LGSP; iGate's OpenID Connect client
/// credentials, and its password grant while tokens wear out.
#[test]
fn every_authentication_kind_gets_in() {
    let envelope = |gateway: &str| {
        format!(
            "[[sources]]\nname = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"{{base}}/envelope\"\n\
             windows = {{ days = 62 }}\nretry = {{ base_ms = 10, cap_seconds = 1, budget_seconds = 5 }}\n\
             [sources.auth]\nkind = \"login\"\ndstcode = \"H55\"\nheaders = {{ SENDER_CODE = \"BAOCAO\" }}\n{gateway}"
        )
    };
    for (gateway, section, login) in [
        (
            "wso2",
            "[sources.auth.gateway]\nkind = \"wso2\"\ntoken_url = \"{base}/lgsp/token\"\n",
            ("lgsp-gw", "demo-gw"),
        ),
        (
            "vnpt",
            "[sources.auth.gateway]\nkind = \"vnpt_lgsp\"\ntoken_url = \"{base}/vnpt/token\"\n\
             lgsp = { app_name = \"baocao-sync\", partner_code = \"H55\", partner_code_cus = \"H55\" }\n",
            ("vnpt-ak", "demo-sk"),
        ),
    ] {
        let p = Province::new(
            200,
            8,
            &format!("gateway = \"{gateway}\"\ndstcode = \"H55\"\n"),
            None,
        );
        let config = p.config(gateway, &envelope(section), &p.sqlite(gateway));
        p.login(&config, "dvc", "dvc", "demo-dvc");
        p.login(&config, "dvc:gateway", login.0, login.1);
        let (out, err, code) = p.pull(&config, &[]);
        assert_eq!(code, 0, "{gateway}: {out}\n{err}");
        assert_same_as_export(
            &p.report_from_export("II.06a"),
            &p.report_from_store(&config, "II.06a"),
        );
        // Without the gateway's token, nothing gets through.
        let bare = p.config(
            &format!("{gateway}-bare"),
            &envelope(""),
            &p.sqlite(&format!("{gateway}-bare")),
        );
        p.login(&bare, "dvc", "dvc", "demo-dvc");
        let (_, err, code) = p.pull(&bare, &[]);
        assert_eq!(code, 2, "{gateway}: refused without the gateway\n{err}");
    }
    // The dstcode is checked.
    let p = Province::new(
        200,
        8,
        "dstcode = \"H55\"\n",
        Some("seconds_per_call = 30\n"),
    );
    let wrong = envelope("").replace("dstcode = \"H55\"", "dstcode = \"H56\"");
    let config = p.config("dstcode", &wrong, &p.sqlite("dstcode"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let (_, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dstcode"), "{err}");
    // iGate: client credentials, and the password grant with tokens that wear out (the sandbox's
    // clock runs thirty seconds a call; a token lives an hour of it: 120 calls).
    let igate = |auth: &str| {
        format!(
            "[[sources]]\nname = \"igate\"\nprotocol = \"igate\"\nbase_url = \"{{base}}/igate\"\n\
             windows = {{ days = 62, page_size = 9 }}\n[sources.auth]\n{auth}\n\
             token_url = \"{{base}}/igate/realms/digo/protocol/openid-connect/token\"\n"
        )
    };
    let p = Province::new(200, 8, "", Some("seconds_per_call = 30\n"));
    let config = p.config(
        "client",
        &igate("kind = \"oauth2_client_credentials\""),
        &p.sqlite("client"),
    );
    p.login(&config, "igate", "baocao-svc", "demo-svc");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_same_as_export(
        &p.report_from_export("II.06a"),
        &p.report_from_store(&config, "II.06a"),
    );
    let config = p.config(
        "password",
        &igate("kind = \"oauth2_password\"\nclient_id = \"digo\""),
        &p.sqlite("password"),
    );
    p.login(&config, "igate", "igate", "demo-igate");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_same_as_export(
        &p.report_from_export("II.06a"),
        &p.report_from_store(&config, "II.06a"),
    );
    let fired: serde_json::Value = reqwest::blocking::get(format!("{}/_sandbox/faults", p.base()))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        fired["token_refused"].as_u64().unwrap_or(0) > 0,
        "tokens wore out: {fired}"
    );
}
