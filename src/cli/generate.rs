use anyhow::Context;
use baocao_sync::synth;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of dossiers.
    #[arg(long, default_value_t = 10_000)]
    dossiers: usize,
    /// Number of units in the tree (one province, departments, districts, communes).
    #[arg(long, default_value_t = 50)]
    units: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write units.toml, dossiers.ndjson and accounts.toml (a data set the sandbox
    /// serves) into.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    let spec = synth::Spec {
        dossiers: a.dossiers,
        units: a.units,
        seed: a.seed,
        ..synth::Spec::default()
    };
    synth::write_data_set(&spec, &a.out)
        .with_context(|| format!("writing the data set to {}", a.out.display()))?;
    tracing::info!(dossiers = a.dossiers, units = a.units, out = %a.out.display(), "data set written");
    Ok(ExitCode::SUCCESS)
}
