//! `explain`: the dossiers behind one figure of II.06a or II.06, each with the rule that placed
//! it, and those of the same unit and field left out with their findings.

use super::report::RecordArgs;
use anyhow::{Context, bail};
use baocao_sync::configuration;
use baocao_sync::domain::Period;
use baocao_sync::forms::explain::{Cell, explain};
use baocao_sync::render;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    records: RecordArgs,
    /// Unit tree as TOML.
    #[arg(long)]
    units: PathBuf,
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// II.06a or II.06.
    #[arg(long)]
    form: String,
    /// The unit whose report holds the figure.
    #[arg(long)]
    unit: String,
    /// The row: a field code or `_total`; for II.06 `<kind>/<field>`, `<kind>/_subtotal`, `_total`.
    #[arg(long)]
    row: String,
    /// The column number (3 to 13 for II.06a).
    #[arg(long)]
    column: u32,
    /// Form definitions folder; the copy built into the binary by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// Field catalogue folder (accepted as `report` accepts it; labels do not change the list).
    #[arg(long, env = "BAOCAO_CATALOG_DIR")]
    catalog: Option<PathBuf>,
    /// json, text or xlsx.
    #[arg(long, default_value = "text")]
    format: String,
    /// Write here instead of standard output (required for xlsx).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let catalog = configuration::forms_or_builtin(a.forms_dir.as_deref())?;
    if let Some(dir) = &a.catalog {
        configuration::catalog(dir)?;
    }
    let regime = catalog.regime_for(&period)?;
    let def = regime.form(&a.form)?;
    let units = configuration::units(&a.units)?;
    let format = a.format.to_ascii_lowercase();
    if !["json", "text", "xlsx"].contains(&format.as_str()) {
        bail!("--format {}: use json, text or xlsx", a.format);
    }
    if format == "xlsx" && a.out.is_none() {
        bail!("--format xlsx needs --out FILE");
    }
    let loaded = a
        .records
        .load(Some(baocao_sync::sync::records::reading_for(&period)))?;
    let dossiers = loaded
        .dossiers
        .as_deref()
        .context("explain needs the dossiers: --input FILE or --from-store")?;
    let cell = Cell {
        unit: a.unit,
        row: a.row,
        column: a.column,
    };
    let e = explain(
        regime,
        def,
        baocao_sync::forms::explain::Ordered {
            dossiers,
            order: loaded.dossier_order.as_deref(),
        },
        &units,
        &period,
        Default::default(),
        &cell,
    )?;
    let mut bytes = Vec::new();
    match format.as_str() {
        "json" => render::explain::json(&e, &mut bytes)?,
        "xlsx" => bytes = render::explain::xlsx(&e)?,
        _ => render::explain::text(&e, &mut bytes)?,
    }
    match &a.out {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
