//! SQLite, the embedded default: one file, WAL journal, created and migrated on first use.

use super::{
    DecisionRecord, DossierImport, IncomingDossier, IncomingRaw, Reject, Store, StoreError,
    UpsertCounts,
};
use crate::auth::vault::SealedCredential;
use crate::domain::{Dossier, Finding, FindingCode, Instant, RecordKind, ResultKind, Status};
use crate::sources::export::Interner;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::str::FromStr;

/// Rows per multi-row INSERT: 17 bound values each, 25,500 in all, below SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1_500;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    #[tracing::instrument(name = "store.open", skip_all, fields(url = %url))]
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            url: url.to_owned(),
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

impl Store for SqliteStore {
    type Import = SqliteDossierImport;

    #[tracing::instrument(name = "store.upsert_dossiers", skip_all, fields(source, records = records.len()))]
    async fn upsert_dossiers(
        &self,
        source: &str,
        records: &[IncomingDossier<'_>],
    ) -> Result<UpsertCounts, StoreError> {
        let mut import = self.begin_dossier_import(source).await?;
        let counts = import.add(records).await?;
        import.commit().await?;
        Ok(counts)
    }

    #[tracing::instrument(name = "store.begin_dossier_import", skip_all, fields(source))]
    async fn begin_dossier_import(&self, source: &str) -> Result<SqliteDossierImport, StoreError> {
        let mut tx = self.pool.begin().await?;
        let any_rejects: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM rejected_records WHERE kind = 'dossier' AND source = $1)",
        )
        .bind(source)
        .fetch_one(&mut *tx)
        .await?;
        Ok(SqliteDossierImport {
            tx,
            source: source.to_owned(),
            any_rejects,
        })
    }

    #[tracing::instrument(name = "store.upsert_raw", skip_all, fields(kind = kind.as_str(), source, records = records.len()))]
    async fn upsert_raw(
        &self,
        kind: RecordKind,
        source: &str,
        records: &[IncomingRaw<'_>],
    ) -> Result<UpsertCounts, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut counts = UpsertCounts::default();
        let table = raw_table(kind)?;
        for r in records {
            let mut query: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO ");
            query
                .push(table)
                .push(" (source, record_key, updated_at, raw) VALUES (");
            query
                .push_bind(source)
                .push(", ")
                .push_bind(r.key)
                .push(", ");
            query
                .push_bind(r.updated_at.map(|i| i.0))
                .push(", ")
                .push_bind(r.raw);
            query.push(format!(
                ") ON CONFLICT (source, record_key) DO UPDATE SET updated_at = excluded.updated_at, \
                 raw = excluded.raw, revision = {table}.revision + 1 WHERE {} RETURNING revision",
                replaces(table)
            ));
            let revision: Option<i64> = query
                .build()
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.get(0));
            match revision {
                None => counts.unchanged += 1,
                Some(0) => counts.new += 1,
                Some(_) => counts.updated += 1,
            }
            sqlx::query(
                "DELETE FROM rejected_records WHERE kind = $1 AND source = $2 AND record_key = $3",
            )
            .bind(kind.as_str())
            .bind(source)
            .bind(r.key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    #[tracing::instrument(name = "store.raw_records", skip_all, fields(kind = kind.as_str(), source))]
    async fn raw_records(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT raw FROM ");
        query.push(raw_table(kind)?).push(" WHERE ");
        if let Some(source) = source {
            query.push("source = ").push_bind(source);
        } else {
            query.push("1 = 1");
        }
        query.push(" ORDER BY id");
        Ok(query.build_query_scalar().fetch_all(&self.pool).await?)
    }

    #[tracing::instrument(name = "store.record_rejects", skip_all, fields(kind = kind.as_str(), source, rejects = rejects.len()))]
    async fn record_rejects(
        &self,
        kind: RecordKind,
        source: &str,
        rejects: &[Reject],
    ) -> Result<(), StoreError> {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut tx = self.pool.begin().await?;
        for r in rejects {
            sqlx::query(
                "INSERT INTO rejected_records (kind, source, record_key, reason, raw, rejected_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (kind, source, record_key) DO UPDATE SET reason = excluded.reason, raw = excluded.raw, \
                 rejected_at = excluded.rejected_at",
            )
            .bind(kind.as_str())
            .bind(source)
            .bind(&r.record_key)
            .bind(&r.reason)
            .bind(&r.raw)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads pages of 1,024 dossiers, each page one JSON array that SQLite builds itself. Row by
    /// row, sqlx copies every column value under SQLite's global allocator lock (about 13 µs a
    /// dossier here); a page per row makes a million dossiers a thousand values.
    #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
    async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
        // Sized up front: growing a vector of a million dossiers by doubling peaks at 1.5 times it.
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM dossiers WHERE $1 IS NULL OR source = $1")
                .bind(source)
                .fetch_one(&self.pool)
                .await?;
        let mut strings = Interner::default();
        let mut out = Vec::with_capacity(count as usize);
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

    #[tracing::instrument(name = "store.put_credential", skip_all, fields(system = %credential.system, unit = %credential.unit))]
    async fn put_credential(&self, credential: &SealedCredential) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_credential(&mut conn, credential).await
    }

    #[tracing::instrument(name = "store.credentials", skip_all)]
    async fn credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
        let rows = sqlx::query(
            "SELECT system, unit, username_shown, key_id, nonce, ciphertext, set_at FROM credentials ORDER BY system, unit",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let system: String = row.try_get(0)?;
                Ok(SealedCredential {
                    system: system
                        .parse()
                        .map_err(|e: crate::auth::VaultError| StoreError::Corrupt(e.to_string()))?,
                    unit: row.try_get(1)?,
                    username_shown: row.try_get(2)?,
                    key_id: row.try_get(3)?,
                    nonce: row.try_get(4)?,
                    ciphertext: row.try_get(5)?,
                    set_at: row.try_get(6)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(name = "store.replace_credentials", skip_all, fields(credentials = credentials.len()))]
    async fn replace_credentials(
        &self,
        credentials: &[SealedCredential],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM credentials")
            .execute(&mut *tx)
            .await?;
        for c in credentials {
            insert_credential(&mut tx, c).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(name = "store.record_decision", skip_all, fields(system = %d.system, form = %d.form, period = %d.period, unit = %d.unit, decision = %d.decision))]
    async fn record_decision(&self, d: &DecisionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO push_decisions (system, form, period, unit, decision, remote_version, content_hash, detail, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&d.system)
        .bind(&d.form)
        .bind(&d.period)
        .bind(&d.unit)
        .bind(&d.decision)
        .bind(d.remote_version.map(|v| v as i64))
        .bind(&d.content_hash)
        .bind(&d.detail)
        .bind(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(
        name = "store.last_written_version",
        skip_all,
        fields(system, form, period, unit)
    )]
    async fn last_written_version(
        &self,
        system: &str,
        form: &str,
        period: &str,
        unit: &str,
    ) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT remote_version FROM push_decisions WHERE system = $1 AND form = $2 AND period = $3 AND unit = $4 \
             AND decision IN ('created', 'updated', 'recreated', 'unchanged') ORDER BY id DESC LIMIT 1",
        )
        .bind(system)
        .bind(form)
        .bind(period)
        .bind(unit)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        Ok(version.map(|v| v as u64))
    }

    #[tracing::instrument(name = "store.watermark", skip_all, fields(source, kind = kind.as_str()))]
    async fn watermark(
        &self,
        source: &str,
        kind: RecordKind,
    ) -> Result<Option<Instant>, StoreError> {
        let upper: Option<i64> =
            sqlx::query_scalar("SELECT upper FROM watermarks WHERE source = $1 AND kind = $2")
                .bind(source)
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(upper.map(Instant))
    }

    #[tracing::instrument(name = "store.set_watermark", skip_all, fields(source, kind = kind.as_str(), upper = %upper))]
    async fn set_watermark(
        &self,
        source: &str,
        kind: RecordKind,
        upper: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO watermarks (source, kind, upper) VALUES ($1, $2, $3) \
             ON CONFLICT (source, kind) DO UPDATE SET upper = excluded.upper",
        )
        .bind(source)
        .bind(kind.as_str())
        .bind(upper.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[tracing::instrument(name = "store.rejects", skip_all, fields(kind = kind.as_str(), source))]
    async fn rejects(
        &self,
        kind: RecordKind,
        source: Option<&str>,
    ) -> Result<Vec<Finding>, StoreError> {
        let rows = sqlx::query(
            "SELECT record_key, reason FROM rejected_records WHERE kind = $1 AND ($2 IS NULL OR source = $2) \
             ORDER BY record_key",
        )
        .bind(kind.as_str())
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let key: String = row.try_get(0)?;
                let reason: String = row.try_get(1)?;
                Ok(Finding::new(FindingCode::InvalidRecord, key, reason))
            })
            .collect()
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

async fn insert_credential(
    conn: &mut sqlx::SqliteConnection,
    c: &SealedCredential,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credentials (system, unit, username_shown, key_id, nonce, ciphertext, set_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (system, unit) DO UPDATE SET \
         username_shown = excluded.username_shown, key_id = excluded.key_id, nonce = excluded.nonce, \
         ciphertext = excluded.ciphertext, set_at = excluded.set_at",
    )
    .bind(c.system.as_str())
    .bind(&c.unit)
    .bind(&c.username_shown)
    .bind(&c.key_id)
    .bind(&c.nonce)
    .bind(&c.ciphertext)
    .bind(&c.set_at)
    .execute(conn)
    .await?;
    Ok(())
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

/// The table of ratings or feedback (dossiers have typed columns of their own).
fn raw_table(kind: RecordKind) -> Result<&'static str, StoreError> {
    match kind {
        RecordKind::Rating => Ok("ratings"),
        RecordKind::Feedback => Ok("feedback"),
        RecordKind::Dossier => Err(StoreError::Corrupt(
            "dossiers are kept in typed columns, not raw".into(),
        )),
    }
}

/// The replacement rule, as an upsert's `DO UPDATE … WHERE`: the incoming version replaces the
/// stored one when its CapNhatLuc is later (an absent one is older than any), or equal with a
/// different record.
fn replaces(table: &str) -> String {
    const NONE: &str = "-9223372036854775808";
    format!(
        "COALESCE(excluded.updated_at, {NONE}) > COALESCE({table}.updated_at, {NONE}) \
         OR (COALESCE(excluded.updated_at, {NONE}) = COALESCE({table}.updated_at, {NONE}) \
             AND excluded.raw <> {table}.raw)"
    )
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
    q.push(replaces("dossiers"));
    q
}
