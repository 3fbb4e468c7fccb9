//! What the store keeps of the product's e-mail (issue 19): the outbox of messages, one row per
//! message, and the addresses that opted out. The SQL is the same on both backends and expanded
//! into each by [`mail_methods!`]; the states' meaning and their transitions are `sync::mail`'s.
//!
//! Delivery is at most once. A worker claims a row (`sending`, under a lease) before it speaks to
//! the SMTP server and records the server's answer after; a `sending` row whose lease ran out is
//! never claimed again but turned `uncertain` (the server may have said 250 before the worker
//! died), and only an operator sends it again.

use super::{AuditEntry, StoreError};
use crate::domain::Instant;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting for a worker.
    Pending,
    /// Claimed; the SMTP conversation may be under way.
    Sending,
    /// The server answered 4xx (or could not be reached); tried again at `next_attempt_at`.
    Retrying,
    /// The server answered 250 to the message's data.
    Sent,
    /// The server answered 5xx, or attempts ran out: `detail` says why; only an operator re-arms.
    Failed,
    /// Its worker stopped between the claim and the answer's record: the message may or may not
    /// have gone out. Never resent by itself.
    Uncertain,
}

impl MessageState {
    pub const ALL: [MessageState; 6] = [
        MessageState::Pending,
        MessageState::Sending,
        MessageState::Retrying,
        MessageState::Sent,
        MessageState::Failed,
        MessageState::Uncertain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Sending => "sending",
            MessageState::Retrying => "retrying",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Uncertain => "uncertain",
        }
    }

    pub fn parse(text: &str) -> Option<MessageState> {
        MessageState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for MessageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Unique: the same trigger run again enqueues nothing new (`ready/2023-Q3/UNIT/ADDRESS`).
    pub key: String,
    /// `ready`, `reminder`, `overdue`, `digest`.
    pub kind: String,
    pub period: String,
    /// `None` for the operator's digest.
    pub unit: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A message as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub period: String,
    pub unit: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub state: MessageState,
    pub detail: String,
    pub attempts: i64,
    pub next_attempt_at: Option<Instant>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Instant>,
    pub created_at: Instant,
    pub changed_at: Instant,
    pub sent_at: Option<Instant>,
}

/// How one claimed message ended, recorded with its audit line in one transaction.
#[derive(Debug, Clone)]
pub struct MessageOutcome {
    pub id: i64,
    /// The worker that claimed it.
    pub owner: String,
    pub state: MessageState,
    pub detail: String,
    pub next_attempt_at: Option<Instant>,
    pub at: Instant,
    pub audit: AuditEntry,
}

/// An address of a unit that asked for no more e-mail.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OptOut {
    pub unit: String,
    pub address: String,
    pub set_by: String,
    pub set_at: i64,
}

/// The columns of a message, in the order of [`MessageRecord`].
pub(super) const MESSAGE_COLUMNS: &str = "id, key, kind, period, unit, recipient, subject, body_text, body_html, state, \
     detail, attempts, next_attempt_at, lease_owner, lease_until, created_at, changed_at, sent_at";

#[derive(sqlx::FromRow)]
pub(super) struct MessageRecord {
    id: i64,
    key: String,
    kind: String,
    period: String,
    unit: Option<String>,
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    state: String,
    detail: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    created_at: i64,
    changed_at: i64,
    sent_at: Option<i64>,
}

impl MessageRecord {
    pub(super) fn into_row(self) -> Result<MessageRow, StoreError> {
        let state = MessageState::parse(&self.state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "mail message {} has state `{}`",
                self.id, self.state
            ))
        })?;
        Ok(MessageRow {
            id: self.id,
            key: self.key,
            kind: self.kind,
            period: self.period,
            unit: self.unit,
            recipient: self.recipient,
            subject: self.subject,
            text: self.body_text,
            html: self.body_html,
            state,
            detail: self.detail,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(Instant),
            lease_owner: self.lease_owner,
            lease_until: self.lease_until.map(Instant),
            created_at: Instant(self.created_at),
            changed_at: Instant(self.changed_at),
            sent_at: self.sent_at.map(Instant),
        })
    }
}

