//! SQLite, the embedded default: one file, WAL journal, created and migrated on first use.

use super::SignInFailures;
use super::block_io::{Decoded, IndexCache, WithCapacity, block_reads, block_store};
use super::shared;
use super::tracking::tracking_methods;
use super::{
    AttemptRecord, AuditEntry, Claim, DossierImport, Fire, IncomingRaw, OutboxChanges,
    OutboxFilter, OutboxRow, PullLog, Reject, RunRecord, SessionRecord, Store, StoreError,
    UpsertCounts, Viewer,
};
use crate::auth::vault::SealedCredential;
use crate::domain::{Dossier, Finding, FindingCode, Instant, RecordKind, ResultKind, Status};
use crate::sources::export::Interner;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    index: IndexCache,
    turns: super::turns::WriteTurns,
    /// The database file (its disk is named when it fills).
    file: std::sync::Arc<std::path::PathBuf>,
}

impl SqliteStore {
    #[tracing::instrument(name = "store.open", skip_all, fields(url = %super::redact_url(url)))]
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            url: super::redact_url(url),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // A 64 MiB page cache keeps a bulk upsert's B-tree pages in memory instead of spilling
            // them mid-transaction; the upsert's statement journal stays in memory too.
            // Writers queue for the one write lock rather than fail: a bulk import holds it for
            // a while, and the daemon's pulls, runs and workers all write.
            .busy_timeout(std::time::Duration::from_secs(60))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let options_file = options.get_filename().to_path_buf();
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        // A store a newer release migrated is refused before anything changes.
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap_or(None);
        super::check_schema(url, applied, &MIGRATOR)?;
        MIGRATOR.run(&pool).await?;
        let store = SqliteStore {
            pool,
            index: IndexCache::default(),
            turns: super::turns::WriteTurns::one_at_a_time(),
            file: std::sync::Arc::new(options_file),
        };
        store.convert_legacy().await?;
        store.lay_out_again().await?;
        store.measure_heads().await?;
        Ok(store)
    }

    /// Moves the dossiers an earlier version kept one row each into blocks, once (under the
    /// write lock: a second process opening the file at the same time finds the table gone).
    async fn convert_legacy(&self) -> Result<(), StoreError> {
        let exists = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dossiers_legacy')";
        let legacy: bool = sqlx::query_scalar(exists).fetch_one(&self.pool).await?;
        if !legacy {
            return Ok(());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !sqlx::query_scalar::<_, bool>(exists)
            .fetch_one(&mut *tx)
            .await?
        {
            return Ok(());
        }
        let mut by_source: std::collections::BTreeMap<String, Vec<Dossier>> = Default::default();
        for (source, d) in self.legacy_dossiers().await? {
            by_source.entry(source).or_default().push(d);
        }
        Self::store_converted(&mut tx, by_source).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The rows of the earlier one-row-per-dossier table, in the order first stored: pages of
    /// 1,024 dossiers, each page one JSON array that SQLite builds itself.
    async fn legacy_dossiers(&self) -> Result<Vec<(String, Dossier)>, StoreError> {
        let mut strings = Interner::default();
        let mut out = Vec::new();
        let mut after = i64::MIN;
        loop {
            let (page, last): (Option<String>, Option<i64>) = sqlx::query_as(
                "SELECT json_group_array(json_array(id, source, record_key, procedure_code, field_code, field_name, \
                 unit_code, channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted)), MAX(id) \
                 FROM (SELECT * FROM dossiers_legacy WHERE id > $1 ORDER BY id LIMIT 1024)",
            )
            .bind(after)
            .fetch_one(&self.pool)
            .await?;
            let (Some(page), Some(last)) = (page, last) else {
                break;
            };
            let mut rows: Vec<PackedDossier> = serde_json::from_str(&page)
                .map_err(|e| StoreError::Corrupt(format!("a page of dossiers: {e}")))?;
            rows.sort_by_key(|r| r.id);
            for r in rows {
                let source = r.source.0.to_string();
                out.push((source, r.into_dossier(&mut strings)?));
            }
            after = last;
        }
        Ok(out)
    }
}

impl SqliteStore {
    shared::shared_helpers!(Sqlite, SqliteConnection, begin: "BEGIN IMMEDIATE", apply_lock: "", generic_plans: "", row_lock: "");
}

block_store!(Sqlite, SqliteStore, SqliteDossierImport, lock: "", begin: "BEGIN IMMEDIATE");

impl Store for SqliteStore {
    type Import = SqliteDossierImport;

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    shared::shared_methods!(Sqlite, begin: "BEGIN IMMEDIATE", apply_lock: "", generic_plans: "", row_lock: "", claim_lock: "");

    tracking_methods!(Sqlite, begin: "BEGIN IMMEDIATE");

    #[tracing::instrument(name = "store.begin_dossier_import", skip_all, fields(source))]
    async fn begin_dossier_import(&self, source: &str) -> Result<SqliteDossierImport, StoreError> {
        // IMMEDIATE: the import reads, then writes; a deferred transaction could not upgrade
        // once another connection has written (SQLITE_BUSY_SNAPSHOT).
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Self::open_import(tx, source, &self.index).await
    }

    #[tracing::instrument(name = "store.prepare_dossier_import", skip_all, fields(source))]
    async fn prepare_dossier_import(&self, source: &str) -> Result<(), StoreError> {
        // A deferred transaction reads one snapshot and takes no write lock.
        self.warm_index(source, "BEGIN").await
    }

    block_reads!();
}

/// One dossier of a page of the earlier table, in the column order of the query above.
#[derive(serde::Deserialize)]
struct PackedDossier<'a> {
    id: i64,
    #[serde(borrow)]
    source: Text<'a>,
    #[serde(borrow)]
    key: Text<'a>,
    #[serde(borrow)]
    procedure_code: Text<'a>,
    #[serde(borrow)]
    field_code: Text<'a>,
    #[serde(borrow)]
    field_name: Text<'a>,
    #[serde(borrow)]
    unit_code: Text<'a>,
    #[serde(borrow)]
    channel: Text<'a>,
    status: i64,
    received_at: Option<i64>,
    due_at: Option<i64>,
    supplement_requested_at: Option<i64>,
    finished_at: Option<i64>,
    returned_at: Option<i64>,
    updated_at: Option<i64>,
    result_withdrawal: i64,
    deleted: i64,
}

