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
    /// An answer that breaks upstreams.md §1 (a cursor that repeats, an empty page that promises
    /// more, a body too large): reported, never looped on.
    #[error("the source broke its contract: {0}")]
    Contract(String),
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

/// One page of the record API as upstreams.md gives it: the records' texts, and the cursor to the
/// next page. A page that does not parse, or holds more records than were asked, breaks the
/// contract.
pub fn parse_page(body: &[u8], asked: u32) -> Result<(Vec<String>, Option<String>), SourceError> {
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| SourceError::Contract(format!("a page that does not parse: {e}")))?;
    if page.content.len() > asked as usize {
        return Err(SourceError::Contract(format!(
            "a page of {} records where at most {asked} were asked",
            page.content.len()
        )));
    }
    let texts = page.content.iter().map(|v| v.to_string()).collect();
    Ok((texts, page.next_after))
}

pub struct SourceClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
    max_body_bytes: usize,
}

impl SourceClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        max_body_bytes: usize,
    ) -> Result<SourceClient, String> {
        let base_url =
            reqwest::Url::parse(base_url).map_err(|e| format!("base URL `{base_url}`: {e}"))?;
        Ok(SourceClient {
            http,
            base_url,
            max_body_bytes,
        })
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
        let mut cursors = std::collections::HashSet::new();
        loop {
            let mut query = vec![
                ("updated_from", from.to_rfc3339_utc()),
                ("updated_to", to.to_rfc3339_utc()),
                ("size", size.to_string()),
            ];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let (url, query) = (&url, &query);
            let page = retry
                .run_while(
                    move || self.page_with_session(session, url, query),
                    |result| match result {
                        Err(SourceError::Transient { retry_after, .. }) => Some(*retry_after),
                        // Refused even after a fresh login (a token the parallel windows wore
                        // out at once): asked again, within the page's bound.
                        Err(SourceError::Unauthorized) => Some(None),
                        _ => None,
                    },
                )
                .await?;
            let (texts, next_after) = page;
            tracing::debug!(items = texts.len(), more = next_after.is_some(), "page");
            let empty = texts.is_empty();
            out.extend(texts);
            match next_after {
                Some(_) if empty => {
                    return Err(SourceError::Contract(format!(
                        "an empty page of {kind} with a cursor to a next one"
                    )));
                }
                Some(next) if !cursors.insert(next.clone()) => {
                    return Err(SourceError::Contract(format!(
                        "the cursor `{next}` of {kind} came back a second time"
                    )));
                }
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
        query: &[(&'static str, String)],
    ) -> Result<(Vec<String>, Option<String>), SourceError> {
        session
            .with_token(
                move |token| async move { self.page(&token, url, query).await },
                |answer| matches!(answer, Err(SourceError::Unauthorized)),
            )
            .await
            .map_err(|e| match e {
                // The token endpoint cannot be used for now: as transient as the API not answering.
                TokenError::Transient(_) => SourceError::transient(format!("login: {e}")),
                e => SourceError::Refused(format!("login: {e}")),
            })?
    }

    async fn page(
        &self,
        token: &SecretString,
        url: &reqwest::Url,
        query: &[(&'static str, String)],
    ) -> Result<(Vec<String>, Option<String>), SourceError> {
        let started = std::time::Instant::now();
        let response = authorize(self.http.get(url.clone()), token)
            .query(query)
            .send()
            .await;
        crate::telemetry::events::upstream_request(
            "source",
            response.as_ref().ok().map(|r| r.status().as_u16()),
            started.elapsed().as_secs_f64(),
        );
        let response = response.map_err(|e| SourceError::transient(e.to_string()))?;
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
        let body = crate::http::read_capped(response, self.max_body_bytes)
            .await
            .map_err(|e| match e {
                crate::http::BodyError::TooLarge(_) => SourceError::Contract(e.to_string()),
                crate::http::BodyError::Broken(_) => SourceError::transient(e.to_string()),
            })?;
        let asked = query
            .iter()
            .find(|(k, _)| *k == "size")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(u32::MAX);
        parse_page(&body, asked)
    }
}
