//! The dossier blocks' SQL, the same on both backends (`store/blocks.rs` holds the format, the
//! buckets and the merge rule): the bulk import that merges batches into blocks, the reads (every
//! block, the buckets a period needs, the blocks of some keys), the field firsts, the conversion of
//! the rows an earlier version kept one dossier each, and the re-layout of blocks an earlier
//! version wrote without buckets.

/// What a store keeps in memory of each source between writes, valid for one generation (the
/// index's): its key index, and the keys waiting as rejects once an import has read them.
pub(super) type IndexCache =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Held>>>;

#[derive(Debug)]
pub(super) struct Held {
    pub index: super::blocks::KeyIndex,
    /// The source's dossier keys in `rejected_records` (`None`: not read yet).
    pub rejected: Option<std::collections::HashSet<String>>,
}

/// Rejects of `source` committed at `generation` (the one before it being the last write): a
/// cached entry of the generation before takes them in and moves on; any other is dropped.
pub(super) fn note_rejects<'k>(
    cache: &IndexCache,
    source: &str,
    generation: i64,
    keys: impl IntoIterator<Item = &'k str>,
) {
    let mut cache = cache.lock().expect("index cache");
    match cache.get_mut(source) {
        Some(held) if held.index.generation == generation - 1 => {
            held.index.generation = generation;
            if let Some(rejected) = &mut held.rejected {
                rejected.extend(keys.into_iter().map(str::to_owned));
            }
        }
        Some(_) => {
            cache.remove(source);
        }
        None => {}
    }
}

/// Blocks an import holds decoded before it writes them out (16 × 4,096 dossiers, ~15 MB), not
/// counting each bucket's last block, kept to fill on.
pub(super) const HELD_BLOCKS: usize = 16;

/// Dossiers decoded from blocks in the order read: the dossiers, their sequences, where each
/// source's run starts, the texts shared, the source of the last run.
pub(super) type Decoded = (
    Vec<crate::domain::Dossier>,
    Vec<super::blocks::Seq>,
    Vec<usize>,
    crate::sources::export::Interner,
    String,
);

pub(super) trait WithCapacity {
    fn with_capacity(n: usize) -> Self;
}

impl WithCapacity for Decoded {
    fn with_capacity(n: usize) -> Decoded {
        (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::new(),
            Default::default(),
            String::new(),
        )
    }
}

/// Decodes one block of `source` onto a [`Decoded`].
pub(super) fn decode_block(d: &mut Decoded, source: &str, facts: &[u8]) -> Result<(), String> {
    let (out, seqs, runs, strings, current) = d;
    if runs.is_empty() || current != source {
        runs.push(out.len());
        source.clone_into(current);
    }
    super::blocks::decode_onto(facts, strings, out, Some(seqs))
}