impl PackedDossier<'_> {
    fn into_dossier(self, strings: &mut Interner) -> Result<Dossier, StoreError> {
        let status = u8::try_from(self.status)
            .ok()
            .and_then(Status::new)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("dossier {} has status {}", self.key.0, self.status))
            })?;
        Ok(Dossier {
            key: self.key.0.into(),
            procedure_code: strings.intern(&self.procedure_code.0),
            field_code: strings.intern(&self.field_code.0),
            field_name: strings.intern(&self.field_name.0),
            unit_code: strings.intern(&self.unit_code.0),
            channel: strings.intern(&self.channel.0),
            status,
            received_at: self.received_at.map(Instant).into(),
            due_at: self.due_at.map(Instant).into(),
            supplement_requested_at: self.supplement_requested_at.map(Instant).into(),
            finished_at: self.finished_at.map(Instant).into(),
            returned_at: self.returned_at.map(Instant).into(),
            updated_at: self.updated_at.map(Instant).into(),
            result_kind: if self.result_withdrawal != 0 {
                ResultKind::Withdrawal
            } else {
                ResultKind::Other
            },
            deleted: self.deleted != 0,
        })
    }
}

/// JSON text, borrowed from the page unless it had escapes.
struct Text<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("text")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

super::mail::mail_methods!(SqliteStore, begin: "BEGIN IMMEDIATE", claim_lock: "");

/// This release's migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// A consistent copy of the whole store in one new file (`VACUUM INTO`), taken while the
    /// daemon reads and writes. Returns its size in bytes.
    #[tracing::instrument(name = "store.backup", skip_all, fields(to = %to.display()))]
    pub async fn backup(&self, to: &std::path::Path) -> Result<u64, StoreError> {
        if to.exists() {
            return Err(StoreError::Backup(format!(
                "{} exists: name a new file (a backup never overwrites one)",
                to.display()
            )));
        }
        let path = to
            .to_str()
            .ok_or_else(|| StoreError::Backup(format!("{} is not a UTF-8 path", to.display())))?;
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        std::fs::metadata(to)
            .map(|m| m.len())
            .map_err(|e| StoreError::Backup(format!("{}: {e}", to.display())))
    }

    /// Leases a live process holds at `now` (a running daemon's runs), as `name (owner)`.
    pub async fn live_leases(&self, now: Instant) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, owner FROM locks WHERE until > $1 ORDER BY name")
                .bind(now.0)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(n, o)| format!("{n} ({o})"))
            .collect())
    }

    /// Closes the pool: the WAL is checkpointed and the file left whole.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The database file.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The file a `sqlite://` URL names.
    pub fn file_of(url: &str) -> Result<std::path::PathBuf, StoreError> {
        SqliteConnectOptions::from_str(url)
            .map(|o| o.get_filename().to_path_buf())
            .map_err(|source| StoreError::Open {
                url: super::redact_url(url),
                source,
            })
    }
}
