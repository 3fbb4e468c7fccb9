//! The daemon's one configuration file (`config/baocao-sync.example.toml`), layered with figment:
//! command-line flags over environment variables (`BAOCAO__SECTION__KEY`, and the older
//! `BAOCAO_DATABASE_URL`, `BAOCAO_UPSTREAMS`, `BAOCAO_DUTIES`, `BAOCAO_VAULT_KEY_FILE`, read by the
//! flags they stand for) over the file over the defaults here. [`Settings::load`] parses and checks
//! everything once; [`Settings::resolved`] is what `check-config` prints, secrets masked.
//!
//! The files the settings point to (units, duties, upstreams, forms, catalogue) are read by
//! `configuration`, the only module that reads configuration files; [`Settings::load_parts`]
//! hands back all of them parsed.

use crate::configuration::{self, ConfigError, Upstreams};
use crate::domain::{Instant, PeriodKind, UnitTree};
use crate::duties::Duties;
use crate::forms::FormCatalog;
use crate::forms::checks::ChecksConfig;
use chrono::{NaiveDate, NaiveTime};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub store: StoreSettings,
    pub vault: VaultSettings,
    pub files: FileSettings,
    /// The upstream systems, inline; `files.upstreams` names a separate file instead.
    pub upstreams: Option<Upstreams>,
    /// The systems records come from (`[[sources]]`); `[upstreams.source]` is one more, of
    /// protocol `baocao`, named `pull.source`.
    pub sources: Vec<crate::sources::config::SourceSettings>,
    pub pull: PullSettings,
    pub gate: GateSettings,
    pub schedule: ScheduleSettings,
    pub delivery: DeliverySettings,
    pub http: HttpSettings,
    pub logging: LoggingSettings,
    pub mail: MailSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default) or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    pub database_url: String,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            database_url: crate::store::DEFAULT_DATABASE_URL.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// The vault key file (`creds init-key`); without it, `BAOCAO_VAULT_KEY` holds the key.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSettings {
    /// The unit tree (`[[units]]` with code, name, kind, parent).
    pub units: Option<PathBuf>,
    /// Who files what, where and by when; the shipped 2023 letter when absent.
    pub duties: Option<PathBuf>,
    /// The upstream systems as a separate file (instead of `[upstreams]`).
    pub upstreams: Option<PathBuf>,
    /// Form definitions; the copy built into the binary when absent.
    pub forms_dir: Option<PathBuf>,
    /// The field catalogue (published names); none when absent.
    pub catalog_dir: Option<PathBuf>,
    /// Column-4 check thresholds; the shipped ones when absent.
    pub checks: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PullSettings {
    /// The source's name in the store.
    pub source: String,
    /// Records updated since this day (00:00 ICT) are pulled on the first run and must be covered
    /// before any report is computed. Required: a carried-over dossier can be a year old.
    pub history_from: Option<NaiveDate>,
    /// Each window spans this many days.
    pub window_days: i64,
    /// Each pull stops this far in the past, so records still being written are left for the next.
    pub lag_seconds: i64,
    /// Each pull starts this far before the last watermark.
    pub overlap_seconds: i64,
    /// Windows fetched at once.
    pub parallel: usize,
    /// Records per page (1–1000).
    pub page_size: u32,
}

impl Default for PullSettings {
    fn default() -> PullSettings {
        PullSettings {
            source: "default".to_owned(),
            history_from: None,
            window_days: 7,
            lag_seconds: 300,
            overlap_seconds: 900,
            parallel: 4,
            page_size: 1000,
        }
    }
}