/// Expands the import type `$import` for backend `$db` and, inside `impl $store`, the helpers it
/// and the store's reads call. `$lock` locks the source's generation row for the transaction
/// (PostgreSQL: `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` already holds the write lock).
macro_rules! block_store {
    ($db:ty, $store:ty, $import:ident, lock: $lock:literal, begin: $begin:literal) => {
        /// A bulk dossier import into blocks: one transaction across batches; see
        /// [`crate::store::DossierImport`].
        pub struct $import {
            /// The transaction, away while a block write runs behind (`writing`).
            tx: Option<sqlx::Transaction<'static, $db>>,
            /// The filled blocks of the last flush being written, giving the transaction back.
            writing: Option<
                tokio::task::JoinHandle<Result<sqlx::Transaction<'static, $db>, StoreError>>,
            >,
            source: String,
            /// Keys of this source waiting as rejects (a readable version clears its own).
            rejected: std::collections::HashSet<String>,
            merge: super::blocks::Merge,
            cache: super::block_io::IndexCache,
        }

        impl $store {
            /// Moves the source's generation (its row made if missing) and gives the new one:
            /// every committed write of a source's dossiers or of their rejects moves it. Taken
            /// first in a transaction, it locks the row an import locks first.
            async fn move_generation(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
            ) -> Result<i64, StoreError> {
                sqlx::query(
                    "INSERT INTO dossier_sources (source, generation) VALUES ($1, 0) ON CONFLICT (source) DO NOTHING",
                )
                .bind(source)
                .execute(&mut **tx)
                .await?;
                Ok(sqlx::query_scalar(
                    "UPDATE dossier_sources SET generation = generation + 1 WHERE source = $1 RETURNING generation",
                )
                .bind(source)
                .fetch_one(&mut **tx)
                .await?)
            }

            /// Opens an import: the source's generation locked, its key index from the cache
            /// when no other process wrote since, else built from its blocks.
            async fn open_import(
                mut tx: sqlx::Transaction<'static, $db>,
                source: &str,
                cache: &super::block_io::IndexCache,
            ) -> Result<$import, StoreError> {
                sqlx::query(
                    "INSERT INTO dossier_sources (source, generation) VALUES ($1, 0) ON CONFLICT (source) DO NOTHING",
                )
                .bind(source)
                .execute(&mut *tx)
                .await?;
                let generation: i64 = sqlx::query_scalar(concat!(
                    "SELECT generation FROM dossier_sources WHERE source = $1",
                    $lock
                ))
                .bind(source)
                .fetch_one(&mut *tx)
                .await?;
                let held = Self::cached(&mut tx, cache, source, generation).await?;
                let index = held.index;
                let rejected = match held.rejected {
                    Some(rejected) => rejected,
                    None => Self::rejected_keys(&mut tx, RecordKind::Dossier, source).await?,
                };
                let fields = Self::read_fields(&mut tx, source).await?;
                Ok($import {
                    tx: Some(tx),
                    writing: None,
                    source: source.to_owned(),
                    rejected,
                    merge: super::blocks::Merge::with_fields(index, fields),
                    cache: cache.clone(),
                })
            }

            /// The source's generation as `tx` sees it (none before its first write).
            async fn generation_of(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
            ) -> Result<Option<i64>, StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT generation FROM dossier_sources WHERE source = $1")
                        .bind(source)
                        .fetch_optional(&mut **tx)
                        .await?,
                )
            }

            /// Builds the source's key index ahead of an import, in a read transaction opened
            /// with `begin` (a snapshot: the generation and the blocks read together), and keeps
            /// it in the cache unless one is there. The import uses it only if the source's
            /// generation has not moved since ([`Self::cached`]).
            async fn warm_index(&self, source: &str, begin: &'static str) -> Result<(), StoreError> {
                if self.index.lock().expect("index cache").contains_key(source) {
                    return Ok(());
                }
                let mut tx = self.pool.begin_with(begin).await?;
                let generation = Self::generation_of(&mut tx, source).await?;
                let Some(generation) = generation else {
                    return Ok(());
                };
                let index = Self::build_index(&mut tx, source, generation).await?;
                tx.commit().await?;
                self.index
                    .lock()
                    .expect("index cache")
                    .entry(source.to_owned())
                    .or_insert(super::block_io::Held {
                        index,
                        rejected: None,
                    });
                Ok(())
            }

            /// What is held of the source at `generation`: the cached entry (taken out of the
            /// cache) while it is that generation's, else its key index built from its blocks.
            async fn cached(
                tx: &mut sqlx::Transaction<'static, $db>,
                cache: &super::block_io::IndexCache,
                source: &str,
                generation: i64,
            ) -> Result<super::block_io::Held, StoreError> {
                let cached = cache
                    .lock()
                    .expect("index cache")
                    .remove(source)
                    .filter(|h| h.index.generation == generation);
                match cached {
                    Some(held) => Ok(held),
                    None => Ok(super::block_io::Held {
                        index: Self::build_index(tx, source, generation).await?,
                        rejected: None,
                    }),
                }
            }

            #[tracing::instrument(name = "store.dossier_index", skip_all, fields(source))]
            async fn build_index(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                generation: i64,
            ) -> Result<super::blocks::KeyIndex, StoreError> {
                use futures_util::TryStreamExt;
                // Room for every stored key made once.
                let keys: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(sum(records), 0) AS BIGINT) FROM dossier_blocks WHERE source = $1",
                )
                .bind(source)
                .fetch_one(&mut **tx)
                .await?;
                let mut index = super::blocks::KeyIndexBuilder::new(
                    generation,
                    usize::try_from(keys).unwrap_or(0),
                );
                // The blocks' heads alone: PostgreSQL reads a prefix of an uncompressed value
                // without the rest (the column's storage is EXTERNAL), so two thirds of the bytes
                // stay on the server. A block not measured yet is read whole. In any order: an
                // ORDER BY would sort the heads themselves (430 MB at ten million keys) on disk.
                let mut rows = sqlx::query_as::<_, (i64, Option<i64>, Vec<u8>)>(
                    "SELECT block, bucket, substr(facts, 1, CAST(COALESCE(head_bytes, length(facts)) AS INTEGER)) \
                     FROM dossier_blocks WHERE source = $1",
                )
                .bind(source)
                .fetch(&mut **tx);
                while let Some((block, bucket, facts)) = rows.try_next().await? {
                    let bucket = bucket.ok_or_else(|| {
                        StoreError::Corrupt(format!("dossier block {source}/{block} has no bucket"))
                    })?;
                    index.add_block(block, bucket, &facts).map_err(|e| {
                        StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                    })?;
                }
                Ok(index.finish())
            }

            /// The source's field firsts.
            async fn read_fields(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
            ) -> Result<super::blocks::FieldFirsts, StoreError> {
                let rows: Vec<(String, i64, String, String, String, Option<i64>, String)> = sqlx::query_as(
                    "SELECT field_code, first_seq, first_key, first_unit, first_name, label_seq, label \
                     FROM dossier_fields WHERE source = $1",
                )
                .bind(source)
                .fetch_all(&mut **tx)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(code, first_seq, first_key, first_unit, first_name, label_seq, label)| {
                        (
                            code,
                            super::blocks::FieldFirst {
                                first_seq,
                                first_key,
                                first_unit,
                                first_name,
                                label_seq,
                                label,
                            },
                        )
                    })
                    .collect())
            }

            /// Writes field firsts (`None`: the code has no dossier any more).
            async fn write_fields(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                fields: &[(&str, Option<&super::blocks::FieldFirst>)],
            ) -> Result<(), StoreError> {
                for (code, first) in fields {
                    match first {
                        Some(f) => {
                            sqlx::query(
                                "INSERT INTO dossier_fields (source, field_code, first_seq, first_key, first_unit, first_name, \
                                 label_seq, label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                                 ON CONFLICT (source, field_code) DO UPDATE SET first_seq = excluded.first_seq, \
                                 first_key = excluded.first_key, first_unit = excluded.first_unit, \
                                 first_name = excluded.first_name, label_seq = excluded.label_seq, label = excluded.label",
                            )
                            .bind(source)
                            .bind(code)
                            .bind(f.first_seq)
                            .bind(&f.first_key)
                            .bind(&f.first_unit)
                            .bind(&f.first_name)
                            .bind(f.label_seq)
                            .bind(&f.label)
                            .execute(&mut **tx)
                            .await?;
                        }
                        None => {
                            sqlx::query(
                                "DELETE FROM dossier_fields WHERE source = $1 AND field_code = $2",
                            )
                            .bind(source)
                            .bind(code)
                            .execute(&mut **tx)
                            .await?;
                        }
                    }
                }
                Ok(())
            }

            /// Writes `which` of a merge's dirty blocks (an emptied one goes).
            async fn write_merge(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                merge: &mut super::blocks::Merge,
                which: super::blocks::Write,
            ) -> Result<(), StoreError> {
                let blocks = merge.dirty(which);
                merge.written(which);
                Self::write_blocks(tx, source, blocks).await
            }

            /// Writes encoded blocks (id, bucket, dossiers, bytes; an emptied one goes).
            async fn write_blocks(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                blocks: Vec<(i64, i64, usize, Vec<u8>)>,
            ) -> Result<(), StoreError> {
                for (block, bucket, records, facts) in blocks {
                    if records == 0 {
                        sqlx::query("DELETE FROM dossier_blocks WHERE source = $1 AND block = $2")
                            .bind(source)
                            .bind(block)
                            .execute(&mut **tx)
                            .await?;
                        continue;
                    }
                    let head = super::blocks::head_bytes(&facts).map_err(StoreError::Corrupt)?;
                    sqlx::query(
                        "INSERT INTO dossier_blocks (source, block, bucket, records, facts, head_bytes) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (source, block) DO UPDATE SET bucket = excluded.bucket, records = excluded.records, \
                         facts = excluded.facts, head_bytes = excluded.head_bytes",
                    )
                    .bind(source)
                    .bind(block)
                    .bind(bucket)
                    .bind(records as i64)
                    .bind(facts)
                    .bind(head as i64)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Finds again the firsts of fields a merge invalidated, over every block of the
            /// source (rare: a dossier that held them changed field or lost its name), and writes
            /// every changed field first.
            async fn settle_fields(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                merge: &mut super::blocks::Merge,
            ) -> Result<(), StoreError> {
                if !merge.invalidated.is_empty() {
                    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                        "SELECT block, facts FROM dossier_blocks WHERE source = $1 ORDER BY block",
                    )
                    .bind(source)
                    .fetch_all(&mut **tx)
                    .await?;
                    let mut strings = crate::sources::export::Interner::default();
                    let mut all = Vec::with_capacity(rows.len());
                    for (block, facts) in rows {
                        all.push(super::blocks::decode_with_seqs(&facts, &mut strings).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                        })?);
                    }
                    let refound = merge.refind(&all);
                    let refound: Vec<(&str, Option<&super::blocks::FieldFirst>)> =
                        refound.iter().map(|(c, f)| (c.as_str(), f.as_ref())).collect();
                    Self::write_fields(tx, source, &refound).await?;
                }
                let changed: Vec<(&str, Option<&super::blocks::FieldFirst>)> = merge
                    .changed_fields()
                    .into_iter()
                    .map(|(c, f)| (c, Some(f)))
                    .collect();
                Self::write_fields(tx, source, &changed).await
            }

            /// Blocks an earlier version wrote without buckets, laid out again with their data:
            /// every source's dossiers, in their stored order (which becomes their sequence), merged
            /// into bucketed blocks, with their field firsts. Once, under the write lock.
            async fn lay_out_again(&self) -> Result<(), StoreError> {
                let pending = "SELECT EXISTS (SELECT 1 FROM dossier_blocks WHERE bucket IS NULL)";
                let any: bool = sqlx::query_scalar(pending).fetch_one(&self.pool).await?;
                if !any {
                    return Ok(());
                }
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let sources: Vec<String> = sqlx::query_scalar(concat!(
                    "SELECT source FROM dossier_sources ORDER BY source",
                    $lock
                ))
                .fetch_all(&mut *tx)
                .await?;
                if !sqlx::query_scalar::<_, bool>(pending).fetch_one(&mut *tx).await? {
                    return Ok(());
                }
                for source in sources {
                    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                        "SELECT block, facts FROM dossier_blocks WHERE source = $1 ORDER BY block",
                    )
                    .bind(&source)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut strings = crate::sources::export::Interner::default();
                    let mut dossiers = Vec::new();
                    for (block, facts) in &rows {
                        super::blocks::decode_into(facts, &mut strings, &mut dossiers).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                        })?;
                    }
                    tracing::info!(source = %source, dossiers = dossiers.len(), "laying dossier blocks out in buckets");
                    sqlx::query("DELETE FROM dossier_blocks WHERE source = $1")
                        .bind(&source)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM dossier_fields WHERE source = $1")
                        .bind(&source)
                        .execute(&mut *tx)
                        .await?;
                    // One merge over them all: the dossiers are decoded already, and a block
                    // written mid-way would have to be read back to fill it.
                    let mut merge = super::blocks::Merge::new(Default::default());
                    let refs: Vec<&Dossier> = dossiers.iter().collect();
                    merge.add(&refs).map_err(StoreError::Corrupt)?;
                    drop(refs);
                    Self::write_merge(&mut tx, &source, &mut merge, super::blocks::Write::All).await?;
                    Self::settle_fields(&mut tx, &source, &mut merge).await?;
                    sqlx::query(
                        "UPDATE dossier_sources SET generation = generation + 1 WHERE source = $1",
                    )
                    .bind(&source)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                self.index.lock().expect("index cache").clear();
                Ok(())
            }

            /// Blocks written before their heads were measured get the length of their head
            /// (`head_bytes`), from their data; once, under the write lock. Their content does
            /// not change, so no generation moves.
            async fn measure_heads(&self) -> Result<(), StoreError> {
                let pending = "SELECT EXISTS (SELECT 1 FROM dossier_blocks WHERE head_bytes IS NULL)";
                let any: bool = sqlx::query_scalar(pending).fetch_one(&self.pool).await?;
                if !any {
                    return Ok(());
                }
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let blocks: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT source, block FROM dossier_blocks WHERE head_bytes IS NULL ORDER BY source, block",
                )
                .fetch_all(&mut *tx)
                .await?;
                tracing::info!(blocks = blocks.len(), "measuring the heads of dossier blocks");
                for (source, block) in blocks {
                    let facts: Vec<u8> = sqlx::query_scalar(
                        "SELECT facts FROM dossier_blocks WHERE source = $1 AND block = $2",
                    )
                    .bind(&source)
                    .bind(block)
                    .fetch_one(&mut *tx)
                    .await?;
                    let head = super::blocks::head_bytes(&facts).map_err(|e| {
                        StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                    })?;
                    sqlx::query(
                        "UPDATE dossier_blocks SET head_bytes = $1 WHERE source = $2 AND block = $3",
                    )
                    .bind(head as i64)
                    .bind(&source)
                    .bind(block)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Writes the dossiers of the earlier one-row-per-dossier table as blocks, by source,
            /// and drops that table; `tx` is the conversion's transaction.
            async fn store_converted(
                tx: &mut sqlx::Transaction<'static, $db>,
                by_source: std::collections::BTreeMap<String, Vec<Dossier>>,
            ) -> Result<(), StoreError> {
                let count: usize = by_source.values().map(Vec::len).sum();
                if count > 0 {
                    tracing::info!(dossiers = count, "moving stored dossiers into blocks");
                }
                for (source, dossiers) in &by_source {
                    let refs: Vec<&Dossier> = dossiers.iter().collect();
                    let mut merge = super::blocks::Merge::new(Default::default());
                    merge.add(&refs).map_err(StoreError::Corrupt)?;
                    sqlx::query(
                        "INSERT INTO dossier_sources (source, generation) VALUES ($1, 1) ON CONFLICT (source) DO NOTHING",
                    )
                    .bind(source)
                    .execute(&mut **tx)
                    .await?;
                    Self::write_merge(tx, source, &mut merge, super::blocks::Write::All).await?;
                    Self::settle_fields(tx, source, &mut merge).await?;
                }
                sqlx::query("DROP TABLE dossiers_legacy")
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// The stored dossiers of `source` with these keys: the blocks the key index names,
            /// decoded. The index comes from the cache while the source's generation says nobody
            /// wrote since it was built.
            #[tracing::instrument(name = "store.dossiers_by_keys", skip_all, fields(source, keys = keys.len()))]
            async fn read_by_keys(&self, source: &str, keys: &[&str]) -> Result<Vec<Dossier>, StoreError> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.pool.begin().await?;
                let generation = Self::generation_of(&mut tx, source).await?;
                let Some(generation) = generation else {
                    return Ok(Vec::new());
                };
                let held = Self::cached(&mut tx, &self.index, source, generation).await?;
                let blocks = held.index.blocks_of(keys.iter().copied());
                self.index
                    .lock()
                    .expect("index cache")
                    .insert(source.to_owned(), held);
                let wanted: std::collections::HashSet<&str> = keys.iter().copied().collect();
                let mut strings = crate::sources::export::Interner::default();
                let mut out = Vec::new();
                for ids in blocks.chunks(256) {
                    let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                        "SELECT block, facts FROM dossier_blocks WHERE source = ",
                    );
                    q.push_bind(source).push(" AND block IN (");
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let rows: Vec<(i64, Vec<u8>)> = q.build_query_as().fetch_all(&mut *tx).await?;
                    for (block, facts) in rows {
                        let dossiers = super::blocks::decode(&facts, &mut strings).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                        })?;
                        out.extend(dossiers.into_iter().filter(|d| wanted.contains(&*d.key)));
                    }
                }
                tx.commit().await?;
                Ok(out)
            }

            /// Streams stored blocks — of one source or all, every block or those named, in
            /// (source, block) order — to `each` on a thread of its own while the next ones are
            /// read; gives back what `each` built.
            async fn stream_blocks<T: Send + 'static>(
                &self,
                source: Option<&str>,
                blocks: Option<&[i64]>,
                mut state: T,
                each: fn(&mut T, &str, &[u8]) -> Result<(), String>,
            ) -> Result<T, StoreError> {
                use futures_util::TryStreamExt;
                let (tx, rx) = std::sync::mpsc::sync_channel::<(String, i64, Vec<u8>)>(4);
                let worker = std::thread::spawn(move || -> Result<T, StoreError> {
                    for (source, block, facts) in rx {
                        each(&mut state, &source, &facts).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                        })?;
                    }
                    Ok(state)
                });
                let send = |row| tx.send(row).is_ok();
                'read: {
                    match blocks {
                        None => {
                            let mut rows = sqlx::query_as::<_, (String, i64, Vec<u8>)>(
                                "SELECT source, block, facts FROM dossier_blocks WHERE $1 IS NULL OR source = $1 \
                                 ORDER BY source, block",
                            )
                            .bind(source)
                            .fetch(&self.pool);
                            while let Some(row) = rows.try_next().await? {
                                if !send(row) {
                                    // The worker stopped on a damaged block: its error says which.
                                    break 'read;
                                }
                            }
                        }
                        Some(ids) => {
                            let source = source.unwrap_or_default();
                            for chunk in ids.chunks(256) {
                                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                                    "SELECT source, block, facts FROM dossier_blocks WHERE source = ",
                                );
                                q.push_bind(source).push(" AND block IN (");
                                let mut list = q.separated(", ");
                                for id in chunk {
                                    list.push_bind(*id);
                                }
                                q.push(") ORDER BY block");
                                let mut rows = q.build_query_as::<(String, i64, Vec<u8>)>().fetch(&self.pool);
                                while let Some(row) = rows.try_next().await? {
                                    if !send(row) {
                                        break 'read;
                                    }
                                }
                            }
                        }
                    }
                }
                drop(tx);
                worker
                    .join()
                    .map_err(|_| StoreError::Corrupt("decoding dossier blocks failed".into()))?
            }

            /// Every stored dossier (of one source, or all), by source, each source's in the
            /// order first stored.
            #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
            async fn read_all(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
                let count = self.dossier_count(source).await?;
                let read = Decoded::with_capacity(count);
                let (mut out, seqs, runs, _, _) = self
                    .stream_blocks(source, None, read, super::block_io::decode_block)
                    .await?;
                let ends: Vec<usize> = runs.iter().skip(1).copied().chain([out.len()]).collect();
                for (start, end) in runs.into_iter().zip(ends) {
                    super::blocks::order_by_seq(&mut out[start..end], &seqs[start..end]);
                }
                Ok(out)
            }

            /// The dossiers of `source` in the buckets `from..until`, in storage order, with their
            /// sequences.
            #[tracing::instrument(name = "store.dossiers_in", skip_all, fields(source, from, until))]
            async fn read_buckets(
                &self,
                source: &str,
                from: i64,
                until: Option<i64>,
            ) -> Result<(Vec<Dossier>, Vec<super::blocks::Seq>), StoreError> {
                let (blocks, count) = self.blocks_in(source, from, until).await?;
                let read = Decoded::with_capacity(count);
                let (out, seqs, _, _, _) = self
                    .stream_blocks(Some(source), Some(&blocks), read, super::block_io::decode_block)
                    .await?;
                Ok((out, seqs))
            }

            /// What the column-4 check reads of the dossiers of `source` in the buckets
            /// `from..until`, column by column, no dossier built.
            #[tracing::instrument(name = "store.receptions", skip_all, fields(source, from, until))]
            async fn read_receptions(
                &self,
                source: &str,
                from: i64,
                until: i64,
            ) -> Result<crate::domain::Receptions, StoreError> {
                let (blocks, count) = self.blocks_in(source, from, Some(until)).await?;
                let mut read = super::blocks::ReceptionReader::default();
                read.reserve(count);
                let read = self
                    .stream_blocks(Some(source), Some(&blocks), read, |r, _, facts| r.add_block(facts))
                    .await?;
                Ok(read.finish())
            }

            /// The field firsts of a source.
            async fn read_field_firsts(&self, source: &str) -> Result<super::blocks::FieldFirsts, StoreError> {
                let mut tx = self.pool.begin().await?;
                let fields = Self::read_fields(&mut tx, source).await?;
                tx.commit().await?;
                Ok(fields)
            }
        }

        impl $import {
            /// Waits for the write running behind, if any, to give the transaction back (its
            /// error, if it failed; its panic, if it panicked: the task is never aborted).
            async fn settle(&mut self) -> Result<(), StoreError> {
                if let Some(writing) = self.writing.take() {
                    let written = writing
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    self.tx = Some(written?);
                }
                Ok(())
            }

            /// Writes the filled blocks held so far behind the next batches' merging: encoded
            /// here, then written by a task that holds the transaction until it is done (one
            /// write at a time; whatever needs the transaction next waits for it). The store's
            /// side of a write (PostgreSQL's server, SQLite's connection thread) so overlaps
            /// the import's own.
            async fn flush_behind(&mut self) -> Result<(), StoreError> {
                let which = super::blocks::Write::Filled;
                let blocks = self.merge.dirty(which);
                self.merge.written(which);
                self.settle().await?;
                let mut tx = self.tx.take().expect("settled above");
                let source = self.source.clone();
                let write = async move {
                    <$store>::write_blocks(&mut tx, &source, blocks).await?;
                    Ok(tx)
                };
                self.writing = Some(tokio::spawn(tracing::Instrument::in_current_span(write)));
                Ok(())
            }
        }

        impl DossierImport for $import {
            #[tracing::instrument(name = "store.import.add", skip_all, fields(source = %self.source, records = records.len()))]
            async fn add(&mut self, records: &[&Dossier]) -> Result<UpsertCounts, StoreError> {
                let needed = self.merge.needed(records);
                if self.merge.held() + needed.len() > super::block_io::HELD_BLOCKS {
                    self.flush_behind().await?;
                }
                let needed = self.merge.needed(records);
                if !needed.is_empty() {
                    self.settle().await?;
                }
                for ids in needed.chunks(256) {
                    let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                        "SELECT block, bucket, facts FROM dossier_blocks WHERE source = ",
                    );
                    q.push_bind(&self.source).push(" AND block IN (");
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let tx = self.tx.as_mut().expect("settled above");
                    let rows: Vec<(i64, Option<i64>, Vec<u8>)> =
                        q.build_query_as().fetch_all(&mut **tx).await?;
                    for (block, bucket, facts) in rows {
                        let bucket = bucket.unwrap_or(super::blocks::ALWAYS);
                        self.merge.load(block, bucket, &facts).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {}/{block}: {e}", self.source))
                        })?;
                    }
                }
                let counts = self.merge.add(records).map_err(StoreError::Corrupt)?;
                // A readable version replaces any earlier reject of the same key.
                let cleared: Vec<&str> = records
                    .iter()
                    .filter(|r| self.rejected.remove(&*r.key))
                    .map(|r| &*r.key)
                    .collect();
                if !cleared.is_empty() {
                    self.settle().await?;
                    let tx = self.tx.as_mut().expect("settled above");
                    <$store>::clear_rejects(tx, RecordKind::Dossier, &self.source, &cleared).await?;
                }
                Ok(counts)
            }

            async fn commit(mut self) -> Result<(), StoreError> {
                self.settle().await?;
                let mut tx = self.tx.take().expect("settled above");
                <$store>::write_merge(&mut tx, &self.source, &mut self.merge, super::blocks::Write::All)
                    .await?;
                <$store>::settle_fields(&mut tx, &self.source, &mut self.merge).await?;
                let generation = <$store>::move_generation(&mut tx, &self.source).await?;
                tx.commit().await?;
                let mut index = self.merge.into_index();
                index.generation = generation;
                self.cache.lock().expect("index cache").insert(
                    self.source,
                    super::block_io::Held {
                        index,
                        rejected: Some(self.rejected),
                    },
                );
                Ok(())
            }
        }
    };
}

/// Expands, inside `impl Store for <backend>`, the dossier reads both backends serve from the
/// helpers [`block_store!`] gives them: every dossier, a period's buckets, the receptions the
/// column-4 check reads, the field firsts.
macro_rules! block_reads {
    () => {
        async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
            self.read_all(source).await
        }

        async fn dossiers_since(
            &self,
            source: &str,
            since: chrono::NaiveDate,
        ) -> Result<(Vec<Dossier>, Vec<super::blocks::Seq>), StoreError> {
            let since = super::blocks::day_bucket(since);
            self.read_buckets(source, since, None).await
        }

        async fn dossier_receptions(
            &self,
            source: &str,
            from: chrono::NaiveDate,
            until: chrono::NaiveDate,
        ) -> Result<crate::domain::Receptions, StoreError> {
            let (from, until) = (
                super::blocks::day_bucket(from),
                super::blocks::day_bucket(until),
            );
            self.read_receptions(source, from, until).await
        }

        async fn field_firsts(
            &self,
            source: &str,
        ) -> Result<super::blocks::FieldFirsts, StoreError> {
            self.read_field_firsts(source).await
        }
    };
}

pub(super) use {block_reads, block_store};
