//! Push: for every unit that must file (the duties) and every form and reporting system of its
//! duty, the report computed from the store goes out as a draft with the unit's own login, and the
//! decision is recorded with the remote version. Nothing is silent: a unit without a login, a
//! login that fails, or a form not pushed yet is an outcome like the others.

use crate::auth::session::Session;
use crate::auth::token::TokenEndpoint;
use crate::auth::vault::{System, Vault};
use crate::configuration::Upstreams;
use crate::domain::{Period, UnitTree};
use crate::duties::Duties;
use crate::forms::table::UnitReport;
use crate::forms::{self, FormCatalog, Inputs, Values};
use crate::retry::Attempt;
use crate::sinks::{Decision, Draft, ReportKey, ReportingClient};
use crate::store::{DecisionRecord, Store, StoreError};
use secrecy::SecretString;
use std::collections::HashMap;

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    pub period: Period,
    pub form: Option<String>,
    pub unit: Option<String>,
    pub system: Option<String>,
    /// Units whose drafts may be overwritten even if a person changed them (an operator's call).
    pub force_units: Vec<String>,
    /// How transient answers (429, 5xx, no answer) are retried before a push is left pending.
    pub retry: crate::retry::RetryPolicy,
}

/// What happened to one (unit, form, system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub unit: String,
    pub form: String,
    pub system: String,
    /// A [`Decision::name`], or `no_credential`, `login_failed`, `skipped`.
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Forms(String),
    /// An upstream system could not be used (an unusable URL, a source that refused).
    #[error("{0}")]
    Upstream(String),
    /// A check of the product's own consistency failed: a bug.
    #[error("{0}")]
    Internal(String),
}

