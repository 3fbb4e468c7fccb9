//! The reporting-system client (provincial and central share one contract): read back, then create
//! or update the draft, and one [`Decision`] for every answer.

use super::draft::Draft;
use crate::auth::token::authorize;
use crate::auth::vault::System;
use reqwest::{StatusCode, header};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// `{form}/{period}/{unit}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportKey {
    pub form: String,
    pub period: String,
    pub unit: String,
}

/// What happened to one report on one system. Recorded with the remote version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Created {
        version: u64,
    },
    Updated {
        version: u64,
    },
    /// The draft already holds this content: nothing written.
    Unchanged {
        version: u64,
    },
    /// A draft we wrote had disappeared; it was created again.
    Recreated {
        version: u64,
    },
    /// Approved, signed or sent: must not be touched.
    Locked {
        status: String,
    },
    /// A person changed the draft since our last write (or wrote one we did not): left as it is.
    EditedByPerson {
        remote_version: Option<u64>,
    },
    /// The account has no data-entry right for this unit.
    Forbidden {
        message: String,
    },
    /// The system refuses a form, row key, label or value.
    Invalid {
        message: String,
    },
    /// 401: the token expired or was revoked; get a new one and retry once.
    Unauthorized,
    /// 429, 5xx, a timeout: try again later (after `retry_after` when the server said so).
    Transient {
        retry_after: Option<Duration>,
        reason: String,
    },
}

impl Decision {
    /// Short name for logs and the store.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Created { .. } => "created",
            Decision::Updated { .. } => "updated",
            Decision::Unchanged { .. } => "unchanged",
            Decision::Recreated { .. } => "recreated",
            Decision::Locked { .. } => "locked",
            Decision::EditedByPerson { .. } => "edited",
            Decision::Forbidden { .. } => "forbidden",
            Decision::Invalid { .. } => "invalid",
            Decision::Unauthorized => "unauthorized",
            Decision::Transient { .. } => "transient",
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct Remote {
    status: String,
    version: u64,
    #[serde(default)]
    content_hash: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ApiError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    current_version: Option<u64>,
    #[serde(default)]
    details: Option<serde_json::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct Written {
    version: u64,
}

pub struct ReportingClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
    system: System,
    source: String,
}

impl ReportingClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        system: System,
    ) -> Result<ReportingClient, String> {
        let base_url =
            reqwest::Url::parse(base_url).map_err(|e| format!("base URL `{base_url}`: {e}"))?;
        Ok(ReportingClient {
            http,
            base_url,
            system,
            source: format!("baocao-sync/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    fn url(&self, key: &ReportKey, draft: bool) -> reqwest::Url {
        let mut url = self.base_url.clone();
        {
            let mut segments = url.path_segments_mut().expect("an http(s) base URL");
            segments
                .pop_if_empty()
                .extend(["v1", "reports", &key.form, &key.period, &key.unit]);
            if draft {
                segments.push("draft");
            }
        }
        url
    }

    /// The key a retried write repeats, so the server answers it once: everything that makes the
    /// write what it is.
    pub fn idempotency_key(
        &self,
        key: &ReportKey,
        content_hash: &str,
        base: Option<u64>,
    ) -> String {
        let text = format!(
            "{}|{}|{}|{}|{content_hash}|{}",
            self.system,
            key.form,
            key.period,
            key.unit,
            base.map_or_else(|| "new".to_owned(), |v| v.to_string())
        );
        Sha256::digest(text.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Pushes `draft`. `ours` is the version of our own last write of this report (from the store);
    /// `force` lets an operator overwrite a draft a person changed, for this one report.
    #[tracing::instrument(name = "sink.push", skip_all, fields(system = %self.system, form = %key.form, period = %key.period, unit = %key.unit))]
    pub async fn push(
        &self,
        token: &SecretString,
        key: &ReportKey,
        draft: &Draft,
        ours: Option<u64>,
        force: bool,
    ) -> Decision {
        let hash = draft.content_hash();
        let response = match authorize(self.http.get(self.url(key, false)), token)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return transient_from(e),
        };
        let base = match response.status() {
            StatusCode::NOT_FOUND => None,
            StatusCode::OK => match response.json::<Remote>().await {
                Ok(remote) if remote.status != "draft" => {
                    return Decision::Locked {
                        status: remote.status,
                    };
                }
                Ok(remote) if remote.content_hash.as_deref() == Some(hash.as_str()) => {
                    return Decision::Unchanged {
                        version: remote.version,
                    };
                }
                Ok(remote) if ours != Some(remote.version) && !force => {
                    return Decision::EditedByPerson {
                        remote_version: Some(remote.version),
                    };
                }
                Ok(remote) => Some(remote.version),
                Err(e) => {
                    return Decision::Transient {
                        retry_after: None,
                        reason: format!("a report that does not parse: {e}"),
                    };
                }
            },
            _ => return classify(response, None).await,
        };
        let recreated = base.is_none() && ours.is_some();
        let mut request = authorize(self.http.put(self.url(key, true)), token)
            .header("Idempotency-Key", self.idempotency_key(key, &hash, base))
            .json(&serde_json::json!({
                "rows": draft.rows, "text": draft.text, "content_hash": hash, "source": self.source,
            }));
        if let Some(v) = base {
            request = request.header(header::IF_MATCH, v.to_string());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return transient_from(e),
        };
        let status = response.status();
        if status == StatusCode::CREATED || status == StatusCode::OK {
            return match response.json::<Written>().await {
                Ok(w) if recreated => Decision::Recreated { version: w.version },
                Ok(w) if status == StatusCode::CREATED => Decision::Created { version: w.version },
                Ok(w) => Decision::Updated { version: w.version },
                Err(e) => Decision::Transient {
                    retry_after: None,
                    reason: format!("an answer that does not parse: {e}"),
                },
            };
        }
        classify(response, base).await
    }
}

fn transient_from(e: reqwest::Error) -> Decision {
    Decision::Transient {
        retry_after: None,
        reason: format!("no answer: {e}"),
    }
}

/// Every answer that is not a success.
async fn classify(response: reqwest::Response, base: Option<u64>) -> Decision {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body: ApiError = response.json().await.unwrap_or_default();
    let message = if body.message.is_empty() {
        body.error_code.clone()
    } else {
        body.message.clone()
    };
    match status.as_u16() {
        401 => Decision::Unauthorized,
        403 => Decision::Forbidden { message },
        409 => Decision::Locked {
            status: if body.error_code.is_empty() {
                "not_draft".into()
            } else {
                body.error_code
            },
        },
        412 => Decision::EditedByPerson {
            remote_version: body.current_version.or(base),
        },
        // A draft exists that we did not know of: someone else's.
        428 => Decision::EditedByPerson {
            remote_version: None,
        },
        422 => Decision::Invalid {
            message: match body.details {
                Some(d) => format!("{message}: {d}"),
                None => message,
            },
        },
        429 | 500..=599 => Decision::Transient {
            retry_after,
            reason: format!("HTTP {status}: {message}"),
        },
        _ => Decision::Invalid {
            message: format!("HTTP {status}: {message}"),
        },
    }
}
