//! SQLite, the embedded default: one file, WAL journal, created and migrated on first use.

use super::{IncomingDossier, Reject, Store, StoreError, UpsertCounts};
use crate::domain::{Dossier, Finding, FindingCode, Instant, ResultKind, Status};
use crate::sources::export::Interner;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::str::FromStr;

/// Rows per multi-row INSERT: 19 bound values each stays far below SQLite's variable limit.
const ROWS_PER_STATEMENT: usize = 500;

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
            .foreign_keys(true);
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
    #[tracing::instrument(name = "store.upsert_dossiers", skip_all, fields(source, records = records.len()))]
    async fn upsert_dossiers(
        &self,
        source: &str,
        records: &[IncomingDossier<'_>],
    ) -> Result<UpsertCounts, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut counts = UpsertCounts::default();
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO dossiers (source, record_key, procedure_code, field_code, field_name, unit_code, \
                 channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted, raw) ",
            );
            q.push_values(chunk, |mut b, r| {
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
                 revision = dossiers.revision + 1 \
                 WHERE COALESCE(excluded.updated_at, -9223372036854775808) > COALESCE(dossiers.updated_at, -9223372036854775808) \
                    OR (COALESCE(excluded.updated_at, -9223372036854775808) = COALESCE(dossiers.updated_at, -9223372036854775808) \
                        AND excluded.raw <> dossiers.raw) \
                 RETURNING revision",
            );
            let written: Vec<i64> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            let new = written.iter().filter(|&&r| r == 0).count() as u64;
            counts.add(UpsertCounts {
                new,
                updated: written.len() as u64 - new,
                unchanged: (chunk.len() - written.len()) as u64,
            });
            // A readable version replaces any earlier reject of the same key.
            let mut clear: QueryBuilder<Sqlite> =
                QueryBuilder::new("DELETE FROM rejected_records WHERE source = ");
            clear.push_bind(source).push(" AND record_key IN (");
            let mut keys = clear.separated(", ");
            for r in chunk {
                keys.push_bind(&*r.dossier.key);
            }
            clear.push(")");
            clear.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    #[tracing::instrument(name = "store.record_rejects", skip_all, fields(source, rejects = rejects.len()))]
    async fn record_rejects(&self, source: &str, rejects: &[Reject]) -> Result<(), StoreError> {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut tx = self.pool.begin().await?;
        for r in rejects {
            sqlx::query(
                "INSERT INTO rejected_records (source, record_key, reason, raw, rejected_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (source, record_key) DO UPDATE SET reason = excluded.reason, raw = excluded.raw, \
                 rejected_at = excluded.rejected_at",
            )
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

    #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
    async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT record_key, procedure_code, field_code, field_name, unit_code, channel, status, received_at, \
             due_at, supplement_requested_at, finished_at, returned_at, updated_at, result_withdrawal, deleted \
             FROM dossiers WHERE $1 IS NULL OR source = $1 ORDER BY id",
        )
        .bind(source)
        .fetch(&self.pool);
        let mut strings = Interner::default();
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let at = |i: usize| -> Result<Option<Instant>, sqlx::Error> {
                Ok(row.try_get::<Option<i64>, _>(i)?.map(Instant))
            };
            let key: String = row.try_get(0)?;
            let status = Status::new(row.try_get::<i64, _>(6)? as u8).ok_or_else(|| {
                StoreError::Corrupt(format!("dossier {key} has status {}", row.get::<i64, _>(6)))
            })?;
            out.push(Dossier {
                procedure_code: strings.intern(row.try_get(1)?),
                field_code: strings.intern(row.try_get(2)?),
                field_name: strings.intern(row.try_get(3)?),
                unit_code: strings.intern(row.try_get(4)?),
                channel: strings.intern(row.try_get(5)?),
                status,
                received_at: at(7)?,
                due_at: at(8)?,
                supplement_requested_at: at(9)?,
                finished_at: at(10)?,
                returned_at: at(11)?,
                updated_at: at(12)?,
                result_kind: if row.try_get(13)? {
                    ResultKind::Withdrawal
                } else {
                    ResultKind::Other
                },
                deleted: row.try_get(14)?,
                key: key.into_boxed_str(),
            });
        }
        Ok(out)
    }

    #[tracing::instrument(name = "store.rejects", skip_all, fields(source))]
    async fn rejects(&self, source: Option<&str>) -> Result<Vec<Finding>, StoreError> {
        let rows = sqlx::query(
            "SELECT record_key, reason FROM rejected_records WHERE $1 IS NULL OR source = $1 ORDER BY record_key",
        )
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
