//! `reconcile`: our II.06a beside another system's statistics of the same dossiers, every
//! difference explained by the dossiers a known other reading of the rules moves, or said to be
//! unexplained.

use super::report::RecordArgs;
use anyhow::{Context, bail};
use baocao_sync::configuration;
use baocao_sync::domain::Period;
use baocao_sync::forms::{self, Inputs, Layout};
use baocao_sync::render;
use baocao_sync::sources::theirs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    records: RecordArgs,
    /// Unit tree as TOML.
    #[arg(long)]
    units: PathBuf,
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// The form compared: II.06a (per unit and field).
    #[arg(long, default_value = "II.06a")]
    form: String,
    /// Their statistics: XLSX or CSV, a flat table (unit, field, 3 … 13) or the template layout
    /// `report --format xlsx` writes.
    #[arg(long)]
    theirs: PathBuf,
    /// Form definitions folder; the copy built into the binary by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// Field catalogue folder: their fields may be written by the published names.
    #[arg(long, env = "BAOCAO_CATALOG_DIR")]
    catalog: Option<PathBuf>,
    /// json or xlsx.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write here instead of standard output (required for xlsx).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Exit 0 when every difference is explained and every row of theirs matched, 4 otherwise.
pub fn run(a: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let forms_catalog = configuration::forms_or_builtin(a.forms_dir.as_deref())?;
    let regime = forms_catalog.regime_for(&period)?;
    let def = regime.form(&a.form)?;
    if def.layout != Layout::PerUnit || def.record != forms::RecordKind::Dossier {
        bail!(
            "reconcile compares a per-unit dossier form (II.06a), unit by unit and field by field; {} is not one",
            def.code
        );
    }
    let format = a.format.to_ascii_lowercase();
    if !["json", "xlsx"].contains(&format.as_str()) {
        bail!("--format {}: use json or xlsx", a.format);
    }
    if format == "xlsx" && a.out.is_none() {
        bail!("--format xlsx needs --out FILE");
    }
    let units = configuration::units(&a.units)?;
    let catalog = a
        .catalog
        .as_deref()
        .map(configuration::catalog)
        .transpose()?;
    let sheets = theirs::read(&a.theirs)?;
    let table = forms::reconcile::read_theirs(def, &sheets);
    // Every stored dossier: the names their fields were written by, over the whole history.
    let loaded = a.records.load(None)?;
    let dossiers = loaded
        .dossiers
        .as_deref()
        .context("reconcile needs the dossiers: --input FILE or --from-store")?;
    let computed = forms::compute(
        regime,
        def,
        Inputs {
            dossiers: Some(dossiers),
            catalog: catalog.as_ref(),
            ..Default::default()
        },
        &units,
        &period,
    )?;
    // Each field code with every name it may be written by: the source's, ours, the catalogue's.
    let mut fields: Vec<(String, String)> = dossiers
        .iter()
        .map(|d| (d.field_code.to_string(), d.field_name.to_string()))
        .collect();
    for r in &computed.per_unit {
        fields.extend(
            r.rows
                .iter()
                .map(|row| (row.key.clone(), row.label.clone())),
        );
    }
    if let Some(c) = &catalog {
        let published: Vec<(String, String)> = fields
            .iter()
            .filter_map(|(code, name)| {
                c.resolve(code, name, period.last_day)
                    .map(|p| (code.clone(), p.to_owned()))
            })
            .collect();
        fields.extend(published);
    }
    fields.sort();
    fields.dedup();
    let result = forms::reconcile::reconcile(
        def,
        dossiers,
        &units,
        &period,
        &computed.per_unit,
        &table,
        &fields,
    );
    let bytes = match format.as_str() {
        "xlsx" => render::reconcile::xlsx(&result)?,
        _ => {
            let mut b = Vec::new();
            render::reconcile::json(&result, &mut b)?;
            b
        }
    };
    match &a.out {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    let in_effect: Vec<&str> = result
        .readings
        .iter()
        .filter(|r| r.in_effect)
        .map(|r| r.reading.as_str())
        .collect();
    tracing::info!(
        form = %def.code,
        period = %period,
        cells = result.summary.cells,
        differing = result.summary.differing,
        difference = result.summary.difference,
        unexplained = result.summary.unexplained,
        unmatched = result.unmatched.len(),
        readings = %in_effect.join(","),
        "reconciled"
    );
    let settled = result.summary.unexplained == 0 && result.unmatched.is_empty();
    Ok(if settled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(4)
    })
}
