//! E-mail end to end against a real SMTP server: Debian's aiosmtpd (tests/smtp_server.py, run by
//! /usr/bin/python3; `.ci/run` installs python3-aiosmtpd), over STARTTLS with a certificate of a
//! test CA and a login. Drafts are pushed to the sandbox as in tests/push.rs; then "drafts ready"
//! goes to the units' contacts: once however often it is triggered, a 4xx answer tried again
//! later, a 5xx answer given up with its reason, an opted-out address left alone, nothing secret
//! in any message. On PostgreSQL two workers at once send each message once, and a worker killed
//! between the server's 250 and its commit leaves one uncertain message that is never resent.

mod common;

use common::stores::TestDb;
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};

const SMTP_USER: &str = "baocao@vp.example.vn";
const SMTP_PASSWORD: &str = "smtp-mat-khau-42";

/// The SMTP server; stopped when dropped.
struct Smtp {
    child: std::process::Child,
    port: u16,
    out: PathBuf,
}

impl Smtp {
    fn start(dir: &Path, tls: &str, certs: Option<(&Path, &Path)>) -> Smtp {
        let out = dir.join("received");
        let mut command = std::process::Command::new("/usr/bin/python3");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py"))
            .args(["--out", out.to_str().unwrap(), "--tls", tls])
            .args(["--auth", &format!("{SMTP_USER}:{SMTP_PASSWORD}")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        if let Some((cert, key)) = certs {
            command.args([
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ]);
        }
        let mut child = command
            .spawn()
            .expect("/usr/bin/python3 runs (python3-aiosmtpd: see .ci/run)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| {
                panic!("the SMTP server did not start (python3-aiosmtpd installed?): {line:?}")
            })
            .parse()
            .unwrap();
        Smtp { child, port, out }
    }

    /// Every message the server accepted, decoded by Python's own e-mail parser: recipients,
    /// subject, Message-ID, plain text, HTML and the raw bytes.
    fn received(&self) -> Vec<Value> {
        const READ: &str = r#"
import email, email.policy, glob, json, os, sys
out = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml")), key=lambda p: int(os.path.basename(p)[:-4])):
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    out.append({
        "rcpt": open(path[:-4] + ".rcpt").read(),
        "subject": str(m["subject"]),
        "id": str(m["message-id"]),
        "text": m.get_body(("plain",)).get_content(),
        "html": m.get_body(("html",)).get_content(),
        "raw": raw.decode("ascii", "replace"),
    })
print(json.dumps(out))
"#;
        if !self.out.exists() {
            return Vec::new();
        }
        let o = std::process::Command::new("/usr/bin/python3")
            .args(["-c", READ, self.out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Vec<Value>>(&o.stdout).unwrap()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The golden unit tree with contacts: Sở 1 has a good address and one the server refuses (550),
/// UBND huyện 1 one the server puts off once (451), Sở 2 one that opts out, every other unit one.
fn units_with_contacts(path: &Path) {
    let text = std::fs::read_to_string(fixture("units.toml")).unwrap();
    let mut out = String::new();
    let mut code = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(c) = line.strip_prefix("code = ") {
            code = c.trim_matches('"').to_owned();
        }
        if line.starts_with("kind = ") {
            let contacts = match code.as_str() {
                "000.10.00.H55" => r#"["vanthu@so1.example.vn", "hong@so1.example.vn"]"#.to_owned(),
                "000.00.30.H55" => r#"["tam-thoi@huyen1.example.vn"]"#.to_owned(),
                "000.11.00.H55" => r#"["tat@so2.example.vn"]"#.to_owned(),
                c => format!(r#"["u-{}@donvi.example.vn"]"#, c.replace('.', "-")),
            };
            out.push_str(&format!("contacts = {contacts}\n"));
        }
    }
    std::fs::write(path, out).unwrap();
}

/// A world: the sandbox, a store (`db`) with the golden dossiers pushed as drafts to the central
/// system, two units' logins, the unit tree with contacts, and a configuration whose [mail]
/// names `localhost:PORT`.
struct World {
    _sandbox: Sandbox,
    dir: PathBuf,
    db: String,
}

impl World {
    fn new(dir: &Path, db: &str) -> World {
        std::fs::write(dir.join("accounts.toml"), CENTRAL_ACCOUNTS).unwrap();
        let sandbox = Sandbox::spawn(dir);
        let key = dir.join("key");
        let upstreams = dir.join("upstreams.toml");
        sandbox_upstreams(&upstreams, &sandbox.base, "");
        import_golden(db);
        init_key(&key);
        for (unit, user, password) in [
            ("000.10.00.H55", "051234567890", "mk-so"),
            ("000.00.30.H55", "051234567891", "mk-huyen"),
        ] {
            creds_set(db, &key, "central", unit, user, password);
        }
        units_with_contacts(&dir.join("units.toml"));
        let world = World {
            _sandbox: sandbox,
            dir: dir.to_owned(),
            db: db.to_owned(),
        };
        output_with(
            &mut world.command(
                &[
                    "push",
                    "--period",
                    "2023-Q3",
                    "--system",
                    "central",
                    "--accept-stale",
                    "the golden export was imported by hand",
                ],
                None,
            ),
            &[0, 2],
        );
        world
    }

    /// The configuration with [mail] naming `port` (STARTTLS, the test CA unless `ca` is false).
    fn config(&self, port: u16, ca: bool) -> PathBuf {
        self.config_tls(port, ca, "starttls")
    }

    fn config_tls(&self, port: u16, ca: bool, tls: &str) -> PathBuf {
        let path = self.dir.join(format!("mail-{port}-{ca}.toml"));
        let ca_file = if ca {
            format!("ca_file = \"{}\"\n", self.dir.join("tls/ca.pem").display())
        } else {
            String::new()
        };
        std::fs::write(
            &path,
            format!(
                "[mail]\nserver = \"localhost\"\nport = {port}\ntls = \"{tls}\"\n{ca_file}\
                 username = \"{SMTP_USER}\"\nfrom = \"Văn phòng UBND tỉnh <baocao@vp.example.vn>\"\n\
                 operator = [\"theodoi@vp.example.vn\"]\npage_url = \"https://baocao.example.vn\"\n\
                 timeout_seconds = 10\n"
            ),
        )
        .unwrap();
        path
    }

    /// `baocao-sync SUBCOMMAND…` with this world's store, vault, units and upstreams (and
    /// `config`).
    fn command(&self, sub: &[&str], config: Option<&Path>) -> std::process::Command {
        let mut c = bin();
        c.env("BAOCAO_SMTP_PASSWORD", SMTP_PASSWORD)
            .args(sub)
            .args(["--database-url", &self.db])
            .args(["--key-file", self.dir.join("key").to_str().unwrap()])
            .args([
                "--upstreams",
                self.dir.join("upstreams.toml").to_str().unwrap(),
            ])
            .args(["--units", self.dir.join("units.toml").to_str().unwrap()]);
        if let Some(config) = config {
            c.args(["--config", config.to_str().unwrap()]);
        }
        c
    }

    /// `baocao-sync mail ARGS…`: its standard output, failing unless it exits with one of `codes`.
    fn mail(&self, config: &Path, args: &[&str], codes: &[i32]) -> String {
        let mut sub = vec!["mail"];
        sub.extend_from_slice(args);
        output_with(&mut self.command(&sub, Some(config)), codes)
    }
}

/// TLS files of a test CA: (CA, server certificate, server key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    baocao_sync::sandbox::tls::certificate_files(&dir.join("tls")).unwrap()
}

fn rfc3339_in(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn to(messages: &[Value], address: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["rcpt"].as_str() == Some(address))
        .cloned()
        .collect()
}

#[test]
fn drafts_ready_go_once_to_each_contact_over_verified_tls_with_4xx_retried_and_5xx_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let world = World::new(dir.path(), &db);
    let (_, cert, key) = certificates(dir.path());
    let smtp = Smtp::start(dir.path(), "starttls", Some((&cert, &key)));
    let config = world.config(smtp.port, true);
    world.mail(
        &config,
        &[
            "opt-out",
            "--unit",
            "000.11.00.H55",
            "--address",
            "tat@so2.example.vn",
        ],
        &[0],
    );

    // check-config connects, secures and signs in (no message).
    let checked = output_with(&mut world.command(&["check-config"], Some(&config)), &[0]);
    assert!(
        checked.contains(&format!(
            "# mail: localhost:{} connected (Starttls), signed in; 13 units have contacts",
            smtp.port
        )),
        "{checked}"
    );
    // Without the test CA the server's certificate is not trusted: check-config says so, nothing
    // is sent, and the messages wait.
    let untrusted = world.config(smtp.port, false);
    let refused = world
        .command(&["check-config"], Some(&untrusted))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("STARTTLS with localhost") && said.contains("certificate"),
        "{said}"
    );
    let said = world.mail(&untrusted, &["ready", "--period", "2023-Q3"], &[0]);
    assert!(said.contains("sent 0"), "{said}");
    assert!(
        smtp.received().is_empty(),
        "nothing goes over an unverified TLS"
    );

    // With it: every contact but the opted-out one, the refused one and the put-off one.
    let later = rfc3339_in(3600);
    let said = world.mail(&config, &["send", "--now", &later], &[2]);
    assert!(said.contains("failed 1"), "{said}");
    let got = smtp.received();
    let expected: Vec<String> = {
        let text = std::fs::read_to_string(dir.path().join("units.toml")).unwrap();
        let tree: toml::Value = toml::from_str(&text).unwrap();
        tree["units"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|u| u["contacts"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_owned())
            .filter(|a| {
                ![
                    "hong@so1.example.vn",
                    "tam-thoi@huyen1.example.vn",
                    "tat@so2.example.vn",
                ]
                .contains(&a.as_str())
            })
            .collect()
    };
    let mut rcpts: Vec<String> = got
        .iter()
        .map(|m| m["rcpt"].as_str().unwrap().to_owned())
        .collect();
    rcpts.sort();
    let mut wanted = expected.clone();
    wanted.sort();
    assert_eq!(rcpts, wanted, "one message per contact that takes mail");

    // The 5xx is given up with the server's reason; the 4xx waits for its retry.
    let list = world.mail(
        &config,
        &["list", "--period", "2023-Q3", "--now", &later],
        &[0],
    );
    let line = |address: &str| {
        list.lines()
            .find(|l| l.contains(address))
            .unwrap_or_else(|| panic!("{address} not listed:\n{list}"))
            .to_owned()
    };
    assert!(line("hong@so1.example.vn").contains("failed"), "{list}");
    assert!(line("hong@so1.example.vn").contains("550"), "{list}");
    assert!(
        line("tam-thoi@huyen1.example.vn").contains("retrying"),
        "{list}"
    );
    assert!(!list.contains("tat@so2.example.vn"), "opted out: {list}");
    // Before its time nothing more goes; after it, the put-off message does.
    world.mail(&config, &["send", "--now", &later], &[0]);
    assert_eq!(smtp.received().len(), wanted.len());
    world.mail(
        &config,
        &["send", "--now", &rfc3339_in(3600 + 3 * 3600)],
        &[0],
    );
    let got = smtp.received();
    assert_eq!(to(&got, "tam-thoi@huyen1.example.vn").len(), 1);

    // Triggered again (a restart, a second pre-fill): nothing new is sent.
    let again = world.mail(
        &config,
        &[
            "ready",
            "--period",
            "2023-Q3",
            "--now",
            &rfc3339_in(8 * 3600),
        ],
        &[0, 2],
    );
    assert!(again.contains("0 new messages"), "{again}");
    assert_eq!(smtp.received().len(), got.len());

    // An operator resends the given-up message, through another server speaking implicit TLS
    // (SMTPS): it logs in and is refused the same way, and the resend is audited.
    let smtps = Smtp::start(&dir.path().join("smtps"), "implicit", Some((&cert, &key)));
    let implicit = world.config_tls(smtps.port, true, "implicit");
    let id = line("hong@so1.example.vn")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let resent = world.mail(
        &implicit,
        &[
            "resend",
            &id,
            "--reason",
            "the unit says the mailbox exists",
            "--now",
            &rfc3339_in(9 * 3600),
        ],
        &[2],
    );
    assert!(
        resent.contains("armed again") && resent.contains("failed 1"),
        "{resent}"
    );
    let list = world.mail(&implicit, &["list", "--period", "2023-Q3"], &[0]);
    let hong = list
        .lines()
        .find(|l| l.contains("hong@so1.example.vn"))
        .unwrap();
    assert!(hong.contains("failed") && hong.contains("550"), "{hong}");
    assert!(smtps.received().is_empty());
    let again = world.mail(
        &implicit,
        &["resend", "999999", "--reason", "no such message"],
        &[2],
    );
    assert!(again.contains("nothing changed"), "{again}");

    // What Sở 1 reads: Vietnamese, its figures, its page, and nothing secret.
    let so1 = &to(&got, "vanthu@so1.example.vn")[0];
    let text = so1["text"].as_str().unwrap();
    assert_eq!(
        so1["subject"],
        "Bản nháp báo cáo quý III/2023 của Sở 1 đã sẵn sàng"
    );
    assert!(text.contains("Kính gửi: Sở 1,"), "{text}");
    assert!(text.contains("II.06a/VPCP/KSTT, trên "), "{text}");
    assert!(
        text.contains("https://baocao.example.vn/periods/2023-Q3/units/000.10.00.H55"),
        "{text}"
    );
    // Its II.06a total of column 3 (received), summed here from the golden figures' rows.
    let golden = expected_ii06a();
    let received: u64 = golden["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"] == "000.10.00.H55")
        .unwrap()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["values"]["3"].as_u64().unwrap())
        .sum();
    let column3 = text
        .split("; ")
        .find_map(|part| part.split("(3) ").nth(1))
        .unwrap_or_else(|| panic!("no column (3) in {text}"));
    assert!(
        column3.ends_with(&format!(": {received}")),
        "{column3} vs {received}"
    );
    assert!(
        so1["html"]
            .as_str()
            .unwrap()
            .contains("<a href=\"https://baocao.example.vn/periods/2023-Q3/units/000.10.00.H55\">")
    );
    for m in &got {
        let all = format!("{}{}{}", m["raw"], m["text"], m["html"]);
        for secret in [
            SMTP_PASSWORD,
            "mk-so",
            "mk-huyen",
            "051234567890",
            "051234567891",
            "sandbox-central-access",
        ] {
            assert!(
                !all.contains(secret),
                "`{secret}` in a message to {}",
                m["rcpt"]
            );
        }
        let digits_12 = m["text"]
            .as_str()
            .unwrap()
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() >= 12);
        assert!(!digits_12, "no full citizen ID: {}", m["text"]);
    }
}

