use anyhow::{Context, bail};
use baocao_sync::domain::{Period, Severity, UnitTree};
use baocao_sync::forms::{self, FormCatalog, Layout};
use baocao_sync::render::{self, Document, OutputFormat, Reports};
use baocao_sync::sources::export::{DossierBatch, Input, InputFormat, resolve_format};
use baocao_sync::store::{self, Store};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Dossier export: .json array, .ndjson/.jsonl, .csv or .xlsx; `-` for standard input.
    #[arg(
        long,
        required_unless_present = "from_store",
        conflicts_with = "from_store"
    )]
    input: Option<String>,
    /// Format of --input when its extension does not say (required for standard input).
    #[arg(long, value_parser = parse_input_format)]
    input_format: Option<InputFormat>,
    /// Read the dossiers imported into the store instead of a file.
    #[arg(long)]
    from_store: bool,
    /// Database URL for --from-store.
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Only this source's dossiers (--from-store); all sources by default.
    #[arg(long)]
    source: Option<String>,
    /// Unit tree as TOML ([[units]] with code, name, kind, parent).
    #[arg(long)]
    units: PathBuf,
    /// Period id, e.g. 2023-Q3, 2023-M07, 2023-H1, 2023-9M, 2023-Y.
    #[arg(long)]
    period: String,
    /// Form code: II.06a, II.06, II.05a, II.05, HL (satisfaction summary), II.01-ĐC (or II.01-DC).
    #[arg(long)]
    form: String,
    /// Form definitions folder (<regime>/regime.toml and one TOML per form); the copy built into
    /// the binary by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// json, csv or xlsx.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write here instead of standard output (required for xlsx).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_input_format(s: &str) -> Result<InputFormat, String> {
    s.parse()
        .map_err(|e: baocao_sync::sources::export::ReadError| e.to_string())
}

pub fn run(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let period: Period = a.period.parse()?;
    let catalog = match &a.forms_dir {
        Some(dir) => FormCatalog::load(dir)?,
        None => FormCatalog::builtin(),
    };
    let regime = catalog.regime_for(&period)?;
    let def = regime.form(&a.form)?;
    let format: OutputFormat = a.format.parse()?;
    if format == OutputFormat::Xlsx && a.out.is_none() {
        bail!("--format xlsx needs --out FILE");
    }
    let units = UnitTree::load(&a.units)?;
    let (dossiers, input_findings, records) = if a.from_store {
        let rt = super::runtime()?;
        rt.block_on(async {
            let store = store::open(&a.database_url).await?;
            let dossiers = store.dossiers(a.source.as_deref()).await?;
            let rejects = store.rejects(a.source.as_deref()).await?;
            let n = dossiers.len() + rejects.len();
            anyhow::Ok((dossiers, rejects, n))
        })?
    } else {
        let input = Input::from_arg(
            a.input
                .as_deref()
                .expect("clap requires --input without --from-store"),
        );
        let format = resolve_format(&input, a.input_format)?;
        let batch = DossierBatch::read(&input, format)?;
        (batch.dossiers, batch.findings, batch.records_read)
    };
    let computed = forms::compute(regime, def, &dossiers, input_findings, &units, &period)?;
    let reports = match def.layout {
        Layout::Aggregate => Reports::Aggregate(&computed.aggregates),
        _ => Reports::PerUnit(&computed.per_unit),
    };
    let doc = Document {
        form: def,
        regime: &regime.info,
        period: &period,
        units: &units,
        reports,
        findings: &computed.findings,
    };
    match &a.out {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            render::write(&doc, format, &mut file)?;
            file.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            render::write(&doc, format, &mut lock)?;
        }
    }
    let errors = computed
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let report_count = match reports {
        Reports::PerUnit(r) => r.len(),
        Reports::Aggregate(r) => r.len(),
    };
    tracing::info!(
        form = %def.code,
        period = %period,
        records,
        reports = report_count,
        errors,
        warnings = computed.findings.len() - errors,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "report computed"
    );
    if computed.violations.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for v in &computed.violations {
        eprintln!("error: {v}");
    }
    Ok(ExitCode::from(3))
}
