use anyhow::{Context, bail};
use baocao_sync::configuration;
use baocao_sync::domain::{Dossier, Feedback, Period, Rating, RecordKind, Severity};
use baocao_sync::forms::checks::ChecksConfig;
use baocao_sync::forms::streamed::{Folded, Streamed};
use baocao_sync::forms::{self, Inputs, Layout};
use baocao_sync::render::texts::DocumentTexts;
use baocao_sync::render::{self, Document, OutputFormat, Reports};
use baocao_sync::sources::export::{
    FromWire, Input, InputFormat, Item, KeepRaw, RecordBatch, read_each_mapped, resolve_format,
};
use baocao_sync::store;
use baocao_sync::sync::records::Loaded;
use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Where the records come from: export files, or the store.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Dossier export: .json array, .ndjson/.jsonl, .csv or .xlsx; `-` for standard input.
    #[arg(long, conflicts_with = "from_store")]
    input: Option<String>,
    /// Ratings export (MaDanhGia, MaHoSo, MaDonVi, MucDo, KenhDanhGia, ThoiGianDanhGia, CapNhatLuc).
    #[arg(long, conflicts_with = "from_store")]
    ratings: Option<String>,
    /// Feedback export (MaPAKN, MaDonVi, NgayTiepNhan, LoaiNoiDung, TrangThai, NgayXuLy, CongKhai, CapNhatLuc).
    #[arg(long, conflicts_with = "from_store")]
    feedback: Option<String>,
    /// Format of an input whose extension does not say (required for standard input).
    #[arg(long, value_parser = parse_input_format)]
    input_format: Option<InputFormat>,
    /// Read the records imported into the store instead of files.
    #[arg(long)]
    from_store: bool,
    /// Database URL for --from-store.
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Only this source's records (--from-store); all sources by default.
    #[arg(long)]
    source: Option<String>,
    /// With --from-store: the daemon's configuration file, for its store and its sources'
    /// precedence (which copy counts when two sources send the same dossier).
    #[arg(long, requires = "from_store")]
    config: Option<PathBuf>,
}

impl RecordArgs {
    /// The configured satisfaction question (monthly aggregates), with `--config`.
    pub fn question(&self) -> Option<String> {
        let path = self.config.as_ref()?;
        let settings = baocao_sync::settings::Settings::load(
            Some(path),
            &baocao_sync::settings::Overrides::default(),
        )
        .ok()?;
        let sources = settings.load_sources().ok()?;
        baocao_sync::sources::config::satisfaction_question(&sources).map(str::to_owned)
    }

    /// The records, from the files or the store (from the store, those a period from `since`
    /// needs; every one when `None`).
    pub fn load(
        &self,
        reading: Option<baocao_sync::sync::records::Reading>,
    ) -> anyhow::Result<Loaded> {
        if self.from_store {
            let (url, precedence) = match &self.config {
                Some(path) => {
                    let settings = baocao_sync::settings::Settings::load(
                        Some(path),
                        &baocao_sync::settings::Overrides::default(),
                    )?;
                    let sources = settings.load_sources()?;
                    (
                        settings.store.database_url.clone(),
                        baocao_sync::sync::records::Precedence::of(&sources),
                    )
                }
                None => (self.database_url.clone(), Default::default()),
            };
            super::runtime()?.block_on(async {
                let store = store::open(&url).await?;
                anyhow::Ok(
                    Loaded::from_store(&store, self.source.as_deref(), &precedence, reading)
                        .await?,
                )
            })
        } else {
            self.load_files(true)
        }
    }

    /// A dossier table's inputs folded from the dossier file as it is read, without holding
    /// the dossiers ([`forms::streamed`]), with the ratings and feedback files as `load` reads
    /// them. `None` where the records do not come from a dossier file (the store, standard
    /// input) or the fold cannot be exact: then `load` reads them whole.
    pub fn load_folded(
        &self,
        units: &baocao_sync::domain::UnitTree,
        period: &Period,
        previous: Option<&Period>,
        procedures: Option<&baocao_sync::catalog::FieldCatalog>,
    ) -> anyhow::Result<Option<(Loaded, Folded)>> {
        let Some(arg) = self.input.as_deref().filter(|_| !self.from_store) else {
            return Ok(None);
        };
        let input = Input::from_arg(arg);
        let Input::File(path) = &input else {
            return Ok(None);
        };
        let format = resolve_format(&input, self.input_format)?;
        let size = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
        // Real-shaped lines are ~500 bytes: ten filter bits a key.
        let mut fold = Streamed::new(units, period, previous, procedures, size / 512);
        if format != InputFormat::Xlsx {
            // Untouched room costs no memory; a record takes well over 128 bytes of any export.
            fold.reserve(size / 128);
        }
        let mut loaded = self.load_files(false)?;
        let mut unreadable = Vec::new();
        // Each dossier is placed where it is parsed (on every core, for NDJSON); the fold
        // files what is kept of it in file order.
        let placer = fold.placer();
        let place = |item: Item<Dossier>| match item {
            Item::Record { record, .. } => Ok(placer.prepare(record)),
            Item::Invalid { finding, .. } => Err(finding),
        };
        read_each_mapped(&input, format, KeepRaw::None, &place, |placed| {
            loaded.records += 1;
            match placed {
                Ok(placed) => fold.file(placed),
                Err(finding) => unreadable.push(finding),
            }
        })?;
        let Ok(folded) = fold.finish() else {
            tracing::info!(
                input = %path.display(),
                "the fold cannot be exact (a field's first dossier whose key was not kept, or too many distinct texts): reading the dossiers whole"
            );
            return Ok(None);
        };
        loaded.findings.extend(
            unreadable
                .into_iter()
                .chain(folded.duplicates.iter().cloned())
                .map(|f| (RecordKind::Dossier, f)),
        );
        Ok(Some((loaded, folded)))
    }

