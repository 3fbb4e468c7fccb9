//! SQLite, the embedded default: one file, WAL journal, created and migrated on first use.

use super::shared;
use super::{
    AttemptRecord, AuditEntry, Claim, DossierImport, Fire, IncomingDossier, IncomingRaw,
    OutboxChanges, OutboxFilter, OutboxRow, PullLog, Reject, RunRecord, Store, StoreError,
    UpsertCounts,
};
use crate::auth::vault::SealedCredential;
use crate::domain::{Dossier, Finding, FindingCode, Instant, RecordKind, ResultKind, Status};
use crate::sources::export::Interner;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::str::FromStr;

/// Rows per multi-row INSERT: 17 bound values each, 25,500 in all, below SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1_500;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

fn secs(i: Option<Instant>) -> Option<i64> {
    i.map(|i| i.0)
}

impl SqliteStore {
    shared::shared_helpers!(Sqlite, SqliteConnection, row_lock: "");
}

impl Store for SqliteStore {
    type Import = SqliteDossierImport;

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    shared::shared_methods!(Sqlite, begin: "BEGIN IMMEDIATE", apply_lock: "", row_lock: "", claim_lock: "");

    #[tracing::instrument(name = "store.begin_dossier_import", skip_all, fields(source))]
    async fn begin_dossier_import(&self, source: &str) -> Result<SqliteDossierImport, StoreError> {
        // IMMEDIATE: the import reads, then writes; a deferred transaction could not upgrade
        // once another connection has written (SQLITE_BUSY_SNAPSHOT).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let any_rejects = Self::dossier_rejects_exist(&mut tx, source).await?;
        Ok(SqliteDossierImport {
            tx,
            source: source.to_owned(),
            any_rejects,
        })
    }

    /// Reads pages of 1,024 dossiers, each page one JSON array that SQLite builds itself. Row by
    /// row, sqlx copies every column value under SQLite's global allocator lock (about 13 µs a
    /// dossier here); a page per row makes a million dossiers a thousand values.
    #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
    async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
        let mut strings = Interner::default();
        let mut out = Vec::with_capacity(self.dossier_count(source).await?);
        let mut after = i64::MIN;
        loop {
            // Keyset pages along the rowid: no sort, no temporary table, constant memory.
            let (page, last): (Option<String>, Option<i64>) = sqlx::query_as(
                "SELECT json_group_array(json_array(id, record_key, procedure_code, field_code, field_name, unit_code, \
                 channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted)), MAX(id) \
                 FROM (SELECT * FROM dossiers WHERE id > $1 AND ($2 IS NULL OR source = $2) ORDER BY id LIMIT 1024)",
            )
            .bind(after)
            .bind(source)
            .fetch_one(&self.pool)
            .await?;
            let (Some(page), Some(last)) = (page, last) else {
                break;
            };
            let mut rows: Vec<PackedDossier> = serde_json::from_str(&page)
                .map_err(|e| StoreError::Corrupt(format!("a page of dossiers: {e}")))?;
            // SQL does not promise that an aggregate sees its subquery's order; check, sort if not.
            if !rows.is_sorted_by_key(|r| r.id) {
                rows.sort_by_key(|r| r.id);
            }
            for r in rows {
                out.push(r.into_dossier(&mut strings)?);
            }
            after = last;
        }
        Ok(out)
    }
}

/// One dossier of a page, in the column order of the query above.
#[derive(serde::Deserialize)]
struct PackedDossier<'a> {
    id: i64,
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
            received_at: self.received_at.map(Instant),
            due_at: self.due_at.map(Instant),
            supplement_requested_at: self.supplement_requested_at.map(Instant),
            finished_at: self.finished_at.map(Instant),
            returned_at: self.returned_at.map(Instant),
            updated_at: self.updated_at.map(Instant),
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

/// A bulk dossier import: one transaction across batches (see [`DossierImport`]).
pub struct SqliteDossierImport {
    tx: sqlx::Transaction<'static, Sqlite>,
    source: String,
    any_rejects: bool,
}

