//! The operator's face, black-box through `demo` (a small generated province, the sandbox, the
//! daemon with its admin HTTP, pre-filling the last ended quarter):
//! - every route but /healthz and /readyz answers 401 without a session or token, or with a
//!   wrong one; /metrics parses as Prometheus text and its counters move with a sync;
//! - no password, token or full citizen-ID number appears in the pages, the API's answers, the
//!   audit, or any line the demo logged at trace level (every target, the HTTP libraries' too);
//! - a browser (Debian's chromium, headless, driven over CDP) signs in, finds every unit in the
//!   grid, opens a unit from a cell and the dossiers behind a figure, as many as the figure says;
//!   screenshots land in target/browser-screenshots/.
//!
//! `BAOCAO_TEST_DEMO=full cargo test --test admin` runs them all after a full-size demo.

mod common;

use baocao_sync::admin::{Access, ROUTES};
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// A running `demo`: where its page is, its period, the operator's token, its folder.
struct Demo {
    child: Child,
    base: String,
    period: String,
    token: String,
    /// The demo's configuration file (its upstreams are the sandbox's).
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl Demo {
    fn start(log: &str) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("province");
        // BAOCAO_TEST_DEMO=full runs these tests after the demo at its own size (200 units, the
        // generator's full data set), as the security review asks; CI runs the small one.
        let size: &[&str] = if std::env::var("BAOCAO_TEST_DEMO").as_deref() == Ok("full") {
            &[]
        } else {
            &[
                "--units",
                "12",
                "--dossiers",
                "1500",
                "--ratings",
                "300",
                "--feedback",
                "200",
            ]
        };
        let mut child = bin()
            .env("RUST_LOG", log)
            .args(["demo", "--dir", folder.to_str().unwrap()])
            .args(size)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("demo.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut page, mut token_file, mut config) = (None, None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("status page: ") {
                page = Some(p.to_owned());
            }
            if let Some(p) = line.strip_prefix("operator token: ") {
                token_file = Some(PathBuf::from(p));
            }
            if let Some(p) = line.strip_prefix("configuration: ") {
                config = p.split(" (").next().map(PathBuf::from);
            }
            if line.starts_with("press Ctrl-C") {
                break;
            }
        }
        // Keep reading standard output so the demo never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let page = page.expect("the demo prints its page");
        let (base, period) = page.rsplit_once("/periods/").unwrap();
        let token = std::fs::read_to_string(token_file.expect("and its token file"))
            .unwrap()
            .trim()
            .to_owned();
        Demo {
            child,
            base: base.to_owned(),
            period: period.to_owned(),
            token,
            config: config.expect("and its configuration"),
            dir,
        }
    }

    fn units(&self) -> Vec<(String, String)> {
        let text =
            std::fs::read_to_string(self.dir.path().join("province/data/units.toml")).unwrap();
        let tree: toml::Value = toml::from_str(&text).unwrap();
        tree["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["code"].as_str().unwrap().to_owned(),
                    u["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn client(&self) -> reqwest::blocking::Client {
        Demo::client_from([127, 0, 0, 1])
    }

    /// A client whose connections come from `address` (any of 127.0.0.0/8 reaches loopback):
    /// sign-in failures are counted per address, so a test's wrong tokens come from elsewhere
    /// than the operator's right ones.
    fn client_from(address: [u8; 4]) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from(address))
            .build()
            .unwrap()
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .unwrap()
    }

    /// Signs the operator in at /login: the session's `Cookie` header value.
    fn sign_in(&self, client: &reqwest::blocking::Client) -> String {
        let signed = client
            .post(format!("{}/login", self.base))
            .form(&[("token", self.token.as_str())])
            .send()
            .unwrap();
        assert_eq!(signed.status(), 303);
        signed.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// Stops the demo (SIGTERM) and returns everything it logged.
    fn stop(mut self) -> String {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the demo stops cleanly");
        std::fs::read_to_string(self.dir.path().join("demo.log")).unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every route of the admin HTTP's route table (`admin::ROUTES`, the list the router is built
/// from), its placeholders filled: (method, path, who may use it).
fn routes(d: &Demo) -> Vec<(&'static str, String, Access)> {
    let unit = "000.10.00.H55";
    ROUTES
        .iter()
        .map(|(method, path, access)| {
            let mut filled = path
                .replace("{period}", &d.period)
                .replace("{unit}", unit)
                .replace("{id}", "1")
                .replace("{file}", "II.06a.xlsx")
                .replace("{name}", "khong-co-ai")
                .replace("{token}", "khong-phai-duong-dan");
            if path.ends_with("/explain") {
                filled.push_str("?form=II.06a&row=_total&column=3");
                if path.starts_with("/api/") {
                    filled.push_str(&format!("&unit={unit}"));
                }
            }
            let method = if *method == "get" { "GET" } else { "POST" };
            (method, filled, *access)
        })
        .collect()
}

/// Prometheus text: `# HELP`/`# TYPE` lines, and samples `name{labels} value`.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('#') {
            let word = rest.split_whitespace().next().unwrap_or("");
            assert!(["HELP", "TYPE"].contains(&word), "{line}");
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let bare = name.split('{').next().unwrap();
        assert!(
            bare.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = name.strip_prefix(bare) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        out.push((name.to_owned(), value));
    }
    out
}

fn sum(metrics: &[(String, f64)], prefix: &str) -> f64 {
    metrics
        .iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn only_operators_get_in_and_metrics_move_with_a_sync() {
    let d = Demo::start("info");
    let client = d.client();
    let stranger = Demo::client_from([127, 0, 0, 2]);
    // Anyone reaches the open routes and the sign-in form.
    for (method, path, access) in routes(&d) {
        let url = format!("{}{path}", d.base);
        let status = match (access, method) {
            (Access::Operator | Access::Reader, _) => continue,
            (_, "GET") => client.get(&url).send().unwrap().status(),
            (_, _) if path == "/login" => client
                .post(&url)
                .form(&[("token", d.token.as_str())])
                .send()
                .unwrap()
                .status(),
            // A link that was never issued: reached, and answered that it cannot be used.
            (_, _) if path.starts_with("/welcome/") => client
                .post(&url)
                .form(&[
                    ("password", "mat-khau-du-dai"),
                    ("again", "mat-khau-du-dai"),
                ])
                .send()
                .unwrap()
                .status(),
            _ => panic!("{method} {path}: an open route the test does not know how to try"),
        };
        assert!(
            status == 200 || status == 303 || status == 410,
            "{method} {path}: {status}"
        );
    }
    let guarded: Vec<(&str, String)> = routes(&d)
        .into_iter()
        .filter(|(_, _, access)| matches!(access, Access::Operator | Access::Reader))
        .map(|(method, path, _)| (method, path))
        .collect();
    assert!(guarded.len() >= 15, "{guarded:?}");
    for (method, path) in guarded.iter().cloned() {
        let url = format!("{}{path}", d.base);
        let request = |r: reqwest::blocking::RequestBuilder| r.send().unwrap().status();
        let from = |c: &reqwest::blocking::Client| match method {
            "GET" => c.get(&url),
            _ => c.post(&url).json(&serde_json::json!({"period": d.period})),
        };
        let build = || from(&client);
        assert_eq!(request(build()), 401, "{method} {path} without anything");
        // Wrong tokens come from another address: after five, that address is made to wait.
        let wrong = request(from(&stranger).bearer_auth("not-a-token"));
        assert!(
            wrong == 401 || wrong == 429,
            "{method} {path}, wrong token: {wrong}"
        );
        assert_eq!(
            request(build().header("Cookie", "baocao_session=forged")),
            401,
            "{method} {path}, forged session"
        );
    }
    // The operator gets in.
    let status: Value = d
        .get(&format!("/api/periods/{}/status", d.period))
        .json()
        .unwrap();
    let reports = status["reports"].as_array().unwrap();
    assert!(reports.iter().all(|r| r["state"] == "created"), "{status}");
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` gets in as `Bearer` does.
    for scheme in ["bearer", "BEARER"] {
        let r = client
            .get(format!("{}/api/periods/{}/status", d.base, d.period))
            .header("Authorization", format!("{scheme} {}", d.token))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "Authorization: {scheme} …");
    }
    // A NUL in a unit's path is not echoed raw into the page.
    let page = d.get(&format!("/periods/{}/units/000.10%00.H55", d.period));
    assert_eq!(page.status(), 404);
    let page = page.text().unwrap();
    assert!(
        !page.contains('\0') && page.contains("000.10\u{FFFD}.H55"),
        "{page}"
    );
    // Signing in from a page asked for lands on it; never on another site.
    let asked = format!("/periods/{}/units/000.10.00.H55", d.period);
    let form = client.get(format!("{}{asked}", d.base)).send().unwrap();
    assert_eq!(form.status(), 401);
    let form = form.text().unwrap();
    assert!(
        form.contains(&format!(r#"name="next" value="{asked}""#)),
        "{form}"
    );
    for (next, lands) in [(asked.as_str(), asked.as_str()), ("//evil.example/", "/")] {
        let signed = client
            .post(format!("{}/login", d.base))
            .form(&[("token", d.token.as_str()), ("next", next)])
            .send()
            .unwrap();
        assert_eq!(signed.status(), 303);
        assert_eq!(signed.headers()["location"], lands, "next={next}");
    }
    // A period that has not ended is refused, and nothing is queued for it.
    let refused = client
        .post(format!("{}/api/sync", d.base))
        .bearer_auth(&d.token)
        .json(&serde_json::json!({"period": "2099-Q1"}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().unwrap();
    assert_eq!(refused["error_code"], "period_not_ended", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("chưa kết thúc"),
        "{refused}"
    );
    let queued: Value = d.get("/api/outbox").json().unwrap();
    assert!(
        !queued.to_string().contains("2099-Q1"),
        "nothing queued for 2099-Q1: {queued}"
    );

    let before = parse_metrics(&d.get("/metrics").text().unwrap());
    assert!(sum(&before, "baocao_records_pulled_total") > 0.0);
    assert!(sum(&before, "baocao_upstream_request_seconds_count") > 0.0);
    assert!(sum(&before, "baocao_logins_total") > 0.0);
    assert_eq!(
        sum(
            &before,
            &format!(
                "baocao_outbox_reports{{state=\"created\",period=\"{}\"}}",
                d.period
            )
        ),
        reports.len() as f64
    );
    // Every metric has its HELP line; latency is a histogram (no quantile reads 0 when idle);
    // the read-back's expected 404 before each create is not counted as a 4xx.
    let text = d.get("/metrics").text().unwrap();
    for name in [
        "baocao_records_pulled_total",
        "baocao_upstream_requests_total",
        "baocao_upstream_request_seconds",
        "baocao_logins_total",
        "baocao_outbox_reports",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "HELP of {name}:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE baocao_upstream_request_seconds histogram"),
        "{text}"
    );
    assert!(!text.contains("quantile="), "{text}");
    assert!(
        sum(
            &before,
            "baocao_upstream_requests_total{system=\"central\",class=\"absent\"}"
        ) > 0.0,
        "{text}"
    );
    assert_eq!(
        sum(
            &before,
            "baocao_upstream_requests_total{system=\"central\",class=\"4xx\"}"
        ),
        0.0,
        "{text}"
    );
    // A sync of one unit: every one of its drafts is verified again by the workers.
    let answer: Value = client
        .post(format!("{}/api/sync", d.base))
        .bearer_auth(&d.token)
        .json(&serde_json::json!({"period": d.period, "unit": "000.10.00.H55"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(answer["gate"].as_array().unwrap().is_empty(), "{answer}");
    let deliveries = |m: &[(String, f64)]| sum(m, "baocao_deliveries_total");
    let started = std::time::Instant::now();
    loop {
        let now = parse_metrics(&d.get("/metrics").text().unwrap());
        if deliveries(&now) >= deliveries(&before) + 6.0 {
            assert!(
                sum(&now, "baocao_upstream_requests_total")
                    > sum(&before, "baocao_upstream_requests_total")
            );
            break;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the deliveries counter moves"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // "Đồng bộ lại" from a unit's page comes back to it saying when the sync ended.
    let cookie = d.sign_in(&client);
    let page = client
        .get(format!("{}{asked}", d.base))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the unit page offers \"Đồng bộ lại\"")
        .to_owned();
    let back = client
        .post(format!("{}{asked}/sync", d.base))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{asked}?synced=")),
        "{location}"
    );
    let page = client
        .get(format!("{}{location}", d.base))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains(r#"id="synced""#) && page.contains("xong lúc"),
        "{page}"
    );
    let runs: Value = d.get("/api/runs").json().unwrap();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["actor"] == "operator:demo")
    );
    // The operator may use every route of the table.
    for (method, path) in &guarded {
        let url = format!("{}{path}", d.base);
        let answer = match *method {
            "GET" => client.get(&url),
            _ if path.starts_with("/api/") => client
                .post(&url)
                .json(&serde_json::json!({"period": d.period})),
            _ => client.post(&url).form(&[("reason", "")]),
        }
        .bearer_auth(&d.token)
        .send()
        .unwrap();
        let status = answer.status().as_u16();
        let body = answer.text().unwrap();
        assert!(
            ![401, 403, 405].contains(&status) && (status != 404 || body.contains("error_code")),
            "{method} {path} as the operator: {status} {body}"
        );
    }
    d.stop();
}

#[test]
fn no_secret_in_pages_answers_audit_or_trace_logs() {
    let d = Demo::start(TRACE_EVERY_TARGET);
    let units = d.units();
    let mut seen = String::new();
    for path in [
        format!("/periods/{}", d.period),
        format!("/periods/{}/units/{}", d.period, units[1].0),
        format!("/api/periods/{}/status", d.period),
        "/api/audit?limit=1000".to_owned(),
        "/api/outbox".to_owned(),
        "/api/runs".to_owned(),
        "/metrics".to_owned(),
    ] {
        seen.push_str(&d.get(&path).text().unwrap());
    }
    let token = d.token.clone();
    let store = d.dir.path().join("province/baocao-sync.db");
    let log = d.stop();
    assert!(log.contains("TRACE"), "the demo logged at trace level");
    assert_http_libraries_traced(&log);
    // The audit table itself, read from the store.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let audit = rt.block_on(async {
        use baocao_sync::store::Store;
        let s = baocao_sync::store::open(&format!("sqlite://{}", store.display()))
            .await
            .unwrap();
        format!("{:?}", s.audit(None, None, 100_000).await.unwrap())
    });
    let everything = format!("{seen}\n{audit}\n{log}");
    let mut secrets = vec![
        token,
        "demo-lgsp".to_owned(),
        "sandbox-central-access".to_owned(),
        "sandbox-provincial-access".to_owned(),
        "sandbox-source-access".to_owned(),
        "sandbox-central-refresh".to_owned(),
        "sandbox-provincial-refresh".to_owned(),
    ];
    for n in 0..units.len() {
        secrets.push(format!("0990000{n:05}"));
    }
    for s in &secrets {
        assert!(!everything.contains(s.as_str()), "`{s}` leaked");
    }
    // Unit passwords are demo-N: never followed by a digit-free boundary in any output.
    for n in 0..units.len() {
        let p = format!("demo-{n}");
        for (i, _) in everything.match_indices(&p) {
            let next = everything[i + p.len()..].chars().next();
            assert!(
                next.is_some_and(|c| c.is_ascii_digit()),
                "password `{p}` leaked"
            );
        }
    }
}

#[test]
fn wrong_tokens_make_their_address_wait_and_are_logged_counted_and_audited() {
    let d = Demo::start("info");
    let guesser = Demo::client_from([127, 0, 0, 3]);
    let login = |c: &reqwest::blocking::Client, token: &str| {
        c.post(format!("{}/login", d.base))
            .form(&[("token", token)])
            .send()
            .unwrap()
    };
    for n in 1..=5 {
        assert_eq!(login(&guesser, "guess").status(), 401, "wrong token {n}");
    }
    // The sixth try is not even checked: the right token waits too, with Retry-After.
    let held = login(&guesser, &d.token);
    assert_eq!(held.status(), 429);
    let wait: i64 = held.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    assert!(
        held.text()
            .unwrap()
            .contains("nhập sai mã truy cập nhiều lần")
    );
    let api = guesser
        .get(format!("{}/api/runs", d.base))
        .bearer_auth(&d.token)
        .send()
        .unwrap();
    assert_eq!(
        api.status(),
        429,
        "a Bearer token from that address waits too"
    );
    // Another address is not kept out by those failures.
    assert_eq!(login(&d.client(), &d.token).status(), 303);
    let metrics = parse_metrics(&d.get("/metrics").text().unwrap());
    assert_eq!(
        sum(
            &metrics,
            "baocao_admin_sign_in_failures_total{outcome=\"wrong\"}"
        ),
        5.0
    );
    assert!(
        sum(
            &metrics,
            "baocao_admin_sign_in_failures_total{outcome=\"throttled\"}"
        ) >= 2.0
    );
    let audit: Value = d.get("/api/audit").json().unwrap();
    let lockouts: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "sign_in_lockout")
        .collect();
    assert_eq!(lockouts.len(), 1, "{audit}");
    assert_eq!(lockouts[0]["actor"], "address:127.0.0.3");
    let log = d.stop();
    assert_eq!(
        log.matches("admin sign-in refused: wrong token").count(),
        5,
        "each failure is logged"
    );
    assert!(log.contains("127.0.0.3"));
}

#[test]
fn the_pages_show_what_was_mailed_to_whom_and_an_operator_stops_an_address() {
    let d = Demo::start("info");
    let client = d.client();
    let p = d.period.clone();
    // The demo gives every unit an address, the first commune one more that the sandbox's mail
    // server refuses (550); "drafts ready" goes after the pre-fill.
    let units = d.units();
    let commune = units
        .iter()
        .find(|(_, k)| k == "commune")
        .unwrap()
        .0
        .clone();
    let mut period_page = String::new();
    for _ in 0..120 {
        period_page = d.get(&format!("/periods/{p}")).text().unwrap();
        let sent = period_page.matches(r#"data-state="sent""#).count();
        if sent == units.len() && period_page.contains(r#"data-state="failed""#) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(
        period_page.matches(r#"data-state="sent""#).count(),
        units.len(),
        "one message sent per unit's address: {period_page}"
    );
    // What the sandbox's server received: one message per sent row.
    let received = std::fs::read_dir(d.dir.path().join("province/mail"))
        .unwrap()
        .count();
    assert_eq!(received, units.len());
    // The refused address, given up with the server's reason, on the period's page and the
    // commune's.
    let failed = period_page
        .split(r#"data-state="failed""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap();
    assert!(failed.contains("khong-ton-tai@demo.example.vn"), "{failed}");
    assert!(failed.contains("không gửi được"), "{failed}");
    assert!(failed.contains("550"), "{failed}");
    let cookie = d.sign_in(&client);
    let unit_page = |client: &reqwest::blocking::Client| {
        client
            .get(format!("{}/periods/{p}/units/{commune}", d.base))
            .header("Cookie", &cookie)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let page = unit_page(&client);
    let section = page.split(r#"id="mail""#).nth(1).expect("a mail section");
    assert!(section.contains("Bản nháp đã sẵn sàng"), "{section}");
    assert!(section.contains("550"), "{section}");
    // The operator stops mail to the refused address from the page; it is audited.
    let csrf = section
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let opt_out = |address: &str| {
        client
            .post(format!(
                "{}/periods/{p}/units/{commune}/mail/opt-out",
                d.base
            ))
            .header("Cookie", &cookie)
            .form(&[("csrf", csrf.as_str()), ("address", address), ("out", "1")])
            .send()
            .unwrap()
            .status()
    };
    let stopped = opt_out("khong-ton-tai@demo.example.vn");
    assert_eq!(stopped, 303);
    let page = unit_page(&client);
    let contacts = page
        .split(r#"id="contacts""#)
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    let row = contacts
        .split("<tr>")
        .find(|r| r.contains("khong-ton-tai@demo.example.vn"))
        .unwrap();
    assert!(row.contains("Đã ngừng nhận thư"), "{row}");
    assert!(row.contains("Nhận thư trở lại"), "{row}");
    let audit = d.get("/api/audit").text().unwrap();
    assert!(audit.contains("mail_opt_out"), "{audit}");
    // An address that is not the unit's is refused.
    let refused = opt_out("ai-do@example.vn");
    assert_eq!(refused, 422);
}

#[test]
fn a_viewer_signs_in_with_a_one_time_link_and_sees_only_their_unit() {
    let d = Demo::start("info");
    let client = d.client();
    let p = d.period.clone();
    let units = d.units();
    let communes: Vec<&str> = units
        .iter()
        .filter(|(_, k)| k == "commune")
        .map(|(c, _)| c.as_str())
        .collect();
    let province = units
        .iter()
        .find(|(_, k)| k == "province")
        .unwrap()
        .0
        .clone();
    let (mine, other) = (communes[0], communes[1]);
    let unit_url = |code: &str| format!("/periods/{p}/units/{code}");
    // The operator gives an official of the commune a one-time link from its page.
    let cookie = d.sign_in(&client);
    let as_operator = |path: &str| {
        client
            .get(format!("{}{path}", d.base))
            .header("Cookie", &cookie)
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let page = as_operator(&unit_url(mine));
    let csrf = page
        .split(r#"id="issue-viewer""#)
        .nth(1)
        .and_then(|rest| rest.split(r#"name="csrf" value=""#).nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the unit page offers a viewer's link")
        .to_owned();
    let issued = client
        .post(format!("{}{}/viewers", d.base, unit_url(mine)))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "can.bo.xa")])
        .send()
        .unwrap()
        .text()
        .unwrap();
    let link = issued
        .split(r#"<code id="viewer-link">"#)
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .expect("the link is shown once");
    let path = link[link.find("/welcome/").unwrap()..].to_owned();
    // The official opens it, sets a password and lands on their unit, signed in; it works once.
    let official = Demo::client_from([127, 0, 0, 4]);
    let welcome = format!("{}{path}", d.base);
    assert_eq!(official.get(&welcome).send().unwrap().status(), 200);
    let password = [
        ("password", "mật-khẩu-của-xã"),
        ("again", "mật-khẩu-của-xã"),
    ];
    let set = official.post(&welcome).form(&password).send().unwrap();
    assert_eq!(set.status(), 303);
    assert_eq!(set.headers()["location"], unit_url(mine).as_str());
    let session = set.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        official
            .post(&welcome)
            .form(&password)
            .send()
            .unwrap()
            .status(),
        410,
        "a link works once"
    );
    let as_official = |method: &str, path: &str| {
        let url = format!("{}{path}", d.base);
        match method {
            "GET" => official.get(url),
            _ => official.post(url).form(&[("csrf", "x")]),
        }
        .header("Cookie", &session)
        .send()
        .unwrap()
    };
    let own = as_official("GET", &unit_url(mine));
    assert_eq!(own.status(), 200);
    let own = own.text().unwrap();
    assert!(own.contains(r#"class="figures""#), "their figures");
    assert!(!own.contains(r#"id="resync""#) && !own.contains(r#"id="issue-viewer""#));
    for path in [
        format!("{}/explain?form=II.06a&row=_total&column=3", unit_url(mine)),
        format!("{}/documents/II.06a.xlsx", unit_url(mine)),
    ] {
        assert_eq!(as_official("GET", &path).status(), 200, "{path}");
    }
    // Nothing else: no other unit (not even the province above), no grid, API or metrics, no sync.
    for (method, path) in [
        ("GET", unit_url(other)),
        ("GET", unit_url(&province)),
        (
            "GET",
            format!(
                "{}/explain?form=II.06a&row=_total&column=3",
                unit_url(other)
            ),
        ),
        ("GET", format!("{}/documents/II.06a.xlsx", unit_url(other))),
        ("GET", format!("/periods/{p}")),
        ("GET", "/metrics".to_owned()),
        ("GET", "/api/outbox".to_owned()),
        ("GET", "/api/audit".to_owned()),
        ("POST", format!("{}/sync", unit_url(mine))),
        ("POST", format!("{}/viewers", unit_url(mine))),
    ] {
        assert_eq!(as_official(method, &path).status(), 403, "{method} {path}");
    }
    // Every entry of the route table, as the viewer of one commune asking for another.
    for (method, path, access) in ROUTES {
        let filled = path
            .replace("{period}", &p)
            .replace("{unit}", other)
            .replace("{id}", "1")
            .replace("{file}", "II.06a.xlsx")
            .replace("{name}", "can.bo.xa")
            .replace("{token}", "khong-phai-duong-dan")
            + if path.ends_with("/explain") {
                "?form=II.06a&row=_total&column=3"
            } else {
                ""
            };
        // Open and sign-in routes are anyone's, signing out too (tried in the test above).
        if matches!(access, Access::Open | Access::SignIn) || *path == "/logout" {
            continue;
        }
        let answer = as_official(&method.to_uppercase(), &filled);
        let status = answer.status();
        match access {
            Access::Reader if !path.contains("{unit}") => {
                assert_eq!(status, 303, "{method} {filled}");
                assert_eq!(answer.headers()["location"], unit_url(mine).as_str());
            }
            _ => assert_eq!(status, 403, "{method} {filled}"),
        }
    }
    // Later sign-ins: by name and password; a wrong password is refused.
    let login = |password: &str| {
        official
            .post(format!("{}/login", d.base))
            .form(&[("name", "can.bo.xa"), ("password", password)])
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(login("sai-mat-khau"), 401);
    assert_eq!(login("mật-khẩu-của-xã"), 303);
    // The operator sees who looked, and revokes the access: the session ends with it.
    let seen = as_operator(&unit_url(mine));
    assert!(
        seen.contains("viewer_visit") && seen.contains("Cán bộ đơn vị can.bo.xa"),
        "{seen}"
    );
    let revoke = client
        .post(format!(
            "{}{}/viewers/can.bo.xa/revoke",
            d.base,
            unit_url(mine)
        ))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoke.status(), 303);
    assert_eq!(as_official("GET", &unit_url(mine)).status(), 401);
    assert_eq!(login("mật-khẩu-của-xã"), 401);
    // The command line issues links too.
    let printed = output_with(
        bin().args([
            "operator",
            "viewer-link",
            "--name",
            "can.bo.xa2",
            "--unit",
            other,
            "--config",
            d.config.to_str().unwrap(),
        ]),
        &[0],
    );
    assert!(printed.trim().contains("/welcome/"), "{printed}");
    d.stop();
}

/// What a person reads of a page: its text without tags, styles, or codes (`<code>`, a column
/// of their own).
fn visible(html: &str) -> String {
    let mut text = html.to_owned();
    for (open, close) in [("<style", "</style>"), ("<code", "</code>")] {
        while let Some(start) = text.find(open) {
            let end = text[start..]
                .find(close)
                .map_or(text.len(), |e| start + e + close.len());
            text.replace_range(start..end, " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_word_a_person_reads_is_vietnamese() {
    let d = Demo::start("info");
    let client = d.client();
    let p = d.period.clone();
    let config: toml::Value = toml::from_str(&std::fs::read_to_string(&d.config).unwrap()).unwrap();
    let sandbox = config["upstreams"]["source"]["base_url"]
        .as_str()
        .and_then(|u| u.strip_suffix("/source"))
        .expect("the sandbox's address in the demo's configuration")
        .to_owned();
    // A person approves one draft and edits another; each unit's drafts are checked again. (A
    // source that is down is retried for up to 15 minutes before its pull is logged as failed:
    // the words for that are held against the list by `admin::words`' own test.)
    let outbox: Value = d.get("/api/outbox").json().unwrap();
    let rows = outbox.as_array().unwrap();
    let touched: Vec<&Value> = rows
        .iter()
        .filter(|r| r["state"] == "created")
        .take(2)
        .collect();
    assert_eq!(touched.len(), 2, "{outbox}");
    for (r, action) in touched.iter().zip(["approve", "edit"]) {
        let url = format!(
            "{sandbox}/_sandbox/reports/{}/{}/{}/{}/{action}",
            r["system"].as_str().unwrap(),
            r["form"].as_str().unwrap(),
            r["period"].as_str().unwrap(),
            r["unit"].as_str().unwrap()
        );
        assert!(client.post(url).send().unwrap().status().is_success());
    }
    let sync = |body: Value| {
        client
            .post(format!("{}/api/sync", d.base))
            .bearer_auth(&d.token)
            .json(&body)
            .send()
            .unwrap()
    };
    let mut answers: Vec<String> = Vec::new();
    for r in &touched {
        let answer = sync(serde_json::json!({"period": p, "unit": r["unit"]}));
        assert_eq!(answer.status(), 200);
    }
    let started = std::time::Instant::now();
    loop {
        let outbox: Value = d.get("/api/outbox").json().unwrap();
        let state = |r: &Value| {
            outbox
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["id"] == r["id"])
                .map(|o| o["state"].as_str().unwrap().to_owned())
                .unwrap()
        };
        if state(touched[0]) == "locked" && state(touched[1]) == "edited_by_person" {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "{outbox}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A department's page shows its other forms' figures and offers its II.06a as a workbook
    // whose total received is the figure explain lists dossiers for.
    let dept = "000.10.00.H55";
    let unit_page = d.get(&format!("/periods/{p}/units/{dept}")).text().unwrap();
    assert!(unit_page.contains("Số liệu Biểu II.05a"), "{unit_page}");
    // … its columns in numeric order, (9) before (10), as the form prints them.
    let ii05a = unit_page
        .split(r#"data-form="II.05a""#)
        .nth(1)
        .and_then(|t| t.split("</tr>").next())
        .expect("the II.05a table's header");
    let at = |c: &str| ii05a.find(c).unwrap_or_else(|| panic!("no {c} in {ii05a}"));
    assert!(at("(3)") < at("(9)") && at("(9)") < at("(10)"), "{ii05a}");
    // Its narrative as the Word document `report --format docx` writes.
    let docx_link = format!("/units/{dept}/documents/II.01-%C4%90C.docx");
    assert!(unit_page.contains(&docx_link), "{unit_page}");
    let docx = d.get(&format!("/periods/{p}{docx_link}"));
    assert_eq!(docx.status(), 200);
    let xml = document_xml(&docx.bytes().unwrap());
    // The letterhead names the department ("SỞ 1", in capitals as a letterhead prints it).
    assert!(xml.contains(">SỞ 1<"), "the department's own narrative");
    // Its satisfaction: the levels add up to the total, and the rate is levels 1 and 2 of it.
    let row = unit_page
        .split("<tr><td>Của đơn vị</td>")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("the unit's satisfaction");
    let cells: Vec<&str> = row
        .split(r#"<td class="n">"#)
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap())
        .collect();
    let n = |i: usize| cells[i].parse::<f64>().unwrap();
    assert_eq!(n(0) + n(1) + n(2), n(3), "{row}");
    assert!(
        n(3) > 0.0,
        "the demo rates the department's dossiers: {row}"
    );
    assert!(((n(0) + n(1)) / n(3) * 100.0 - n(4)).abs() < 0.051, "{row}");
    // The period page offers the quarter's guidance letter, as `letter guidance` writes it.
    let grid = d.get(&format!("/periods/{p}")).text().unwrap();
    assert!(grid.contains(&format!("/periods/{p}/letters/guidance.docx")));
    let letter = d.get(&format!("/periods/{p}/letters/guidance.docx"));
    assert_eq!(letter.status(), 200);
    let xml = document_xml(&letter.bytes().unwrap());
    assert!(xml.contains("Thời hạn chốt số liệu"), "the letter's body");
    // The chase letter reads the reporting systems now: the demo's drafts are all unsent.
    let chase = d.get(&format!("/periods/{p}/letters/chase.docx"));
    assert_eq!(chase.status(), 200);
    let xml = document_xml(&chase.bytes().unwrap());
    assert!(
        xml.contains("bản nháp chưa duyệt"),
        "drafts not yet approved"
    );
    assert!(unit_page.contains(&format!("/units/{dept}/documents/II.06a.xlsx")));
    let workbook = d.get(&format!("/periods/{p}/units/{dept}/documents/II.06a.xlsx"));
    assert_eq!(workbook.status(), 200);
    assert!(
        workbook.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let bytes = workbook.bytes().unwrap().to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    use calamine::{DataType, Reader};
    // The first sheet lists the units; each unit's table is a sheet of its own.
    let sheets = book.worksheets();
    assert!(sheets.len() >= 2, "an index and the unit's sheet");
    let explained: Value = d
        .get(&format!(
            "/api/periods/{p}/explain?form=II.06a&unit={dept}&row=_total&column=3"
        ))
        .json()
        .unwrap();
    let received = explained["figure"].as_f64().unwrap();
    assert_eq!(
        explained["counted"].as_array().unwrap().len() as f64,
        received
    );
    assert!(received > 0.0);
    assert!(
        sheets[1]
            .1
            .cells()
            .any(|(_, _, c)| c.as_f64() == Some(received)),
        "the unit's sheet holds the total received, {received}"
    );
    // Filters choose the grid's rows; the summary counts every report whatever they are.
    let summary = |query: &str| {
        let html = d.get(&format!("/periods/{p}{query}")).text().unwrap();
        let start = html.find(r#"<table id="summary">"#).expect("a summary");
        let end = start + html[start..].find("</table>").unwrap();
        html[start..end].to_owned()
    };
    let whole = summary("");
    for query in ["?kind=commune", "?q=khong-co-don-vi-nay", "?state=s-bad"] {
        assert_eq!(summary(query), whole, "{query}");
    }
    // Every page, as it is now.
    let mut pages: Vec<(String, String)> = Vec::new();
    let mut page = |path: String| {
        let text = d.get(&path).text().unwrap();
        pages.push((path, text));
    };
    page(format!("/periods/{p}"));
    for r in &touched {
        let unit = r["unit"].as_str().unwrap();
        page(format!("/periods/{p}/units/{unit}"));
        page(format!(
            "/periods/{p}/units/{unit}/explain?form=II.06a&row=_total&column=3"
        ));
    }
    page("/periods/2023-Q5".to_owned());
    page(format!("/periods/{p}/units/KHONG-CO"));
    page(format!(
        "/periods/{p}/units/000.10.00.H55/explain?form=II.06a&row=nope&column=99"
    ));
    // A page's form without its CSRF token, and requests that are no form at all.
    let cookie = d.sign_in(&client);
    let unit = touched[0]["unit"].as_str().unwrap();
    let refused = client
        .post(format!("{}/periods/{p}/units/{unit}/sync", d.base))
        .header("Cookie", &cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .unwrap();
    assert_eq!(refused.status(), 403);
    pages.push(("CSRF 403".into(), refused.text().unwrap()));
    for path in [
        "/login".to_owned(),
        format!("/periods/{p}/units/{unit}/sync"),
    ] {
        let refused = client
            .post(format!("{}{path}", d.base))
            .header("Cookie", &cookie)
            .body("token=x")
            .send()
            .unwrap();
        assert_eq!(refused.status(), 415, "{path}");
        pages.push((format!("415 {path}"), refused.text().unwrap()));
    }
    // The API's errors: their message is for a person, their error_code for a program.
    answers.push(
        sync(serde_json::json!({"period": "2023-Q5"}))
            .text()
            .unwrap(),
    );
    answers.push(
        sync(serde_json::json!({"period": "2099-Q1"}))
            .text()
            .unwrap(),
    );
    let text = |r: reqwest::blocking::RequestBuilder| r.send().unwrap().text().unwrap();
    let api = |path: &str| {
        client
            .post(format!("{}{path}", d.base))
            .bearer_auth(&d.token)
    };
    answers.push(text(api("/api/sync").body("period=2023-Q3")));
    answers.push(text(api("/api/outbox/999999/retry")));
    answers.push(text(client.get(format!("{}/api/runs", d.base))));
    let phrases: Vec<&str> = include_str!("fixtures/english-phrases.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let english = |what: &str, text: &str| {
        let lower = text.to_lowercase();
        for phrase in &phrases {
            assert!(
                !lower.contains(&phrase.to_lowercase()),
                "`{phrase}` in {what}:\n{text}"
            );
        }
    };
    for (path, html) in &pages {
        english(path, &visible(html));
    }
    // The pages show what happened: the person's approval and edit, the source's failure.
    let all = pages.iter().map(|(_, h)| visible(h)).collect::<String>();
    for said in [
        "Cán bộ đã duyệt, ký hoặc gửi",
        "Cán bộ đã sửa bản nháp",
        "Không có kỳ báo cáo",
    ] {
        assert!(all.contains(said), "`{said}` is said");
    }
    for answer in &answers {
        let v: Value = serde_json::from_str(answer).unwrap_or_else(|_| panic!("{answer}"));
        if let Some(message) = v["message"].as_str() {
            english("an API error", message);
        }
        assert!(
            v["error_code"].is_string() || v["period"].is_object(),
            "{answer}"
        );
    }
    d.stop();
}

/// Debian's chromium, as .ci/run installs it.
fn chromium() -> &'static Path {
    let path = Path::new("/usr/bin/chromium");
    assert!(
        path.exists(),
        "Debian's chromium is needed (.ci/run installs it: apt-get install chromium)"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_and_follows_a_figure_to_its_dossiers() {
    use chromiumoxide::browser::{Browser, BrowserConfig};
    use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
    use chromiumoxide::page::ScreenshotParams;
    use futures_util::StreamExt;

    let d = tokio::task::spawn_blocking(|| Demo::start("info"))
        .await
        .unwrap();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium())
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1400, 1000)
        .args([
            "--headless=new",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let shot = || {
        ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build()
    };

    // Waits until the page's address satisfies `done` (a click's navigation starts a moment later).
    async fn arrive(page: &chromiumoxide::Page, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..200 {
            if let Ok(Some(url)) = page.url().await
                && done(&url)
            {
                let _ = page.wait_for_navigation().await;
                return url;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the page stayed at {:?}", page.url().await);
    }

    // Sign in.
    let page = browser.new_page(format!("{}/login", d.base)).await.unwrap();
    page.find_element("#token")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(&d.token)
        .await
        .unwrap();
    page.find_element("#login")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let grid = format!("/periods/{}", d.period);
    arrive(&page, |u| u.ends_with(&grid)).await;
    page.save_screenshot(shot(), shots.join("1-grid.png"))
        .await
        .unwrap();

    // The grid lists every unit.
    let units = d.units();
    let html = page.content().await.unwrap();
    for (code, _) in &units {
        assert!(html.contains(code.as_str()), "{code} in the grid");
    }
    let rows = page.find_elements("#grid tr").await.unwrap();
    assert_eq!(
        rows.len(),
        units.len() + 1,
        "a row per unit under the header"
    );

    // The summary comes first and its counts are the outbox's.
    let outbox: Value = {
        let (base, token) = (d.base.clone(), d.token.clone());
        tokio::task::spawn_blocking(move || {
            reqwest::blocking::Client::new()
                .get(format!("{base}/api/outbox"))
                .bearer_auth(token)
                .send()
                .unwrap()
                .json()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let summary = page.find_elements("#summary tr[data-form]").await.unwrap();
    assert!(!summary.is_empty());
    for row in summary {
        let attr = |name: &'static str| {
            let row = &row;
            async move { row.attribute(name).await.unwrap().unwrap() }
        };
        let (form, system) = (attr("data-form").await, attr("data-system").await);
        let mine: Vec<&Value> = outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["form"] == form.as_str() && r["system"] == system.as_str())
            .collect();
        let good = mine
            .iter()
            .filter(|r| {
                matches!(
                    r["state"].as_str(),
                    Some("created" | "updated" | "unchanged" | "recreated")
                )
            })
            .count();
        assert_eq!(attr("data-good").await, good.to_string(), "{form} {system}");
        assert_eq!(
            attr("data-total").await,
            mine.len().to_string(),
            "{form} {system}"
        );
    }
    let first_heading = page.find_element("h2").await.unwrap().inner_text().await;
    assert_eq!(first_heading.unwrap().as_deref(), Some("Tóm tắt"));

    // The grid's header stays in sight while its rows scroll.
    let stuck: f64 = page
        .evaluate(
            "(() => { document.body.style.paddingBottom = '3000px'; \
             const g = document.querySelector('#grid'); \
             window.scrollTo(0, g.getBoundingClientRect().top + window.scrollY + 60); \
             return document.querySelector('#grid thead th').getBoundingClientRect().top; })()",
        )
        .await
        .unwrap()
        .into_value()
        .unwrap();
    assert!(stuck.abs() < 1.5, "the header sticks to the top: {stuck}");
    // The viewport as it is, not the whole page: the header over rows scrolled under it.
    let viewport = ScreenshotParams::builder()
        .format(CaptureScreenshotFormat::Png)
        .full_page(false)
        .build();
    page.save_screenshot(viewport, shots.join("1b-grid-scrolled.png"))
        .await
        .unwrap();

    // Search finds a unit by a part of its name, accents and case aside; no match says so.
    let (code, _) = units.iter().find(|(_, k)| k == "commune").unwrap();
    let name = {
        let cell = page
            .find_element(format!("#grid a[href$=\"/units/{code}\"]"))
            .await
            .unwrap();
        cell.inner_text().await.unwrap().unwrap()
    };
    // "UBND xã 3" typed as "ubnd xa 3": without its accents, in another case.
    let part: String = name.to_lowercase().replace('ã', "a");
    page.find_element("#search")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(&part)
        .await
        .unwrap()
        .press_key("Enter")
        .await
        .unwrap();
    arrive(&page, |u| u.contains("q=")).await;
    let found = page.content().await.unwrap();
    assert!(
        found.contains(&format!("/units/{code}\"")),
        "{part} finds {code}"
    );
    assert!(page.find_elements("#grid tbody tr").await.unwrap().len() < units.len());
    page.save_screenshot(shot(), shots.join("1c-grid-search.png"))
        .await
        .unwrap();
    page.goto(format!("{}{grid}?q=khong-co-don-vi-nay", d.base))
        .await
        .unwrap();
    assert!(page.find_element("#no-match").await.is_ok());
    page.goto(format!("{}{grid}", d.base)).await.unwrap();

    // A click on a commune's cell opens its page.
    let commune = &units.iter().find(|(_, kind)| kind == "commune").unwrap().0;
    let cell = page
        .find_element(format!("#grid a[href$=\"/units/{commune}\"]"))
        .await
        .unwrap();
    cell.click().await.unwrap();
    arrive(&page, |u| u.ends_with(&format!("/units/{commune}"))).await;
    let heading = page
        .find_element("h1")
        .await
        .unwrap()
        .inner_text()
        .await
        .unwrap()
        .unwrap();
    assert!(heading.contains(commune.as_str()), "{heading}");
    page.save_screenshot(shot(), shots.join("2-unit.png"))
        .await
        .unwrap();

    // A click on a figure lists its dossiers, as many as it says.
    let figure = page
        .find_element("table.figures a.figure[data-row=\"_total\"][data-column=\"3\"]")
        .await
        .unwrap();
    let value: usize = figure
        .inner_text()
        .await
        .unwrap()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(value > 0, "the commune received dossiers");
    figure.click().await.unwrap();
    arrive(&page, |u| u.contains("/explain?")).await;
    let listed = page.find_elements("#dossiers tr.dossier").await.unwrap();
    assert_eq!(listed.len(), value, "the dossiers behind the figure");
    page.save_screenshot(shot(), shots.join("3-explain.png"))
        .await
        .unwrap();

    async fn click(page: &chromiumoxide::Page, selector: &str) {
        page.find_element(selector)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    async fn type_into(page: &chromiumoxide::Page, selector: &str, text: &str) {
        page.find_element(selector)
            .await
            .unwrap()
            .click()
            .await
            .unwrap()
            .type_str(text)
            .await
            .unwrap();
    }
    // The operator gives an official of the commune a one-time link from its page.
    page.goto(format!("{}/periods/{}/units/{commune}", d.base, d.period))
        .await
        .unwrap();
    type_into(&page, "#viewer-name", "can.bo.xa").await;
    click(&page, "#issue-viewer button").await;
    arrive(&page, |u| u.ends_with("/viewers")).await;
    let link = page
        .find_element("#viewer-link")
        .await
        .unwrap()
        .inner_text()
        .await
        .unwrap()
        .unwrap();
    page.save_screenshot(shot(), shots.join("4-viewer-link.png"))
        .await
        .unwrap();
    // The operator signs out; the official opens the link, sets a password and sees their unit.
    click(&page, ".nav button").await;
    arrive(&page, |u| u.ends_with("/login")).await;
    let path = &link[link.find("/welcome/").unwrap()..];
    page.goto(format!("{}{path}", d.base)).await.unwrap();
    for field in ["#new-password", "#again"] {
        type_into(&page, field, "mat-khau-cua-xa").await;
    }
    click(&page, "#set-password").await;
    arrive(&page, |u| u.ends_with(&format!("/units/{commune}"))).await;
    assert!(
        page.find_element("table.figures").await.is_ok(),
        "their figures"
    );
    assert!(
        page.find_element("#resync").await.is_err(),
        "no sync for a viewer"
    );
    page.save_screenshot(shot(), shots.join("5-viewer-unit.png"))
        .await
        .unwrap();
    // Another unit, or the province's grid, is not theirs.
    let other = &units
        .iter()
        .filter(|(_, kind)| kind == "commune")
        .nth(1)
        .unwrap()
        .0;
    page.goto(format!("{}/periods/{}/units/{other}", d.base, d.period))
        .await
        .unwrap();
    let refused = page.content().await.unwrap();
    assert!(
        refused.contains("chỉ xem được số liệu của đơn vị mình"),
        "{refused}"
    );
    page.save_screenshot(shot(), shots.join("6-viewer-refused.png"))
        .await
        .unwrap();

    drop(browser);
    events.abort();
    tokio::task::spawn_blocking(move || d.stop()).await.unwrap();
}