impl PullSettings {
    /// 00:00 ICT of `history_from`.
    pub fn history_start(&self) -> Option<Instant> {
        self.history_from
            .map(|d| Instant::from_local(d.and_time(NaiveTime::MIN)))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateSettings {
    /// Hours after 00:00 ICT of the day after a period's last day before its records are taken as
    /// complete (late entries for the last day arrive overnight).
    pub settle_hours: i64,
}

impl Default for GateSettings {
    fn default() -> GateSettings {
        GateSettings { settle_hours: 6 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSettings {
    /// Off: the daemon only delivers what `sync` queues.
    pub enabled: bool,
    /// An incremental pull every this many minutes.
    pub pull_every_minutes: u32,
    /// The pre-fill of a period, the day after its cut-off, at this time (ICT, HH:MM).
    pub prefill_at: String,
    /// While the freshness gate holds, the pre-fill is tried again this often.
    pub gate_retry_minutes: u32,
    /// A daily refresh of each period at this time (ICT), from the day after its pre-fill until
    /// its last deadline.
    pub refresh_at: String,
    /// Which periods are pre-filled: `month`, `quarter`, `half`, `nine_months`, `year`.
    pub periods: Vec<String>,
}

impl Default for ScheduleSettings {
    fn default() -> ScheduleSettings {
        ScheduleSettings {
            enabled: true,
            pull_every_minutes: 15,
            prefill_at: "07:00".to_owned(),
            gate_retry_minutes: 60,
            refresh_at: "07:00".to_owned(),
            periods: vec!["quarter".to_owned()],
        }
    }
}

impl ScheduleSettings {
    pub fn prefill_time(&self) -> Result<NaiveTime, String> {
        parse_time("schedule.prefill_at", &self.prefill_at)
    }

    pub fn refresh_time(&self) -> Result<NaiveTime, String> {
        parse_time("schedule.refresh_at", &self.refresh_at)
    }

    /// The periods to pre-fill, one list per configured kind: the kinds of one year's periods.
    pub fn period_kinds(&self) -> Result<Vec<Vec<PeriodKind>>, String> {
        self.periods
            .iter()
            .map(|p| match p.as_str() {
                "month" => Ok((1..=12).map(PeriodKind::Month).collect()),
                "quarter" => Ok((1..=4).map(PeriodKind::Quarter).collect()),
                "half" => Ok((1..=2).map(PeriodKind::Half).collect()),
                "nine_months" => Ok(vec![PeriodKind::NineMonths]),
                "year" => Ok(vec![PeriodKind::Year]),
                other => Err(format!(
                    "schedule.periods: `{other}` is not month, quarter, half, nine_months or year"
                )),
            })
            .collect()
    }
}

fn parse_time(key: &str, text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("{key}: `{text}` is not a time of day as HH:MM (ICT)"))
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// Drafts in flight at once, per reporting system.
    pub workers_per_system: usize,
    /// A claimed row is a worker's for this long; a crashed worker's rows return after it.
    pub lease_seconds: i64,
    /// Attempts before a transient failure is given up (an operator re-arms it).
    pub max_attempts: i64,
    /// The first wait before another attempt; doubled each time, up to the cap.
    pub retry_base_seconds: i64,
    pub retry_cap_seconds: i64,
    /// On SIGTERM, in-flight writes may finish within this long.
    pub shutdown_grace_seconds: u64,
}

impl Default for DeliverySettings {
    fn default() -> DeliverySettings {
        DeliverySettings {
            workers_per_system: 4,
            lease_seconds: 300,
            max_attempts: 8,
            retry_base_seconds: 60,
            retry_cap_seconds: 3600,
            shutdown_grace_seconds: 30,
        }
    }
}

impl DeliverySettings {
    pub fn policy(&self) -> crate::sync::outbox::Policy {
        crate::sync::outbox::Policy {
            max_attempts: self.max_attempts.max(1),
            retry_base_seconds: self.retry_base_seconds.max(1),
            retry_cap_seconds: self.retry_cap_seconds.max(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// The daemon serves its status page, JSON API and metrics.
    pub enabled: bool,
    /// Where: loopback unless the office's network is meant to reach it.
    pub listen: String,
    /// Operators and the SHA-256 of their tokens (`baocao-sync operator add`); without it only
    /// `/healthz` and `/readyz` answer.
    pub operators_file: Option<PathBuf>,
    /// A browser session lasts this long.
    pub session_hours: u64,
    /// Mark the session cookie Secure (when a TLS proxy is in front).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client (sign-in throttling counts per client
    /// address); from any other peer the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            enabled: true,
            listen: "127.0.0.1:8080".to_owned(),
            operators_file: None,
            session_hours: 12,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
        }
    }
}

/// How the SMTP server is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTls {
    /// Plain, then `STARTTLS` (required: a server that does not offer it is refused).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No TLS: only for a relay on loopback.
    None,
}

/// E-mail to units and the operator (issue 19): off until a server is named.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The SMTP server's host name (checked against its certificate); empty: no e-mail.
    pub server: String,
    pub port: u16,
    pub tls: MailTls,
    /// A CA certificate (PEM) the server's certificate may chain to, besides the usual roots.
    pub ca_file: Option<PathBuf>,
    /// The SMTP login; none: no authentication.
    pub username: Option<String>,
    /// A file holding the SMTP password (a systemd credential); `BAOCAO_SMTP_PASSWORD` when
    /// absent.
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `Văn phòng UBND tỉnh <baocao@example.gov.vn>`.
    pub from: String,
    /// Who gets the operator's digest.
    pub operator: Vec<String>,
    /// The status page's address as officials reach it, for the links in messages
    /// (`https://baocao.example.gov.vn`).
    pub page_url: String,
    /// Reminders go this many days before each deadline (and one the day after it).
    pub remind_days_before: i64,
    /// When reminders and the digest go out (ICT, HH:MM).
    pub at: String,
    /// Attempts before a transient failure is given up.
    pub max_attempts: i64,
    /// The first wait after a transient failure; doubled each time, up to an hour.
    pub retry_base_seconds: i64,
    /// A claimed message is its worker's for this long; after it, an unfinished one is
    /// `uncertain`.
    pub lease_seconds: i64,
    /// Each SMTP command's time limit.
    pub timeout_seconds: u64,
}

impl Default for MailSettings {
    fn default() -> MailSettings {
        MailSettings {
            server: String::new(),
            port: 587,
            tls: MailTls::Starttls,
            ca_file: None,
            username: None,
            password_file: None,
            from: String::new(),
            operator: Vec::new(),
            page_url: String::new(),
            remind_days_before: 3,
            at: "08:00".to_owned(),
            max_attempts: 6,
            retry_base_seconds: 300,
            lease_seconds: 300,
            timeout_seconds: 60,
        }
    }
}

impl MailSettings {
    /// A server is named: the product sends e-mail.
    pub fn enabled(&self) -> bool {
        !self.server.trim().is_empty()
    }

    pub fn send_time(&self) -> Result<NaiveTime, String> {
        parse_time("mail.at", &self.at)
    }

    fn check(&self) -> Result<(), String> {
        self.send_time()?;
        if !self.enabled() {
            return Ok(());
        }
        if self.from.trim().is_empty() {
            return Err(
                "mail.from is required when mail.server is set (the sender's address)".to_owned(),
            );
        }
        if self.page_url.trim().is_empty() {
            return Err("mail.page_url is required when mail.server is set: the status page's address officials open from a message".to_owned());
        }
        if self.max_attempts < 1 || self.retry_base_seconds < 1 || self.lease_seconds < 10 {
            return Err(
                "mail: max_attempts and retry_base_seconds at least 1, lease_seconds at least 10"
                    .to_owned(),
            );
        }
        if self.remind_days_before < 0 {
            return Err("mail.remind_days_before: 0 or more".to_owned());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSettings {
    /// tracing's filter for this product (`info`, `debug`, `baocao_sync::sync=trace`…); RUST_LOG
    /// overrides it.
    pub filter: String,
}

impl Default for LoggingSettings {
    fn default() -> LoggingSettings {
        LoggingSettings {
            filter: "info".to_owned(),
        }
    }
}

/// What the command line sets, over the environment and the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub key_file: Option<PathBuf>,
    pub units: Option<PathBuf>,
    pub duties: Option<PathBuf>,
    pub upstreams: Option<PathBuf>,
    pub forms_dir: Option<PathBuf>,
    pub catalog_dir: Option<PathBuf>,
}

/// Everything the settings point to, read and parsed.
#[derive(Debug, Clone)]
pub struct Parts {
    pub units: UnitTree,
    pub duties: Duties,
    pub upstreams: Upstreams,
    pub forms: FormCatalog,
    pub catalog: Option<crate::catalog::FieldCatalog>,
    pub checks: ChecksConfig,
    /// Every source, `[upstreams.source]` included, checked and with its CA file read.
    pub sources: Vec<crate::sources::config::SourceSettings>,
}

impl Settings {
    /// Layers the defaults, the file (when given; it must exist), `BAOCAO__SECTION__KEY`
    /// variables and the command line's overrides, then checks what can be checked without
    /// reading other files.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let origin = file.map_or_else(
            || "the configuration".to_owned(),
            |p| p.display().to_string(),
        );
        let invalid = |reason: String| ConfigError::Invalid {
            path: origin.clone(),
            reason,
        };
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such file (see config/baocao-sync.example.toml)",
                    ),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("BAOCAO__").split("__"));
        let set = |figment: Figment, key: &str, value: Option<String>| match value {
            Some(v) => figment.merge(Serialized::default(key, v)),
            None => figment,
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        figment = set(
            figment,
            "store.database_url",
            overrides.database_url.clone(),
        );
        figment = set(figment, "vault.key_file", path(&overrides.key_file));
        figment = set(figment, "files.units", path(&overrides.units));
        figment = set(figment, "files.duties", path(&overrides.duties));
        figment = set(figment, "files.upstreams", path(&overrides.upstreams));
        figment = set(figment, "files.forms_dir", path(&overrides.forms_dir));
        figment = set(figment, "files.catalog_dir", path(&overrides.catalog_dir));
        let settings: Settings = figment
            .extract()
            .map_err(|e| invalid(e.to_string().replace('\n', "; ")))?;
        settings.check().map_err(invalid)?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), String> {
        self.mail.check()?;
        self.schedule.prefill_time()?;
        self.schedule.refresh_time()?;
        self.schedule.period_kinds()?;
        if self.schedule.pull_every_minutes == 0 || self.schedule.gate_retry_minutes == 0 {
            return Err("schedule: minutes must be at least 1".to_owned());
        }
        if !(1..=1000).contains(&self.pull.page_size) {
            return Err("pull.page_size: 1 to 1000".to_owned());
        }
        if self.pull.window_days < 1 || self.pull.parallel < 1 {
            return Err("pull.window_days and pull.parallel: at least 1".to_owned());
        }
        if self.delivery.workers_per_system < 1 || self.delivery.lease_seconds < 10 {
            return Err(
                "delivery: at least 1 worker per system and a lease of at least 10 seconds"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// 00:00 ICT of `pull.history_from`, which the pipeline cannot run without.
    pub fn require_history(&self) -> Result<Instant, ConfigError> {
        self.pull.history_start().ok_or_else(|| ConfigError::Invalid {
            path: "the configuration".to_owned(),
            reason: "pull.history_from is required: the day from which records are pulled and must be \
                     covered (carried-over dossiers can be a year old; e.g. the first day of the previous year)"
                .to_owned(),
        })
    }

    /// Reads every file the settings point to; the unit tree is required. Each error names the
    /// setting or the file to fix.
    pub fn load_parts(&self) -> Result<Parts, ConfigError> {
        let missing = |what: &str| ConfigError::Invalid {
            path: "the configuration".to_owned(),
            reason: what.to_owned(),
        };
        let units = configuration::units(self.files.units.as_deref().ok_or_else(|| {
            missing("files.units is required (or --units): the unit tree as TOML")
        })?)?;
        let duties = match &self.files.duties {
            Some(p) => configuration::duties(p)?,
            None => Duties::builtin(),
        };
        let upstreams = self.load_upstreams()?;
        let forms = configuration::forms_or_builtin(self.files.forms_dir.as_deref())?;
        let catalog = self
            .files
            .catalog_dir
            .as_deref()
            .map(configuration::catalog)
            .transpose()?;
        let checks = match &self.files.checks {
            Some(path) => configuration::checks(path)?,
            None => ChecksConfig::builtin(),
        };
        let sources = self.sources_with(&upstreams)?;
        Ok(Parts {
            units,
            duties,
            upstreams,
            forms,
            catalog,
            checks,
            sources,
        })
    }

    /// Every source: `[[sources]]`, and `[upstreams.source]` as a `baocao` source named
    /// `pull.source` (unless a `[[sources]]` entry has that name), checked, CA files read.
    pub fn sources_with(
        &self,
        upstreams: &Upstreams,
    ) -> Result<Vec<crate::sources::config::SourceSettings>, ConfigError> {
        let mut all = self.sources.clone();
        if let Some(endpoint) = &upstreams.source
            && !all.iter().any(|s| s.name == self.pull.source)
        {
            all.push(crate::sources::config::legacy(endpoint, &self.pull));
        }
        configuration::sources_ready(all)
    }

    /// The sources, reading only the upstreams the settings name.
    pub fn load_sources(&self) -> Result<Vec<crate::sources::config::SourceSettings>, ConfigError> {
        match self.load_upstreams() {
            Ok(u) => self.sources_with(&u),
            // No upstreams at all: the `[[sources]]` alone (a receiver, a file-fed province).
            Err(_) if self.upstreams.is_none() && self.files.upstreams.is_none() => {
                configuration::sources_ready(self.sources.clone())
            }
            Err(e) => Err(e),
        }
    }

    /// The upstream systems: `files.upstreams` when set, else the inline `[upstreams]`, checked.
    pub fn load_upstreams(&self) -> Result<Upstreams, ConfigError> {
        match (&self.files.upstreams, &self.upstreams) {
            (Some(path), _) => configuration::upstreams(path),
            (None, Some(inline)) => configuration::upstreams_ready(inline.clone(), "[upstreams]"),
            (None, None) => Err(ConfigError::Invalid {
                path: "the configuration".to_owned(),
                reason:
                    "no upstream systems: an [upstreams] section, or files.upstreams (--upstreams)"
                        .to_owned(),
            }),
        }
    }

    /// The settings as they resolved, as TOML, with the database password masked.
    pub fn resolved(&self) -> String {
        let mut shown = self.clone();
        shown.store.database_url = crate::store::redact_url(&self.store.database_url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot show: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/baocao-sync.example.toml")
    }

    #[test]
    fn the_example_file_loads_and_everything_it_names_reads() {
        let settings = Settings::load(Some(&example()), &Overrides::default()).unwrap();
        assert!(settings.pull.history_from.is_some());
        // Relative paths in the example are from the project root.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut s = settings.clone();
        s.files.units = s.files.units.map(|p| root.join(p));
        s.files.duties = s.files.duties.map(|p| root.join(p));
        s.files.catalog_dir = s.files.catalog_dir.map(|p| root.join(p));
        let parts = s.load_parts().unwrap();
        assert!(parts.units.len() > 1);
        assert!(parts.upstreams.source.is_some());
    }

    #[test]
    fn flags_win_over_the_file_and_passwords_are_masked() {
        let overrides = Overrides {
            database_url: Some("postgres://baocao:hemmelig@db.internal/baocao".to_owned()),
            ..Overrides::default()
        };
        let settings = Settings::load(Some(&example()), &overrides).unwrap();
        assert_eq!(
            settings.store.database_url,
            "postgres://baocao:hemmelig@db.internal/baocao"
        );
        let shown = settings.resolved();
        assert!(!shown.contains("hemmelig"), "{shown}");
        assert!(shown.contains("postgres://baocao:***@db.internal/baocao"));
    }

    #[test]
    fn mistakes_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[schedule]\nprefill_at = \"7h\"\n").unwrap();
        let e = Settings::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("schedule.prefill_at"), "{e}");
        std::fs::write(&file, "[pull]\nhistory_form = \"2023-01-01\"\n").unwrap();
        let e = Settings::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("history_form"), "{e}");
        let e =
            Settings::load(Some(&dir.path().join("none.toml")), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("none.toml"), "{e}");
        let s = Settings::load(None, &Overrides::default()).unwrap();
        let e = s.require_history().unwrap_err();
        assert!(e.to_string().contains("pull.history_from"), "{e}");
        let e = s.load_parts().unwrap_err();
        assert!(e.to_string().contains("files.units"), "{e}");
    }
}
