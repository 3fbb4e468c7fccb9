//! What the store keeps for sources that are not our own contract (real-sources.md), the SQL the
//! same on both backends and expanded into each by [`tracking_methods!`]: window watermarks per
//! axis, the dossiers still open at a source (read again by key), the findings a source's mapping
//! left about stored records, monthly satisfaction aggregates, and the receiver's clients and
//! sessions.

use super::{Finding, FindingCode, StoreError};
use crate::domain::RecordKind;

/// The watermarks table's kind column for a window axis: the record kind alone for CapNhatLuc
/// windows (as before sources had axes), `kind@axis` otherwise.
pub(super) fn mark_name(kind: RecordKind, axis: crate::domain::Axis) -> String {
    match axis {
        crate::domain::Axis::Updated => kind.as_str().to_owned(),
        other => format!("{}@{}", kind.as_str(), other.as_str()),
    }
}

pub(super) fn parse_kind(text: &str) -> Result<RecordKind, StoreError> {
    match text {
        "dossier" => Ok(RecordKind::Dossier),
        "rating" => Ok(RecordKind::Rating),
        "feedback" => Ok(RecordKind::Feedback),
        other => Err(StoreError::Corrupt(format!("a record kind `{other}`"))),
    }
}

pub(super) fn finding_code(text: &str) -> FindingCode {
    match text {
        "missing_at_source" => FindingCode::MissingAtSource,
        "unknown_unit" => FindingCode::UnknownUnit,
        _ => FindingCode::UnmappedValue,
    }
}

/// A stored source finding as a report's finding.
pub(super) fn to_finding(
    kind: &str,
    key: String,
    code: &str,
    unit: Option<String>,
    message: String,
) -> Result<(RecordKind, Finding), StoreError> {
    let kind = parse_kind(kind)?;
    let code = finding_code(code);
    let mut f = Finding::new(code, key, message).about(kind);
    if code == FindingCode::UnmappedValue {
        // The record is stored and counted as the forms judge it; the note is for the setting.
        f.severity = crate::domain::Severity::Warning;
    }
    Ok((kind, f.with_unit(unit.unwrap_or_default())))
}

