//! The store methods whose SQL is the same on SQLite and PostgreSQL, written once and expanded
//! into each backend's `impl Store` by [`shared_methods!`]: the text, the bindings and the row
//! decoding are identical, only the driver differs. What the backends do differently is a
//! parameter: how a writing transaction begins (`BEGIN IMMEDIATE` takes SQLite's write lock up
//! front, so a read-then-write never fails half-way), and how rows are locked (PostgreSQL's
//! `FOR UPDATE`, `FOR UPDATE SKIP LOCKED` and an advisory lock; SQLite's database-wide write lock
//! needs none).

use super::{
    AttemptRecord, AuditEntry, Fire, Force, Lease, OutboxRow, OutboxState, PullLog, ReportId,
    RunRecord, StoreError,
};
use crate::domain::{Instant, RecordKind};

/// The columns of an outbox row, in the order of [`OutboxRecord`], with `$draft` as its draft.
macro_rules! outbox_columns {
    ($draft:literal) => {
        concat!(
            "id, system, form, period, unit, state, detail, ",
            $draft,
            " AS draft, content_hash, generation, attempts, next_attempt_at, remote_version, \
             our_version, incarnation, force_by, force_reason, lease_owner, lease_until, \
             sending_generation, armed_by, changed_at"
        )
    };
}

/// The columns of an outbox row; the draft from its own table.
pub(super) const OUTBOX_COLUMNS: &str =
    outbox_columns!("(SELECT draft FROM outbox_drafts WHERE outbox_id = outbox.id)");

/// The same without the draft (read as none): what a run reports needs no draft, and a
/// province's II.01-ĐC drafts are tens of megabytes to read and parse.
pub(super) const OUTBOX_COLUMNS_WITHOUT_DRAFTS: &str = outbox_columns!("CAST(NULL AS TEXT)");

/// An outbox row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct OutboxRecord {
    id: i64,
    system: String,
    form: String,
    period: String,
    unit: String,
    state: String,
    detail: String,
    draft: Option<String>,
    content_hash: Option<String>,
    generation: i64,
    attempts: i64,
    next_attempt_at: Option<i64>,
    remote_version: Option<i64>,
    our_version: Option<i64>,
    incarnation: i64,
    force_by: Option<String>,
    force_reason: Option<String>,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    sending_generation: Option<i64>,
    armed_by: String,
    changed_at: i64,
}

impl OutboxRecord {
    pub(super) fn into_row(self) -> Result<OutboxRow, StoreError> {
        let state = OutboxState::parse(&self.state).ok_or_else(|| {
            StoreError::Corrupt(format!("outbox row {} has state `{}`", self.id, self.state))
        })?;
        let draft = match &self.draft {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                StoreError::Corrupt(format!(
                    "outbox row {} has a draft that does not parse: {e}",
                    self.id
                ))
            })?),
            None => None,
        };
        Ok(OutboxRow {
            id: Some(self.id),
            report: ReportId {
                system: self.system,
                form: self.form,
                period: self.period,
                unit: self.unit,
            },
            state,
            detail: self.detail,
            draft,
            content_hash: self.content_hash,
            generation: self.generation,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(Instant),
            remote_version: self.remote_version,
            our_version: self.our_version,
            incarnation: self.incarnation,
            force: match (self.force_by, self.force_reason) {
                (Some(by), Some(reason)) => Some(Force { by, reason }),
                _ => None,
            },
            lease: match (self.lease_owner, self.lease_until) {
                (Some(owner), Some(until)) => Some(Lease {
                    owner,
                    until: Instant(until),
                }),
                _ => None,
            },
            sending_generation: self.sending_generation,
            armed_by: self.armed_by,
            changed_at: Instant(self.changed_at),
        })
    }
}

/// `column = $n` where a filter names a value, and `$n IS NULL` (true: its value is bound as
/// NULL) where it does not, in place of `($n IS NULL OR column = $n)`, in which SQLite's planner
/// (and PostgreSQL's generic plan) sees no equality: a row read by its id, or a period's rows,
/// then come by index instead of a scan of the whole outbox.
pub(super) fn equals(column: &str, n: usize, named: bool) -> String {
    if named {
        format!("{column} = ${n}")
    } else {
        format!("${n} IS NULL")
    }
}

pub(super) fn draft_text(row: &OutboxRow) -> Option<String> {
    row.draft
        .as_ref()
        .map(|d| serde_json::to_string(d).expect("a draft serialises"))
}

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    system: String,
    unit: String,
    username_shown: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    set_at: String,
}

