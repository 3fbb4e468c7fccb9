//! The dossier blocks' SQL, the same on both backends (`store/blocks.rs` holds the format and the
//! merge rule): the bulk import that merges batches into blocks, the read of every block, and the
//! conversion of the rows an earlier version kept one dossier each.

/// The in-memory key indexes of a store, by source, each valid for one generation.
pub(super) type IndexCache =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, super::blocks::KeyIndex>>>;

/// Blocks an import holds decoded before it writes them out (16 × 4,096 dossiers, ~15 MB).
pub(super) const HELD_BLOCKS: usize = 16;

/// Expands the import type `$import` for backend `$db` and, inside `impl $store`, the helpers it
/// and the store's reads call. `$lock` locks the source's generation row for the transaction
/// (PostgreSQL: `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` already holds the write lock).
macro_rules! block_store {
    ($db:ty, $store:ty, $import:ident, lock: $lock:literal) => {
        /// A bulk dossier import into blocks: one transaction across batches; see
        /// [`crate::store::DossierImport`].
        pub struct $import {
            tx: sqlx::Transaction<'static, $db>,
            source: String,
            any_rejects: bool,
            merge: super::blocks::Merge,
            cache: super::block_io::IndexCache,
        }

        impl $store {
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
                let index = Self::cached_index(&mut tx, cache, source, generation).await?;
                let any_rejects = Self::dossier_rejects_exist(&mut tx, source).await?;
                Ok($import {
                    tx,
                    source: source.to_owned(),
                    any_rejects,
                    merge: super::blocks::Merge::new(index),
                    cache: cache.clone(),
                })
            }

            /// The source's key index at `generation`: the cached one (taken out of the cache)
            /// while it is that generation's, else built from its blocks.
            async fn cached_index(
                tx: &mut sqlx::Transaction<'static, $db>,
                cache: &super::block_io::IndexCache,
                source: &str,
                generation: i64,
            ) -> Result<super::blocks::KeyIndex, StoreError> {
                let cached = cache
                    .lock()
                    .expect("index cache")
                    .remove(source)
                    .filter(|i| i.generation == generation);
                match cached {
                    Some(index) => Ok(index),
                    None => Self::build_index(tx, source, generation).await,
                }
            }

            #[tracing::instrument(name = "store.dossier_index", skip_all, fields(source))]
            async fn build_index(
                tx: &mut sqlx::Transaction<'static, $db>,
                source: &str,
                generation: i64,
            ) -> Result<super::blocks::KeyIndex, StoreError> {
                use futures_util::TryStreamExt;
                let mut index = super::blocks::KeyIndex::empty(generation);
                let mut rows = sqlx::query_as::<_, (i64, Vec<u8>)>(
                    "SELECT block, facts FROM dossier_blocks WHERE source = $1 ORDER BY block",
                )
                .bind(source)
                .fetch(&mut **tx);
                while let Some((block, facts)) = rows.try_next().await? {
                    index.add_block(block, &facts).map_err(|e| {
                        StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                    })?;
                }
                Ok(index)
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
                    for (block, records, facts) in merge.dirty() {
                        sqlx::query(
                            "INSERT INTO dossier_blocks (source, block, records, facts) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(source)
                        .bind(block)
                        .bind(records as i64)
                        .bind(facts)
                        .execute(&mut **tx)
                        .await?;
                    }
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
                let generation: Option<i64> =
                    sqlx::query_scalar("SELECT generation FROM dossier_sources WHERE source = $1")
                        .bind(source)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(generation) = generation else {
                    return Ok(Vec::new());
                };
                let index = Self::cached_index(&mut tx, &self.index, source, generation).await?;
                let blocks = index.blocks_of(keys.iter().copied());
                self.index
                    .lock()
                    .expect("index cache")
                    .insert(source.to_owned(), index);
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

            /// Every stored dossier (of one source, or all), by source, in the order first stored.
            /// Blocks are decoded on a thread of their own while the next ones are read.
            #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
            async fn read_blocks(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
                use futures_util::TryStreamExt;
                let count = self.dossier_count(source).await?;
                let (tx, rx) = std::sync::mpsc::sync_channel::<(String, i64, Vec<u8>)>(4);
                let decoder = std::thread::spawn(move || -> Result<Vec<Dossier>, StoreError> {
                    let mut strings = crate::sources::export::Interner::default();
                    let mut out = Vec::with_capacity(count);
                    for (source, block, facts) in rx {
                        super::blocks::decode_into(&facts, &mut strings, &mut out).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {source}/{block}: {e}"))
                        })?;
                    }
                    Ok(out)
                });
                let mut rows = sqlx::query_as::<_, (String, i64, Vec<u8>)>(
                    "SELECT source, block, facts FROM dossier_blocks WHERE $1 IS NULL OR source = $1 \
                     ORDER BY source, block",
                )
                .bind(source)
                .fetch(&self.pool);
                while let Some(row) = rows.try_next().await? {
                    if tx.send(row).is_err() {
                        // The decoder stopped on a damaged block: its error says which.
                        break;
                    }
                }
                drop(tx);
                decoder
                    .join()
                    .map_err(|_| StoreError::Corrupt("decoding dossier blocks failed".into()))?
            }
        }

        impl $import {
            /// Writes the blocks held so far.
            async fn flush(&mut self) -> Result<(), StoreError> {
                for (block, records, facts) in self.merge.dirty() {
                    sqlx::query(
                        "INSERT INTO dossier_blocks (source, block, records, facts) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (source, block) DO UPDATE SET records = excluded.records, facts = excluded.facts",
                    )
                    .bind(&self.source)
                    .bind(block)
                    .bind(records as i64)
                    .bind(facts)
                    .execute(&mut *self.tx)
                    .await?;
                }
                self.merge.written();
                Ok(())
            }
        }

        impl DossierImport for $import {
            #[tracing::instrument(name = "store.import.add", skip_all, fields(source = %self.source, records = records.len()))]
            async fn add(&mut self, records: &[&Dossier]) -> Result<UpsertCounts, StoreError> {
                let needed = self.merge.needed(records);
                if self.merge.held() + needed.len() > super::block_io::HELD_BLOCKS {
                    self.flush().await?;
                }
                for ids in self.merge.needed(records).chunks(256) {
                    let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                        "SELECT block, facts FROM dossier_blocks WHERE source = ",
                    );
                    q.push_bind(&self.source).push(" AND block IN (");
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let rows: Vec<(i64, Vec<u8>)> = q.build_query_as().fetch_all(&mut *self.tx).await?;
                    for (block, facts) in rows {
                        self.merge.load(block, &facts).map_err(|e| {
                            StoreError::Corrupt(format!("dossier block {}/{block}: {e}", self.source))
                        })?;
                    }
                }
                let counts = self.merge.add(records).map_err(StoreError::Corrupt)?;
                if self.any_rejects {
                    // A readable version replaces any earlier reject of the same key.
                    for chunk in records.chunks(1_000) {
                        let mut clear: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                            "DELETE FROM rejected_records WHERE kind = 'dossier' AND source = ",
                        );
                        clear.push_bind(&self.source).push(" AND record_key IN (");
                        let mut keys = clear.separated(", ");
                        for r in chunk {
                            keys.push_bind(&*r.key);
                        }
                        clear.push(")");
                        clear.build().execute(&mut *self.tx).await?;
                    }
                }
                Ok(counts)
            }

            async fn commit(mut self) -> Result<(), StoreError> {
                self.flush().await?;
                let generation: i64 = sqlx::query_scalar(
                    "UPDATE dossier_sources SET generation = generation + 1 WHERE source = $1 RETURNING generation",
                )
                .bind(&self.source)
                .fetch_one(&mut *self.tx)
                .await?;
                self.tx.commit().await?;
                let mut index = self.merge.into_index();
                index.generation = generation;
                self.cache
                    .lock()
                    .expect("index cache")
                    .insert(self.source, index);
                Ok(())
            }
        }
    };
}

pub(super) use block_store;
