use anyhow::Context;
use baocao_sync::domain::{Dossier, Feedback, Finding, Rating};
use baocao_sync::sources::export::{Input, InputFormat, Item, KeepRaw, read_each, resolve_format};
use baocao_sync::store::{
    self, AnyDossierImport, AnyStore, DossierImport, Reject, Store, StoreError, UpsertCounts,
};
use baocao_sync::sync::pull::Pulled;
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Export file: .json array, .ndjson/.jsonl, .csv or .xlsx; `-` for standard input.
    #[arg(long)]
    input: String,
    /// What the file holds.
    #[arg(long, value_enum, default_value = "dossiers")]
    kind: Kind,
    /// Format of --input when its extension does not say.
    #[arg(long, value_parser = |s: &str| s.parse::<InputFormat>().map_err(|e| e.to_string()))]
    input_format: Option<InputFormat>,
    /// The source these records come from (the record key is source + key).
    #[arg(long, default_value = "default")]
    source: String,
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Kind {
    Dossiers,
    Ratings,
    Feedback,
}

/// Records per store call (one transaction); a repeated key closes the batch early so each upsert
/// sees unique keys. Large transactions amortise SQLite's commit and checkpoint work.
const BATCH: usize = 50_000;

/// Dossiers per store transaction: one transaction spans several batches (see
/// `store::DossierImport`), committed this often so the journal stays bounded.
const COMMIT_EVERY: usize = 250_000;

/// Where batches go, with the dossier import transaction open between batches.
struct Writer<'s> {
    store: &'s AnyStore,
    source: String,
    import: Option<AnyDossierImport>,
    since_commit: usize,
}

impl Writer<'_> {
    /// Commits the open dossier import, if any.
    async fn commit(&mut self) -> Result<(), StoreError> {
        self.since_commit = 0;
        match self.import.take() {
            Some(import) => import.commit().await,
            None => Ok(()),
        }
    }
}

/// How each record kind is written to the store: by its `Pulled::store`, except that dossiers
/// keep one transaction across batches.
trait Importable: Pulled {
    /// Which records' texts the store keeps (rejects always keep theirs).
    const RAW: KeepRaw = KeepRaw::All;

    fn write(
        w: &mut Writer<'_>,
        batch: &[(Self, String)],
    ) -> impl Future<Output = Result<UpsertCounts, StoreError>> + Send {
        async move {
            let records: Vec<(&Self, &str)> =
                batch.iter().map(|(r, raw)| (r, raw.as_str())).collect();
            Self::store(w.store, &w.source, &records).await
        }
    }
}

impl Importable for Dossier {
    /// Dossiers are stored as blocks of records, not as their texts.
    const RAW: KeepRaw = KeepRaw::Rejects;

    async fn write(
        w: &mut Writer<'_>,
        batch: &[(Self, String)],
    ) -> Result<UpsertCounts, StoreError> {
        if w.import.is_none() {
            w.import = Some(w.store.begin_dossier_import(&w.source).await?);
        }
        let incoming: Vec<&Dossier> = batch.iter().map(|(dossier, _)| dossier).collect();
        let counts = w
            .import
            .as_mut()
            .expect("opened above")
            .add(&incoming)
            .await?;
        w.since_commit += batch.len();
        if w.since_commit >= COMMIT_EVERY {
            w.commit().await?;
        }
        Ok(counts)
    }
}

impl Importable for Rating {}

impl Importable for Feedback {}

enum Batch<R> {
    Records(Vec<(R, String)>),
    Rejects(Vec<Reject>),
}

pub async fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    match a.kind {
        Kind::Dossiers => import::<Dossier>(a).await,
        Kind::Ratings => import::<Rating>(a).await,
        Kind::Feedback => import::<Feedback>(a).await,
    }
}

async fn import<R: Importable>(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let input = Input::from_arg(&a.input);
    let format = resolve_format(&input, a.input_format)?;
    let store = store::open(&a.database_url).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch<R>>(1);
    // Reading and parsing is synchronous work: it runs on its own thread while batches are written.
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Finding>> {
        let mut unreadable = Vec::new();
        let mut batch = Vec::with_capacity(BATCH);
        // A batch's keys, hashed fast (the reader's thread hashes every key it reads).
        let mut keys: HashSet<Box<str>, foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(BATCH, Default::default());
        let mut rejects = Vec::new();
        let mut stopped = None;
        let send = |b: Batch<R>| {
            tx.blocking_send(b)
                .map_err(|_| anyhow::anyhow!("the store writer stopped"))
        };
        read_each::<R>(&input, format, R::RAW, |item| {
            if stopped.is_some() {
                return;
            }
            match item {
                Item::Record { record, raw } => {
                    if keys.contains(record.key()) || batch.len() >= BATCH {
                        if let Err(e) = send(Batch::Records(std::mem::take(&mut batch))) {
                            stopped = Some(e);
                            return;
                        }
                        keys.clear();
                    }
                    keys.insert(record.key().into());
                    batch.push((record, raw.unwrap_or_default()));
                }
                Item::Invalid { finding, raw } => {
                    if !finding.record.starts_with("line:") && !finding.record.starts_with("row:") {
                        rejects.push(Reject {
                            record_key: finding.record.clone(),
                            reason: finding.message.clone(),
                            raw: raw.unwrap_or_default(),
                            code: finding.code,
                        });
                    }
                    unreadable.push(finding);
                }
            }
        })?;
        if let Some(e) = stopped {
            return Err(e);
        }
        if !batch.is_empty() {
            send(Batch::Records(batch))?;
        }
        // Rejects go last: a readable version earlier in the same file must not clear them.
        if !rejects.is_empty() {
            send(Batch::Rejects(rejects))?;
        }
        Ok(unreadable)
    });
    let mut writer = Writer {
        store: &store,
        source: a.source.clone(),
        import: None,
        since_commit: 0,
    };
    let mut counts = UpsertCounts::default();
    let mut seen = 0u64;
    let mut next_progress = 100_000u64;
    while let Some(batch) = rx.recv().await {
        match batch {
            Batch::Records(list) => {
                counts.add(R::write(&mut writer, &list).await?);
                seen += list.len() as u64;
                if seen >= next_progress {
                    tracing::info!(records = seen, kind = R::NAME, "importing");
                    next_progress += 100_000;
                }
            }
            Batch::Rejects(rejects) => {
                // SQLite has one writer: the dossiers commit before the rejects are written.
                writer.commit().await?;
                store.record_rejects(R::KIND, &a.source, &rejects).await?
            }
        }
    }
    writer.commit().await?;
    let unreadable = reader.await.context("the reader thread panicked")??;
    for f in &unreadable {
        eprintln!("rejected {}: {}", f.record, f.message);
    }
    println!(
        "new {}, updated {}, unchanged {}, rejected {}",
        counts.new,
        counts.updated,
        counts.unchanged,
        unreadable.len()
    );
    tracing::info!(
        kind = R::NAME,
        source = %a.source,
        new = counts.new,
        updated = counts.updated,
        unchanged = counts.unchanged,
        rejected = unreadable.len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "import finished"
    );
    Ok(ExitCode::SUCCESS)
}