impl CredentialRow {
    pub(super) fn into_sealed(self) -> Result<crate::auth::vault::SealedCredential, StoreError> {
        Ok(crate::auth::vault::SealedCredential {
            system: self
                .system
                .parse()
                .map_err(|e: crate::auth::VaultError| StoreError::Corrupt(e.to_string()))?,
            unit: self.unit,
            username_shown: self.username_shown,
            key_id: self.key_id,
            nonce: self.nonce,
            ciphertext: self.ciphertext,
            set_at: self.set_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    outbox_id: i64,
    at: i64,
    generation: i64,
    content_hash: Option<String>,
    answer: String,
    remote_version: Option<i64>,
    detail: String,
    worker: String,
}

impl From<AttemptRow> for AttemptRecord {
    fn from(r: AttemptRow) -> AttemptRecord {
        AttemptRecord {
            outbox_id: r.outbox_id,
            at: Instant(r.at),
            generation: r.generation,
            content_hash: r.content_hash,
            answer: r.answer,
            remote_version: r.remote_version,
            detail: r.detail,
            worker: r.worker,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    at: i64,
    actor: String,
    action: String,
    system: Option<String>,
    form: Option<String>,
    period: Option<String>,
    unit: Option<String>,
    content_hash: Option<String>,
    base_version: Option<i64>,
    new_version: Option<i64>,
    answer: Option<String>,
    reason: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> AuditEntry {
        AuditEntry {
            at: Some(Instant(r.at)),
            actor: r.actor,
            action: r.action,
            system: r.system,
            form: r.form,
            period: r.period,
            unit: r.unit,
            content_hash: r.content_hash,
            base_version: r.base_version,
            new_version: r.new_version,
            answer: r.answer,
            reason: r.reason,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PullRow {
    source: String,
    kind: String,
    axis: String,
    from_at: i64,
    to_at: i64,
    ok: i64,
    detail: String,
    records: i64,
    finished_at: i64,
}

impl PullRow {
    pub(super) fn into_log(self) -> Result<PullLog, StoreError> {
        let kind = match self.kind.as_str() {
            "dossier" => RecordKind::Dossier,
            "rating" => RecordKind::Rating,
            "feedback" => RecordKind::Feedback,
            other => return Err(StoreError::Corrupt(format!("pull log of kind `{other}`"))),
        };
        let axis = crate::domain::Axis::parse(&self.axis)
            .ok_or_else(|| StoreError::Corrupt(format!("pull log of axis `{}`", self.axis)))?;
        Ok(PullLog {
            source: self.source,
            kind,
            axis,
            from: Instant(self.from_at),
            to: Instant(self.to_at),
            ok: self.ok != 0,
            detail: self.detail,
            records: self.records,
            finished_at: Instant(self.finished_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct FireRow {
    job: String,
    slot: i64,
    claimed_by: String,
    claimed_at: i64,
    outcome: Option<String>,
    finished_at: Option<i64>,
}

impl From<FireRow> for Fire {
    fn from(r: FireRow) -> Fire {
        Fire {
            job: r.job,
            slot: Instant(r.slot),
            claimed_by: r.claimed_by,
            claimed_at: Instant(r.claimed_at),
            outcome: r.outcome,
            finished_at: r.finished_at.map(Instant),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RunRow {
    id: i64,
    cause: String,
    actor: String,
    period: String,
    scope: String,
    started_at: i64,
    finished_at: Option<i64>,
    outcome: Option<String>,
    summary: String,
}

impl From<RunRow> for RunRecord {
    fn from(r: RunRow) -> RunRecord {
        RunRecord {
            id: Some(r.id),
            cause: r.cause,
            actor: r.actor,
            period: r.period,
            scope: r.scope,
            started_at: Instant(r.started_at),
            finished_at: r.finished_at.map(Instant),
            outcome: r.outcome,
            summary: r.summary,
        }
    }
}

/// The table of ratings or feedback (dossiers have typed columns of their own).
pub(super) fn raw_table(kind: RecordKind) -> Result<&'static str, StoreError> {
    match kind {
        RecordKind::Rating => Ok("ratings"),
        RecordKind::Feedback => Ok("feedback"),
        RecordKind::Dossier => Err(StoreError::Corrupt(
            "dossiers are kept in blocks, not raw".into(),
        )),
    }
}

/// The replacement rule, as an upsert's `DO UPDATE … WHERE`: the incoming version replaces the
/// stored one when its CapNhatLuc is later (an absent one is older than any), or equal with a
/// different record.
pub(super) fn replaces(table: &str) -> String {
    const NONE: &str = "(-9223372036854775807 - 1)";
    format!(
        "COALESCE(excluded.updated_at, {NONE}) > COALESCE({table}.updated_at, {NONE}) \
         OR (COALESCE(excluded.updated_at, {NONE}) = COALESCE({table}.updated_at, {NONE}) \
             AND excluded.raw <> {table}.raw)"
    )
}

pub(super) fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Expands, inside `impl Store for <backend>`, the methods whose SQL both backends share.
/// `$db` is the sqlx database; `begin` the statement that opens every writing transaction;
/// `apply_lock` a statement run first in `outbox_apply` (PostgreSQL: an advisory lock that
/// serialises inserts of new rows across replicas; SQLite: nothing to do); `generic_plans` a
/// statement that keeps a recompute's bound drafts out of query plans (PostgreSQL: its planner
/// copies parameters into a custom plan; SQLite: nothing to do); `row_lock` the suffix
/// that locks selected rows; `claim_lock` the suffix that skips rows another worker is claiming.
macro_rules! shared_methods {
    ($db:ty, begin: $begin:literal, apply_lock: $apply_lock:literal, generic_plans: $generic_plans:literal, row_lock: $row_lock:literal, claim_lock: $claim_lock:literal) => {
        async fn ping(&self) -> Result<(), StoreError> {
            let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE id < 0")
                .fetch_one(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.upsert_raw", skip_all, fields(kind = kind.as_str(), source, records = records.len()))]
        async fn upsert_raw(
            &self,
            kind: RecordKind,
            source: &str,
            records: &[IncomingRaw<'_>],
        ) -> Result<UpsertCounts, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let mut counts = UpsertCounts::default();
            let table = shared::raw_table(kind)?;
            let mut rejected = Self::rejected_keys(&mut tx, kind, source).await?;
            // Many rows a statement (keys are unique within a call): a statement each cost more
            // than the rows, a province's ratings being hundreds of thousands.
            for chunk in records.chunks(500) {
                let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("INSERT INTO ");
                query
                    .push(table)
                    .push(" (source, record_key, updated_at, raw) ");
                query.push_values(chunk, |mut b, r| {
                    b.push_bind(source)
                        .push_bind(r.key)
                        .push_bind(r.updated_at.map(|i| i.0))
                        .push_bind(r.raw);
                });
                query.push(format!(
                    " ON CONFLICT (source, record_key) DO UPDATE SET updated_at = excluded.updated_at, \
                     raw = excluded.raw, revision = {table}.revision + 1 WHERE {} RETURNING revision",
                    shared::replaces(table)
                ));
                // Rows come back only for what was written: a new one at revision 0.
                let written: Vec<i64> = query.build_query_scalar().fetch_all(&mut *tx).await?;
                let new = written.iter().filter(|r| **r == 0).count() as u64;
                counts.add(UpsertCounts {
                    new,
                    updated: written.len() as u64 - new,
                    unchanged: (chunk.len() - written.len()) as u64,
                });
                // A readable version replaces any earlier reject of the same key.
                let cleared: Vec<&str> = chunk
                    .iter()
                    .filter(|r| rejected.remove(r.key))
                    .map(|r| r.key)
                    .collect();
                Self::clear_rejects(&mut tx, kind, source, &cleared).await?;
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
            let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new("SELECT raw FROM ");
            query.push(shared::raw_table(kind)?).push(" WHERE ");
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
            let now = shared::now_text();
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            // Dossier rejects are part of what a source's generation stands for: the status
            // page's tables list them, and an import keeps the keys waiting between writes. The
            // generation's row is locked first, as an import locks it, so the two cannot wait
            // on each other's rows.
            let generation = if kind == RecordKind::Dossier && !rejects.is_empty() {
                Some(Self::move_generation(&mut tx, source).await?)
            } else {
                None
            };
            for r in rejects {
                sqlx::query(
                    "INSERT INTO rejected_records (kind, source, record_key, reason, raw, rejected_at, code) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (kind, source, record_key) DO UPDATE SET reason = excluded.reason, raw = excluded.raw, \
                     rejected_at = excluded.rejected_at, code = excluded.code",
                )
                .bind(kind.as_str())
                .bind(source)
                .bind(&r.record_key)
                .bind(&r.reason)
                .bind(&r.raw)
                .bind(&now)
                .bind(r.code.as_str())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            if let Some(generation) = generation {
                super::block_io::note_rejects(
                    &self.index,
                    source,
                    generation,
                    rejects.iter().map(|r| r.record_key.as_str()),
                );
            }
            Ok(())
        }

        #[tracing::instrument(name = "store.rejects", skip_all, fields(kind = kind.as_str(), source))]
        async fn rejects(
            &self,
            kind: RecordKind,
            source: Option<&str>,
        ) -> Result<Vec<Finding>, StoreError> {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT record_key, reason, code FROM rejected_records WHERE kind = $1 AND ($2 IS NULL OR source = $2) \
                 ORDER BY record_key",
            )
            .bind(kind.as_str())
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(key, reason, code)| {
                    let code = match code.as_str() {
                        "unmapped_value" => FindingCode::UnmappedValue,
                        _ => FindingCode::InvalidRecord,
                    };
                    Finding::new(code, key, reason)
                })
                .collect())
        }

        #[tracing::instrument(name = "store.put_credential", skip_all, fields(system = %credential.system, unit = %credential.unit))]
        async fn put_credential(&self, credential: &SealedCredential) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            Self::insert_credential(&mut *tx, credential).await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.credential", skip_all, fields(system = %system, unit))]
        async fn credential(
            &self,
            system: crate::auth::vault::System,
            unit: &str,
        ) -> Result<Option<SealedCredential>, StoreError> {
            let row: Option<shared::CredentialRow> = sqlx::query_as(
                "SELECT system, unit, username_shown, key_id, nonce, ciphertext, set_at FROM credentials \
                 WHERE system = $1 AND unit = $2",
            )
            .bind(system.as_str())
            .bind(unit)
            .fetch_optional(&self.pool)
            .await?;
            row.map(shared::CredentialRow::into_sealed).transpose()
        }

        #[tracing::instrument(name = "store.credentials", skip_all)]
        async fn credentials(&self) -> Result<Vec<SealedCredential>, StoreError> {
            let rows: Vec<shared::CredentialRow> = sqlx::query_as(
                "SELECT system, unit, username_shown, key_id, nonce, ciphertext, set_at FROM credentials ORDER BY system, unit",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map(shared::CredentialRow::into_sealed).collect()
        }

        #[tracing::instrument(name = "store.replace_credentials", skip_all, fields(credentials = credentials.len()))]
        async fn replace_credentials(
            &self,
            credentials: &[SealedCredential],
        ) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query("DELETE FROM credentials").execute(&mut *tx).await?;
            for c in credentials {
                Self::insert_credential(&mut *tx, c).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.record_pull", skip_all, fields(source = %log.source, kind = log.kind.as_str(), ok = log.ok))]
        async fn record_pull(&self, log: &PullLog) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO pulls (source, kind, axis, from_at, to_at, ok, detail, records, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&log.source)
            .bind(log.kind.as_str())
            .bind(log.axis.as_str())
            .bind(log.from.0)
            .bind(log.to.0)
            .bind(i64::from(log.ok))
            .bind(&log.detail)
            .bind(log.records)
            .bind(log.finished_at.0)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.pulls", skip_all, fields(source, kind = kind.as_str()))]
        async fn pulls(&self, source: &str, kind: RecordKind) -> Result<Vec<PullLog>, StoreError> {
            let rows: Vec<shared::PullRow> = sqlx::query_as(
                "SELECT source, kind, axis, from_at, to_at, ok, detail, records, finished_at FROM pulls \
                 WHERE source = $1 AND kind = $2 ORDER BY id",
            )
            .bind(source)
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter().map(shared::PullRow::into_log).collect()
        }

        #[tracing::instrument(name = "store.outbox", skip_all, fields(period = ?filter.period, unit = ?filter.unit, form = ?filter.form))]
        async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRow>, StoreError> {
            let mut conn = self.pool.acquire().await?;
            Self::select_outbox(&mut *conn, filter, false, shared::OUTBOX_COLUMNS).await
        }

        #[tracing::instrument(name = "store.outbox_without_drafts", skip_all, fields(period = ?filter.period, unit = ?filter.unit, form = ?filter.form))]
        async fn outbox_without_drafts(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRow>, StoreError> {
            let mut conn = self.pool.acquire().await?;
            Self::select_outbox(&mut *conn, filter, false, shared::OUTBOX_COLUMNS_WITHOUT_DRAFTS).await
        }

        #[tracing::instrument(name = "store.outbox_apply", skip_all, fields(period = ?filter.period, unit = ?filter.unit, form = ?filter.form))]
        async fn outbox_apply<F>(&self, filter: &OutboxFilter, decide: F) -> Result<usize, StoreError>
        where
            F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send,
        {
            self.apply_outbox(filter, true, decide).await
        }

        #[tracing::instrument(name = "store.outbox_apply_rows", skip_all, fields(id = ?filter.id, period = ?filter.period, unit = ?filter.unit, form = ?filter.form))]
        async fn outbox_apply_rows<F>(&self, filter: &OutboxFilter, decide: F) -> Result<usize, StoreError>
        where
            F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send,
        {
            self.apply_outbox(filter, false, decide).await
        }

        #[tracing::instrument(name = "store.outbox_claim", skip_all, fields(system = %claim.system, owner = %claim.owner, period = ?claim.filter.period))]
        async fn outbox_claim(&self, claim: &Claim) -> Result<Vec<OutboxRow>, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let f = &claim.filter;
            let rows: Vec<shared::OutboxRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE outbox SET state = 'sending', lease_owner = $1, lease_until = $2, \
                 sending_generation = generation, changed_at = $3 \
                 WHERE id IN (SELECT id FROM outbox WHERE system = $4 \
                   AND (state IN ('pending', 'sending') OR (state = 'retrying' AND next_attempt_at <= $3)) \
                   AND (lease_until IS NULL OR lease_until <= $3) \
                   AND {} AND {} AND {} AND {} \
                   ORDER BY id LIMIT $5{}) \
                 RETURNING {}",
                shared::equals("form", 6, f.form.is_some()),
                shared::equals("period", 7, f.period.is_some()),
                shared::equals("unit", 8, f.unit.is_some()),
                shared::equals("id", 9, f.id.is_some()),
                $claim_lock,
                shared::OUTBOX_COLUMNS
            )))
            .bind(&claim.owner)
            .bind(claim.lease_until.0)
            .bind(claim.now.0)
            .bind(&claim.system)
            .bind(claim.limit)
            .bind(f.form.as_deref())
            .bind(f.period.as_deref())
            .bind(f.unit.as_deref())
            .bind(f.id)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows.into_iter().map(shared::OutboxRecord::into_row).collect()
        }

        #[tracing::instrument(name = "store.attempts", skip_all, fields(outbox_id))]
        async fn attempts(&self, outbox_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
            let rows: Vec<shared::AttemptRow> = sqlx::query_as(
                "SELECT outbox_id, at, generation, content_hash, answer, remote_version, detail, worker \
                 FROM outbox_attempts WHERE outbox_id = $1 ORDER BY id",
            )
            .bind(outbox_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(AttemptRecord::from).collect())
        }

        #[tracing::instrument(name = "store.append_audit", skip_all, fields(entries = entries.len()))]
        async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            Self::insert_audit(&mut *tx, entries).await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.audit", skip_all, fields(period))]
        async fn audit(
            &self,
            period: Option<&str>,
            unit: Option<&str>,
            limit: i64,
        ) -> Result<Vec<AuditEntry>, StoreError> {
            let rows: Vec<shared::AuditRow> = sqlx::query_as(
                "SELECT at, actor, action, system, form, period, unit, content_hash, base_version, new_version, answer, reason \
                 FROM audit WHERE ($1 IS NULL OR period = $1) AND ($2 IS NULL OR unit = $2) \
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(period)
            .bind(unit)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(AuditEntry::from).collect())
        }

        #[tracing::instrument(name = "store.issue_viewer", skip_all, fields(viewer = %viewer.name, unit = %viewer.unit))]
        async fn issue_viewer(
            &self,
            viewer: &Viewer,
            token_sha256: &str,
            expires_at: i64,
        ) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query(
                "INSERT INTO viewers (name, unit, password_hash, created_at, revoked_at)                  VALUES ($1, $2, NULL, $3, NULL)                  ON CONFLICT (name) DO UPDATE SET unit = excluded.unit, password_hash = NULL, revoked_at = NULL",
            )
            .bind(&viewer.name)
            .bind(&viewer.unit)
            .bind(viewer.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM admin_sessions WHERE role = 'viewer' AND name = $1")
                .bind(&viewer.name)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO viewer_links (token_sha256, viewer, expires_at, used_at) VALUES ($1, $2, $3, NULL)")
                .bind(token_sha256)
                .bind(&viewer.name)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.redeem_viewer_link", skip_all)]
        async fn redeem_viewer_link(
            &self,
            token_sha256: &str,
            password_hash: &str,
            now: i64,
        ) -> Result<Option<Viewer>, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let taken: Option<(String,)> = sqlx::query_as(
                "UPDATE viewer_links SET used_at = $1                  WHERE token_sha256 = $2 AND used_at IS NULL AND expires_at > $1 RETURNING viewer",
            )
            .bind(now)
            .bind(token_sha256)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((name,)) = taken else {
                return Ok(None);
            };
            let viewer: Option<Viewer> = sqlx::query_as(
                "UPDATE viewers SET password_hash = $1 WHERE name = $2 AND revoked_at IS NULL                  RETURNING name, unit, password_hash, created_at, revoked_at",
            )
            .bind(password_hash)
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(viewer)
        }

        async fn viewer(&self, name: &str) -> Result<Option<Viewer>, StoreError> {
            Ok(sqlx::query_as(
                "SELECT name, unit, password_hash, created_at, revoked_at FROM viewers WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn viewers(&self) -> Result<Vec<Viewer>, StoreError> {
            Ok(sqlx::query_as(
                "SELECT name, unit, password_hash, created_at, revoked_at FROM viewers ORDER BY unit, name",
            )
            .fetch_all(&self.pool)
            .await?)
        }

        #[tracing::instrument(name = "store.revoke_viewer", skip_all, fields(viewer = name))]
        async fn revoke_viewer(&self, name: &str, now: i64) -> Result<bool, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let done = sqlx::query(
                "UPDATE viewers SET revoked_at = $1, password_hash = NULL WHERE name = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("DELETE FROM admin_sessions WHERE role = 'viewer' AND name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM viewer_links WHERE viewer = $1 AND used_at IS NULL")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done > 0)
        }

        async fn open_session(&self, id_sha256: &str, session: &SessionRecord, now: i64) -> Result<(), StoreError> {
            // Expired sessions go as new ones come (reading one never writes).
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
            sqlx::query(
                "INSERT INTO admin_sessions (id_sha256, role, name, unit, csrf, expires_at)                  VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id_sha256)
            .bind(&session.role)
            .bind(&session.name)
            .bind(&session.unit)
            .bind(&session.csrf)
            .bind(session.expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn session(&self, id_sha256: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
            Ok(sqlx::query_as(
                "SELECT role, name, unit, csrf, expires_at FROM admin_sessions \
                 WHERE id_sha256 = $1 AND expires_at > $2",
            )
            .bind(id_sha256)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn close_session(&self, id_sha256: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM admin_sessions WHERE id_sha256 = $1")
                .bind(id_sha256)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn sign_in_failures(&self, address: &str) -> Result<Option<SignInFailures>, StoreError> {
            Ok(sqlx::query_as(
                "SELECT failures, last_at, until_at FROM sign_in_failures WHERE address = $1",
            )
            .bind(address)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn record_sign_in_failure<F>(&self, address: &str, step: F) -> Result<SignInFailures, StoreError>
        where
            F: FnOnce(Option<SignInFailures>) -> SignInFailures + Send,
        {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            // The row exists before it is locked, so two first failures at once do not both
            // start from nothing (a zero row counts as none).
            sqlx::query(
                "INSERT INTO sign_in_failures (address, failures, last_at, until_at) \
                 VALUES ($1, 0, 0, 0) ON CONFLICT (address) DO NOTHING",
            )
            .bind(address)
            .execute(&mut *tx)
            .await?;
            let before: Option<SignInFailures> = sqlx::query_as(concat!(
                "SELECT failures, last_at, until_at FROM sign_in_failures WHERE address = $1",
                $row_lock
            ))
            .bind(address)
            .fetch_optional(&mut *tx)
            .await?;
            let after = step(before);
            sqlx::query(
                "INSERT INTO sign_in_failures (address, failures, last_at, until_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (address) DO UPDATE SET failures = excluded.failures, \
                 last_at = excluded.last_at, until_at = excluded.until_at",
            )
            .bind(address)
            .bind(after.failures)
            .bind(after.last_at)
            .bind(after.until_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(after)
        }

        async fn clear_sign_in_failures(&self, address: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM sign_in_failures WHERE address = $1")
                .bind(address)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn dossier_generations(&self) -> Result<Vec<(String, i64)>, StoreError> {
            Ok(
                sqlx::query_as("SELECT source, generation FROM dossier_sources ORDER BY source")
                    .fetch_all(&self.pool)
                    .await?,
            )
        }

        #[tracing::instrument(name = "store.claim_fire", skip_all, fields(job, slot = %slot, owner))]
        async fn claim_fire(
            &self,
            job: &str,
            slot: Instant,
            owner: &str,
            now: Instant,
        ) -> Result<bool, StoreError> {
            let claimed: Option<String> = sqlx::query_scalar(
                "INSERT INTO fires (job, slot, claimed_by, claimed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (job, slot) DO NOTHING RETURNING job",
            )
            .bind(job)
            .bind(slot.0)
            .bind(owner)
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await?;
            Ok(claimed.is_some())
        }

        #[tracing::instrument(name = "store.finish_fire", skip_all, fields(job, slot = %slot, outcome))]
        async fn finish_fire(
            &self,
            job: &str,
            slot: Instant,
            outcome: &str,
            now: Instant,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE fires SET outcome = $3, finished_at = $4 WHERE job = $1 AND slot = $2")
                .bind(job)
                .bind(slot.0)
                .bind(outcome)
                .bind(now.0)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.fires", skip_all, fields(prefix))]
        async fn fires(&self, prefix: &str) -> Result<Vec<Fire>, StoreError> {
            let rows: Vec<shared::FireRow> = sqlx::query_as(
                "SELECT job, slot, claimed_by, claimed_at, outcome, finished_at FROM fires \
                 WHERE substr(job, 1, length($1)) = $1 ORDER BY slot, job",
            )
            .bind(prefix)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(Fire::from).collect())
        }

        #[tracing::instrument(name = "store.unfinished_fires", skip_all)]
        async fn unfinished_fires(&self) -> Result<Vec<Fire>, StoreError> {
            let rows: Vec<shared::FireRow> = sqlx::query_as(
                "SELECT job, slot, claimed_by, claimed_at, outcome, finished_at FROM fires \
                 WHERE outcome IS NULL ORDER BY slot, job",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(Fire::from).collect())
        }

        #[tracing::instrument(name = "store.take_over_fire", skip_all, fields(job, slot = %slot, from, to))]
        async fn take_over_fire(
            &self,
            job: &str,
            slot: Instant,
            from: &str,
            to: &str,
            now: Instant,
        ) -> Result<bool, StoreError> {
            let taken = sqlx::query(
                "UPDATE fires SET claimed_by = $4, claimed_at = $5 \
                 WHERE job = $1 AND slot = $2 AND claimed_by = $3 AND outcome IS NULL",
            )
            .bind(job)
            .bind(slot.0)
            .bind(from)
            .bind(to)
            .bind(now.0)
            .execute(&self.pool)
            .await?;
            Ok(taken.rows_affected() == 1)
        }

        #[tracing::instrument(name = "store.acquire_lock", skip_all, fields(name, owner))]
        async fn acquire_lock(
            &self,
            name: &str,
            owner: &str,
            until: Instant,
            now: Instant,
        ) -> Result<bool, StoreError> {
            let taken: Option<String> = sqlx::query_scalar(
                "INSERT INTO locks (name, owner, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until \
                 WHERE locks.until < $4 OR locks.owner = excluded.owner RETURNING owner",
            )
            .bind(name)
            .bind(owner)
            .bind(until.0)
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await?;
            Ok(taken.is_some())
        }

        #[tracing::instrument(name = "store.locks", skip_all)]
        async fn locks(&self) -> Result<Vec<(String, String, Instant)>, StoreError> {
            let rows: Vec<(String, String, i64)> =
                sqlx::query_as("SELECT name, owner, until FROM locks ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows.into_iter().map(|(n, o, u)| (n, o, Instant(u))).collect())
        }

        #[tracing::instrument(name = "store.beat", skip_all, fields(owner))]
        async fn beat(
            &self,
            owner: &str,
            now: Instant,
            forget_before: Instant,
        ) -> Result<(), StoreError> {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO heartbeats (owner, beat_at) VALUES ($1, $2) \
                 ON CONFLICT (owner) DO UPDATE SET beat_at = excluded.beat_at",
            )
            .bind(owner)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM heartbeats WHERE beat_at < $1")
                .bind(forget_before.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.heartbeats", skip_all)]
        async fn heartbeats(&self) -> Result<Vec<(String, Instant)>, StoreError> {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT owner, beat_at FROM heartbeats ORDER BY owner")
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows.into_iter().map(|(o, b)| (o, Instant(b))).collect())
        }

        #[tracing::instrument(name = "store.forget_heartbeat", skip_all, fields(owner))]
        async fn forget_heartbeat(&self, owner: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM heartbeats WHERE owner = $1")
                .bind(owner)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.release_lock", skip_all, fields(name, owner))]
        async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM locks WHERE name = $1 AND owner = $2")
                .bind(name)
                .bind(owner)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.start_run", skip_all, fields(period = %run.period, cause = %run.cause))]
        async fn start_run(&self, run: &RunRecord) -> Result<i64, StoreError> {
            Ok(sqlx::query_scalar(
                "INSERT INTO runs (cause, actor, period, scope, started_at, summary) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&run.cause)
            .bind(&run.actor)
            .bind(&run.period)
            .bind(&run.scope)
            .bind(run.started_at.0)
            .bind(&run.summary)
            .fetch_one(&self.pool)
            .await?)
        }

        #[tracing::instrument(name = "store.finish_run", skip_all, fields(id, outcome))]
        async fn finish_run(
            &self,
            id: i64,
            outcome: &str,
            summary: &str,
            now: Instant,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE runs SET outcome = $2, summary = $3, finished_at = $4 WHERE id = $1")
                .bind(id)
                .bind(outcome)
                .bind(summary)
                .bind(now.0)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.close_unfinished_runs", skip_all, fields(period))]
        async fn close_unfinished_runs(
            &self,
            period: &str,
            summary: &str,
            now: Instant,
        ) -> Result<u64, StoreError> {
            Ok(sqlx::query(
                "UPDATE runs SET outcome = 'abandoned', summary = $2, finished_at = $3 \
                 WHERE period = $1 AND outcome IS NULL",
            )
            .bind(period)
            .bind(summary)
            .bind(now.0)
            .execute(&self.pool)
            .await?
            .rows_affected())
        }

        #[tracing::instrument(name = "store.runs", skip_all, fields(period))]
        async fn runs(&self, period: Option<&str>, limit: i64) -> Result<Vec<RunRecord>, StoreError> {
            let rows: Vec<shared::RunRow> = sqlx::query_as(
                "SELECT id, cause, actor, period, scope, started_at, finished_at, outcome, summary FROM runs \
                 WHERE ($1 IS NULL OR period = $1) ORDER BY id DESC LIMIT $2",
            )
            .bind(period)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(RunRecord::from).collect())
        }
    };
}

/// Inherent helpers both backends share (called by the shared methods), expanded into
/// `impl <backend>`.
macro_rules! shared_helpers {
    ($db:ty, $conn:ty, begin: $begin:literal, apply_lock: $apply_lock:literal, generic_plans: $generic_plans:literal, row_lock: $row_lock:literal) => {
        /// The transaction of `outbox_apply` (`with_drafts`) and of `outbox_apply_rows` (without:
        /// its rows keep their content, so the drafts' writes below find nothing changed).
        async fn apply_outbox<F>(
            &self,
            filter: &OutboxFilter,
            with_drafts: bool,
            decide: F,
        ) -> Result<usize, StoreError>
        where
            F: FnOnce(Vec<OutboxRow>) -> OutboxChanges + Send,
        {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            // A change to the row a filter names by id (a delivery's answer, a lease given back)
            // is serialised by that row's lock alone: the lock that serialises new rows would
            // otherwise queue every worker's answer behind every other's.
            let one_row = filter.id.is_some();
            if !$apply_lock.is_empty() && !one_row {
                sqlx::query($apply_lock).execute(&mut *tx).await?;
            }
            let columns = if with_drafts {
                shared::OUTBOX_COLUMNS
            } else {
                shared::OUTBOX_COLUMNS_WITHOUT_DRAFTS
            };
            let rows = Self::select_outbox(&mut *tx, filter, true, columns).await?;
            // What each row held before: its draft is written again only if that changed.
            let held: std::collections::HashMap<crate::store::ReportId, (Option<String>, bool)> = rows
                .iter()
                .map(|r| (r.report.clone(), (r.content_hash.clone(), r.draft.is_some())))
                .collect();
            let changes = decide(rows);
            if !with_drafts {
                // Rows read without their drafts keep them: a change of content here would
                // lose the draft it names.
                if let Some(row) = changes.rows.iter().find(|r| {
                    held.get(&r.report).is_none_or(|(hash, _)| *hash != r.content_hash)
                }) {
                    return Err(StoreError::Misuse(format!(
                        "a change of the outbox's rows alone named new content for {}",
                        row.report
                    )));
                }
            }
            if !$apply_lock.is_empty()
                && one_row
                && changes.rows.iter().any(|r| !held.contains_key(&r.report))
            {
                // Not expected of a change to one row; a new row still takes the lock.
                sqlx::query($apply_lock).execute(&mut *tx).await?;
            }
            // Many rows a statement: a statement each cost a province's recompute more than its
            // forms on PostgreSQL (two round trips for each of ~1,600 reports). A report named
            // twice is written once, as last named (an upsert may not touch a row twice).
            let mut last: std::collections::HashMap<&crate::store::ReportId, usize> =
                std::collections::HashMap::new();
            for (i, row) in changes.rows.iter().enumerate() {
                last.insert(&row.report, i);
            }
            let rows: Vec<&OutboxRow> = changes
                .rows
                .iter()
                .enumerate()
                .filter(|(i, row)| last[&row.report] == *i)
                .map(|(_, row)| row)
                .collect();
            if !$generic_plans.is_empty() && !one_row && !rows.is_empty() {
                // A recompute binds a province's drafts (tens of megabytes): a custom plan would
                // copy every one into the plan first (the reads above keep custom plans).
                sqlx::query($generic_plans).execute(&mut *tx).await?;
            }
            for chunk in rows.chunks(500) {
                let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO outbox (system, form, period, unit, state, detail, content_hash, generation, \
                     attempts, next_attempt_at, remote_version, our_version, incarnation, force_by, force_reason, \
                     lease_owner, lease_until, sending_generation, armed_by, changed_at) ",
                );
                query.push_values(chunk, |mut b, row| {
                    b.push_bind(&row.report.system)
                        .push_bind(&row.report.form)
                        .push_bind(&row.report.period)
                        .push_bind(&row.report.unit)
                        .push_bind(row.state.as_str())
                        .push_bind(&row.detail)
                        .push_bind(&row.content_hash)
                        .push_bind(row.generation)
                        .push_bind(row.attempts)
                        .push_bind(row.next_attempt_at.map(|i| i.0))
                        .push_bind(row.remote_version)
                        .push_bind(row.our_version)
                        .push_bind(row.incarnation)
                        .push_bind(row.force.as_ref().map(|f| f.by.as_str()))
                        .push_bind(row.force.as_ref().map(|f| f.reason.as_str()))
                        .push_bind(row.lease.as_ref().map(|l| l.owner.as_str()))
                        .push_bind(row.lease.as_ref().map(|l| l.until.0))
                        .push_bind(row.sending_generation)
                        .push_bind(&row.armed_by)
                        .push_bind(row.changed_at.0);
                });
                query.push(
                    " ON CONFLICT (system, form, period, unit) DO UPDATE SET state = excluded.state, \
                     detail = excluded.detail, content_hash = excluded.content_hash, \
                     generation = excluded.generation, attempts = excluded.attempts, \
                     next_attempt_at = excluded.next_attempt_at, remote_version = excluded.remote_version, \
                     our_version = excluded.our_version, incarnation = excluded.incarnation, \
                     force_by = excluded.force_by, force_reason = excluded.force_reason, \
                     lease_owner = excluded.lease_owner, lease_until = excluded.lease_until, \
                     sending_generation = excluded.sending_generation, armed_by = excluded.armed_by, \
                     changed_at = excluded.changed_at \
                     RETURNING id, system, form, period, unit",
                );
                // The order rows come back in is not promised: each names its report.
                let ids: std::collections::HashMap<crate::store::ReportId, i64> = query
                    .build_query_as::<(i64, String, String, String, String)>()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|(id, system, form, period, unit)| {
                        (crate::store::ReportId { system, form, period, unit }, id)
                    })
                    .collect();
                // A draft is written only when its content changed: the hash is over the content.
                let mut texts = Vec::new();
                let mut dropped = Vec::new();
                for row in chunk {
                    let same = held.get(&row.report).is_some_and(|(hash, had)| {
                        *hash == row.content_hash && *had == row.draft.is_some()
                    });
                    if same {
                        continue;
                    }
                    let id = *ids.get(&row.report).ok_or_else(|| {
                        StoreError::Corrupt(format!("the outbox wrote no row for {}", row.report))
                    })?;
                    match shared::draft_text(row) {
                        Some(text) => texts.push((id, text)),
                        None => dropped.push(id),
                    }
                }
                if !texts.is_empty() {
                    let mut query: sqlx::QueryBuilder<$db> =
                        sqlx::QueryBuilder::new("INSERT INTO outbox_drafts (outbox_id, draft) ");
                    query.push_values(&texts, |mut b, (id, text)| {
                        b.push_bind(*id).push_bind(text);
                    });
                    query.push(" ON CONFLICT (outbox_id) DO UPDATE SET draft = excluded.draft");
                    query.build().execute(&mut *tx).await?;
                }
                if !dropped.is_empty() {
                    let mut query: sqlx::QueryBuilder<$db> =
                        sqlx::QueryBuilder::new("DELETE FROM outbox_drafts WHERE outbox_id IN (");
                    let mut list = query.separated(", ");
                    for id in &dropped {
                        list.push_bind(*id);
                    }
                    query.push(")");
                    query.build().execute(&mut *tx).await?;
                }
            }
            for chunk in changes.attempts.chunks(500) {
                let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO outbox_attempts (outbox_id, at, generation, content_hash, answer, remote_version, detail, worker) ",
                );
                query.push_values(chunk, |mut b, a| {
                    b.push_bind(a.outbox_id)
                        .push_bind(a.at.0)
                        .push_bind(a.generation)
                        .push_bind(&a.content_hash)
                        .push_bind(&a.answer)
                        .push_bind(a.remote_version)
                        .push_bind(&a.detail)
                        .push_bind(&a.worker);
                });
                query.build().execute(&mut *tx).await?;
            }
            Self::insert_audit(&mut *tx, &changes.audit).await?;
            tx.commit().await?;
            Ok(changes.rows.len())
        }

        async fn select_outbox(
            conn: &mut $conn,
            filter: &OutboxFilter,
            lock: bool,
            columns: &str,
        ) -> Result<Vec<OutboxRow>, StoreError> {
            let rows: Vec<shared::OutboxRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM outbox WHERE {} AND {} AND {} AND {} AND {} ORDER BY id{}",
                columns,
                shared::equals("id", 1, filter.id.is_some()),
                shared::equals("system", 2, filter.system.is_some()),
                shared::equals("form", 3, filter.form.is_some()),
                shared::equals("period", 4, filter.period.is_some()),
                shared::equals("unit", 5, filter.unit.is_some()),
                if lock { $row_lock } else { "" }
            )))
            .bind(filter.id)
            .bind(filter.system.as_deref())
            .bind(filter.form.as_deref())
            .bind(filter.period.as_deref())
            .bind(filter.unit.as_deref())
            .fetch_all(&mut *conn)
            .await?;
            rows.into_iter().map(shared::OutboxRecord::into_row).collect()
        }

        /// The keys of `kind` from `source` that wait as rejects: a readable version stored later
        /// clears its own (only those keys are deleted, not every incoming key: a statement per
        /// batch listing every key cost a pull on PostgreSQL minutes once rejects accumulated).
        async fn rejected_keys(
            conn: &mut $conn,
            kind: RecordKind,
            source: &str,
        ) -> Result<std::collections::HashSet<String>, StoreError> {
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT record_key FROM rejected_records WHERE kind = $1 AND source = $2",
            )
            .bind(kind.as_str())
            .bind(source)
            .fetch_all(&mut *conn)
            .await?;
            Ok(keys.into_iter().collect())
        }

        /// Deletes the rejects of `kind` from `source` under `keys` (those now stored readable).
        async fn clear_rejects(
            conn: &mut $conn,
            kind: RecordKind,
            source: &str,
            keys: &[&str],
        ) -> Result<(), StoreError> {
            for chunk in keys.chunks(1_000) {
                let mut clear: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new("DELETE FROM rejected_records WHERE kind = ");
                clear
                    .push_bind(kind.as_str())
                    .push(" AND source = ")
                    .push_bind(source)
                    .push(" AND record_key IN (");
                let mut separated = clear.separated(", ");
                for key in chunk {
                    separated.push_bind(*key);
                }
                clear.push(")");
                clear.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Stored dossiers (of one source, or all): a bulk read sizes its vector up front, since
        /// growing a million dossiers by doubling peaks at 1.5 times them.
        async fn dossier_count(&self, source: Option<&str>) -> Result<usize, StoreError> {
            let count: Option<i64> = sqlx::query_scalar(
                "SELECT CAST(SUM(records) AS BIGINT) FROM dossier_blocks WHERE $1 IS NULL OR source = $1",
            )
            .bind(source)
            .fetch_one(&self.pool)
            .await?;
            Ok(count.unwrap_or(0) as usize)
        }

        /// The blocks of `source` in the buckets `from..until` (`until` `None`: every one from
        /// `from` on, `ALWAYS` with them), in block order, and the dossiers they hold: from the
        /// bucket index alone (the bucket column sits after each block's bytes, which a scan of
        /// the table would read through).
        async fn blocks_in(
            &self,
            source: &str,
            from: i64,
            until: Option<i64>,
        ) -> Result<(Vec<i64>, usize), StoreError> {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT block, records FROM dossier_blocks WHERE source = $1 AND bucket >= $2 \
                 AND ($3 IS NULL OR bucket < $3)",
            )
            .bind(source)
            .bind(from)
            .bind(until)
            .fetch_all(&self.pool)
            .await?;
            let count = rows.iter().map(|(_, n)| *n as usize).sum();
            let mut blocks: Vec<i64> = rows.into_iter().map(|(b, _)| b).collect();
            blocks.sort_unstable();
            Ok((blocks, count))
        }

        async fn insert_audit(conn: &mut $conn, entries: &[AuditEntry]) -> Result<(), StoreError> {
            // Entries keep their order: ids rise as they are listed.
            for chunk in entries.chunks(500) {
                let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO audit (at, actor, action, system, form, period, unit, content_hash, \
                     base_version, new_version, answer, reason) ",
                );
                query.push_values(chunk, |mut b, e| {
                    b.push_bind(e.at.map_or_else(|| chrono::Utc::now().timestamp(), |i| i.0))
                        .push_bind(&e.actor)
                        .push_bind(&e.action)
                        .push_bind(&e.system)
                        .push_bind(&e.form)
                        .push_bind(&e.period)
                        .push_bind(&e.unit)
                        .push_bind(&e.content_hash)
                        .push_bind(e.base_version)
                        .push_bind(e.new_version)
                        .push_bind(&e.answer)
                        .push_bind(&e.reason);
                });
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn insert_credential(
            conn: &mut $conn,
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
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
    };
}

pub(super) use {shared_helpers, shared_methods};