impl DossierImport for SqliteDossierImport {
    #[tracing::instrument(name = "store.import.add", skip_all, fields(source = %self.source, records = records.len()))]
    async fn add(&mut self, records: &[IncomingDossier<'_>]) -> Result<UpsertCounts, StoreError> {
        let (tx, source) = (&mut self.tx, self.source.as_str());
        let mut counts = UpsertCounts::default();
        let mut chunks = records.chunks(ROWS_PER_STATEMENT);
        let mut next = chunks.next().map(|c| (c, upsert_statement(source, c)));
        while let Some((chunk, mut statement)) = next.take() {
            // New rows get ids above the largest one (SQLite's rowid rule, and this transaction is
            // the only writer); an upsert's changes count inserted and updated rows alike.
            let max_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM dossiers")
                .fetch_one(&mut **tx)
                .await?;
            // Binding the next chunk's values is real work: do it while SQLite runs this one.
            let (written, following) = tokio::join!(statement.build().execute(&mut **tx), async {
                chunks.next().map(|c| (c, upsert_statement(source, c)))
            });
            next = following;
            let written = written?.rows_affected();
            let new: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE id > $1")
                .bind(max_id)
                .fetch_one(&mut **tx)
                .await?;
            let new = new as u64;
            counts.add(UpsertCounts {
                new,
                updated: written - new,
                unchanged: chunk.len() as u64 - written,
            });
            if self.any_rejects {
                // A readable version replaces any earlier reject of the same key.
                let mut clear: QueryBuilder<Sqlite> = QueryBuilder::new(
                    "DELETE FROM rejected_records WHERE kind = 'dossier' AND source = ",
                );
                clear.push_bind(source).push(" AND record_key IN (");
                let mut keys = clear.separated(", ");
                for r in chunk {
                    keys.push_bind(&*r.dossier.key);
                }
                clear.push(")");
                clear.build().execute(&mut **tx).await?;
            }
        }
        Ok(counts)
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}

/// The multi-row upsert of one chunk. An existing key is replaced only by a later CapNhatLuc (an
/// absent one is older than any), or an equal one with a different record.
fn upsert_statement(source: &str, records: &[IncomingDossier<'_>]) -> QueryBuilder<Sqlite> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO dossiers (source, record_key, procedure_code, field_code, field_name, unit_code, \
                 channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted, raw) ",
    );
    q.push_values(records, |mut b, r| {
        let d = r.dossier;
        b.push_bind(source)
            .push_bind(&*d.key)
            .push_bind(&*d.procedure_code)
            .push_bind(&*d.field_code)
            .push_bind(&*d.field_name)
            .push_bind(&*d.unit_code)
            .push_bind(&*d.channel)
            .push_bind(i64::from(d.status.code()))
            .push_bind(secs(d.received_at))
            .push_bind(secs(d.due_at))
            .push_bind(secs(d.supplement_requested_at))
            .push_bind(secs(d.finished_at))
            .push_bind(secs(d.returned_at))
            .push_bind(secs(d.updated_at))
            .push_bind(d.result_kind == ResultKind::Withdrawal)
            .push_bind(d.deleted)
            .push_bind(r.raw);
    });
    q.push(
                " ON CONFLICT (source, record_key) DO UPDATE SET \
                 procedure_code = excluded.procedure_code, field_code = excluded.field_code, \
                 field_name = excluded.field_name, unit_code = excluded.unit_code, channel = excluded.channel, \
                 status = excluded.status, received_at = excluded.received_at, due_at = excluded.due_at, \
                 supplement_requested_at = excluded.supplement_requested_at, finished_at = excluded.finished_at, \
                 returned_at = excluded.returned_at, updated_at = excluded.updated_at, \
                 result_withdrawal = excluded.result_withdrawal, deleted = excluded.deleted, raw = excluded.raw, \
                 revision = dossiers.revision + 1 WHERE ",
            );
    q.push(shared::replaces("dossiers"));
    q
}
