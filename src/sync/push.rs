//! Push: for every unit that must file (the duties) and every form and reporting system of its
//! duty, the report computed from the store goes out as a draft with the unit's own login, and the
//! decision is recorded with the remote version. Nothing is silent: a unit without a login, a
//! login that fails, a form with nothing to report or a report withheld is an outcome like the
//! others.

use super::records::Loaded;
use crate::auth::session::Session;
use crate::auth::token::TokenEndpoint;
use crate::auth::token::TokenError;
use crate::auth::vault::{System, Vault};
use crate::configuration::Upstreams;
use crate::domain::{Period, UnitTree};
use crate::duties::Duties;
use crate::forms::narrative::Narrative;
use crate::forms::table::UnitReport;
use crate::forms::{self, FormCatalog, Inputs, Regime, Values};
use crate::sinks::{Decision, Draft, ReportKey, ReportingClient};
use crate::store::{DecisionRecord, Store, StoreError};
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
}

/// What happened to one (unit, form, system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub unit: String,
    pub form: String,
    pub system: String,
    /// A [`Decision::name`], or `no_credential`, `login_failed`, `skipped`, `withheld`.
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

/// Every draft the duties may ask for, computed once per push from the store's records.
struct Drafts {
    /// II.06a per unit and II.06 per aggregating unit (computed with the narratives), and the
    /// identity violations of every form the narratives read.
    dossiers: forms::Computed,
    ii06a_columns: Vec<u32>,
    /// II.05a per unit and II.05 per aggregating unit.
    feedback: forms::Computed,
    ii05a_columns: Vec<u32>,
    /// II.01-ĐC per unit with something to report.
    narratives: Vec<Narrative>,
}

impl Drafts {
    fn compute(
        regime: &Regime,
        loaded: Loaded,
        units: &UnitTree,
        period: &Period,
    ) -> Result<Drafts, SyncError> {
        let form = |code: &str| {
            regime
                .form(code)
                .map_err(|e| SyncError::Forms(e.to_string()))
        };
        let failed = |e: forms::FormError| SyncError::Forms(e.to_string());
        // The narratives compute II.06 (and so every II.06a) on the way: those are the tables.
        let (narratives, dossiers) = forms::narratives(
            regime,
            form("II.01-ĐC")?,
            Inputs {
                dossiers: loaded.dossiers.as_deref(),
                ratings: loaded.ratings.as_deref(),
                feedback: loaded.feedback.as_deref(),
                ..Default::default()
            },
            units,
            period,
        )
        .map_err(failed)?;
        let feedback = forms::compute(
            regime,
            form("II.05")?,
            Inputs {
                feedback: loaded.feedback.as_deref(),
                ..Default::default()
            },
            units,
            period,
        )
        .map_err(failed)?;
        Ok(Drafts {
            dossiers,
            ii06a_columns: form("II.06a")?.figure_columns(),
            feedback,
            ii05a_columns: form("II.05a")?.figure_columns(),
            narratives,
        })
    }

