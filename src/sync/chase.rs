//! What the chase letter reads: each report the period's duties ask for, with its state in its
//! reporting system read now (approved, signed and sent kept apart, which the outbox folds into
//! `locked`), and the reports the pipeline found nothing to put in.

use super::{Engine, Scope, SyncError};
use crate::domain::{Instant, Period};
use crate::store::{OutboxState, ReportId};
use futures_util::StreamExt;
use std::collections::HashMap;

/// A report's state in its reporting system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    /// The unit had nothing to report (no records): not chased.
    NothingToReport,
    /// The system holds no report.
    Missing,
    Draft,
    Approved,
    Signed,
    Sent,
    /// The unit has no login for the system: its state cannot be read.
    NoLogin,
    /// The unit's login was refused.
    LoginRefused,
    /// It could not be read for another reason (the system down): said so, never counted as
    /// sent.
    Unreadable,
}

#[derive(Debug, Clone)]
pub struct ReportState {
    pub report: ReportId,
    pub state: RemoteState,
}

#[derive(Debug, Clone)]
pub struct ChaseFacts {
    /// When the states were read.
    pub read_at: Instant,
    pub reports: Vec<ReportState>,
}

/// Reports read at once.
const READS_IN_FLIGHT: usize = 8;

impl Engine {
    /// The guidance letter of `period`, from the duties and `texts`.
    pub fn guidance_letter(
        &self,
        period: &Period,
        texts: &crate::render::texts::LetterTexts,
    ) -> Result<crate::letters::Letter, SyncError> {
        let setup = self.setup();
        let regime = setup.regime(period)?;
        Ok(crate::letters::guidance(
            &self.parts.duties,
            regime,
            period,
            texts,
        ))
    }

    /// The chase letter of `period` (in `system` only, when given), its facts read now.
    pub async fn chase_letter(
        &self,
        period: &Period,
        system: Option<String>,
        texts: &crate::render::texts::LetterTexts,
    ) -> Result<crate::letters::Letter, SyncError> {
        let facts = self.chase_facts(period, system).await?;
        let setup = self.setup();
        let regime = setup.regime(period)?;
        Ok(crate::letters::chase(
            &self.parts.duties,
            &self.parts.units,
            regime,
            period,
            &facts,
            texts,
        ))
    }

    /// Reads the state of every report of `period` (in `system` only, when given) in its
    /// reporting system, now.
    #[tracing::instrument(name = "chase.read", skip_all, fields(period = %period.id()))]
    pub async fn chase_facts(
        &self,
        period: &Period,
        system: Option<String>,
    ) -> Result<ChaseFacts, SyncError> {
        let scope = Scope {
            period: period.clone(),
            unit: None,
            form: None,
            system,
        };
        let (form, reports) = self.reports(&scope)?;
        let filter = scope.filter(form.as_deref());
        let nothing: HashMap<ReportId, bool> = self
            .rows_of(&filter, &reports)
            .await?
            .into_iter()
            .map(|r| (r.report, r.state == OutboxState::NothingToReport))
            .collect();
        let read_at = self.clock.now();
        let nothing = &nothing;
        let reports = futures_util::stream::iter(reports)
            .map(|report| async move {
                let state = if nothing.get(&report) == Some(&true) {
                    RemoteState::NothingToReport
                } else {
                    match self.delivery.remote_state(&report).await {
                        Ok(None) => RemoteState::Missing,
                        Ok(Some(s)) => match s.as_str() {
                            "draft" => RemoteState::Draft,
                            "approved" => RemoteState::Approved,
                            "signed" => RemoteState::Signed,
                            "sent" => RemoteState::Sent,
                            other => {
                                tracing::warn!(report = %report, state = other, "an unknown report state");
                                RemoteState::Unreadable
                            }
                        },
                        Err((kind, why)) => {
                            tracing::warn!(report = %report, kind, %why, "a report's state could not be read");
                            match kind {
                                "no_credential" => RemoteState::NoLogin,
                                "login_failed" => RemoteState::LoginRefused,
                                _ => RemoteState::Unreadable,
                            }
                        }
                    }
                };
                ReportState { report, state }
            })
            .buffered(READS_IN_FLIGHT)
            .collect()
            .await;
        Ok(ChaseFacts { read_at, reports })
    }
}