#[test]
fn on_postgresql_two_workers_send_each_message_once_and_a_kill_after_250_leaves_one_uncertain() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new("postgres");
    let world = World::new(dir.path(), db.url());
    let (_, cert, key) = certificates(dir.path());
    // Enqueued while the server is down: nothing goes, nothing is lost.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let said = world.mail(
        &world.config(down, true),
        &["ready", "--period", "2023-Q3"],
        &[0],
    );
    assert!(said.contains("sent 0"), "{said}");

    // Two workers at once, when every message is due.
    let smtp = Smtp::start(dir.path(), "starttls", Some((&cert, &key)));
    let config = world.config(smtp.port, true);
    let later = rfc3339_in(3 * 3600);
    let spawn = || {
        world
            .command(&["mail", "send", "--now", &later], Some(&config))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    a.wait().unwrap();
    b.wait().unwrap();
    world.mail(&config, &["send", "--now", &rfc3339_in(8 * 3600)], &[0, 2]);
    let got = smtp.received();
    let mut ids: Vec<&str> = got.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no message twice");
    let list = world.mail(&config, &["list", "--period", "2023-Q3"], &[0]);
    let sent = list.lines().filter(|l| l.contains(" sent ")).count();
    assert_eq!(sent, n, "each sent row is one message received:\n{list}");
    assert!(n >= 10, "{list}");

    // The day's reminders (three days before the 17/09 deadline); the worker is killed right
    // after the server's 250 to its first message.
    let kill = world
        .command(
            &[
                "mail",
                "remind",
                "--period",
                "2023-Q3",
                "--now",
                "2023-09-14T08:00:00+07:00",
            ],
            Some(&config),
        )
        .env("BAOCAO_DRILL_KILL", "mail:1")
        .output()
        .unwrap();
    assert!(
        kill.status.code().is_none(),
        "killed: {}",
        String::from_utf8_lossy(&kill.stderr)
    );
    let before = smtp.received().len();
    assert_eq!(before, n + 1, "the server took the one message");
    // The killed worker is gone (its process id no longer exists on this host): the next pass,
    // within the lease, makes its message uncertain at once and sends the rest; nothing is sent
    // twice.
    let send_at = |now: &str| {
        world.mail(&config, &["send", "--now", now], &[0, 2]);
        world.mail(&config, &["list", "--period", "2023-Q3"], &[0])
    };
    let count = |list: &str, state: &str| {
        list.lines()
            .filter(|l| l.contains(&format!(" {state} ")))
            .count()
    };
    let list = send_at("2023-09-14T08:01:00+07:00");
    assert_eq!(count(&list, "uncertain"), 1, "{list}");
    assert_eq!(count(&list, "sending"), 0, "{list}");
    let got = smtp.received();
    let reminders: Vec<&Value> = got[n..].iter().collect();
    let mut keys: Vec<String> = reminders
        .iter()
        .map(|m| format!("{} {}", m["rcpt"], m["subject"]))
        .collect();
    let k = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), k, "no reminder twice: {keys:?}");
    assert!(
        reminders.iter().all(|m| m["subject"]
            .as_str()
            .unwrap()
            .contains("còn 3 ngày đến hạn 17/09/2023")
            || m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Tổng hợp ngày 14/09/2023")),
        "{reminders:?}"
    );
}