/// Expands, inside `impl Store for <backend>`, the methods of this module. `$db` is the sqlx
/// database, `begin` the statement that opens a writing transaction.
macro_rules! tracking_methods {
    ($db:ty, begin: $begin:literal) => {
        async fn axis_watermark(
            &self,
            source: &str,
            kind: RecordKind,
            axis: crate::domain::Axis,
        ) -> Result<Option<Instant>, StoreError> {
            let upper: Option<i64> =
                sqlx::query_scalar("SELECT upper FROM watermarks WHERE source = $1 AND kind = $2")
                    .bind(source)
                    .bind(super::tracking::mark_name(kind, axis))
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(upper.map(Instant))
        }

        #[tracing::instrument(name = "store.advance_axis_watermark", skip_all, fields(source, kind = kind.as_str(), axis = axis.as_str(), upper = %upper))]
        async fn advance_axis_watermark(
            &self,
            source: &str,
            kind: RecordKind,
            axis: crate::domain::Axis,
            upper: Instant,
        ) -> Result<bool, StoreError> {
            let moved: Option<i64> = sqlx::query_scalar(
                "INSERT INTO watermarks (source, kind, upper) VALUES ($1, $2, $3) \
                 ON CONFLICT (source, kind) DO UPDATE SET upper = excluded.upper \
                 WHERE watermarks.upper < excluded.upper RETURNING upper",
            )
            .bind(source)
            .bind(super::tracking::mark_name(kind, axis))
            .bind(upper.0)
            .fetch_optional(&self.pool)
            .await?;
            Ok(moved.is_some())
        }

        async fn sources(&self, kind: RecordKind) -> Result<Vec<String>, StoreError> {
            let query = match kind {
                RecordKind::Dossier => "SELECT source FROM dossier_sources ORDER BY source",
                RecordKind::Rating => {
                    "SELECT source FROM ratings UNION SELECT source FROM rating_months ORDER BY source"
                }
                RecordKind::Feedback => "SELECT DISTINCT source FROM feedback ORDER BY source",
            };
            Ok(sqlx::query_scalar(query).fetch_all(&self.pool).await?)
        }

        async fn dossiers_by_keys(
            &self,
            source: &str,
            keys: &[&str],
        ) -> Result<Vec<Dossier>, StoreError> {
            self.read_by_keys(source, keys).await
        }

        #[tracing::instrument(name = "store.track_open", skip_all, fields(source, marks = marks.len()))]
        async fn track_open(
            &self,
            source: &str,
            marks: &[super::OpenMark],
            seen_at: Instant,
        ) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let (open, closed): (Vec<&super::OpenMark>, Vec<&super::OpenMark>) =
                marks.iter().partition(|m| m.open);
            for chunk in open.chunks(500) {
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO source_open (source, record_key, remote_id, seen_at, gone) ",
                );
                q.push_values(chunk, |mut b, m| {
                    b.push_bind(source)
                        .push_bind(&m.key)
                        .push_bind(m.remote_id.as_deref())
                        .push_bind(seen_at.0)
                        .push_bind(0_i64);
                });
                q.push(
                    " ON CONFLICT (source, record_key) DO UPDATE SET \
                     remote_id = COALESCE(excluded.remote_id, source_open.remote_id), \
                     seen_at = excluded.seen_at, gone = 0",
                );
                q.build().execute(&mut *tx).await?;
            }
            for chunk in closed.chunks(500) {
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "DELETE FROM source_open WHERE source = ",
                );
                q.push_bind(source).push(" AND record_key IN (");
                let mut list = q.separated(", ");
                for m in chunk {
                    list.push_bind(&m.key);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn open_dossiers(
            &self,
            source: &str,
            seen_before: Instant,
            limit: i64,
        ) -> Result<Vec<super::OpenDossier>, StoreError> {
            let rows: Vec<(String, Option<String>, i64, i64)> = sqlx::query_as(
                "SELECT record_key, remote_id, seen_at, gone FROM source_open \
                 WHERE source = $1 AND seen_at < $2 ORDER BY seen_at, record_key LIMIT $3",
            )
            .bind(source)
            .bind(seen_before.0)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(key, remote_id, seen_at, gone)| super::OpenDossier {
                    key,
                    remote_id,
                    seen_at: Instant(seen_at),
                    gone: gone != 0,
                })
                .collect())
        }

        async fn count_open(&self, source: &str, seen_before: Instant) -> Result<i64, StoreError> {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM source_open WHERE source = $1 AND seen_at < $2",
            )
            .bind(source)
            .bind(seen_before.0)
            .fetch_one(&self.pool)
            .await?)
        }

        async fn mark_gone(&self, source: &str, keys: &[&str], at: Instant) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            for chunk in keys.chunks(500) {
                let mut q: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new("UPDATE source_open SET gone = 1, seen_at = ");
                q.push_bind(at.0)
                    .push(" WHERE source = ")
                    .push_bind(source)
                    .push(" AND record_key IN (");
                let mut list = q.separated(", ");
                for k in chunk {
                    list.push_bind(*k);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        #[tracing::instrument(name = "store.replace_source_findings", skip_all, fields(source, kind = kind.as_str(), keys = keys.len(), findings = findings.len()))]
        async fn replace_source_findings(
            &self,
            source: &str,
            kind: RecordKind,
            keys: &[&str],
            findings: &[super::SourceFinding],
            at: Instant,
        ) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            for chunk in keys.chunks(500) {
                let mut q: sqlx::QueryBuilder<$db> =
                    sqlx::QueryBuilder::new("DELETE FROM source_findings WHERE source = ");
                q.push_bind(source)
                    .push(" AND kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND record_key IN (");
                let mut list = q.separated(", ");
                for k in chunk {
                    list.push_bind(*k);
                }
                q.push(")");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in findings.chunks(200) {
                let mut q: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO source_findings (source, kind, record_key, field, code, unit, message, seen_at) ",
                );
                q.push_values(chunk, |mut b, f| {
                    b.push_bind(source)
                        .push_bind(kind.as_str())
                        .push_bind(&f.key)
                        .push_bind(&f.field)
                        .push_bind(f.code.as_str())
                        .push_bind(f.unit.as_deref())
                        .push_bind(&f.message)
                        .push_bind(at.0);
                });
                q.push(
                    " ON CONFLICT (source, kind, record_key, field) DO UPDATE SET code = excluded.code, \
                     unit = excluded.unit, message = excluded.message, seen_at = excluded.seen_at",
                );
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn source_findings(
            &self,
            source: Option<&str>,
        ) -> Result<Vec<(RecordKind, Finding)>, StoreError> {
            let rows: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
                "SELECT kind, record_key, code, unit, message FROM source_findings \
                 WHERE $1 IS NULL OR source = $1 ORDER BY record_key, field",
            )
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
            rows.into_iter()
                .map(|(kind, key, code, unit, message)| {
                    super::tracking::to_finding(&kind, key, &code, unit, message)
                })
                .collect()
        }

        #[tracing::instrument(name = "store.upsert_rating_months", skip_all, fields(source, records = records.len()))]
        async fn upsert_rating_months(
            &self,
            source: &str,
            records: &[IncomingRaw<'_>],
        ) -> Result<UpsertCounts, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            let mut counts = UpsertCounts::default();
            for chunk in records.chunks(500) {
                let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(
                    "INSERT INTO rating_months (source, record_key, updated_at, raw) ",
                );
                query.push_values(chunk, |mut b, r| {
                    b.push_bind(source)
                        .push_bind(r.key)
                        .push_bind(r.updated_at.map(|i| i.0))
                        .push_bind(r.raw);
                });
                query.push(format!(
                    " ON CONFLICT (source, record_key) DO UPDATE SET updated_at = excluded.updated_at, \
                     raw = excluded.raw, revision = rating_months.revision + 1 WHERE {} RETURNING revision",
                    shared::replaces("rating_months")
                ));
                let written: Vec<i64> = query.build_query_scalar().fetch_all(&mut *tx).await?;
                let new = written.iter().filter(|r| **r == 0).count() as u64;
                counts.add(UpsertCounts {
                    new,
                    updated: written.len() as u64 - new,
                    unchanged: (chunk.len() - written.len()) as u64,
                });
            }
            tx.commit().await?;
            Ok(counts)
        }

        async fn rating_months(&self, source: Option<&str>) -> Result<Vec<String>, StoreError> {
            Ok(sqlx::query_scalar(
                "SELECT raw FROM rating_months WHERE $1 IS NULL OR source = $1 ORDER BY id",
            )
            .bind(source)
            .fetch_all(&self.pool)
            .await?)
        }

        async fn put_receiver_client(
            &self,
            source: &str,
            client: &str,
            password_hash: &str,
            at: Instant,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO receiver_clients (source, client, password_hash, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (source, client) DO UPDATE SET password_hash = excluded.password_hash, \
                 created_at = excluded.created_at",
            )
            .bind(source)
            .bind(client)
            .bind(password_hash)
            .bind(at.0)
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        async fn receiver_client(
            &self,
            source: &str,
            client: &str,
        ) -> Result<Option<String>, StoreError> {
            Ok(sqlx::query_scalar(
                "SELECT password_hash FROM receiver_clients WHERE source = $1 AND client = $2",
            )
            .bind(source)
            .bind(client)
            .fetch_optional(&self.pool)
            .await?)
        }

        async fn receiver_clients(&self, source: &str) -> Result<Vec<(String, Instant)>, StoreError> {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT client, created_at FROM receiver_clients WHERE source = $1 ORDER BY client",
            )
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(|(c, at)| (c, Instant(at))).collect())
        }

        async fn remove_receiver_client(&self, source: &str, client: &str) -> Result<bool, StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            sqlx::query("DELETE FROM receiver_sessions WHERE source = $1 AND client = $2")
                .bind(source)
                .bind(client)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM receiver_clients WHERE source = $1 AND client = $2")
                .bind(source)
                .bind(client)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(gone > 0)
        }

        async fn put_receiver_session(
            &self,
            token_hash: &str,
            source: &str,
            client: &str,
            expires_at: Instant,
        ) -> Result<(), StoreError> {
            let _turn = self.turns.take().await;
            let mut tx = self.pool.begin_with($begin).await?;
            // Sessions that ended go as new ones come: the table stays as small as the clients.
            sqlx::query("DELETE FROM receiver_sessions WHERE expires_at < $1 AND source = $2 AND client = $3")
                .bind(Instant(expires_at.0 - 86_400).0)
                .bind(source)
                .bind(client)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO receiver_sessions (token_hash, source, client, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at",
            )
            .bind(token_hash)
            .bind(source)
            .bind(client)
            .bind(expires_at.0)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn receiver_session(
            &self,
            token_hash: &str,
            now: Instant,
        ) -> Result<Option<(String, String)>, StoreError> {
            Ok(sqlx::query_as(
                "SELECT source, client FROM receiver_sessions WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await?)
        }
    };
}

pub(super) use tracking_methods;
