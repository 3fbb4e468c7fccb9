use anyhow::{Context, bail};
use baocao_sync::domain::{Period, Severity, UnitTree};
use baocao_sync::forms::{self, FormCode};
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
    /// II.06a or II.06.
    #[arg(long)]
    form: String,
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
    let form: FormCode = a.form.parse()?;
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
    let computed = forms::compute(form, &dossiers, input_findings, &units, &period);
    let reports = match form {
        FormCode::Ii06a => Reports::PerUnit(&computed.per_unit),
        FormCode::Ii06 => Reports::Aggregate(&computed.aggregates),
    };
    let doc = Document {
        form,
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
        form = %form,
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
