//! E-mail through the outbox of messages (issue 19): what is enqueued when, and the worker that
//! sends. Enqueueing is idempotent (each message has a key: the same trigger run twice, or by two
//! replicas, enqueues it once); sending is at most once (`store::mail`): a message is claimed
//! before the SMTP conversation and marked after, a 4xx answer is tried again later, a 5xx answer
//! is given up with its reason, and a message whose worker died in between is `uncertain`, never
//! resent by itself.
//!
//! - "drafts ready": after a period's pre-fill, to each unit's contacts;
//! - reminders: `remind_days_before` days before each deadline and the day after it, to the
//!   contacts of units whose reports of that deadline are not sent (read from the reporting
//!   systems); the operator's digest on those days.

use super::{Engine, SyncError};
use crate::domain::{Instant, Period, Unit};
use crate::messages::{self, DigestUnit, FormFigures, ReportLine};
use crate::sinks::mail::Sent;
use crate::store::{
    AuditEntry, MailStore, MessageOutcome, MessageRow, MessageState, NewMessage, OutboxFilter,
    OutboxState, Store,
};
use chrono::{Duration, NaiveDate};
use std::collections::{BTreeMap, HashSet};

/// What one pass of the mail worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailPass {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    pub uncertain: usize,
}

/// A message of `period` to enqueue, `m` its content.
fn message(
    key: String,
    kind: &str,
    period: &Period,
    unit: Option<String>,
    to: impl Into<String>,
    m: &messages::Message,
) -> NewMessage {
    NewMessage {
        key,
        kind: kind.to_owned(),
        period: period.id(),
        unit,
        recipient: to.into(),
        subject: m.subject.clone(),
        text: m.text.clone(),
        html: m.html.clone(),
    }
}

/// A report's state in the outbox, as "drafts ready" says it.
fn ready_words(state: OutboxState) -> &'static str {
    use OutboxState::*;
    match state {
        Created | Updated | Unchanged | Recreated => "đã có bản nháp",
        NothingToReport => "không có số liệu phải báo cáo trong kỳ (không tạo bản nháp)",
        Locked => "đơn vị đã duyệt, ký hoặc gửi: không ghi đè",
        EditedByPerson => "cán bộ đã sửa bản nháp: giữ nguyên bản của cán bộ",
        Pending | Sending | Retrying => "đang điền bản nháp",
        NoCredential => "chưa có tài khoản của đơn vị trên hệ thống này: chưa điền được",
        LoginFailed => "tài khoản của đơn vị không đăng nhập được: chưa điền được",
        WaitingForSource | Withheld | Held | Forbidden | Invalid | GivenUp => {
            "chưa điền được; Văn phòng đang xử lý"
        }
    }
}

impl Engine {
    fn system_name(&self, key: &str) -> String {
        self.parts
            .duties
            .systems
            .get(key)
            .map_or_else(|| key.to_owned(), |s| s.name.clone())
    }

