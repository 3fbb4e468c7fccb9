use anyhow::Context;
use baocao_sync::{configuration, sandbox};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Data set folder: accounts.toml (OAuth2 clients, accounts per system, token lifetime, fault
    /// plan) and the source's records in dossiers.ndjson, ratings.ndjson, feedback.ndjson.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on; port 0 picks a free one (printed on standard output).
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: String,
    /// A fault plan (the keys of accounts.toml's [faults]) to use instead of the data set's.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Seconds an access token lives (instead of the data set's token_seconds).
    #[arg(long)]
    token_seconds: Option<u64>,
}

pub async fn run(a: SandboxArgs) -> anyhow::Result<ExitCode> {
    let (mut data, source) = configuration::sandbox(&a.data)?;
    if let Some(path) = &a.faults {
        data.faults = configuration::sandbox_faults(path)?;
    }
    if let Some(seconds) = a.token_seconds {
        data.token_seconds = seconds;
    }
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    println!("sandbox listening on http://{}", listener.local_addr()?);
    sandbox::serve(listener, data, source, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
