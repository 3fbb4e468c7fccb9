//! PostgreSQL, the production store: a pool, its own migrations folder, bulk loads through `COPY`,
//! and rows claimed with `FOR UPDATE SKIP LOCKED` so that replicas of the daemon share one
//! database without writing the same report twice.

use super::shared;
use super::{
    AttemptRecord, AuditEntry, Claim, DossierImport, Fire, IncomingDossier, IncomingRaw,
    OutboxChanges, OutboxFilter, OutboxRow, PullLog, Reject, RunRecord, Store, StoreError,
    UpsertCounts,
};
use crate::auth::vault::SealedCredential;
use crate::domain::{Dossier, Finding, FindingCode, Instant, RecordKind, ResultKind, Status};
use crate::sources::export::Interner;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row};
use std::fmt::Write as _;
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    #[tracing::instrument(name = "store.open", skip_all, fields(url = %super::redact_url(url)))]
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let open_err = |source| StoreError::Open {
            url: super::redact_url(url),
            source,
        };
        let options = PgConnectOptions::from_str(url).map_err(open_err)?;
        // One plain connection first: a server that is not there is said at once, where the
        // pool would keep trying until its acquire timeout.
        {
            use sqlx::Connection;
            PgConnection::connect_with(&options)
                .await
                .map_err(open_err)?
                .close()
                .await
                .map_err(open_err)?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        // sqlx takes an advisory lock around migrations: replicas starting together migrate once.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    shared::shared_helpers!(Postgres, PgConnection, row_lock: " FOR UPDATE");
}

impl Store for PgStore {
    type Import = PgDossierImport;

    fn backend(&self) -> &'static str {
        "postgres"
    }

    // The advisory lock serialises `outbox_apply` across replicas, so two of them never insert
    // the same new row at once; claims skip rows another transaction holds.
    shared::shared_methods!(Postgres, begin: "BEGIN", apply_lock: "SELECT pg_advisory_xact_lock(7251001)", row_lock: " FOR UPDATE", claim_lock: " FOR UPDATE SKIP LOCKED");

    #[tracing::instrument(name = "store.begin_dossier_import", skip_all, fields(source))]
    async fn begin_dossier_import(&self, source: &str) -> Result<PgDossierImport, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "CREATE TEMP TABLE dossiers_in (ord BIGINT, source TEXT, record_key TEXT, procedure_code TEXT, \
             field_code TEXT, field_name TEXT, unit_code TEXT, channel TEXT, status BIGINT, received_at BIGINT, \
             due_at BIGINT, supplement_requested_at BIGINT, finished_at BIGINT, returned_at BIGINT, \
             updated_at BIGINT, result_withdrawal BIGINT, deleted BIGINT, raw TEXT) ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        let any_rejects = Self::dossier_rejects_exist(&mut tx, source).await?;
        Ok(PgDossierImport {
            tx,
            source: source.to_owned(),
            any_rejects,
        })
    }

    #[tracing::instrument(name = "store.dossiers", skip_all, fields(source))]
    async fn dossiers(&self, source: Option<&str>) -> Result<Vec<Dossier>, StoreError> {
        let mut strings = Interner::default();
        let mut out = Vec::with_capacity(self.dossier_count(source).await?);
        let mut rows = sqlx::query(
            "SELECT record_key, procedure_code, field_code, field_name, unit_code, channel, status, \
             received_at, due_at, supplement_requested_at, finished_at, returned_at, updated_at, \
             result_withdrawal, deleted FROM dossiers WHERE $1 IS NULL OR source = $1 ORDER BY id",
        )
        .bind(source)
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let key: String = row.try_get(0)?;
            let status: i64 = row.try_get(6)?;
            let status = u8::try_from(status)
                .ok()
                .and_then(Status::new)
                .ok_or_else(|| StoreError::Corrupt(format!("dossier {key} has status {status}")))?;
            let text = |i: usize| -> Result<String, sqlx::Error> { row.try_get::<String, _>(i) };
            let instant = |i: usize| -> Result<Option<Instant>, sqlx::Error> {
                Ok(row.try_get::<Option<i64>, _>(i)?.map(Instant))
            };
            out.push(Dossier {
                procedure_code: strings.intern(&text(1)?),
                field_code: strings.intern(&text(2)?),
                field_name: strings.intern(&text(3)?),
                unit_code: strings.intern(&text(4)?),
                channel: strings.intern(&text(5)?),
                status,
                received_at: instant(7)?,
                due_at: instant(8)?,
                supplement_requested_at: instant(9)?,
                finished_at: instant(10)?,
                returned_at: instant(11)?,
                updated_at: instant(12)?,
                result_kind: if row.try_get::<i64, _>(13)? != 0 {
                    ResultKind::Withdrawal
                } else {
                    ResultKind::Other
                },
                deleted: row.try_get::<i64, _>(14)? != 0,
                key: key.into(),
            });
        }
        Ok(out)
    }
}

