//! `receiver`: the accounts one-stop systems push with (`client add|remove|list`), and `serve`,
//! the configured receivers alone (the daemon serves them too).

use super::config::ConfigArgs;
use anyhow::bail;
use baocao_sync::sources::config::Protocol;
use baocao_sync::store::{AuditEntry, Store};
use secrecy::ExposeSecret;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum ReceiverCommand {
    /// Give a one-stop system an account on a receiver (or a new password); the password is read
    /// from standard input and kept only as an argon2 hash.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Serve the configured receivers (those with `receiver.listen`) until SIGTERM or Ctrl-C.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    Add {
        /// The receiver source's name (`[[sources]]`, protocol `receiver`).
        #[arg(long)]
        source: String,
        /// The client's user name (what its login sends as `username`).
        #[arg(long)]
        client: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    Remove {
        #[arg(long)]
        source: String,
        #[arg(long)]
        client: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    List {
        #[arg(long)]
        source: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// The receiver source `name` of the configuration.
fn receiver_source(
    settings: &baocao_sync::settings::Settings,
    name: &str,
) -> anyhow::Result<baocao_sync::sources::config::SourceSettings> {
    let sources = settings.load_sources()?;
    match sources.into_iter().find(|s| s.name == name) {
        Some(s) if s.protocol == Protocol::Receiver => Ok(s),
        Some(s) => bail!(
            "source `{name}` speaks `{}`, not `receiver`: only receivers have clients",
            s.protocol
        ),
        None => bail!("no source is named `{name}` in the configuration ([[sources]])"),
    }
}

pub async fn run(c: ReceiverCommand) -> anyhow::Result<ExitCode> {
    match c {
        ReceiverCommand::Client(ClientCommand::Add {
            source,
            client,
            password_stdin: _,
            config,
        }) => {
            let settings = config.settings()?;
            receiver_source(&settings, &source)?;
            if client.trim().is_empty() {
                bail!("the client's name is empty");
            }
            let secret = super::config::password_stdin()?;
            if secret.expose_secret().chars().count() < 12 {
                bail!(
                    "the password is shorter than 12 characters; give the one-stop system a longer one"
                );
            }
            let hash =
                baocao_sync::auth::receiver::hash_password(&secret).map_err(anyhow::Error::msg)?;
            let store = baocao_sync::store::open(&settings.store.database_url).await?;
            let at = config.clock()?.now();
            store
                .put_receiver_client(&source, client.trim(), &hash, at)
                .await?;
            store
                .append_audit(&[AuditEntry {
                    at: Some(at),
                    actor: super::config::cli_actor(),
                    action: "receiver_client_set".to_owned(),
                    system: Some(format!("source:{source}")),
                    reason: format!("client {}", client.trim()),
                    ..AuditEntry::default()
                }])
                .await?;
            println!("receiver `{source}`: client `{}` can log in", client.trim());
            Ok(ExitCode::SUCCESS)
        }
        ReceiverCommand::Client(ClientCommand::Remove {
            source,
            client,
            config,
        }) => {
            let settings = config.settings()?;
            let store = baocao_sync::store::open(&settings.store.database_url).await?;
            if !store.remove_receiver_client(&source, &client).await? {
                bail!("receiver `{source}` has no client `{client}`");
            }
            store
                .append_audit(&[AuditEntry {
                    at: Some(config.clock()?.now()),
                    actor: super::config::cli_actor(),
                    action: "receiver_client_removed".to_owned(),
                    system: Some(format!("source:{source}")),
                    reason: format!("client {client}"),
                    ..AuditEntry::default()
                }])
                .await?;
            println!("receiver `{source}`: client `{client}` removed, its sessions ended");
            Ok(ExitCode::SUCCESS)
        }
        ReceiverCommand::Client(ClientCommand::List { source, config }) => {
            let settings = config.settings()?;
            let store = baocao_sync::store::open(&settings.store.database_url).await?;
            for (client, at) in store.receiver_clients(&source).await? {
                println!("{client}\tset {}", at.to_local().format("%d/%m/%Y %H:%M"));
            }
            Ok(ExitCode::SUCCESS)
        }
        ReceiverCommand::Serve { config } => {
            let settings = config.settings()?;
            let sources = settings.load_sources()?;
            let units = match &settings.files.units {
                Some(path) => baocao_sync::configuration::units(path)?,
                None => bail!("files.units is required (or --units): dossiers name their units"),
            };
            let store = baocao_sync::store::open(&settings.store.database_url).await?;
            let clock = config.clock()?;
            let now: baocao_sync::sources::receiver::Now = Arc::new(move || clock.now());
            let (trigger, stop) = baocao_sync::shutdown::channel();
            let served =
                baocao_sync::sources::receiver::spawn_all(&store, &sources, &units, now, stop)
                    .await
                    .map_err(anyhow::Error::msg)?;
            if served.is_empty() {
                bail!(
                    "no receiver is configured with receiver.listen ([[sources]] protocol = \"receiver\")"
                );
            }
            for r in &served {
                println!("receiver `{}` listening on http://{}", r.name, r.address);
            }
            use std::io::Write;
            std::io::stdout().flush()?;
            baocao_sync::shutdown::signal().await;
            trigger.pull();
            for r in served {
                r.task.await??;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