    fn load_files(&self, dossiers: bool) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        if let Some(arg) = self.input.as_ref().filter(|_| dossiers) {
            let batch = read_file::<Dossier>(arg, self.input_format)?;
            loaded.dossiers = Some(loaded.take(batch));
        }
        if let Some(arg) = &self.ratings {
            let batch = read_file::<Rating>(arg, self.input_format)?;
            loaded.ratings = Some(loaded.take(batch));
        }
        if let Some(arg) = &self.feedback {
            let batch = read_file::<Feedback>(arg, self.input_format)?;
            loaded.feedback = Some(loaded.take(batch));
        }
        Ok(loaded)
    }
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    records: RecordArgs,
    /// Unit tree as TOML ([[units]] with code, name, kind, parent).
    #[arg(long)]
    units: PathBuf,
    /// Period id, e.g. 2023-Q3, 2023-M07, 2023-H1, 2023-9M, 2023-Y.
    #[arg(long)]
    period: String,
    /// Form code: II.06a, II.06, II.05a, II.05, HL (satisfaction summary), II.01-ĐC (or II.01-DC,
    /// the narrative: --format md or docx).
    #[arg(long)]
    form: String,
    /// Form definitions folder (<regime>/regime.toml and one TOML per form); the copy built into
    /// the binary by default.
    #[arg(long, env = "BAOCAO_FORMS_DIR")]
    forms_dir: Option<PathBuf>,
    /// Field catalogue folder (fields.toml, procedures.toml, e.g. config/catalog): rows get the
    /// published field names and unplaceable fields an `unknown_field` warning. None by default.
    #[arg(long, env = "BAOCAO_CATALOG_DIR")]
    catalog: Option<PathBuf>,
    /// Column-4 check thresholds (TOML); the shipped config/checks.toml by default.
    #[arg(long)]
    checks: Option<PathBuf>,
    /// json, csv or xlsx; md or docx for II.01-ĐC.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write here instead of standard output (required for xlsx and docx). II.01-ĐC as docx is
    /// one document per unit: a FILE.zip holds one DOCX per unit; a FILE.docx needs --unit when
    /// more than one unit has something to report.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only this unit's report (by code): its sheet, its aggregate, its II.01-ĐC.
    #[arg(long)]
    unit: Option<String>,
    /// Texts of the II.01-ĐC document that differ by unit (issuing body, number, addressees,
    /// signer, recipients; see config/documents.toml, the copy built in by default).
    #[arg(long, env = "BAOCAO_DOCUMENTS")]
    documents: Option<PathBuf>,
}

fn parse_input_format(s: &str) -> Result<InputFormat, String> {
    s.parse()
        .map_err(|e: baocao_sync::sources::export::ReadError| e.to_string())
}

fn read_file<R: FromWire>(
    arg: &str,
    format: Option<InputFormat>,
) -> anyhow::Result<RecordBatch<R>> {
    let input = Input::from_arg(arg);
    let format = resolve_format(&input, format)?;
    Ok(RecordBatch::<R>::read(&input, format)?)
}

