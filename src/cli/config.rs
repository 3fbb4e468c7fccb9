//! The flags every daemon-side command shares: the configuration file and the flags (and older
//! environment variables) that override it, the vault, the clock.

use anyhow::Context;
use baocao_sync::auth::vault::{Vault, VaultError};
use baocao_sync::domain::Instant;
use baocao_sync::settings::{Overrides, Parts, Settings};
use baocao_sync::sync::{Clock, Engine, Simulation};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// The configuration file (see config/baocao-sync.example.toml).
    #[arg(long, env = "BAOCAO_CONFIG")]
    pub config: Option<PathBuf>,
    /// The store: sqlite://PATH (embedded) or postgres://USER@HOST/DB.
    #[arg(long, env = "BAOCAO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The vault key file; else BAOCAO_VAULT_KEY holds the key itself.
    #[arg(long, env = "BAOCAO_VAULT_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// The unit tree as TOML.
    #[arg(long)]
    pub units: Option<PathBuf>,
    /// Duties: who files what, where, by when.
    #[arg(long, env = "BAOCAO_DUTIES")]
    pub duties: Option<PathBuf>,
    /// The upstream systems as their own file (config/upstreams.example.toml's shape).
    #[arg(long, env = "BAOCAO_UPSTREAMS")]
    pub upstreams: Option<PathBuf>,
    /// Form definitions folder; the copy built into the binary by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    pub forms_dir: Option<PathBuf>,
    /// Field catalogue folder.
    #[arg(long, env = "BAOCAO_CATALOG_DIR")]
    pub catalog: Option<PathBuf>,
    /// What "now" is (RFC 3339), for tests and replays; the clock runs on from it.
    #[arg(long, hide = true)]
    pub now: Option<String>,
    /// With `--now`: the clock stands still at it (crash drills compare runs at one instant).
    #[arg(long, hide = true, requires = "now")]
    pub freeze_clock: bool,
    /// With `--now`: a simulated clock, `SPEED@ANCHOR_MS`: at the real instant ANCHOR_MS (Unix
    /// milliseconds) it reads `--now` and runs SPEED times as fast (a quarter in minutes; give
    /// the sandbox and every replica the same).
    #[arg(long, hide = true, requires = "now", conflicts_with = "freeze_clock")]
    pub simulate: Option<String>,
}

impl ConfigArgs {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let overrides = Overrides {
            database_url: self.database_url.clone(),
            key_file: self.key_file.clone(),
            units: self.units.clone(),
            duties: self.duties.clone(),
            upstreams: self.upstreams.clone(),
            forms_dir: self.forms_dir.clone(),
            catalog_dir: self.catalog.clone(),
        };
        Ok(Settings::load(self.config.as_deref(), &overrides)?)
    }

    pub fn clock(&self) -> anyhow::Result<Clock> {
        Ok(match &self.now {
            Some(text) => {
                let now = Instant::parse(text).map_err(|e| anyhow::anyhow!("--now: {e}"))?;
                match &self.simulate {
                    Some(spec) => Clock::simulated(
                        Simulation::parse(spec, now)
                            .map_err(|e| anyhow::anyhow!("--simulate: {e}"))?,
                    ),
                    None if self.freeze_clock => Clock::frozen_at(now),
                    None => Clock::starting_at(now),
                }
            }
            None => Clock::system(),
        })
    }

    /// Settings, the files they name, the vault (if a key is configured) and the clock, as one
    /// engine over the store.
    pub async fn engine(&self) -> anyhow::Result<Engine> {
        let settings = self.settings()?;
        let parts: Parts = settings.load_parts()?;
        let vault = vault(&settings)?;
        Ok(Engine::start(settings, parts, vault, self.clock()?).await?)
    }
}

/// The vault, from `vault.key_file` or `BAOCAO_VAULT_KEY`; `None` when neither is set.
pub fn vault(settings: &Settings) -> anyhow::Result<Option<Vault>> {
    match &settings.vault.key_file {
        Some(path) => {
            for warning in key_file_warnings(path, &settings.store.database_url) {
                tracing::warn!(key_file = %path.display(), "{warning}");
            }
            Ok(Some(read_key(path)?))
        }
        None => match std::env::var("BAOCAO_VAULT_KEY") {
            Ok(key) => Ok(Some(Vault::from_base64(&key)?)),
            Err(_) => Ok(None),
        },
    }
}

/// The vault, which this command cannot do without.
pub fn require_vault(settings: &Settings) -> anyhow::Result<Vault> {
    vault(settings)?.ok_or_else(|| VaultError::NoKey.into())
}

/// What is unsafe about where the vault key is kept, in words with the fix: a key file others may
/// read, or one in the folder of the SQLite store whose logins it opens (whoever copies or backs up
/// that folder takes both).
pub fn key_file_warnings(key: &Path, database_url: &str) -> Vec<String> {
    let mut out = Vec::new();
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(key) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            out.push(format!(
                "the vault key file is readable by others (mode {mode:o}): chmod 600 {}",
                key.display()
            ));
        }
    }
    let store = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| Path::new(rest.split('?').next().unwrap_or(rest)));
    let folder = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
        std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()
    };
    if let Some(store) = store
        && folder(store).is_some()
        && folder(store) == folder(key)
    {
        out.push(format!(
            "the vault key file sits beside the store it opens ({}): whoever copies or backs up that folder has every login; keep the key elsewhere (e.g. /etc/baocao-sync/vault.key, mode 600)",
            store.display()
        ));
    }
    out
}

pub fn read_key(path: &Path) -> anyhow::Result<Vault> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    Ok(Vault::from_base64(&text)?)
}

/// Who runs a command from the shell: `cli:<user>`.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}

/// A password from the first line of standard input (never from the command line).
pub fn password_stdin() -> anyhow::Result<secrecy::SecretString> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("the password read from standard input is empty");
    }
    Ok(secrecy::SecretString::from(password.to_owned()))
}