/// The mail outbox and opt-outs. Every method is one transaction.
pub trait MailStore: Send + Sync {
    /// Enqueues messages as `pending`; a message whose key is already kept is left as it is.
    /// Returns how many were new.
    fn enqueue_messages(
        &self,
        messages: &[NewMessage],
        now: Instant,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Claims up to `limit` messages that are pending or due for a retry for `owner`, leased
    /// until `lease_until`, their attempts counted; a message is claimed by one worker only.
    /// Never a `sending` one, whatever its lease.
    fn claim_messages(
        &self,
        owner: &str,
        now: Instant,
        lease_until: Instant,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<MessageRow>, StoreError>> + Send;

    /// Records how a claimed message ended (also when it was turned `uncertain` meanwhile: the
    /// answer is the truth), with its audit line. `false` when `owner` does not hold it.
    fn finish_message(
        &self,
        outcome: &MessageOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Turns every `sending` message whose lease ran out by `now`, or that `dead` (a worker known
    /// to have stopped) holds, `uncertain`, each with an audit line by `actor`; returns them.
    fn expire_messages(
        &self,
        now: Instant,
        dead: Option<&str>,
        actor: &str,
    ) -> impl Future<Output = Result<Vec<MessageRow>, StoreError>> + Send;

    /// The workers holding `sending` messages.
    fn sending_owners(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The latest `limit` messages (of one period and one unit, or all), newest first.
    fn messages(
        &self,
        period: Option<&str>,
        unit: Option<&str>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<MessageRow>, StoreError>> + Send;

    /// An operator sends a failed or uncertain message again: `pending`, attempts from zero, with
    /// `audit`. `None` when there is no such message in either state.
    fn rearm_message(
        &self,
        id: i64,
        now: Instant,
        audit: &AuditEntry,
    ) -> impl Future<Output = Result<Option<MessageRow>, StoreError>> + Send;

    /// Sets (`out`) or clears an address's opt-out, with `audit`.
    fn set_opt_out(
        &self,
        opt_out: &OptOut,
        out: bool,
        audit: &AuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every opt-out, by unit then address.
    fn opt_outs(&self) -> impl Future<Output = Result<Vec<OptOut>, StoreError>> + Send;
}

/// Expands `impl MailStore for <backend>`; `begin` opens a writing transaction, `claim_lock`
/// skips rows another worker is claiming (PostgreSQL).
macro_rules! mail_methods {
    ($store:ty, begin: $begin:literal, claim_lock: $claim_lock:literal) => {
        impl super::mail::MailStore for $store {
            #[tracing::instrument(name = "store.enqueue_messages", skip_all, fields(messages = messages.len()))]
            async fn enqueue_messages(
                &self,
                messages: &[super::mail::NewMessage],
                now: crate::domain::Instant,
            ) -> Result<usize, StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let mut new = 0;
                for m in messages {
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO mail_messages (key, kind, period, unit, recipient, subject, body_text, \
                         body_html, state, created_at, changed_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) \
                         ON CONFLICT (key) DO NOTHING RETURNING id",
                    )
                    .bind(&m.key)
                    .bind(&m.kind)
                    .bind(&m.period)
                    .bind(&m.unit)
                    .bind(&m.recipient)
                    .bind(&m.subject)
                    .bind(&m.text)
                    .bind(&m.html)
                    .bind(now.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    new += usize::from(inserted.is_some());
                }
                tx.commit().await?;
                Ok(new)
            }

            #[tracing::instrument(name = "store.claim_messages", skip_all, fields(owner, limit))]
            async fn claim_messages(
                &self,
                owner: &str,
                now: crate::domain::Instant,
                lease_until: crate::domain::Instant,
                limit: i64,
            ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                // The due rows first, locked (PostgreSQL; SQLite's write lock is taken by the
                // transaction), then each marked: one statement with the pick in a subquery let
                // PostgreSQL mark more rows than the limit.
                let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM mail_messages \
                     WHERE state = 'pending' OR (state = 'retrying' AND next_attempt_at <= $1) \
                     ORDER BY id LIMIT $2{}",
                    $claim_lock
                )))
                .bind(now.0)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                let mut rows = Vec::with_capacity(ids.len());
                for id in ids {
                    let row: super::mail::MessageRecord = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "UPDATE mail_messages SET state = 'sending', lease_owner = $1, lease_until = $2, \
                         attempts = attempts + 1, changed_at = $3 WHERE id = $4 RETURNING {}",
                        super::mail::MESSAGE_COLUMNS
                    )))
                    .bind(owner)
                    .bind(lease_until.0)
                    .bind(now.0)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    rows.push(row);
                }
                tx.commit().await?;
                let rows: Vec<super::mail::MessageRow> = rows
                    .into_iter()
                    .map(super::mail::MessageRecord::into_row)
                    .collect::<Result<_, _>>()?;
                Ok(rows)
            }

            #[tracing::instrument(name = "store.finish_message", skip_all, fields(id = outcome.id, state = %outcome.state))]
            async fn finish_message(
                &self,
                outcome: &super::mail::MessageOutcome,
            ) -> Result<bool, StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let sent_at = (outcome.state == super::mail::MessageState::Sent).then_some(outcome.at.0);
                let done = sqlx::query(
                    "UPDATE mail_messages SET state = $3, detail = $4, next_attempt_at = $5, \
                     lease_until = NULL, changed_at = $6, sent_at = COALESCE($7, sent_at) \
                     WHERE id = $1 AND lease_owner = $2 AND state IN ('sending', 'uncertain')",
                )
                .bind(outcome.id)
                .bind(&outcome.owner)
                .bind(outcome.state.as_str())
                .bind(&outcome.detail)
                .bind(outcome.next_attempt_at.map(|i| i.0))
                .bind(outcome.at.0)
                .bind(sent_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if done {
                    Self::insert_audit(&mut *tx, std::slice::from_ref(&outcome.audit)).await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            #[tracing::instrument(name = "store.expire_messages", skip_all)]
            async fn expire_messages(
                &self,
                now: crate::domain::Instant,
                dead: Option<&str>,
                actor: &str,
            ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let rows: Vec<super::mail::MessageRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE mail_messages SET state = 'uncertain', changed_at = $1, \
                     detail = 'the worker stopped between the claim and the server''s answer: it may have been sent' \
                     WHERE state = 'sending' AND (lease_until <= $1 OR lease_owner = $2) RETURNING {}",
                    super::mail::MESSAGE_COLUMNS
                )))
                .bind(now.0)
                .bind(dead)
                .fetch_all(&mut *tx)
                .await?;
                let rows: Vec<super::mail::MessageRow> = rows
                    .into_iter()
                    .map(super::mail::MessageRecord::into_row)
                    .collect::<Result<_, _>>()?;
                let audit: Vec<AuditEntry> = rows
                    .iter()
                    .map(|r| super::mail::audit_line(r, actor, "mail_uncertain", now, &r.detail))
                    .collect();
                Self::insert_audit(&mut *tx, &audit).await?;
                tx.commit().await?;
                Ok(rows)
            }

            #[tracing::instrument(name = "store.sending_owners", skip_all)]
            async fn sending_owners(&self) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT lease_owner FROM mail_messages \
                     WHERE state = 'sending' AND lease_owner IS NOT NULL ORDER BY lease_owner",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            #[tracing::instrument(name = "store.messages", skip_all, fields(period, unit))]
            async fn messages(
                &self,
                period: Option<&str>,
                unit: Option<&str>,
                limit: i64,
            ) -> Result<Vec<super::mail::MessageRow>, StoreError> {
                let rows: Vec<super::mail::MessageRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM mail_messages WHERE ($1 IS NULL OR period = $1) \
                     AND ($2 IS NULL OR unit = $2) ORDER BY id DESC LIMIT $3",
                    super::mail::MESSAGE_COLUMNS
                )))
                .bind(period)
                .bind(unit)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(super::mail::MessageRecord::into_row).collect()
            }

            #[tracing::instrument(name = "store.rearm_message", skip_all, fields(id))]
            async fn rearm_message(
                &self,
                id: i64,
                now: crate::domain::Instant,
                audit: &AuditEntry,
            ) -> Result<Option<super::mail::MessageRow>, StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                let row: Option<super::mail::MessageRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE mail_messages SET state = 'pending', attempts = 0, next_attempt_at = NULL, \
                     lease_owner = NULL, lease_until = NULL, changed_at = $2, detail = '' \
                     WHERE id = $1 AND state IN ('failed', 'uncertain') RETURNING {}",
                    super::mail::MESSAGE_COLUMNS
                )))
                .bind(id)
                .bind(now.0)
                .fetch_optional(&mut *tx)
                .await?;
                if row.is_some() {
                    Self::insert_audit(&mut *tx, std::slice::from_ref(audit)).await?;
                }
                tx.commit().await?;
                row.map(super::mail::MessageRecord::into_row).transpose()
            }

            #[tracing::instrument(name = "store.set_opt_out", skip_all, fields(unit = %opt_out.unit, out))]
            async fn set_opt_out(
                &self,
                opt_out: &super::mail::OptOut,
                out: bool,
                audit: &AuditEntry,
            ) -> Result<(), StoreError> {
                let _turn = self.turns.take().await;
                let mut tx = self.pool.begin_with($begin).await?;
                if out {
                    sqlx::query(
                        "INSERT INTO mail_opt_outs (unit, address, set_by, set_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (unit, address) DO NOTHING",
                    )
                    .bind(&opt_out.unit)
                    .bind(&opt_out.address)
                    .bind(&opt_out.set_by)
                    .bind(opt_out.set_at)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query("DELETE FROM mail_opt_outs WHERE unit = $1 AND address = $2")
                        .bind(&opt_out.unit)
                        .bind(&opt_out.address)
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_audit(&mut *tx, std::slice::from_ref(audit)).await?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.opt_outs", skip_all)]
            async fn opt_outs(&self) -> Result<Vec<super::mail::OptOut>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT unit, address, set_by, set_at FROM mail_opt_outs ORDER BY unit, address",
                )
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(super) use mail_methods;

/// The audit line of something that happened to a message.
pub fn audit_line(
    row: &MessageRow,
    actor: &str,
    action: &str,
    at: Instant,
    reason: &str,
) -> AuditEntry {
    AuditEntry {
        at: Some(at),
        actor: actor.to_owned(),
        action: action.to_owned(),
        period: Some(row.period.clone()),
        unit: row.unit.clone(),
        answer: Some(format!("{} → {}", row.kind, row.recipient)),
        reason: reason.to_owned(),
        ..AuditEntry::default()
    }
}
