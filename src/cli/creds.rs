use super::config::{ConfigArgs, read_key};
use anyhow::{Context, bail};
use baocao_sync::auth::check;
use baocao_sync::auth::vault::{Credential, System, Vault, VaultError};
use baocao_sync::store::{self, AuditEntry, OutboxFilter, Store};
use baocao_sync::sync::{self, outbox::Event};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CredsCommand {
    /// Write a new random vault key to a file (readable by its owner only).
    InitKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Store a unit's login for a system; the password is read from standard input. Reports that
    /// waited for this login are armed again.
    Set {
        /// central (VNConnect, citizen-ID user name), provincial (government mail) or source.
        #[arg(long, required_unless_present = "source", conflicts_with = "source")]
        system: Option<String>,
        #[arg(long, required_unless_present = "source", conflicts_with = "source")]
        unit: Option<String>,
        /// A configured source's login, by its name (`[[sources]]`; `NAME:gateway` for the LGSP
        /// gateway in front of it, `NAME:client` for its OpenID client's secret).
        #[arg(long)]
        source: Option<String>,
        /// The user name, client id or access key.
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input (never from the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Store many logins at once from a CSV file with the header `system,unit,username,password`
    /// (keep the file readable by its owner only, and delete it after).
    Import {
        #[arg(long)]
        csv: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List stored logins, citizen-ID numbers masked (no key needed).
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Log in with every credential and print the chase list: units that must file with no
    /// credential, a failing login, or a password older than the configured age.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Re-seal every credential under a new key, all or nothing.
    RotateKey {
        /// The new key (from `creds init-key`).
        #[arg(long)]
        new_key_file: PathBuf,
        #[command(flatten)]
        config: ConfigArgs,
    },
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
            source,
            username,
            password_stdin: _,
            config,
        } => {
            let settings = config.settings()?;
            let (system, unit) = match source {
                Some(name) => (System::Source, name),
                None => (
                    system.unwrap_or_default().parse()?,
                    unit.unwrap_or_default(),
                ),
            };
            let username = system.username(&username)?;
            let vault = super::config::require_vault(&settings)?;
            let credential = Credential {
                system,
                unit: unit.trim().to_owned(),
                username,
                password: super::config::password_stdin()?,
            };
            let rearmed = super::runtime()?.block_on(async {
                let store = store::open(&settings.store.database_url).await?;
                let at = config.clock()?.now();
                store_login(&store, &settings, &vault, &credential, at).await
            })?;
            println!(
                "stored {} login of {} ({}) under key {}",
                system,
                credential.unit,
                credential.username,
                vault.key_id()
            );
            if rearmed > 0 {
                println!("{rearmed} report(s) that waited for this login are armed again");
            }
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::Import { csv, config } => {
            let settings = config.settings()?;
            let vault = super::config::require_vault(&settings)?;
            let mut reader = ::csv::Reader::from_path(&csv)
                .with_context(|| format!("cannot read {}", csv.display()))?;
            let mut credentials = Vec::new();
            for (i, record) in reader.deserialize::<LoginLine>().enumerate() {
                // The header is line 1; a message names the line, never the password.
                let line = i + 2;
                let l = record.with_context(|| {
                    format!(
                        "{} line {line}: system,unit,username,password",
                        csv.display()
                    )
                })?;
                let system: System = l
                    .system
                    .trim()
                    .parse()
                    .with_context(|| format!("line {line}"))?;
                if l.password.is_empty() {
                    bail!("{} line {line}: the password is empty", csv.display());
                }
                credentials.push(Credential {
                    system,
                    unit: l.unit.trim().to_owned(),
                    username: system
                        .username(&l.username)
                        .with_context(|| format!("line {line}"))?,
                    password: SecretString::from(l.password),
                });
            }
            let rearmed = super::runtime()?.block_on(async {
                let store = store::open(&settings.store.database_url).await?;
                let at = config.clock()?.now();
                let mut rearmed = 0;
                for c in &credentials {
                    rearmed += store_login(&store, &settings, &vault, c, at).await?;
                }
                anyhow::Ok(rearmed)
            })?;
            println!(
                "stored {} logins under key {}; {rearmed} report(s) armed again",
                credentials.len(),
                vault.key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
        CredsCommand::List { config } => {
            let settings = config.settings()?;
            let list = super::runtime()?.block_on(async {
                anyhow::Ok(
                    store::open(&settings.store.database_url)
                        .await?
                        .credentials()
                        .await?,
                )
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
        CredsCommand::Check { config } => {
            let settings = config.settings()?;
            let parts = settings.load_parts()?;
            let vault = super::config::require_vault(&settings)?;
            let rows = super::runtime()?.block_on(async {
                let sealed = store::open(&settings.store.database_url)
                    .await?
                    .credentials()
                    .await?;
                let mut rows = check::chase_list(
                    &parts.units,
                    &parts.duties,
                    &parts.upstreams,
                    &vault,
                    &sealed,
                    chrono::Utc::now(),
                )
                .await;
                rows.extend(
                    check::source_rows(
                        &parts.sources,
                        &vault,
                        &sealed,
                        chrono::Utc::now(),
                        parts.upstreams.password_max_age_days,
                    )
                    .await,
                );
                anyhow::Ok(rows)
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
            config,
        } => {
            let settings = config.settings()?;
            let old = super::config::require_vault(&settings)?;
            let new = read_key(&new_key_file)?;
            let count = super::runtime()?.block_on(async {
                let store = store::open(&settings.store.database_url).await?;
                let sealed = store.credentials().await?;
                // Open everything first: one that does not open stops the rotation before any write.
                let resealed = sealed
                    .iter()
                    .map(|s| Ok(new.seal(&old.open(s)?, s.set_at.clone())))
                    .collect::<Result<Vec<_>, VaultError>>()?;
                store.replace_credentials(&resealed).await?;
                store
                    .append_audit(&[AuditEntry {
                        at: Some(config.clock()?.now()),
                        actor: super::config::cli_actor(),
                        action: "credential_rotate".to_owned(),
                        reason: format!(
                            "{} logins re-sealed from key {} to key {}",
                            resealed.len(),
                            old.key_id(),
                            new.key_id()
                        ),
                        ..AuditEntry::default()
                    }])
                    .await?;
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

/// One line of `creds import`.
#[derive(serde::Deserialize)]
struct LoginLine {
    system: String,
    unit: String,
    username: String,
    password: String,
}

/// Seals and stores one login, audits it (never the secret), and arms again the reports that
/// waited for it; returns how many were.
async fn store_login(
    store: &store::AnyStore,
    settings: &baocao_sync::settings::Settings,
    vault: &Vault,
    credential: &Credential,
    at: baocao_sync::domain::Instant,
) -> anyhow::Result<usize> {
    let sealed = vault.seal(credential, now());
    store.put_credential(&sealed).await?;
    let actor = super::config::cli_actor();
    let system = credential.system.as_str().to_owned();
    store
        .append_audit(&[AuditEntry {
            at: Some(at),
            actor: actor.clone(),
            action: "credential_set".to_owned(),
            system: Some(system.clone()),
            unit: Some(credential.unit.clone()),
            reason: format!(
                "login {} under key {}",
                sealed.username_shown,
                vault.key_id()
            ),
            ..AuditEntry::default()
        }])
        .await?;
    let filter = OutboxFilter {
        system: Some(system),
        unit: Some(credential.unit.clone()),
        ..OutboxFilter::default()
    };
    let done = sync::operate(
        store,
        &filter,
        Event::CredentialSet,
        &actor,
        "rearm",
        "a new login was set",
        at,
        &settings.delivery.policy(),
    )
    .await?;
    Ok(done.changed.len())
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