/// A bulk dossier import: batches are copied into a temporary table with `COPY`, then merged
/// into `dossiers` by one `INSERT … ON CONFLICT` each, all in one transaction.
pub struct PgDossierImport {
    tx: sqlx::Transaction<'static, Postgres>,
    source: String,
    any_rejects: bool,
}

impl DossierImport for PgDossierImport {
    #[tracing::instrument(name = "store.import.add", skip_all, fields(source = %self.source, records = records.len()))]
    async fn add(&mut self, records: &[IncomingDossier<'_>]) -> Result<UpsertCounts, StoreError> {
        let tx = &mut self.tx;
        sqlx::query("TRUNCATE dossiers_in")
            .execute(&mut **tx)
            .await?;
        let mut copy = tx
            .copy_in_raw(
                "COPY dossiers_in (ord, source, record_key, procedure_code, field_code, field_name, unit_code, \
                 channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted, raw) FROM STDIN (FORMAT text)",
            )
            .await?;
        let mut buffer = String::with_capacity(1 << 20);
        for (ord, r) in records.iter().enumerate() {
            copy_line(&mut buffer, ord, &self.source, r);
            if buffer.len() >= 1 << 20 {
                copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
            }
        }
        if !buffer.is_empty() {
            copy.send(buffer.into_bytes()).await?;
        }
        copy.finish().await?;
        let inserted: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO dossiers (source, record_key, procedure_code, field_code, field_name, unit_code, channel, \
             status, received_at, due_at, supplement_requested_at, finished_at, returned_at, updated_at, \
             result_withdrawal, deleted, raw) \
             SELECT source, record_key, procedure_code, field_code, field_name, unit_code, channel, status, \
             received_at, due_at, supplement_requested_at, finished_at, returned_at, updated_at, \
             result_withdrawal, deleted, raw FROM dossiers_in ORDER BY ord \
             ON CONFLICT (source, record_key) DO UPDATE SET \
             procedure_code = excluded.procedure_code, field_code = excluded.field_code, \
             field_name = excluded.field_name, unit_code = excluded.unit_code, channel = excluded.channel, \
             status = excluded.status, received_at = excluded.received_at, due_at = excluded.due_at, \
             supplement_requested_at = excluded.supplement_requested_at, finished_at = excluded.finished_at, \
             returned_at = excluded.returned_at, updated_at = excluded.updated_at, \
             result_withdrawal = excluded.result_withdrawal, deleted = excluded.deleted, raw = excluded.raw, \
             revision = dossiers.revision + 1 WHERE {} RETURNING (xmax = 0)",
            shared::replaces("dossiers")
        )))
        .fetch_all(&mut **tx)
        .await?;
        if self.any_rejects {
            // A readable version replaces any earlier reject of the same key.
            sqlx::query(
                "DELETE FROM rejected_records WHERE kind = 'dossier' AND source = $1 \
                 AND record_key IN (SELECT record_key FROM dossiers_in)",
            )
            .bind(&self.source)
            .execute(&mut **tx)
            .await?;
        }
        let new = inserted.iter().filter(|&&i| i).count() as u64;
        let written = inserted.len() as u64;
        Ok(UpsertCounts {
            new,
            updated: written - new,
            unchanged: records.len() as u64 - written,
        })
    }

    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}

/// One line of `COPY … (FORMAT text)`: tab-separated, `\N` for NULL, backslash escapes.
fn copy_line(out: &mut String, ord: usize, source: &str, r: &IncomingDossier<'_>) {
    fn text(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('\t');
    }
    fn number(out: &mut String, n: Option<i64>) {
        match n {
            Some(n) => {
                let _ = write!(out, "{n}\t");
            }
            None => out.push_str("\\N\t"),
        }
    }
    let d = r.dossier;
    number(out, Some(ord as i64));
    text(out, source);
    text(out, &d.key);
    text(out, &d.procedure_code);
    text(out, &d.field_code);
    text(out, &d.field_name);
    text(out, &d.unit_code);
    text(out, &d.channel);
    number(out, Some(i64::from(d.status.code())));
    for i in [
        d.received_at,
        d.due_at,
        d.supplement_requested_at,
        d.finished_at,
        d.returned_at,
        d.updated_at,
    ] {
        number(out, i.map(|i| i.0));
    }
    number(
        out,
        Some(i64::from(d.result_kind == ResultKind::Withdrawal)),
    );
    number(out, Some(i64::from(d.deleted)));
    text(out, r.raw);
    // The last column ends the line, not a tab.
    out.pop();
    out.push('\n');
}
