//! The daemon's configuration, black-box through `check-config` and `pull`: the file, then
//! `BAOCAO__SECTION__KEY` variables and the older `BAOCAO_*` ones, then flags; passwords never
//! shown; URLs checked when read; and TLS to the sandbox's own certificate authority, verified,
//! working only when the CA is configured.

mod common;

use common::*;
use std::path::Path;

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/baocao-sync.example.toml")
        .display()
        .to_string()
}

fn check(args: &[&str], env: &[(&str, &str)], codes: &[i32]) -> (String, String) {
    let mut c = bin();
    // The file's [pull] is what counts here, not the test suite's defaults.
    c.env_remove("BAOCAO__PULL__HISTORY_FROM")
        .env_remove("BAOCAO__PULL__WINDOW_DAYS")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check-config")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(codes.contains(&code), "exit {code}\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn layers_resolve_in_order_and_passwords_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    // The file says 4 workers; the environment says 6; a flag names the database.
    let (out, _) = check(
        &["--config", &example(), "--database-url", &db],
        &[("BAOCAO__DELIVERY__WORKERS_PER_SYSTEM", "6")],
        &[0],
    );
    assert!(out.contains("workers_per_system = 6"), "{out}");
    assert!(out.contains(&db), "{out}");
    assert!(out.contains("# configuration OK"), "{out}");
    // The older variable still names the database; a password in it is never printed, not
    // even when the database cannot be reached.
    let url = "postgres://baocao:s3cret-pw@127.0.0.1:1/baocao";
    let out = bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check-config", "--config", &example()])
        .env("BAOCAO_DATABASE_URL", url)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        all.contains("postgres://baocao:***@127.0.0.1:1/baocao"),
        "{all}"
    );
    assert!(!all.contains("s3cret-pw"), "{all}");
}

#[test]
fn mistakes_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let text = std::fs::read_to_string(example()).unwrap();
    // Plain http to a host that is not on loopback.
    std::fs::write(
        &file,
        text.replace(
            "http://127.0.0.1:8700/central/oauth/token",
            "http://reports.example.gov.vn/token",
        ),
    )
    .unwrap();
    let (_, err) = check(&["--config", file.to_str().unwrap()], &[], &[1]);
    assert!(
        err.contains("[central] token_url") && err.contains("https"),
        "{err}"
    );
    // No history_from.
    std::fs::write(&file, text.replace("history_from = \"2022-01-01\"", "")).unwrap();
    let (_, err) = check(&["--config", file.to_str().unwrap()], &[], &[1]);
    assert!(err.contains("history_from"), "{err}");
    // A key that does not exist.
    std::fs::write(&file, text.replace("settle_hours = 6", "settle = 6")).unwrap();
    let (_, err) = check(&["--config", file.to_str().unwrap()], &[], &[1]);
    assert!(err.contains("settle"), "{err}");
}

#[test]
fn tls_to_a_private_ca_is_verified_and_works_once_the_ca_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(fixture("dossiers.ndjson"), data.join("dossiers.ndjson")).unwrap();
    std::fs::write(
        data.join("accounts.toml"),
        "[[clients]]\nsystem = \"source\"\nclient_id = \"lgsp\"\nclient_secret = \"s\"\n",
    )
    .unwrap();
    let tls = dir.path().join("tls");
    let sandbox = Sandbox::spawn_with(&data, &["--tls-dir", tls.to_str().unwrap()]);
    assert!(
        sandbox.base.starts_with("https://127.0.0.1:"),
        "{}",
        sandbox.base
    );
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    init_key(&key);
    creds_set(&db, &key, "source", "*", "lgsp", "s");
    let upstreams = dir.path().join("upstreams.toml");
    let pull = |extra: &str, codes: &[i32]| {
        sandbox_upstreams(&upstreams, &sandbox.base, extra);
        let out = bin()
            .arg("pull")
            .args(client_args(&upstreams, &key, &db))
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(codes.contains(&code), "exit {code}: {all}");
        all
    };
    let untrusted = pull(
        "retry = { max_attempts = 1, backoff_ms = 1, cap_seconds = 1 }\n",
        &[2],
    );
    assert!(untrusted.contains("the pull stopped"), "{untrusted}");
    let ca = tls.join("ca.pem");
    let trusted = pull(&format!("ca_file = \"{}\"\n", ca.display()), &[0]);
    assert!(trusted.starts_with("new 400,"), "{trusted}");
}
