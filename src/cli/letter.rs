use baocao_sync::configuration;
use baocao_sync::domain::Period;
use baocao_sync::duties::Duties;
use baocao_sync::render::texts::DocumentTexts;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum LetterCommand {
    /// The quarter's guidance letter (công văn hướng dẫn) as a Decree 30 DOCX: the systems with
    /// their addresses and accounts, the cut-off, and per kind of unit the forms, where, whether
    /// signed digitally, and by when — from the duties and config/documents.toml's [letters].
    Guidance(GuidanceArgs),
    /// The chase letter (công văn đôn đốc) as a Decree 30 DOCX: by kind of unit, the units whose
    /// reports are not yet sent in each system, read from the reporting systems now with each
    /// unit's login (approved, signed and sent kept apart); units with nothing to report apart.
    Chase(Box<ChaseArgs>),
}

#[derive(Debug, clap::Args)]
pub struct ChaseArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// Only this reporting system: central or provincial.
    #[arg(long)]
    system: Option<String>,
    /// Where to write the DOCX.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    config: super::config::ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct GuidanceArgs {
    /// Period id, e.g. 2023-Q3.
    #[arg(long)]
    period: String,
    /// Duties and deadlines (TOML); the shipped example (the 2023 Quảng Ngãi letter) by default.
    #[arg(long, env = "BAOCAO_DUTIES")]
    duties: Option<PathBuf>,
    /// The letter's texts ([letters] of a documents.toml); the built-in copy by default.
    #[arg(long)]
    documents: Option<PathBuf>,
    /// Form definitions folder; the built-in copy by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// Where to write the DOCX.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(c: LetterCommand) -> anyhow::Result<ExitCode> {
    match c {
        LetterCommand::Guidance(a) => guidance(a),
        LetterCommand::Chase(a) => super::runtime()?.block_on(chase(*a)),
    }
}

async fn chase(a: ChaseArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let engine = a.config.engine().await?;
    let texts = DocumentTexts::builtin();
    let letter = engine
        .chase_letter(&period, a.system.clone(), &texts.letters)
        .await?;
    let bytes = baocao_sync::render::letter::docx(&letter)?;
    std::fs::write(&a.out, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    tracing::info!(period = %period, out = %a.out.display(), "chase letter written");
    Ok(ExitCode::SUCCESS)
}

fn guidance(a: GuidanceArgs) -> anyhow::Result<ExitCode> {
    let period: Period = a.period.parse()?;
    let duties = match &a.duties {
        Some(p) => configuration::duties(p)?,
        None => Duties::builtin(),
    };
    let texts = match &a.documents {
        Some(p) => configuration::documents(p)?,
        None => DocumentTexts::builtin(),
    };
    let catalog = configuration::forms_or_builtin(a.forms_dir.as_deref())?;
    duties
        .check_forms(&catalog, &period)
        .map_err(anyhow::Error::msg)?;
    let regime = catalog.regime_for(&period)?;
    let letter = baocao_sync::letters::guidance(&duties, regime, &period, &texts.letters);
    let bytes = baocao_sync::render::letter::docx(&letter)?;
    std::fs::write(&a.out, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    tracing::info!(period = %period, out = %a.out.display(), "guidance letter written");
    Ok(ExitCode::SUCCESS)
}
