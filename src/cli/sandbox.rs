use anyhow::Context;
use baocao_sync::{configuration, sandbox};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Data set folder (accounts.toml: OAuth2 clients and accounts per system).
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on; port 0 picks a free one (printed on standard output).
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: String,
}

pub async fn run(a: SandboxArgs) -> anyhow::Result<ExitCode> {
    let (data, source) = configuration::sandbox(&a.data)?;
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
