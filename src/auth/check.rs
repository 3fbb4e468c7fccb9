//! `creds check`: every login a unit needs (and the province's login to the source), tried, and
//! the operator's chase list of those missing, failing or old.

use super::token::{TokenEndpoint, login};
use super::vault::{SOURCE_UNIT, SealedCredential, System, Vault};
use crate::configuration::Upstreams;
use crate::domain::UnitTree;
use crate::duties::Duties;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub unit: String,
    pub name: String,
    pub system: String,
    /// None when the login works and is not old.
    pub problem: Option<String>,
}

/// Checks every (unit, system) the duties require, in tree order.
pub async fn chase_list(
    units: &UnitTree,
    duties: &Duties,
    upstreams: &Upstreams,
    vault: &Vault,
    sealed: &[SealedCredential],
    now: DateTime<Utc>,
) -> Vec<CheckRow> {
    let mut rows = Vec::new();
    for id in units.subtree(units.root()) {
        let unit = units.get(id);
        let Some(duty) = duties.of_kind(&unit.kind) else {
            continue;
        };
        for system_id in &duty.systems {
            let (system, endpoint): (System, &TokenEndpoint) = match system_id.as_str() {
                "central" => (System::Central, &upstreams.central),
                "provincial" => (System::Provincial, &upstreams.provincial),
                other => {
                    rows.push(row(
                        unit,
                        other,
                        Some(format!("no token endpoint configured for `{other}`")),
                    ));
                    continue;
                }
            };
            let problem = match sealed
                .iter()
                .find(|s| s.system == system && s.unit == unit.code)
            {
                None => Some("no credential: `baocao-sync creds set`".to_owned()),
                Some(s) => {
                    login_problem(vault, s, endpoint, now, upstreams.password_max_age_days).await
                }
            };
            rows.push(row(unit, system.as_str(), problem));
        }
    }
    // The province-wide login to the procedure-handling system, when one is configured.
    if let Some(endpoint) = &upstreams.source {
        let problem = match sealed
            .iter()
            .find(|s| s.system == System::Source && s.unit == SOURCE_UNIT)
        {
            None => Some(format!(
                "no credential: `baocao-sync creds set --system source --unit '{SOURCE_UNIT}'`"
            )),
            Some(s) => {
                login_problem(vault, s, endpoint, now, upstreams.password_max_age_days).await
            }
        };
        rows.push(CheckRow {
            unit: SOURCE_UNIT.to_owned(),
            name: "Hệ thống giải quyết TTHC (nguồn số liệu)".to_owned(),
            system: System::Source.as_str().to_owned(),
            problem,
        });
    }
    rows
}

/// Why a stored login is on the chase list, if it is: it cannot be opened, it fails, or it is old.
async fn login_problem(
    vault: &Vault,
    sealed: &SealedCredential,
    endpoint: &TokenEndpoint,
    now: DateTime<Utc>,
    max_age_days: i64,
) -> Option<String> {
    match vault.open(sealed) {
        Err(e) => Some(e.to_string()),
        Ok(credential) => match login(&endpoint.http_client(), endpoint, &credential).await {
            Err(e) => Some(format!("login fails: {e}")),
            Ok(_) => old_password(&sealed.set_at, now, max_age_days),
        },
    }
}

fn row(unit: &crate::domain::Unit, system: &str, problem: Option<String>) -> CheckRow {
    CheckRow {
        unit: unit.code.clone(),
        name: unit.name.clone(),
        system: system.to_owned(),
        problem,
    }
}

fn old_password(set_at: &str, now: DateTime<Utc>, max_days: i64) -> Option<String> {
    let set = DateTime::parse_from_rfc3339(set_at)
        .ok()?
        .with_timezone(&Utc);
    let days = (now - set).num_days();
    (days > max_days).then(|| {
        format!("password set {days} days ago (more than {max_days}): ask the unit to renew it")
    })
}

/// The logins of the configured sources (besides today's `[upstreams.source]`, which
/// [`chase_list`] checks), each tried: the source's own entry, and its gateway's and OpenID
/// client's where its authentication needs them.
pub async fn source_rows(
    sources: &[crate::sources::config::SourceSettings],
    vault: &Vault,
    sealed: &[SealedCredential],
    now: DateTime<Utc>,
    max_age_days: i64,
) -> Vec<CheckRow> {
    use super::source::{CLIENT_PART, Credentials, GATEWAY_PART, SourceAuth};
    let mut rows = Vec::new();
    for source in sources {
        let auth = source.auth();
        let entries = auth.vault_entries(&source.name);
        if entries.is_empty() || auth.legacy_vault_entry {
            continue;
        }
        let mut credentials = Credentials::default();
        let mut problem = None;
        for entry in &entries {
            let found = sealed
                .iter()
                .find(|s| s.system == System::Source && s.unit == *entry);
            let Some(found) = found else {
                problem = Some(format!(
                    "no credential: `baocao-sync creds set --source {entry} --username … --password-stdin`"
                ));
                break;
            };
            match vault.open(found) {
                Err(e) => {
                    problem = Some(e.to_string());
                    break;
                }
                Ok(c) => {
                    problem = problem.or_else(|| old_password(&found.set_at, now, max_age_days));
                    match entry.split_once(':') {
                        Some((_, CLIENT_PART)) => credentials.client = Some(c),
                        Some((_, GATEWAY_PART)) => credentials.gateway = Some(c),
                        _ => credentials.main = Some(c),
                    }
                }
            }
        }
        if problem.is_none()
            || problem
                .as_deref()
                .is_some_and(|p| p.starts_with("password set"))
        {
            let tried = match SourceAuth::new(
                &source.name,
                auth.clone(),
                source.http_client(),
                source.max_body_bytes,
                credentials,
                |p| source.url(p),
            ) {
                Ok(a) => a.material().await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(e) = tried {
                problem = Some(format!("login fails: {e}"));
            }
        }
        rows.push(CheckRow {
            unit: source.name.clone(),
            name: format!("Nguồn số liệu `{}` ({})", source.name, source.protocol),
            system: System::Source.as_str().to_owned(),
            problem,
        });
    }
    rows
}
