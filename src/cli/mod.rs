//! Command-line interface. Each subcommand is a thin driver over the library; errors become one
//! line on standard error (anyhow lives here, in the binary, and nowhere else).

mod backup;
mod catalog;
mod config;
mod creds;
mod daemon;
mod demo;
mod explain;
mod generate;
mod import;
mod letter;
mod mail;
mod outbox;
mod plan;
mod pull;
mod push;
mod receiver;
mod reconcile;
mod report;
mod sandbox;
mod status;
mod sync;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "baocao-sync",
    version,
    about = "Pre-fills administrative-procedure reports (II.06a, II.06, …) of provincial units"
)]
pub struct Cli {
    /// Log filter (tracing's EnvFilter syntax); the configuration's [logging] filter, else
    /// `info`, by default; RUST_LOG overrides it.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    pub fn log_filter(&self) -> String {
        let level = self.log.clone().unwrap_or_else(|| {
            // The daemon-side commands take their default from the configuration file.
            let config = match &self.command {
                Command::Daemon(a) => a.config_file(),
                _ => None,
            }
            .or_else(|| std::env::var_os("BAOCAO_CONFIG").map(Into::into));
            baocao_sync::settings::Settings::load(
                config.as_deref(),
                &baocao_sync::settings::Overrides::default(),
            )
            .map(|s| s.logging.filter)
            .unwrap_or_else(|_| "info".to_owned())
        });
        format!("warn,baocao_sync={level},baocao_sync_cli={level}")
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute a form from a dossier export (or the store) and print it as JSON, CSV or XLSX.
    Report(Box<report::ReportArgs>),
    /// The dossiers behind one figure of II.06a or II.06, each with the rule that placed it.
    Explain(Box<explain::ExplainArgs>),
    /// Our II.06a beside another system's statistics: every difference with the dossiers a known
    /// other reading of the rules moves, or left unexplained (exit 4 when any is).
    Reconcile(Box<reconcile::ReconcileArgs>),
    /// Store the dossiers of an export in the database, keyed by MaHoSo.
    Import(import::ImportArgs),
    /// Write a synthetic data set (units.toml, dossiers.ndjson) for benchmarks and demos.
    Generate(generate::GenerateArgs),
    /// List what every unit must file for a period, where, and by when.
    Plan(plan::PlanArgs),
    /// The provincial office's own letters, as Decree 30 DOCX.
    #[command(subcommand)]
    Letter(letter::LetterCommand),
    /// Copy the SQLite store whole into a new file, while the daemon runs (VACUUM INTO).
    Backup(Box<backup::BackupArgs>),
    /// Put a backup in place of the store (the daemon stopped; the vault key is not in it).
    Restore(Box<backup::RestoreArgs>),
    /// E-mail to units and the operator: send, enqueue by hand, list, resend, opt out.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// The whole product on this machine: a generated province in the sandbox, the daemon with its
    /// status page pre-filling the last ended quarter; Ctrl-C stops it.
    Demo(Box<demo::DemoArgs>),
    /// Run the daemon: the schedule and the delivery workers, until SIGTERM or Ctrl-C.
    Daemon(Box<daemon::DaemonArgs>),
    /// Run the pipeline once over a period (pull, freshness gate, compute, outbox, deliver).
    Sync(Box<sync::SyncArgs>),
    /// Where every report of a period stands: state, remote version, last attempt, deadline.
    Status(Box<status::StatusArgs>),
    /// Retry, hold or release reports in the outbox.
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Overwrite one report's draft although a person edited it (never an approved one).
    ForcePush(Box<outbox::ForcePushArgs>),
    /// Print the configuration as it resolves (passwords masked) and check what it names.
    CheckConfig(Box<daemon::CheckConfigArgs>),
    /// Exit 0 when the daemon's admin HTTP answers /healthz (or /readyz): for container checks.
    Healthcheck(Box<daemon::HealthcheckArgs>),
    /// Admin HTTP operators.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Pull dossiers (or ratings, feedback) from the procedure-handling system into the store.
    Pull(Box<pull::PullArgs>),
    /// The pipeline without its pull: compute from the store, gate, push the drafts.
    Push(Box<sync::SyncArgs>),
    /// Serve the upstream systems' contracts on loopback from a data set, for tests and demos.
    Sandbox(sandbox::SandboxArgs),
    /// Receivers one-stop systems push to: their clients' accounts, and serving them alone.
    #[command(subcommand)]
    Receiver(receiver::ReceiverCommand),
    /// Units' logins for the upstream systems, sealed in the store.
    #[command(subcommand)]
    Creds(creds::CredsCommand),
    /// The field catalogue: import from the national procedure database.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Add an operator (or give one a new token); prints the token once.
    Add(daemon::OperatorAddArgs),
    /// Give an official of a unit (and its subtree) a one-time link that sets their password
    /// for reading the unit's page; prints the link once.
    ViewerLink(Box<daemon::ViewerLinkArgs>),
    /// Revoke an official's access: no sign-in from now on, their sessions closed.
    ViewerRevoke(Box<daemon::ViewerRevokeArgs>),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Report(a) => report::run(*a),
        Command::Explain(a) => explain::run(*a),
        Command::Reconcile(a) => reconcile::run(*a),
        Command::Import(a) => runtime()?.block_on(import::run(a)),
        Command::Generate(a) => generate::run(a),
        Command::Catalog(c) => catalog::run(c),
        Command::Plan(a) => plan::run(a),
        Command::Letter(c) => letter::run(c),
        Command::Creds(c) => creds::run(c),
        Command::Receiver(c) => runtime()?.block_on(receiver::run(c)),
        Command::Sandbox(a) => runtime()?.block_on(sandbox::run(a)),
        Command::Push(a) => runtime()?.block_on(push::run(*a)),
        Command::Pull(a) => runtime()?.block_on(pull::run(*a)),
        Command::Daemon(a) => runtime()?.block_on(daemon::run(*a)),
        Command::Demo(a) => runtime()?.block_on(demo::run(*a)),
        Command::Sync(a) => runtime()?.block_on(sync::run(*a, true)),
        Command::Status(a) => runtime()?.block_on(status::run(*a)),
        Command::Outbox(c) => runtime()?.block_on(outbox::run(c)),
        Command::Mail(c) => runtime()?.block_on(mail::run(c)),
        Command::Backup(a) => runtime()?.block_on(backup::backup(*a)),
        Command::Restore(a) => runtime()?.block_on(backup::restore(*a)),
        Command::ForcePush(a) => runtime()?.block_on(outbox::force_push(*a)),
        Command::CheckConfig(a) => runtime()?.block_on(daemon::check(*a)),
        Command::Healthcheck(a) => runtime()?.block_on(daemon::healthcheck(*a)),
        Command::Operator(OperatorCommand::Add(a)) => daemon::operator_add(a),
        Command::Operator(OperatorCommand::ViewerLink(a)) => {
            runtime()?.block_on(daemon::viewer_link(*a))
        }
        Command::Operator(OperatorCommand::ViewerRevoke(a)) => {
            runtime()?.block_on(daemon::viewer_revoke(*a))
        }
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
