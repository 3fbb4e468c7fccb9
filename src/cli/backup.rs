//! `backup` and `restore`: the SQLite store copied whole while the daemon runs, and put back
//! with the daemon stopped. The vault key is not in the store: a restore needs the key the
//! backup's logins were sealed with.

use super::config::ConfigArgs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The new file to write (never overwritten).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file `backup` wrote.
    #[arg(long)]
    from: PathBuf,
    #[command(flatten)]
    config: ConfigArgs,
}

pub async fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    let settings = a.config.settings()?;
    let size = baocao_sync::store::backup(&settings.store.database_url, &a.out).await?;
    println!(
        "{} written ({size} bytes). Keep the vault key ({}) with it, apart: the logins in the backup open only with that key.",
        a.out.display(),
        settings.vault.key_file.as_ref().map_or_else(
            || "BAOCAO_VAULT_KEY".to_owned(),
            |p| p.display().to_string()
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let settings = a.config.settings()?;
    let now = a.config.clock()?.now();
    baocao_sync::store::restore(&a.from, &settings.store.database_url, now).await?;
    println!(
        "{} restored into {}; start the daemon with the vault key the backup's logins were sealed with",
        a.from.display(),
        baocao_sync::store::redact_url(&settings.store.database_url)
    );
    Ok(ExitCode::SUCCESS)
}
