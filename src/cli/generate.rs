use anyhow::Context;
use baocao_sync::synth;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of dossiers.
    #[arg(long, default_value_t = 10_000)]
    dossiers: usize,
    /// Number of rating records.
    #[arg(long, default_value_t = 0)]
    ratings: usize,
    /// Number of feedback (PAKN) records.
    #[arg(long, default_value_t = 0)]
    feedback: usize,
    /// Number of units in the tree.
    #[arg(long, default_value_t = 50)]
    units: usize,
    /// 3: province → departments, districts → communes (before 1/7/2025); 2: province →
    /// departments and communes (since).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    tiers: u8,
    /// The period the records centre on.
    #[arg(long, default_value = "2023-Q3")]
    period: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How the dossier lines look: `light` (short, every record readable) or `real` (as real
    /// exports write them: full names, ~500 bytes a line, a few percent with export defects).
    #[arg(long, value_enum, default_value_t = synth::Shape::Light)]
    shape: synth::Shape,
    /// Quarters of history the dossiers spread over, the period's the last (with `--shape real`).
    #[arg(long, default_value_t = 1)]
    quarters: usize,
    /// Directory to write units.toml, dossiers.ndjson, ratings.ndjson, feedback.ndjson and
    /// accounts.toml (a data set the sandbox serves) into.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    if a.quarters > 1 && a.shape != synth::Shape::Real {
        anyhow::bail!("--quarters {} needs --shape real", a.quarters);
    }
    let period: baocao_sync::domain::Period = a.period.parse()?;
    let spec = synth::Spec {
        dossiers: a.dossiers,
        ratings: a.ratings,
        feedback: a.feedback,
        units: a.units,
        tiers: a.tiers,
        seed: a.seed,
        first_day: period.first_day,
        last_day: period.last_day,
        shape: a.shape,
        quarters: a.quarters.max(1),
    };
    synth::write_data_set(&spec, &a.out)
        .with_context(|| format!("writing the data set to {}", a.out.display()))?;
    tracing::info!(dossiers = a.dossiers, units = a.units, out = %a.out.display(), "data set written");
    Ok(ExitCode::SUCCESS)
}