    /// The addresses of `unit` that get mail: its contacts, less those opted out.
    fn recipients<'u>(&self, unit: &'u Unit, out: &HashSet<(String, String)>) -> Vec<&'u str> {
        unit.contacts
            .iter()
            .filter(|a| !out.contains(&(unit.code.clone(), (*a).clone())))
            .map(String::as_str)
            .collect()
    }

    async fn opted_out(&self) -> Result<HashSet<(String, String)>, SyncError> {
        Ok(self
            .store
            .opt_outs()
            .await?
            .into_iter()
            .map(|o| (o.unit, o.address))
            .collect())
    }

    fn page(&self, period: &Period, unit: &str) -> String {
        messages::unit_page(&self.settings.mail.page_url, period, unit)
    }

    /// Enqueues "drafts ready" for every unit of `period` with contacts: where each report stands
    /// in the outbox now, the totals of its tables, `findings` of each unit. Returns how many
    /// messages are new.
    #[tracing::instrument(name = "mail.enqueue_ready", skip_all, fields(period = %period.id()))]
    pub async fn enqueue_ready(
        &self,
        period: &Period,
        findings: &BTreeMap<String, usize>,
    ) -> Result<usize, SyncError> {
        if self.mailer.is_none() {
            return Ok(0);
        }
        let setup = self.setup();
        let regime = setup.regime(period)?;
        let rows = self
            .store
            .outbox(&OutboxFilter {
                period: Some(period.id()),
                ..OutboxFilter::default()
            })
            .await?;
        let out = self.opted_out().await?;
        let units = &self.parts.units;
        let mut batch = Vec::new();
        for id in units.print_order() {
            let unit = units.get(id);
            let to = self.recipients(unit, &out);
            if to.is_empty() {
                continue;
            }
            let mine: Vec<_> = rows.iter().filter(|r| r.report.unit == unit.code).collect();
            let reports: Vec<ReportLine> = mine
                .iter()
                .map(|r| ReportLine {
                    form: crate::letters::form_number(regime, &r.report.form),
                    system: self.system_name(&r.report.system),
                    state: ready_words(r.state).to_owned(),
                })
                .collect();
            // Each table's total row once (every system gets the same content).
            let mut figures: Vec<FormFigures> = Vec::new();
            for r in &mine {
                let Some(draft) = &r.draft else { continue };
                let form = crate::letters::form_number(regime, &r.report.form);
                if figures.iter().any(|f| f.form == form) {
                    continue;
                }
                let Some(total) = draft.rows.iter().find(|row| row.key == "_total") else {
                    continue;
                };
                let def = regime.form(&r.report.form).ok();
                let mut columns: Vec<(&String, &u64)> = total.values.iter().collect();
                columns.sort_by_key(|(c, _)| (c.parse::<u32>().unwrap_or(u32::MAX), (*c).clone()));
                figures.push(FormFigures {
                    form,
                    figures: columns
                        .into_iter()
                        .map(|(c, v)| {
                            let name = c
                                .parse()
                                .ok()
                                .and_then(|n| def.map(|d| d.full_header(n)))
                                .filter(|n| !n.is_empty())
                                .map_or_else(|| format!("({c})"), |n| format!("({c}) {n}"));
                            (name, *v)
                        })
                        .collect(),
                });
            }
            let m = messages::ready(
                unit,
                period,
                &reports,
                &figures,
                findings.get(&unit.code).copied().unwrap_or(0),
                &self.page(period, &unit.code),
            );
            for address in to {
                batch.push(message(
                    format!("ready/{}/{}/{address}", period.id(), unit.code),
                    "ready",
                    period,
                    Some(unit.code.clone()),
                    address,
                    &m,
                ));
            }
        }
        Ok(self
            .store
            .enqueue_messages(&batch, self.clock.now())
            .await?)
    }

    /// The deadlines of `period` (one per duty) that a reminder is due for on `today`:
    /// `remind_days_before` days before, or the day after.
    pub fn reminder_deadlines(&self, period: &Period, today: NaiveDate) -> Vec<NaiveDate> {
        let before = Duration::days(self.settings.mail.remind_days_before);
        let mut out: Vec<NaiveDate> = self
            .parts
            .duties
            .duties
            .iter()
            .map(|d| d.deadline(period))
            .filter(|&deadline| deadline - before == today || deadline + Duration::days(1) == today)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Enqueues the reminders due on `today` for `period` and, when any deadline is due, the
    /// operator's digest; the reports' states are read from the reporting systems now. Returns
    /// how many messages are new.
    #[tracing::instrument(name = "mail.enqueue_reminders", skip_all, fields(period = %period.id(), %today))]
    pub async fn enqueue_reminders(
        &self,
        period: &Period,
        today: NaiveDate,
    ) -> Result<usize, SyncError> {
        let deadlines = self.reminder_deadlines(period, today);
        if self.mailer.is_none() || deadlines.is_empty() {
            return Ok(0);
        }
        let setup = self.setup();
        let regime = setup.regime(period)?;
        let facts = self.chase_facts(period, None).await?;
        let out = self.opted_out().await?;
        let units = &self.parts.units;
        let mut batch = Vec::new();
        let mut digest = Vec::new();
        for id in units.print_order() {
            let unit = units.get(id);
            let Some(duty) = self.parts.duties.of_kind(&unit.kind) else {
                continue;
            };
            let deadline = duty.deadline(period);
            let unsent: Vec<ReportLine> = facts
                .reports
                .iter()
                .filter(|r| r.report.unit == unit.code)
                .filter_map(|r| {
                    // As the chase letter: a report whose state could not be read is listed,
                    // saying so, never taken for sent.
                    let words = crate::letters::unsent_words(r.state, duty.signed)?;
                    Some(ReportLine {
                        form: crate::letters::form_number(regime, &r.report.form),
                        system: self.system_name(&r.report.system),
                        state: words.to_owned(),
                    })
                })
                .collect();
            if unsent.is_empty() {
                continue;
            }
            let mut reminded = 0;
            if deadlines.contains(&deadline) {
                let m = messages::reminder(
                    unit,
                    period,
                    deadline,
                    today,
                    &unsent,
                    &self.page(period, &unit.code),
                );
                let kind = if today > deadline {
                    "overdue"
                } else {
                    "reminder"
                };
                for address in self.recipients(unit, &out) {
                    reminded += 1;
                    batch.push(message(
                        format!("{kind}/{}/{deadline}/{}/{address}", period.id(), unit.code),
                        kind,
                        period,
                        Some(unit.code.clone()),
                        address,
                        &m,
                    ));
                }
            }
            digest.push(DigestUnit {
                name: unit.name.clone(),
                unsent,
                reminded,
            });
        }
        let troubles: Vec<String> = self
            .store
            .messages(Some(&period.id()), None, 1000)
            .await?
            .into_iter()
            .filter(|m| matches!(m.state, MessageState::Failed | MessageState::Uncertain))
            .map(|m| format!("{} tới {} ({})", m.kind, m.recipient, state_words(m.state)))
            .collect();
        let m = messages::digest(
            period,
            today,
            &digest,
            &troubles,
            &format!(
                "{}/periods/{}",
                self.settings.mail.page_url.trim_end_matches('/'),
                period.id()
            ),
        );
        for address in &self.settings.mail.operator {
            batch.push(message(
                format!("digest/{}/{today}/{address}", period.id()),
                "digest",
                period,
                None,
                address.as_str(),
                &m,
            ));
        }
        Ok(self
            .store
            .enqueue_messages(&batch, self.clock.now())
            .await?)
    }

    /// One pass of the mail worker: messages whose worker died are made `uncertain`; then every
    /// message due is sent, a batch per connection.
    #[tracing::instrument(name = "mail.deliver", skip_all)]
    pub async fn deliver_mail(&self, actor: &str) -> Result<MailPass, SyncError> {
        let _one_pass_at_a_time = self.mailing.lock().await;
        self.mail_pass(actor).await
    }

    /// A pass, unless one of this process is under way (the daemon's tick, every minute).
    pub async fn deliver_mail_if_idle(&self, actor: &str) -> Result<MailPass, SyncError> {
        match self.mailing.try_lock() {
            Ok(_one_pass_at_a_time) => self.mail_pass(actor).await,
            Err(_) => Ok(MailPass::default()),
        }
    }

    async fn mail_pass(&self, actor: &str) -> Result<MailPass, SyncError> {
        let mut pass = MailPass::default();
        let Some(mailer) = &self.mailer else {
            return Ok(pass);
        };
        let settings = &self.settings.mail;
        let now = self.clock.now();
        self.recover_dead_holders().await?;
        for row in self.store.expire_messages(now, None, actor).await? {
            tracing::warn!(id = row.id, to = %row.recipient, kind = %row.kind, "a message's worker stopped before its answer was recorded: uncertain, not resent");
            pass.uncertain += 1;
        }
        // One message claimed at a time (a worker killed mid-conversation leaves one uncertain
        // message, not a batch), over one connection kept while it lasts.
        let mut connection = None;
        let out = self.opted_out().await?;
        loop {
            let now = self.clock.now();
            let Some(row) = self
                .store
                .claim_messages(&self.owner, now, Instant(now.0 + settings.lease_seconds), 1)
                .await?
                .pop()
            else {
                break;
            };
            if let Some(unit) = &row.unit
                && out.contains(&(unit.clone(), row.recipient.clone()))
            {
                let outcome = self.outcome(
                    &row,
                    Sent::Permanent("the address opted out before the message went".to_owned()),
                    actor,
                );
                pass.count(outcome.state);
                self.store.finish_message(&outcome).await?;
                continue;
            }
            if connection.is_none() {
                match mailer.connect().await {
                    Ok(c) => connection = Some(c),
                    Err(why) => {
                        // Nothing was handed over: the message waits for another pass.
                        tracing::warn!(%why, "the SMTP server cannot be used now");
                        let outcome = self.outcome(&row, Sent::Transient(why), actor);
                        pass.count(outcome.state);
                        self.store.finish_message(&outcome).await?;
                        break;
                    }
                }
            }
            let c = connection.as_mut().expect("connected above");
            let sent = c
                .send(&row.key, &row.recipient, &row.subject, &row.text, &row.html)
                .await;
            if matches!(sent, Sent::Accepted(_)) {
                crate::drill::point(crate::drill::Stage::Mail);
            }
            let outcome = self.outcome(&row, sent, actor);
            tracing::info!(id = row.id, to = %row.recipient, kind = %row.kind, period = %row.period, unit = ?row.unit, state = %outcome.state, detail = %outcome.detail, "message");
            pass.count(outcome.state);
            self.store.finish_message(&outcome).await?;
            if c.broken() {
                connection = None;
            }
        }
        if let Some(c) = connection {
            c.quit().await;
        }
        Ok(pass)
    }

    /// What an answer makes of a claimed message.
    fn outcome(&self, row: &MessageRow, sent: Sent, actor: &str) -> MessageOutcome {
        let settings = &self.settings.mail;
        let now = self.clock.now();
        let (state, detail, next) = match sent {
            Sent::Accepted(answer) => (MessageState::Sent, answer, None),
            Sent::Permanent(why) => (MessageState::Failed, why, None),
            Sent::Unknown(why) => (
                MessageState::Uncertain,
                format!(
                    "the connection broke while the message was under way; it may have been sent: {why}"
                ),
                None,
            ),
            Sent::Transient(why) if row.attempts >= settings.max_attempts => (
                MessageState::Failed,
                format!("given up after {} attempts: {why}", row.attempts),
                None,
            ),
            Sent::Transient(why) => {
                let wait = settings
                    .retry_base_seconds
                    .saturating_mul(1 << (row.attempts - 1).clamp(0, 20))
                    .min(3600);
                (MessageState::Retrying, why, Some(Instant(now.0 + wait)))
            }
        };
        let action = match state {
            MessageState::Sent => "mail_sent",
            MessageState::Failed => "mail_failed",
            MessageState::Uncertain => "mail_uncertain",
            _ => "mail_retrying",
        };
        MessageOutcome {
            id: row.id,
            owner: self.owner.clone(),
            state,
            audit: crate::store::mail::audit_line(row, actor, action, now, &detail),
            detail,
            next_attempt_at: next,
            at: now,
        }
    }

    /// An operator sends a failed or uncertain message again.
    pub async fn resend_message(
        &self,
        id: i64,
        actor: &str,
        reason: &str,
    ) -> Result<Option<MessageRow>, SyncError> {
        let now = self.clock.now();
        let audit = AuditEntry {
            at: Some(now),
            actor: actor.to_owned(),
            action: "mail_resend".to_owned(),
            answer: Some(format!("message {id}")),
            reason: reason.to_owned(),
            ..AuditEntry::default()
        };
        Ok(self.store.rearm_message(id, now, &audit).await?)
    }

    /// An address of a unit stops (`out`) or starts again getting mail.
    pub async fn set_opt_out(
        &self,
        unit: &str,
        address: &str,
        out: bool,
        actor: &str,
    ) -> Result<(), SyncError> {
        let unit = self
            .parts
            .units
            .find(unit)
            .map(|id| self.parts.units.get(id))
            .ok_or_else(|| SyncError::Config(format!("no unit `{unit}` in the unit tree")))?;
        if !unit.contacts.iter().any(|a| a == address) {
            return Err(SyncError::Config(format!(
                "`{address}` is not a contact of {} ({}); its contacts: {}",
                unit.code,
                unit.name,
                unit.contacts.join(", ")
            )));
        }
        let now = self.clock.now();
        let audit = AuditEntry {
            at: Some(now),
            actor: actor.to_owned(),
            action: if out { "mail_opt_out" } else { "mail_opt_in" }.to_owned(),
            unit: Some(unit.code.clone()),
            answer: Some(address.to_owned()),
            ..AuditEntry::default()
        };
        let opt_out = crate::store::OptOut {
            unit: unit.code.clone(),
            address: address.to_owned(),
            set_by: actor.to_owned(),
            set_at: now.0,
        };
        Ok(self.store.set_opt_out(&opt_out, out, &audit).await?)
    }
}

impl MailPass {
    fn count(&mut self, state: MessageState) {
        match state {
            MessageState::Sent => self.sent += 1,
            MessageState::Failed => self.failed += 1,
            MessageState::Uncertain => self.uncertain += 1,
            _ => self.retrying += 1,
        }
    }
}

/// A message's state, in Vietnamese.
pub fn state_words(state: MessageState) -> &'static str {
    match state {
        MessageState::Pending => "chờ gửi",
        MessageState::Sending => "đang gửi",
        MessageState::Retrying => "máy chủ thư tạm thời chưa nhận; sẽ gửi lại",
        MessageState::Sent => "đã gửi",
        MessageState::Failed => "không gửi được",
        MessageState::Uncertain => "chưa rõ đã gửi hay chưa (không tự gửi lại)",
    }
}