    /// The draft of `form` for `unit`, or why there is none.
    fn draft(&self, form: &str, unit: &str) -> Result<Draft, Skip> {
        let per_unit = |computed: &forms::Computed, columns: &[u32]| {
            Draft::per_unit(computed.per_unit.iter().find(|r| r.unit == unit).unwrap_or(
                &UnitReport {
                    unit: unit.to_owned(),
                    rows: Vec::new(),
                    total: Values::zeros(columns),
                },
            ))
        };
        let aggregate = |computed: &forms::Computed| {
            computed
                .aggregates
                .iter()
                .find(|r| r.unit == unit)
                .map(Draft::aggregate)
                .ok_or(Skip::Skipped("not an aggregating unit".to_owned()))
        };
        let computed = match form {
            "II.05a" | "II.05" => &self.feedback,
            _ => &self.dossiers,
        };
        // A report that broke an identity is withheld: never a zero or partial draft instead. A
        // table answers for its own form's violations; the narrative for those of any form it reads.
        let broken = computed
            .violations
            .iter()
            .find(|v| v.unit == unit && (form == "II.01-ĐC" || family(&v.form) == family(form)));
        if let Some(v) = broken {
            return Err(Skip::Withheld(v.to_string()));
        }
        match form {
            "II.06a" => Ok(per_unit(computed, &self.ii06a_columns)),
            "II.05a" => Ok(per_unit(computed, &self.ii05a_columns)),
            "II.06" | "II.05" => aggregate(computed),
            "II.01-ĐC" => {
                let narrative =
                    self.narratives
                        .iter()
                        .find(|n| n.unit == unit)
                        .ok_or(Skip::Skipped(
                            "nothing to report for this period".to_owned(),
                        ))?;
                let mut text = Vec::new();
                crate::render::narrative::markdown(std::slice::from_ref(narrative), &mut text)
                    .map_err(|e| Skip::Withheld(e.to_string()))?;
                Ok(Draft::narrative(
                    String::from_utf8_lossy(&text).into_owned(),
                ))
            }
            other => Err(Skip::Skipped(format!(
                "{other} has no draft in the reporting systems' contract"
            ))),
        }
    }
}

/// The forms computed together: a per-unit table and its aggregate.
fn family(form: &str) -> &str {
    match form {
        "II.06a" | "II.06" => "II.06",
        "II.05a" | "II.05" => "II.05",
        other => other,
    }
}

/// Why a report is not pushed.
enum Skip {
    Skipped(String),
    /// An identity failed: a bug, reported rather than hidden.
    Withheld(String),
}

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
    // The form asked for, by its code or an alias (II.01-DC for II.01-ĐC).
    let only_form = match &req.form {
        Some(f) => Some(
            regime
                .form(f)
                .map_err(|e| SyncError::Forms(e.to_string()))?
                .code
                .clone(),
        ),
        None => None,
    };
    let loaded = Loaded::from_store(store, None).await?;
    let drafts = Drafts::compute(regime, loaded, units, &req.period)?;
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
            if only_form.as_ref().is_some_and(|f| f != form) {
                continue;
            }
            let draft = drafts.draft(form, &unit.code);
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
                let draft = match &draft {
                    Ok(d) => d,
                    Err(Skip::Skipped(why)) => {
                        out.push(outcome("skipped", why.clone()));
                        continue;
                    }
                    Err(Skip::Withheld(why)) => {
                        out.push(outcome("withheld", why.clone()));
                        continue;
                    }
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
                let push = Push {
                    client: &client,
                    session,
                    key: &key,
                    draft,
                    ours,
                    force,
                };
                let decision = match push.run(&endpoint.retry_policy()).await {
                    Ok(d) => d,
                    Err(e) => {
                        out.push(outcome("login_failed", e.to_string()));
                        continue;
                    }
                };
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

/// One report to one system.
struct Push<'a> {
    client: &'a ReportingClient,
    session: &'a Session,
    key: &'a ReportKey,
    draft: &'a Draft,
    /// The version of our own last write.
    ours: Option<u64>,
    force: bool,
}

impl Push<'_> {
    /// Transient answers (and a token endpoint that does not answer) retried under the policy;
    /// within each attempt a refused token (401) is renewed and the push tried once more. `Err`:
    /// the unit's login itself fails.
    async fn run(&self, retry: &crate::retry::RetryPolicy) -> Result<Decision, TokenError> {
        let Push {
            client,
            session,
            key,
            draft,
            ours,
            force,
        } = self;
        retry
            .run_while(
                || {
                    session.with_token(
                        |token| async move { client.push(&token, key, draft, *ours, *force).await },
                        |decision| *decision == Decision::Unauthorized,
                    )
                },
                |result| match result {
                    Ok(Decision::Transient { retry_after, .. }) => Some(*retry_after),
                    // The token endpoint did not answer: retried like the API.
                    Err(TokenError::Unreachable(_)) => Some(None),
                    _ => None,
                },
            )
            .await
    }
}
