use anyhow::Context;
use baocao_sync::domain::Finding;
use baocao_sync::sources::export::{Input, InputFormat, Item, read_each, resolve_format};
use baocao_sync::store::{self, IncomingDossier, Reject, Store, UpsertCounts};
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Dossier export: .json array, .ndjson/.jsonl, .csv or .xlsx; `-` for standard input.
    #[arg(long)]
    input: String,
    /// Format of --input when its extension does not say.
    #[arg(long, value_parser = |s: &str| s.parse::<InputFormat>().map_err(|e| e.to_string()))]
    input_format: Option<InputFormat>,
    /// The source these dossiers come from (the record key is source + MaHoSo).
    #[arg(long, default_value = "default")]
    source: String,
    #[arg(long, env = "BAOCAO_DATABASE_URL", default_value = store::DEFAULT_DATABASE_URL)]
    database_url: String,
}

/// Dossiers per store call (one transaction); a repeated key closes the batch early so each upsert
/// sees unique keys. Large transactions amortise SQLite's commit and checkpoint work.
const BATCH: usize = 50_000;

enum Batch {
    Dossiers(Vec<(baocao_sync::domain::Dossier, String)>),
    Rejects(Vec<Reject>),
}

pub async fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let input = Input::from_arg(&a.input);
    let format = resolve_format(&input, a.input_format)?;
    let store = store::open(&a.database_url).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1);
    // Reading and parsing is synchronous work: it runs on its own thread while batches are written.
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Finding>> {
        let mut unreadable = Vec::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut keys: HashSet<Box<str>> = HashSet::with_capacity(BATCH);
        let mut rejects = Vec::new();
        let send = |b: Batch| {
            tx.blocking_send(b)
                .map_err(|_| anyhow::anyhow!("the store writer stopped"))
        };
        read_each(&input, format, true, |item| {
            let result = (|| -> anyhow::Result<()> {
                match item {
                    Item::Dossier { dossier, raw } => {
                        if keys.contains(&dossier.key) || batch.len() >= BATCH {
                            send(Batch::Dossiers(std::mem::take(&mut batch)))?;
                            keys.clear();
                        }
                        keys.insert(dossier.key.clone());
                        batch.push((dossier, raw.unwrap_or_default()));
                    }
                    Item::Invalid { finding, raw } => {
                        if !finding.record.starts_with("line:")
                            && !finding.record.starts_with("row:")
                        {
                            rejects.push(Reject {
                                record_key: finding.record.clone(),
                                reason: finding.message.clone(),
                                raw: raw.unwrap_or_default(),
                            });
                        }
                        unreadable.push(finding);
                    }
                }
                Ok(())
            })();
            if let Err(e) = result {
                tracing::error!(error = %e, "import stopped");
            }
        })?;
        if !batch.is_empty() {
            send(Batch::Dossiers(batch))?;
        }
        // Rejects go last: a readable version earlier in the same file must not clear them.
        if !rejects.is_empty() {
            send(Batch::Rejects(rejects))?;
        }
        Ok(unreadable)
    });
    let mut counts = UpsertCounts::default();
    let mut seen = 0u64;
    let mut next_progress = 100_000u64;
    while let Some(batch) = rx.recv().await {
        match batch {
            Batch::Dossiers(list) => {
                let incoming: Vec<IncomingDossier> = list
                    .iter()
                    .map(|(dossier, raw)| IncomingDossier { dossier, raw })
                    .collect();
                counts.add(store.upsert_dossiers(&a.source, &incoming).await?);
                seen += list.len() as u64;
                if seen >= next_progress {
                    tracing::info!(records = seen, "importing");
                    next_progress += 100_000;
                }
            }
            Batch::Rejects(rejects) => store.record_rejects(&a.source, &rejects).await?,
        }
    }
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
