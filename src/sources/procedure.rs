//! The procedure-handling system's client (upstreams.md §1): a window of records
//! (`updated_from` inclusive, `updated_to` exclusive) walked page by page with the keyset cursor.
//! Items come back as the JSON text of each record, for the same edge parse as exports.
//! Each page is retried on its own (429/5xx/timeouts) and asked again once with a renewed token
//! after a 401, so a walk longer than a token's life or a bad minute goes on where it was.

pub use super::call::SourceError;
use super::call::{authorized, send};
use crate::auth::source::Authorizer;
use crate::domain::Instant;
use crate::retry::RetryPolicy;

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
    pub async fn window<A: Authorizer>(
        &self,
        session: &A,
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
            let page = authorized(session, retry, move |material| async move {
                let request = material.apply(self.http.get(url.clone()).query(query));
                let body = send(request, self.max_body_bytes, "source").await?;
                parse_page(&body, size)
            })
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
}