pub fn run(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let period: Period = a.period.parse()?;
    let catalog = configuration::forms_or_builtin(a.forms_dir.as_deref())?;
    let regime = catalog.regime_for(&period)?;
    let def = regime.form(&a.form)?;
    let format: OutputFormat = a.format.parse()?;
    if matches!(format, OutputFormat::Xlsx | OutputFormat::Docx) && a.out.is_none() {
        bail!("--format {} needs --out FILE", a.format);
    }
    let units = configuration::units(&a.units)?;
    let catalog = a
        .catalog
        .as_deref()
        .map(configuration::catalog)
        .transpose()?;
    let checks = match &a.checks {
        Some(path) => configuration::checks(path)?,
        None => ChecksConfig::builtin(),
    };
    let kinds = forms::record_kinds(regime, def);
    let table_of_dossiers =
        matches!(def.layout, Layout::PerUnit | Layout::Aggregate) && kinds == [RecordKind::Dossier];
    let previous = period.previous();
    let folded = if table_of_dossiers {
        a.records
            .load_folded(&units, &period, previous.as_ref(), catalog.as_ref())?
    } else {
        None
    };
    let (mut loaded, folded) = match folded {
        Some((loaded, folded)) => (loaded, Some(folded)),
        None => (
            a.records
                .load(Some(baocao_sync::sync::records::reading_for(&period)))?,
            None,
        ),
    };
    let findings = loaded.findings_for(&kinds);
    let (tallied, fields) = match folded {
        Some(f) => (Some(f.tallied), Some(f.fields)),
        None => (None, None),
    };
    let question = a.records.question();
    let inputs = Inputs {
        dossiers: loaded.dossiers.as_deref(),
        ratings: loaded.ratings.as_deref(),
        feedback: loaded.feedback.as_deref(),
        rating_months: loaded.rating_months.as_deref().map(|months| {
            forms::satisfaction::MonthlyInput {
                months,
                question: question.as_deref(),
            }
        }),
        findings,
        catalog: catalog.as_ref(),
        fields: fields.as_ref().or(loaded.fields.as_ref()),
        earlier: loaded.earlier.as_ref(),
        tallied,
        checks: Some(&checks),
        aggregation: Default::default(),
        dossier_findings_elsewhere: false,
    };
    let (narratives, computed) = if def.layout == Layout::Narrative {
        forms::narratives(regime, def, inputs, &units, &period)?
    } else {
        (
            Vec::new(),
            forms::compute(regime, def, inputs, &units, &period)?,
        )
    };
    let texts = match &a.documents {
        Some(path) => configuration::documents(path)?,
        None => DocumentTexts::builtin(),
    };
    let mut narratives = narratives;
    // Copied only to be narrowed to one unit: a store holding years lists 200,000 findings.
    let mut findings = Cow::Borrowed(computed.findings.as_slice());
    let mut per_unit = Cow::Borrowed(computed.per_unit.as_slice());
    let mut aggregates = Cow::Borrowed(computed.aggregates.as_slice());
    if let Some(code) = &a.unit {
        let Some(id) = units.find(code) else {
            bail!("--unit {code} is not in {}", a.units.display());
        };
        if def.layout == Layout::Satisfaction {
            bail!(
                "--unit does not apply to {}: it is one table of every unit",
                def.code
            );
        }
        let subtree: std::collections::HashSet<&str> = units
            .subtree(id)
            .map(|u| units.get(u).code.as_str())
            .collect();
        narratives.retain(|n| n.unit == *code);
        aggregates.to_mut().retain(|r| r.unit == *code);
        if def.layout == Layout::PerUnit {
            per_unit.to_mut().retain(|r| r.unit == *code);
        }
        let mine = |u: &str| match def.layout {
            Layout::Aggregate => subtree.contains(u),
            _ => u == code,
        };
        findings
            .to_mut()
            .retain(|f| f.unit.as_deref().is_some_and(mine));
    }
    let reports = match def.layout {
        Layout::Aggregate => Reports::Aggregate(&aggregates, &per_unit),
        Layout::Satisfaction => {
            Reports::Satisfaction(&computed.satisfaction, &computed.satisfaction_aggregates)
        }
        Layout::Narrative => Reports::Narrative(&narratives),
        Layout::PerUnit => Reports::PerUnit(&per_unit),
    };
    let doc = Document {
        form: def,
        regime: &regime.info,
        period: &period,
        units: &units,
        reports,
        findings: &findings,
        texts: &texts,
    };
    let zip_out = a
        .out
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")));
    if format == OutputFormat::Docx && narratives.len() > 1 && !zip_out {
        bail!(
            "{} units have a II.01-ĐC for {period}, one document each: write them to a .zip \
             (--out II.01-DC.zip, one DOCX per unit) or pick one with --unit CODE",
            narratives.len()
        );
    }
    if format == OutputFormat::Docx && zip_out {
        let path = a.out.as_ref().expect("checked");
        let bytes = render::narrative::docx_zip(&narratives, &units, &texts)?;
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        return finish(def, &period, loaded, &computed, started);
    }
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
    finish(def, &period, loaded, &computed, started)
}

/// Logs what was computed; exit 3 when a report was withheld.
fn finish(
    def: &forms::FormDef,
    period: &Period,
    loaded: Loaded,
    computed: &forms::Computed,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let errors = computed
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    tracing::info!(
        form = %def.code,
        period = %period,
        records = loaded.records,
        decoded = baocao_sync::store::blocks::decoded(),
        scanned = baocao_sync::store::blocks::scanned(),
        reports = computed.per_unit.len().max(computed.satisfaction.len()),
        errors,
        warnings = computed.findings.len() - errors,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "report computed"
    );
    // The process ends here: a million records need no freeing one by one (a tenth of a
    // report's time went to it).
    std::mem::forget(loaded);
    if computed.violations.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for v in &computed.violations {
        eprintln!("error: {v}");
    }
    Ok(ExitCode::from(3))
}
