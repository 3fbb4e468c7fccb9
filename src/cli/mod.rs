//! Command-line interface. Each subcommand is a thin driver over the library; errors become one
//! line on standard error (anyhow lives here, in the binary, and nowhere else).

mod catalog;
mod creds;
mod generate;
mod import;
mod plan;
mod pull;
mod push;
mod report;
mod sandbox;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "baocao-sync",
    version,
    about = "Pre-fills administrative-procedure reports (II.06a, II.06, …) of provincial units"
)]
pub struct Cli {
    /// Log filter (tracing's EnvFilter syntax); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    pub fn log_filter(&self) -> String {
        format!("warn,baocao_sync={0},baocao_sync_cli={0}", self.log)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute a form from a dossier export (or the store) and print it as JSON, CSV or XLSX.
    Report(Box<report::ReportArgs>),
    /// Store the dossiers of an export in the database, keyed by MaHoSo.
    Import(import::ImportArgs),
    /// Write a synthetic data set (units.toml, dossiers.ndjson) for benchmarks and demos.
    Generate(generate::GenerateArgs),
    /// List what every unit must file for a period, where, and by when.
    Plan(plan::PlanArgs),
    /// Pull dossiers (or ratings, feedback) from the procedure-handling system into the store.
    Pull(Box<pull::PullArgs>),
    /// Push the computed reports from the store as drafts to the reporting systems.
    Push(Box<push::PushArgs>),
    /// Serve the upstream systems' contracts on loopback from a data set, for tests and demos.
    Sandbox(sandbox::SandboxArgs),
    /// Units' logins for the upstream systems, sealed in the store.
    #[command(subcommand)]
    Creds(creds::CredsCommand),
    /// The field catalogue: import from the national procedure database.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Report(a) => report::run(*a),
        Command::Import(a) => runtime()?.block_on(import::run(a)),
        Command::Generate(a) => generate::run(a),
        Command::Catalog(c) => catalog::run(c),
        Command::Plan(a) => plan::run(a),
        Command::Creds(c) => creds::run(c),
        Command::Sandbox(a) => runtime()?.block_on(sandbox::run(a)),
        Command::Push(a) => runtime()?.block_on(push::run(*a)),
        Command::Pull(a) => runtime()?.block_on(pull::run(*a)),
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
