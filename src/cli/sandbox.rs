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
    /// Serve HTTPS with a certificate authority of the sandbox's own, whose certificate is
    /// written to DIR/ca.pem (give it to clients as `ca_file`).
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// The clock of the daemons under test, simulated: `SPEED@ANCHOR_MS` from `--now` (as
    /// the daemon's `--simulate`), so that token lifetimes and changes follow it.
    #[arg(long, hide = true, requires = "now")]
    simulate: Option<String>,
    /// What the simulated clock reads at its anchor (RFC 3339).
    #[arg(long, hide = true, requires = "simulate")]
    now: Option<String>,
}

pub async fn run(a: SandboxArgs) -> anyhow::Result<ExitCode> {
    let (mut data, source) = configuration::sandbox(&a.data)?;
    if let Some(path) = &a.faults {
        data.faults = configuration::sandbox_faults(path)?;
    }
    if let Some(seconds) = a.token_seconds {
        data.token_seconds = seconds;
    }
    if let (Some(spec), Some(now)) = (&a.simulate, &a.now) {
        let epoch =
            baocao_sync::domain::Instant::parse(now).map_err(|e| anyhow::anyhow!("--now: {e}"))?;
        data.simulation = Some(
            baocao_sync::sync::Simulation::parse(spec, epoch)
                .map_err(|e| anyhow::anyhow!("--simulate: {e}"))?,
        );
    }
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let address = listener.local_addr()?;
    let stop = async {
        baocao_sync::shutdown::signal().await;
    };
    match &a.tls_dir {
        Some(dir) => {
            let (acceptor, ca) = sandbox::tls::acceptor(dir).map_err(anyhow::Error::msg)?;
            println!(
                "sandbox listening on https://{address} (CA certificate: {})",
                ca.display()
            );
            let tls = sandbox::tls::TlsListener {
                tcp: listener,
                acceptor,
            };
            sandbox::serve(tls, data, source, stop).await?;
        }
        None => {
            println!("sandbox listening on http://{address}");
            sandbox::serve(listener, data, source, stop).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
