//! PostgreSQL, the production store: a pool, its own migrations folder, dossiers in blocks (a
//! source's writes serialised by locking its generation row), and rows claimed with
//! `FOR UPDATE SKIP LOCKED` so that replicas of the daemon share one database without writing the
//! same report twice.

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
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    index: IndexCache,
    /// No turns: PostgreSQL wakes its lock waiters itself.
    turns: super::turns::WriteTurns,
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
            // A connection's buffers grow to the largest message it carried (a block of
            // dossiers, a batch of them written) and keep that size; handed back smaller, ten
            // idle connections do not hold a daemon's memory at its busiest fire's level.
            .after_release(|conn, _| {
                Box::pin(async move {
                    sqlx::Connection::shrink_buffers(conn);
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        // sqlx takes an advisory lock around migrations: replicas starting together migrate once.
        // A store a newer release migrated is refused before anything changes.
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap_or(None);
        super::check_schema(url, applied, &MIGRATOR)?;
        MIGRATOR.run(&pool).await?;
        let store = PgStore {
            pool,
            index: IndexCache::default(),
            turns: Default::default(),
        };
        store.convert_legacy().await?;
        store.lay_out_again().await?;
        store.measure_heads().await?;
        Ok(store)
    }

    shared::shared_helpers!(Postgres, PgConnection, begin: "BEGIN", apply_lock: "SELECT pg_advisory_xact_lock(7251001)", generic_plans: "SET LOCAL plan_cache_mode = force_generic_plan", row_lock: " FOR UPDATE");

    /// Moves the dossiers an earlier version kept one row each into blocks, once (replicas
    /// starting together: the first takes the lock, the others find the table gone).
    async fn convert_legacy(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7251002)")
            .execute(&mut *tx)
            .await?;
        let legacy: bool = sqlx::query_scalar("SELECT to_regclass('dossiers_legacy') IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
        if !legacy {
            return Ok(());
        }
        let mut strings = Interner::default();
        let mut by_source: std::collections::BTreeMap<String, Vec<Dossier>> = Default::default();
        {
            let mut rows = sqlx::query(
                "SELECT source, record_key, procedure_code, field_code, field_name, unit_code, channel, status, \
                 received_at, due_at, supplement_requested_at, finished_at, returned_at, updated_at, \
                 result_withdrawal, deleted FROM dossiers_legacy ORDER BY id",
            )
            .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let source: String = row.try_get(0)?;
                let key: String = row.try_get(1)?;
                let status: i64 = row.try_get(7)?;
                let status = u8::try_from(status)
                    .ok()
                    .and_then(Status::new)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("dossier {key} has status {status}"))
                    })?;
                let text =
                    |i: usize| -> Result<String, sqlx::Error> { row.try_get::<String, _>(i) };
                let instant = |i: usize| -> Result<Option<Instant>, sqlx::Error> {
                    Ok(row.try_get::<Option<i64>, _>(i)?.map(Instant))
                };
                by_source.entry(source).or_default().push(Dossier {
                    procedure_code: strings.intern(&text(2)?),
                    field_code: strings.intern(&text(3)?),
                    field_name: strings.intern(&text(4)?),
                    unit_code: strings.intern(&text(5)?),
                    channel: strings.intern(&text(6)?),
                    status,
                    received_at: instant(8)?.into(),
                    due_at: instant(9)?.into(),
                    supplement_requested_at: instant(10)?.into(),
                    finished_at: instant(11)?.into(),
                    returned_at: instant(12)?.into(),
                    updated_at: instant(13)?.into(),
                    result_kind: if row.try_get::<i64, _>(14)? != 0 {
                        ResultKind::Withdrawal
                    } else {
                        ResultKind::Other
                    },
                    deleted: row.try_get::<i64, _>(15)? != 0,
                    key: key.into(),
                });
            }
        }
        Self::store_converted(&mut tx, by_source).await?;
        tx.commit().await?;
        Ok(())
    }
}

block_store!(Postgres, PgStore, PgDossierImport, lock: " FOR UPDATE", begin: "BEGIN");

impl Store for PgStore {
    type Import = PgDossierImport;

    fn backend(&self) -> &'static str {
        "postgres"
    }

    // The advisory lock serialises `outbox_apply` across replicas, so two of them never insert
    // the same new row at once; claims skip rows another transaction holds.
    shared::shared_methods!(Postgres, begin: "BEGIN", apply_lock: "SELECT pg_advisory_xact_lock(7251001)", generic_plans: "SET LOCAL plan_cache_mode = force_generic_plan", row_lock: " FOR UPDATE", claim_lock: " FOR UPDATE SKIP LOCKED");

    tracking_methods!(Postgres, begin: "BEGIN");

    #[tracing::instrument(name = "store.begin_dossier_import", skip_all, fields(source))]
    async fn begin_dossier_import(&self, source: &str) -> Result<PgDossierImport, StoreError> {
        let tx = self.pool.begin().await?;
        Self::open_import(tx, source, &self.index).await
    }

    #[tracing::instrument(name = "store.prepare_dossier_import", skip_all, fields(source))]
    async fn prepare_dossier_import(&self, source: &str) -> Result<(), StoreError> {
        // One snapshot for the generation and the blocks (read committed would see a write
        // that commits between the two).
        self.warm_index(source, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
    }

    block_reads!();
}

super::mail::mail_methods!(PgStore, begin: "BEGIN", claim_lock: " FOR UPDATE SKIP LOCKED");

/// This release's migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