/// Forms this pipeline can push so far.
const PUSHED: [&str; 2] = ["II.06a", "II.06"];

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(name = "sync.push", skip_all, fields(period = %req.period))]
pub async fn push<S: Store>(
    store: &S,
    units: &UnitTree,
    duties: &Duties,
    catalog: &FormCatalog,
    upstreams: &Upstreams,
    vault: &Vault,
    req: &PushRequest,
) -> Result<Vec<PushOutcome>, SyncError> {
    let regime = catalog
        .regime_for(&req.period)
        .map_err(|e| SyncError::Forms(e.to_string()))?;
    let ii06 = regime
        .form("II.06")
        .map_err(|e| SyncError::Forms(e.to_string()))?;
    let dossiers = store.dossiers(None).await?;
    let inputs = Inputs {
        dossiers: Some(&dossiers),
        ..Default::default()
    };
    let computed = forms::compute(regime, ii06, inputs, units, &req.period)
        .map_err(|e| SyncError::Forms(e.to_string()))?;
    if let Some(v) = computed.violations.first() {
        return Err(SyncError::Forms(v.to_string()));
    }
    let columns = ii06.figure_columns();
    let sealed = store.credentials().await?;
    let central_http = upstreams.central.http_client();
    let provincial_http = upstreams.provincial.http_client();
    let mut sessions: HashMap<(System, String), Session> = HashMap::new();
    let mut out = Vec::new();

    for id in units.subtree(units.root()) {
        let unit = units.get(id);
        if req.unit.as_ref().is_some_and(|u| *u != unit.code) {
            continue;
        }
        let Some(duty) = duties.duties.iter().find(|d| d.kind == unit.kind) else {
            continue;
        };
        for form in &duty.forms {
            if req
                .form
                .as_ref()
                .is_some_and(|f| !f.eq_ignore_ascii_case(form))
            {
                continue;
            }
            let draft = match form.as_str() {
                "II.06a" => Some(Draft::per_unit(
                    computed
                        .per_unit
                        .iter()
                        .find(|r| r.unit == unit.code)
                        .unwrap_or(&UnitReport {
                            unit: unit.code.clone(),
                            rows: Vec::new(),
                            total: Values::zeros(&columns),
                        }),
                )),
                "II.06" => computed
                    .aggregates
                    .iter()
                    .find(|r| r.unit == unit.code)
                    .map(Draft::aggregate),
                _ => None,
            };
            for system_id in &duty.systems {
                if req.system.as_ref().is_some_and(|s| s != system_id) {
                    continue;
                }
                let outcome = |outcome: &str, detail: String| PushOutcome {
                    unit: unit.code.clone(),
                    form: form.clone(),
                    system: system_id.clone(),
                    outcome: outcome.to_owned(),
                    detail,
                };
                let Some(draft) = &draft else {
                    let why = if PUSHED.contains(&form.as_str()) {
                        "not an aggregating unit"
                    } else {
                        "not pushed yet"
                    };
                    out.push(outcome("skipped", why.to_owned()));
                    continue;
                };
                let (system, endpoint, http): (System, &TokenEndpoint, &reqwest::Client) =
                    match system_id.as_str() {
                        "central" => (System::Central, &upstreams.central, &central_http),
                        "provincial" => {
                            (System::Provincial, &upstreams.provincial, &provincial_http)
                        }
                        other => {
                            out.push(outcome(
                                "skipped",
                                format!("no reporting system `{other}` configured"),
                            ));
                            continue;
                        }
                    };
                let Some(base_url) = &endpoint.base_url else {
                    out.push(outcome(
                        "skipped",
                        format!("no base_url for {system} in the upstreams file"),
                    ));
                    continue;
                };
                let Some(credential) = sealed
                    .iter()
                    .find(|s| s.system == system && s.unit == unit.code)
                else {
                    out.push(outcome("no_credential", "baocao-sync creds set".to_owned()));
                    continue;
                };
                let session_key = (system, unit.code.clone());
                if !sessions.contains_key(&session_key) {
                    match vault.open(credential) {
                        Ok(c) => {
                            sessions.insert(
                                session_key.clone(),
                                Session::new(http.clone(), endpoint.clone(), c),
                            );
                        }
                        Err(e) => {
                            out.push(outcome("no_credential", e.to_string()));
                            continue;
                        }
                    }
                }
                let session = &sessions[&session_key];
                let client = ReportingClient::new(http.clone(), base_url, system)
                    .map_err(SyncError::Upstream)?;
                let key = ReportKey {
                    form: form.clone(),
                    period: req.period.id(),
                    unit: unit.code.clone(),
                };
                let ours = store
                    .last_written_version(system.as_str(), form, &key.period, &unit.code)
                    .await?;
                let force = req.force_units.contains(&unit.code);
                let token = match session.token().await {
                    Ok(t) => t,
                    Err(e) => {
                        out.push(outcome("login_failed", e.to_string()));
                        continue;
                    }
                };
                let mut decision =
                    push_with_retry(&client, &token, &key, draft, ours, force, &req.retry).await;
                if decision == Decision::Unauthorized {
                    // The token expired or was revoked: log in again and try once more.
                    match session.renew(&token).await {
                        Ok(renewed) => {
                            decision = push_with_retry(
                                &client, &renewed, &key, draft, ours, force, &req.retry,
                            )
                            .await;
                        }
                        Err(e) => {
                            out.push(outcome("login_failed", e.to_string()));
                            continue;
                        }
                    }
                }
                let (remote_version, detail) = match &decision {
                    Decision::Created { version }
                    | Decision::Updated { version }
                    | Decision::Unchanged { version }
                    | Decision::Recreated { version } => (Some(*version), String::new()),
                    Decision::EditedByPerson { remote_version } => (
                        *remote_version,
                        "a person changed the draft: left as it is".to_owned(),
                    ),
                    Decision::Locked { status } => (None, format!("{status}: not touched")),
                    Decision::Forbidden { message } | Decision::Invalid { message } => {
                        (None, message.clone())
                    }
                    Decision::Unauthorized => (None, "the token was refused twice".to_owned()),
                    Decision::Transient { reason, .. } => (None, format!("left pending: {reason}")),
                };
                store
                    .record_decision(&DecisionRecord {
                        system: system.as_str().to_owned(),
                        form: form.clone(),
                        period: key.period.clone(),
                        unit: unit.code.clone(),
                        decision: decision.name().to_owned(),
                        remote_version,
                        content_hash: draft.content_hash(),
                        detail: detail.clone(),
                    })
                    .await?;
                out.push(outcome(decision.name(), detail));
            }
        }
    }
    Ok(out)
}

/// One push, transient answers retried under the policy.
async fn push_with_retry(
    client: &ReportingClient,
    token: &SecretString,
    key: &ReportKey,
    draft: &Draft,
    ours: Option<u64>,
    force: bool,
    retry: &crate::retry::RetryPolicy,
) -> Decision {
    retry
        .run(|_| async {
            match client.push(token, key, draft, ours, force).await {
                Decision::Transient {
                    retry_after,
                    reason,
                } => Attempt::Retry {
                    result: Decision::Transient {
                        retry_after,
                        reason,
                    },
                    after: retry_after,
                },
                final_answer => Attempt::Done(final_answer),
            }
        })
        .await
}
