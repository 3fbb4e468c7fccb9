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

    /// The remote version the answer tells of, if any.
    pub fn version(&self) -> Option<u64> {
        match self {
            Decision::Created { version }
            | Decision::Updated { version }
            | Decision::Unchanged { version }
            | Decision::Recreated { version } => Some(*version),
            Decision::EditedByPerson { remote_version } => *remote_version,
            _ => None,
        }
    }

    /// What the operator should read about it (empty for a plain success).
    pub fn detail(&self) -> String {
        match self {
            Decision::Created { .. } | Decision::Updated { .. } | Decision::Unchanged { .. } => {
                String::new()
            }
            Decision::Recreated { .. } => {
                "the draft had disappeared from the system; created again".to_owned()
            }
            Decision::Locked { status } => format!("{status}: not touched"),
            Decision::EditedByPerson { .. } => {
                "a person changed the draft: left as it is".to_owned()
            }
            Decision::Forbidden { message } | Decision::Invalid { message } => message.clone(),
            Decision::Unauthorized => "the token was refused twice".to_owned(),
            Decision::Transient { reason, .. } => reason.clone(),
        }
    }
}

/// What the client knows of a report from its own history (the outbox keeps it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// The version of our own last write, if any.
    pub ours: Option<u64>,
    /// How many times we created this draft before (created or re-created).
    pub incarnation: u64,
    /// An operator lets this push overwrite a draft a person changed (never an approved one).
    pub force: bool,
}

/// What one push did: the decision, and the write it sent if it got as far as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub decision: Decision,
    pub put: Option<Put>,
}

/// A write that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The version it built on (`If-Match`); `None` for a creation.
    pub base: Option<u64>,
    pub idempotency_key: String,
}

impl Pushed {
    fn decided(decision: Decision) -> Pushed {
        Pushed {
            decision,
            put: None,
        }
    }
}

/// A draft's write (upstreams.md §2), borrowed from the draft rather than copied into a JSON
/// value: a narrative's text runs to hundreds of kilobytes.
#[derive(serde::Serialize)]
struct Body<'a> {
    rows: &'a [super::draft::DraftRow],
    text: Option<&'a str>,
    content_hash: &'a str,
    source: &'a str,
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

/// Reads `body` as each answer the reporting systems give (for the fuzz targets): whatever it
/// is, the answer is read or refused, never more.
#[doc(hidden)]
pub fn read_answers(body: &[u8]) {
    let _ = serde_json::from_slice::<Remote>(body);
    let _ = serde_json::from_slice::<ApiError>(body);
    let _ = serde_json::from_slice::<Written>(body);
}

pub struct ReportingClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
    system: System,
    source: String,
    max_body_bytes: usize,
}

