//! The procedure-handling system's client (upstreams.md §1): a window of records
//! (`updated_from` inclusive, `updated_to` exclusive) walked page by page with the keyset cursor.
//! Items come back as the JSON text of each record, for the same edge parse as exports.
//! Each page is retried on its own (429/5xx/timeouts) and asked again once with a renewed token
//! after a 401, so a walk longer than a token's life or a bad minute goes on where it was.

use crate::auth::session::Session;
use crate::auth::token::{TokenError, authorize};
use crate::domain::Instant;
use crate::retry::RetryPolicy;
use reqwest::StatusCode;
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the source refused the token (401)")]
    Unauthorized,
    #[error("the source is unavailable for now: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    #[error("the source refused the request: {0}")]
    Refused(String),
}

impl SourceError {
    /// A failure without an answer (no connection, a timeout): worth retrying after a back-off.
    fn transient(reason: String) -> SourceError {
        SourceError::Transient {
            reason,
            retry_after: None,
        }
    }
}

#[derive(serde::Deserialize)]
struct Page {
    content: Vec<serde_json::Value>,
    next_after: Option<String>,
}

pub struct SourceClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
}

impl SourceClient {
    pub fn new(http: reqwest::Client, base_url: &str) -> Result<SourceClient, String> {
        let base_url =
            reqwest::Url::parse(base_url).map_err(|e| format!("base URL `{base_url}`: {e}"))?;
        Ok(SourceClient { http, base_url })
    }

    /// Every record of `kind` (`dossiers`, `ratings`, `feedback`) updated in [from, to), in the
    /// source's order, as JSON text. Each page is asked for with the session's token (renewed
    /// once if refused) and retried under `retry` when the answer is transient; the keyset cursor
    /// lets a retried page continue exactly where the walk was.
    #[tracing::instrument(name = "source.window", skip_all, fields(kind = %kind, from = %from, to = %to))]
    pub async fn window(
        &self,
        session: &Session,
        retry: &RetryPolicy,
        kind: &str,
        from: Instant,
        to: Instant,
        size: u32,
    ) -> Result<Vec<String>, SourceError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL")
            .pop_if_empty()
            .extend(["v1", kind]);
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("updated_from", from.to_rfc3339_utc()),
                ("updated_to", to.to_rfc3339_utc()),
                ("size", size.to_string()),
            ];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page = retry
                .run_while(
                    || self.page_with_session(session, &url, &query),
                    |result| match result {
                        Err(SourceError::Transient { retry_after, .. }) => Some(*retry_after),
                        _ => None,
                    },
                )
                .await?;
            tracing::debug!(
                items = page.content.len(),
                more = page.next_after.is_some(),
                "page"
            );
            out.extend(page.content.iter().map(|v| v.to_string()));
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// One page with the session's token; a refused token is renewed and the page asked once more.
    async fn page_with_session(
        &self,
        session: &Session,
        url: &reqwest::Url,
        query: &[(&str, String)],
    ) -> Result<Page, SourceError> {
        session
            .with_token(
                |token| async move { self.page(&token, url, query).await },
                |answer| matches!(answer, Err(SourceError::Unauthorized)),
            )
            .await
            .map_err(|e| match e {
                // The token endpoint did not answer: as transient as the API not answering.
                TokenError::Unreachable(_) => SourceError::transient(format!("login: {e}")),
                e => SourceError::Refused(format!("login: {e}")),
            })?
    }

    async fn page(
        &self,
        token: &SecretString,
        url: &reqwest::Url,
        query: &[(&str, String)],
    ) -> Result<Page, SourceError> {
        let response = authorize(self.http.get(url.clone()), token)
            .query(query)
            .send()
            .await
            .map_err(|e| SourceError::transient(e.to_string()))?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(SourceError::Unauthorized),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(std::time::Duration::from_secs);
                return Err(SourceError::Transient {
                    reason: format!("HTTP {s}"),
                    retry_after,
                });
            }
            s => {
                return Err(SourceError::Refused(format!(
                    "HTTP {s}: {}",
                    response.text().await.unwrap_or_default()
                )));
            }
        }
        response.json().await.map_err(|e| {
            if e.is_timeout() || e.is_body() {
                SourceError::transient(format!("the page did not arrive whole: {e}"))
            } else {
                SourceError::Refused(format!("a page that does not parse: {e}"))
            }
        })
    }
}
