use baocao_sync::catalog::import::import_csv;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// Merge a CSV export of the national procedure database (MaLinhVuc, TenLinhVuc, and
    /// MaTTHC, TenTTHC, TrucTuyen when present) into a catalogue folder.
    Import {
        #[arg(long)]
        csv: PathBuf,
        /// The catalogue folder to update (fields.toml, procedures.toml).
        #[arg(long, default_value = "config/catalog")]
        dir: PathBuf,
    },
}

pub fn run(c: CatalogCommand) -> anyhow::Result<ExitCode> {
    match c {
        CatalogCommand::Import { csv, dir } => {
            let s = import_csv(&csv, &dir)?;
            println!(
                "fields added {}, renamed {}; procedures added {}, updated {}",
                s.fields_added, s.fields_renamed, s.procedures_added, s.procedures_updated
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
