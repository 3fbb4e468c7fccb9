//! Shared helpers for the black-box tests: run the real binary, find the golden fixtures, make a
//! fresh store on either backend.
#![allow(dead_code)]

pub mod proxy;
pub mod sources;
pub mod stores;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ii06a-small")
        .join(name)
}

/// The golden II.06a of 2023-Q3 (expected-II.06a-2023-Q3.json).
pub fn expected_ii06a() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected-II.06a-2023-Q3.json")).unwrap())
        .unwrap()
}

/// Imports the golden dossiers into the store `db` names.
pub fn import_golden(db: &str) {
    output_with(
        bin()
            .args([
                "import",
                "--input",
                fixture("dossiers.ndjson").to_str().unwrap(),
            ])
            .args(["--database-url", db]),
        &[0],
    );
}

/// The II.06a of 2023-Q3 computed from the store `db` names, for the golden units.
pub fn ii06a_from_store(db: &str) -> Value {
    report_json(&[
        "--from-store",
        "--database-url",
        db,
        "--units",
        fixture("units.toml").to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ])
}

/// A file of one of the project's own hand-checked fixtures (tests/fixtures/DIR/NAME).
pub fn own_fixture(dir: &str, name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
        .display()
        .to_string()
}

/// The sandbox's accounts of tests/push.rs and tests/mail.rs: the central system's client, and
/// logins of Sở 1 and UBND huyện 1.
pub const CENTRAL_ACCOUNTS: &str = r#"
[[clients]]
system = "central"
client_id = "baocao-sync"
[[accounts]]
system = "central"
username = "051234567890"
password = "mk-so"
units = ["000.10.00.H55"]
[[accounts]]
system = "central"
username = "051234567891"
password = "mk-huyen"
units = ["000.00.30.H55"]
"#;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baocao-sync"));
    c.env("RUST_LOG", "warn")
        .env_remove("BAOCAO_DATABASE_URL")
        .env_remove("BAOCAO_CONFIG")
        // The pipeline needs to know from when records count (the configuration's
        // [pull] history_from); the golden data starts in 2022. Set through the environment, as
        // an operator may, so every test also exercises that layer.
        .env("BAOCAO__PULL__HISTORY_FROM", "2022-01-01")
        .env("BAOCAO__PULL__WINDOW_DAYS", "400");
    c
}

