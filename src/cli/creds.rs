use anyhow::{Context, bail};
use baocao_sync::auth::check;
use baocao_sync::auth::vault::{Credential, System, Vault, VaultError};
use baocao_sync::configuration;
use baocao_sync::duties::Duties;
use baocao_sync::store::{self, Store};
use secrecy::SecretString;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CredsCommand {
    /// Write a new random vault key to a file (readable by its owner only).
    InitKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Store a unit's login for a system; the password is read from standard input.
    Set {
        /// central (VNConnect, citizen-ID user name), provincial (government mail) or source.
        #[arg(long)]
        system: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input (never from the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// List stored logins, citizen-ID numbers masked (no key needed).
    List {
        #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// Log in with every credential and print the chase list: units that must file with no
    /// credential, a failing login, or a password older than the configured age.
    Check {
        /// Unit tree as TOML.
        #[arg(long)]
        units: PathBuf,
        /// Token endpoints and the password age limit (see config/upstreams.example.toml).
        #[arg(long, env = "BAOCAO_UPSTREAMS")]
        upstreams: PathBuf,
        /// Duties: who must file, where; the shipped example by default.
        #[arg(long, env = "BAOCAO_DUTIES")]
        duties: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
    /// Re-seal every credential under a new key, all or nothing.
    RotateKey {
        /// The new key (from `creds init-key`).
        #[arg(long)]
        new_key_file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
        database_url: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// The vault key file; else BAOCAO_VAULT_KEY holds the key itself.
    #[arg(long, env = "BAOCAO_VAULT_KEY_FILE")]
    key_file: Option<PathBuf>,
}

impl KeyArgs {
    pub fn vault(&self) -> anyhow::Result<Vault> {
        match &self.key_file {
            Some(path) => read_key(path),
            None => match std::env::var("BAOCAO_VAULT_KEY") {
                Ok(key) => Ok(Vault::from_base64(&key)?),
                Err(_) => Err(VaultError::NoKey.into()),
            },
        }
    }
}

fn read_key(path: &Path) -> anyhow::Result<Vault> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    Ok(Vault::from_base64(&text)?)
}

pub fn run(c: CredsCommand) -> anyhow::Result<ExitCode> {
    match c {
        CredsCommand::InitKey { out } => {
            if out.exists() {
                bail!(
                    "{} exists; a key file is never overwritten (rotate to a new file instead)",
                    out.display()
                );
            }
            write_private(&out, &Vault::generate_key())?;
            let vault = read_key(&out)?;
            println!(
                "new vault key {} written to {}",
                vault.key_id(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::Set {
            system,
            unit,
            username,
            password_stdin: _,
            key,
            database_url,
        } => {
            let system: System = system.parse()?;
            let username = system.username(&username)?;
            let vault = key.vault()?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("the password read from standard input is empty");
            }
            let credential = Credential {
                system,
                unit: unit.trim().to_owned(),
                username,
                password: SecretString::from(password.to_owned()),
            };
            let sealed = vault.seal(&credential, now());
            super::runtime()?.block_on(async {
                store::open(&database_url)
                    .await?
                    .put_credential(&sealed)
                    .await?;
                anyhow::Ok(())
            })?;
            println!(
                "stored {} login of {} ({}) under key {}",
                system,
                credential.unit,
                credential.username,
                vault.key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::List { database_url } => {
            let list = super::runtime()?.block_on(async {
                anyhow::Ok(store::open(&database_url).await?.credentials().await?)
            })?;
            println!(
                "{:<11} {:<18} {:<36} {:<21} key",
                "system", "unit", "login", "set at"
            );
            for c in &list {
                println!(
                    "{:<11} {:<18} {:<36} {:<21} {}",
                    c.system, c.unit, c.username_shown, c.set_at, c.key_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::Check {
            units,
            upstreams,
            duties,
            key,
            database_url,
        } => {
            let units = configuration::units(&units)?;
            let upstreams = configuration::upstreams(&upstreams)?;
            let duties = match duties {
                Some(p) => configuration::duties(&p)?,
                None => Duties::builtin(),
            };
            let vault = key.vault()?;
            let rows = super::runtime()?.block_on(async {
                let sealed = store::open(&database_url).await?.credentials().await?;
                anyhow::Ok(
                    check::chase_list(
                        &units,
                        &duties,
                        &upstreams,
                        &vault,
                        &sealed,
                        chrono::Utc::now(),
                    )
                    .await,
                )
            })?;
            let problems: Vec<_> = rows.iter().filter(|r| r.problem.is_some()).collect();
            for r in &problems {
                println!(
                    "{:<18} {:<34} {:<11} {}",
                    r.unit,
                    r.name,
                    r.system,
                    r.problem.as_deref().unwrap_or("")
                );
            }
            println!(
                "{} logins checked: {} ok, {} to chase",
                rows.len(),
                rows.len() - problems.len(),
                problems.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::RotateKey {
            new_key_file,
            key,
            database_url,
        } => {
            let (old, new) = (key.vault()?, read_key(&new_key_file)?);
            let count = super::runtime()?.block_on(async {
                let store = store::open(&database_url).await?;
                let sealed = store.credentials().await?;
                // Open everything first: one that does not open stops the rotation before any write.
                let resealed = sealed
                    .iter()
                    .map(|s| Ok(new.seal(&old.open(s)?, s.set_at.clone())))
                    .collect::<Result<Vec<_>, VaultError>>()?;
                store.replace_credentials(&resealed).await?;
                anyhow::Ok(resealed.len())
            })?;
            println!(
                "{count} credentials re-sealed from key {} to key {}",
                old.key_id(),
                new.key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Creates a file only its owner can read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
