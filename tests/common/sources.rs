//! A province served by the sandbox through the one-stop-system protocols, and the product
//! configured for it: a generated data set (the same dossiers an export holds), the sandbox with
//! the quirks and faults a test asks for, a vault with the sources' logins, and a configuration
//! file naming the sources. Shared by tests/real_sources.rs and tests/receiver.rs.
#![allow(dead_code)]

use super::{Sandbox, bin, output_with};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// After every generated record has settled (the period is 2023-Q3).
pub const NOW: &str = "2023-11-01T07:30:00+07:00";
pub const PERIOD: &str = "2023-Q3";

pub struct Province {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub key: PathBuf,
    pub sandbox: Option<Sandbox>,
}

impl Province {
    /// `dossiers` generated over `units` units (two tiers), seed 11; the sandbox serving them with
    /// `quirks` (the body of accounts.toml's `[quirks]`) and `faults` (a fault plan, if any).
    pub fn new(dossiers: usize, units: usize, quirks: &str, faults: Option<&str>) -> Province {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let spec = baocao_sync::synth::Spec {
            dossiers,
            ratings: 0,
            feedback: 0,
            units,
            tiers: 2,
            seed: 11,
            ..Default::default()
        };
        baocao_sync::synth::write_data_set(&spec, &data).unwrap();
        let accounts = data.join("accounts.toml");
        let mut text = std::fs::read_to_string(&accounts).unwrap();
        text.push_str(&format!("\n[quirks]\n{quirks}\n"));
        std::fs::write(&accounts, text).unwrap();
        let mut extra: Vec<String> = Vec::new();
        if let Some(plan) = faults {
            let file = dir.path().join("faults.toml");
            std::fs::write(&file, plan).unwrap();
            extra = vec!["--faults".into(), file.display().to_string()];
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let sandbox = Sandbox::spawn_with(&data, &extra);
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        let key = dir.path().join("keys/vault.key");
        super::init_key(&key);
        Province {
            dir,
            data,
            key,
            sandbox: Some(sandbox),
        }
    }

    pub fn base(&self) -> &str {
        &self.sandbox.as_ref().expect("the sandbox runs").base
    }

    pub fn units(&self) -> PathBuf {
        self.data.join("units.toml")
    }

    pub fn export(&self) -> PathBuf {
        self.data.join("dossiers.ndjson")
    }

    /// A configuration with `sources` (TOML, `{base}` replaced by the sandbox's address), storing
    /// in `db`.
    pub fn config(&self, name: &str, sources: &str, db: &str) -> PathBuf {
        let text = format!(
            "[store]\ndatabase_url = \"{db}\"\n[vault]\nkey_file = \"{}\"\n[files]\nunits = \"{}\"\n\
             [pull]\nhistory_from = \"2023-01-01\"\n\n{}",
            self.key.display(),
            self.units().display(),
            sources.replace("{base}", self.base())
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A configuration that also pushes to the sandbox's reporting systems, with every login of
    /// the data set (`logins.csv`) in its vault.
    pub fn sync_config(&self, name: &str, sources: &str, db: &str) -> PathBuf {
        let mut upstreams = String::new();
        for system in ["central", "provincial"] {
            upstreams.push_str(&format!(
                "[upstreams.{system}]\nbase_url = \"{{base}}/{system}\"\ntoken_url = \"{{base}}/{system}/oauth/token\"\n\
                 client_id = \"baocao-sync\"\n"
            ));
        }
        let config = self.config(name, &format!("{upstreams}\n{sources}"), db);
        let status = bin()
            .args(["creds", "import", "--csv"])
            .arg(self.data.join("logins.csv"))
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "creds import");
        config
    }

    /// `sync` of the period at `now`.
    pub fn sync(&self, config: &Path, now: &str) -> (String, String, i32) {
        let out = bin()
            .args([
                "sync",
                "--period",
                PERIOD,
                "--freeze-clock",
                "--now",
                now,
                "--config",
            ])
            .arg(config)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// A SQLite store of its own.
    pub fn sqlite(&self, name: &str) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join(format!("{name}.db")).display()
        )
    }

    /// `creds set --source NAME`.
    pub fn login(&self, config: &Path, source: &str, username: &str, password: &str) {
        let mut command = bin();
        command
            .args([
                "creds",
                "set",
                "--source",
                source,
                "--username",
                username,
                "--password-stdin",
            ])
            .arg("--config")
            .arg(config);
        assert!(
            super::with_stdin(&mut command, password),
            "creds set --source {source}"
        );
    }

    /// `pull` with the configuration at [`NOW`]; standard output and error, and the exit code.
    pub fn pull(&self, config: &Path, extra: &[&str]) -> (String, String, i32) {
        self.pull_at(config, NOW, extra)
    }

    /// `pull` at `now`.
    pub fn pull_at(&self, config: &Path, now: &str, extra: &[&str]) -> (String, String, i32) {
        let out = bin()
            .args(["pull", "--now", now, "--config"])
            .arg(config)
            .args(extra)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// A form's JSON from the store of `config`.
    pub fn report_from_store(&self, config: &Path, form: &str) -> Value {
        let out = output_with(
            Command::new(env!("CARGO_BIN_EXE_baocao-sync"))
                .env("RUST_LOG", "warn")
                .args(["report", "--from-store", "--period", PERIOD, "--form", form])
                .arg("--config")
                .arg(config)
                .arg("--units")
                .arg(self.units()),
            &[0],
        );
        serde_json::from_str(&out).unwrap()
    }

    /// The same form from the export file of the same dossiers.
    pub fn report_from_export(&self, form: &str) -> Value {
        self.report_from_file(&self.export(), form)
    }

    /// A form from an export file.
    pub fn report_from_file(&self, file: &Path, form: &str) -> Value {
        super::report_json(&[
            "--input",
            file.to_str().unwrap(),
            "--units",
            self.units().to_str().unwrap(),
            "--period",
            PERIOD,
            "--form",
            form,
        ])
    }
}

/// The generated dossiers, as the export holds them.
pub fn dossiers(p: &Province) -> Vec<Value> {
    std::fs::read_to_string(p.export())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Changes records at the sandbox's source (`/_sandbox/records/dossiers`).
pub fn change_at_source(p: &Province, records: &[Value]) {
    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/_sandbox/records/dossiers", p.base()))
        .body(body)
        .send()
        .unwrap();
    assert!(answer.status().is_success());
}

/// Whether two reports have the same figures (reports by unit, all-zero ones aside).
pub fn same_figures(a: &Value, b: &Value) -> bool {
    super::reports_by_unit(a) == super::reports_by_unit(b)
}

/// The figures of two reports agree, and so do their error findings, but for those a protocol
/// cannot carry: a dossier without a reception date is in no reception window.
pub fn assert_same_as_export(export: &Value, pulled: &Value) {
    let without_undated = |doc: &Value| {
        let mut doc = doc.clone();
        let findings: Vec<Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] != "no_reception_date")
            .cloned()
            .collect();
        doc["findings"] = Value::Array(findings);
        doc
    };
    super::assert_same_figures(&without_undated(export), &without_undated(pulled));
}