/// A command's standard output, failing loudly unless it exited with one of `codes`.
pub fn output_with(command: &mut Command, codes: &[i32]) -> String {
    let out = command.output().expect("the binary runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "exit {code} (expected one of {codes:?})\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

/// Runs `report` and parses its JSON, failing loudly on a non-zero exit.
pub fn report_json(args: &[&str]) -> Value {
    let mut full = vec!["report"];
    full.extend_from_slice(args);
    let out = run(&full);
    assert!(
        out.status.success(),
        "report failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report prints JSON")
}

fn all_zero(report: &Value) -> bool {
    report["total"]
        .as_object()
        .is_some_and(|t| t.values().all(|v| v.as_u64() == Some(0)))
}

/// Reports by unit, all-zero ones left out (tools comparing reports ignore them).
pub fn reports_by_unit(doc: &Value) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = doc["reports"]
        .as_array()
        .expect("reports array")
        .iter()
        .filter(|r| !all_zero(r))
        .map(|r| (r["unit"].as_str().expect("unit").to_owned(), r.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The records named by the findings of one code, in the document's order.
pub fn finding_records(doc: &Value, code: &str) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| f["record"].as_str().unwrap().to_owned())
        .collect()
}

/// Writes `records` as `dossiers.ndjson` in `dir`, one per line; its path.
pub fn write_ndjson(dir: &Path, records: &[Value]) -> PathBuf {
    let path = dir.join("dossiers.ndjson");
    let text: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path
}

/// (code, record) of the error findings, in document order.
pub fn error_findings(doc: &Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["record"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts that `got` has exactly the figures and error findings of `expected`: every unit, row,
/// label, value, section, subtotal and total; warnings and all-zero reports are extra and allowed.
pub fn assert_same_figures(expected: &Value, got: &Value) {
    assert_eq!(expected["form"], got["form"]);
    assert_eq!(expected["period"], got["period"]);
    let (e, g) = (reports_by_unit(expected), reports_by_unit(got));
    let units = |v: &[(String, Value)]| v.iter().map(|(u, _)| u.clone()).collect::<Vec<_>>();
    assert_eq!(units(&e), units(&g), "the same units report");
    for ((unit, er), (_, gr)) in e.iter().zip(&g) {
        assert_eq!(er, gr, "report of unit {unit}");
    }
    let (mut ef, gf) = (error_findings(expected), error_findings(got));
    let mut sorted = gf.clone();
    sorted.sort();
    assert_eq!(gf, sorted, "findings sorted by code, then record");
    ef.sort();
    assert_eq!(ef, gf, "error findings by record");
}

/// A `baocao-sync sandbox` serving `data` on a free loopback port; killed when dropped.
pub struct Sandbox {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Sandbox {
    pub fn spawn(data: &Path) -> Sandbox {
        Sandbox::spawn_with(data, &[])
    }

    /// With extra arguments (`--faults FILE`, `--token-seconds N`).
    pub fn spawn_with(data: &Path, extra: &[&str]) -> Sandbox {
        use std::io::BufRead;
        let mut child = bin()
            .args([
                "sandbox",
                "--data",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the sandbox starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("sandbox listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the sandbox says where")
            .to_owned();
        Sandbox { child, base }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An upstreams file naming the sandbox at `base` as all three systems; `extra` ends each section.
pub fn sandbox_upstreams(path: &Path, base: &str, extra: &str) {
    let mut text = String::new();
    for system in ["central", "provincial", "source"] {
        text.push_str(&format!(
            "[{system}]\nbase_url = \"{base}/{system}\"\ntoken_url = \"{base}/{system}/oauth/token\"\n\
             client_id = \"baocao-sync\"\n{extra}"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// The arguments every client command takes: the upstreams file, the vault key and the store.
pub fn client_args<'a>(upstreams: &'a Path, key: &'a Path, db: &'a str) -> [&'a str; 6] {
    [
        "--upstreams",
        upstreams.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--database-url",
        db,
    ]
}

/// `creds init-key`: a new vault key file at `path`.
pub fn init_key(path: &Path) {
    let out = run(&["creds", "init-key", "--out", path.to_str().unwrap()]);
    assert!(out.status.success(), "creds init-key");
}

/// Runs `command` with `input` on its standard input; whether it succeeded.
pub fn with_stdin(command: &mut Command, input: &str) -> bool {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

/// `creds set`, the password on standard input.
pub fn creds_set(db: &str, key: &Path, system: &str, unit: &str, username: &str, password: &str) {
    let mut command = bin();
    command
        .args(["creds", "set", "--system", system, "--unit", unit])
        .args(["--username", username, "--password-stdin"])
        .args(["--key-file", key.to_str().unwrap(), "--database-url", db]);
    assert!(
        with_stdin(&mut command, password),
        "creds set {system} {unit}"
    );
}

/// `RUST_LOG` for the tests that search every log line for secrets: trace level for everything,
/// and by name for the targets that see credentials on the wire — the HTTP client and server
/// libraries, TLS, the OAuth2 client, the database driver — so that no default filter can leave
/// them out.
pub const TRACE_EVERY_TARGET: &str = "trace,baocao_sync=trace,reqwest=trace,hyper=trace,hyper_util=trace,h2=trace,rustls=trace,oauth2=trace,sqlx=trace,axum=trace,tower=trace,tower_http=trace";

/// Asserts a log holds the HTTP libraries' own trace lines (the client's connection pool), so a
/// search of it for secrets covered them.
pub fn assert_http_libraries_traced(log: &str) {
    assert!(
        log.contains("starting new connection") && log.contains("checkout"),
        "the HTTP libraries' trace lines (reqwest, hyper-util) are in the log"
    );
}

/// The body of a Word document: its `word/document.xml`.
pub fn document_xml(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml)
        .unwrap();
    xml
}