/// What a creation builds on: nothing (the first one), or the version of ours that disappeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    New,
    /// A draft of ours at this version disappeared (a person deleted it).
    Gone(u64),
    Version(u64),
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
            max_body_bytes: 64 << 20,
        })
    }

    /// Answers longer than this are refused.
    pub fn with_max_body_bytes(mut self, max: usize) -> ReportingClient {
        self.max_body_bytes = max;
        self
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
    /// write what it is — system, report, content, the version it builds on (for a creation again
    /// after a deletion, the version that disappeared) and how many times we created the draft
    /// before, so a second deletion's creation never replays the first one's answer.
    pub fn idempotency_key(
        &self,
        key: &ReportKey,
        content_hash: &str,
        base: Base,
        incarnation: u64,
    ) -> String {
        let base = match base {
            Base::New => "new".to_owned(),
            Base::Gone(v) => format!("gone:{v}"),
            Base::Version(v) => v.to_string(),
        };
        let text = format!(
            "{}|{}|{}|{}|{content_hash}|{base}|{incarnation}",
            self.system, key.form, key.period, key.unit,
        );
        Sha256::digest(text.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The report's state in the reporting system (`draft`, `approved`, `signed`, `sent`), or
    /// `None` when it has no report; the decision that stopped the read otherwise.
    #[tracing::instrument(name = "sink.state", skip_all, fields(system = %self.system, form = %key.form, period = %key.period, unit = %key.unit))]
    pub async fn state(
        &self,
        token: &SecretString,
        key: &ReportKey,
    ) -> Result<Option<String>, Decision> {
        let response = self
            .timed_read_back(authorize(self.http.get(self.url(key, false)), token))
            .await
            .map_err(transient_from)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::OK => self
                .json::<Remote>(response)
                .await
                .map(|remote| Some(remote.status)),
            _ => Err(classify(response, None).await),
        }
    }

    /// Pushes `draft`: reads the report back, then creates or updates the draft, or leaves it.
    #[tracing::instrument(name = "sink.push", skip_all, fields(system = %self.system, form = %key.form, period = %key.period, unit = %key.unit))]
    pub async fn push(
        &self,
        token: &SecretString,
        key: &ReportKey,
        draft: &Draft,
        history: History,
    ) -> Pushed {
        let hash = draft.content_hash();
        let response = match self
            .timed_read_back(authorize(self.http.get(self.url(key, false)), token))
            .await
        {
            Ok(r) => r,
            Err(e) => return Pushed::decided(transient_from(e)),
        };
        let remote = match response.status() {
            StatusCode::NOT_FOUND => None,
            StatusCode::OK => match self.json::<Remote>(response).await {
                Ok(remote) => Some(remote),
                Err(d) => return Pushed::decided(d),
            },
            _ => return Pushed::decided(classify(response, None).await),
        };
        let base = match remote {
            Some(remote) if remote.status != "draft" => {
                return Pushed::decided(Decision::Locked {
                    status: remote.status,
                });
            }
            Some(remote) if remote.content_hash.as_deref() == Some(hash.as_str()) => {
                return Pushed::decided(Decision::Unchanged {
                    version: remote.version,
                });
            }
            Some(remote) if history.ours != Some(remote.version) && !history.force => {
                return Pushed::decided(Decision::EditedByPerson {
                    remote_version: Some(remote.version),
                });
            }
            Some(remote) => Base::Version(remote.version),
            None => match history.ours {
                Some(gone) => Base::Gone(gone),
                None => Base::New,
            },
        };
        let idempotency_key = self.idempotency_key(key, &hash, base, history.incarnation);
        let put = Put {
            base: match base {
                Base::Version(v) => Some(v),
                Base::New | Base::Gone(_) => None,
            },
            idempotency_key: idempotency_key.clone(),
        };
        let mut request = authorize(self.http.put(self.url(key, true)), token)
            .header("Idempotency-Key", idempotency_key)
            .json(&Body {
                rows: &draft.rows,
                text: draft.text.as_deref(),
                content_hash: &hash,
                source: &self.source,
            });
        if let Base::Version(v) = base {
            request = request.header(header::IF_MATCH, v.to_string());
        }
        let decision = match self.timed(request).await {
            Err(e) => transient_from(e),
            Ok(response) => {
                let status = response.status();
                if status == StatusCode::CREATED || status == StatusCode::OK {
                    match self.json::<Written>(response).await {
                        Ok(w) if matches!(base, Base::Gone(_)) => {
                            Decision::Recreated { version: w.version }
                        }
                        Ok(w) if status == StatusCode::CREATED => {
                            Decision::Created { version: w.version }
                        }
                        Ok(w) => Decision::Updated { version: w.version },
                        Err(d) => d,
                    }
                } else {
                    classify(response, put.base).await
                }
            }
        };
        Pushed {
            decision,
            put: Some(put),
        }
    }

    /// Sends a request, counting it (by system and answer class) and timing it.
    async fn timed(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.counted(request, false).await
    }

    /// [`Self::timed`] for the read-back before a write, where 404 is the expected answer for a
    /// draft not yet created (counted as `absent`, not as a 4xx error).
    async fn timed_read_back(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.counted(request, true).await
    }

    async fn counted(
        &self,
        request: reqwest::RequestBuilder,
        absent_expected: bool,
    ) -> Result<reqwest::Response, reqwest::Error> {
        use crate::telemetry::events::Answer;
        let started = std::time::Instant::now();
        let answer = request.send().await;
        let class = match answer.as_ref().map(|r| r.status()) {
            Ok(StatusCode::NOT_FOUND) if absent_expected => Answer::Absent,
            Ok(status) => Answer::Status(status.as_u16()),
            Err(_) => Answer::None,
        };
        crate::telemetry::events::upstream_request(
            self.system.as_str(),
            class,
            started.elapsed().as_secs_f64(),
        );
        answer
    }

    /// A success body, read within the size limit; one that does not arrive or parse is
    /// transient (the write may have landed: the next read-back tells).
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, Decision> {
        let body = crate::http::read_capped(response, self.max_body_bytes)
            .await
            .map_err(|e| Decision::Transient {
                retry_after: None,
                reason: e.to_string(),
            })?;
        serde_json::from_slice(&body).map_err(|e| Decision::Transient {
            retry_after: None,
            reason: format!("an answer that does not parse: {e}"),
        })
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
