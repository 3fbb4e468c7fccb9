//! One call to a source, as every protocol makes it: authorised by the source's authentication
//! layer, its answer classified before any retry (transient, refused, gone session, a broken
//! contract), retried while transient within the pull's time budget, and sent once more with a
//! renewed session or token when the source says the one used is gone.

use crate::auth::source::{Authorizer, Material};
use crate::auth::token::TokenError;
use crate::retry::RetryPolicy;
use reqwest::StatusCode;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the source refused the token or session")]
    Unauthorized,
    #[error("the source is unavailable for now: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    #[error("the source refused the request: {0}")]
    Refused(String),
    /// 404: the source holds no such thing (a dossier or a catalogue entry looked up by id).
    #[error("the source has no such record (404)")]
    NotFound,
    /// An answer that breaks the source's contract (a cursor that repeats, an empty page that
    /// promises more, a body too large, a shape that is not the protocol's): reported, never
    /// looped on.
    #[error("the source broke its contract: {0}")]
    Contract(String),
}

impl SourceError {
    /// A failure without an answer (no connection, a timeout): worth retrying after a back-off.
    pub fn transient(reason: String) -> SourceError {
        SourceError::Transient {
            reason,
            retry_after: None,
        }
    }

    /// Logging in failed: transient when the login endpoint could not be used, else refused.
    pub fn login(e: TokenError) -> SourceError {
        match e {
            TokenError::Transient(_) => SourceError::transient(format!("login: {e}")),
            e => SourceError::Refused(format!("login: {e}")),
        }
    }

    /// Whether another try may help, and after what wait the source asked for.
    pub fn retry_after(&self) -> Option<Option<Duration>> {
        match self {
            SourceError::Transient { retry_after, .. } => Some(*retry_after),
            // Refused even after a fresh login (a token the parallel calls wore out at once):
            // asked again, within the budget.
            SourceError::Unauthorized => Some(None),
            _ => None,
        }
    }
}

/// Runs `op` with the authentication's material; a refusal renews it once and runs `op` again;
/// transient answers are retried under `retry`.
pub async fn authorized<A, T, F, Fut>(
    auth: &A,
    retry: &RetryPolicy,
    op: F,
) -> Result<T, SourceError>
where
    A: Authorizer,
    F: Fn(Material) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<T, SourceError>> + Send,
    T: Send,
{
    let op = &op;
    retry
        .run_while(
            move || once(auth, op),
            |result: &Result<T, SourceError>| {
                result.as_ref().err().and_then(SourceError::retry_after)
            },
        )
        .await
}

async fn once<A, T, F, Fut>(auth: &A, op: &F) -> Result<T, SourceError>
where
    A: Authorizer,
    F: Fn(Material) -> Fut,
    Fut: std::future::Future<Output = Result<T, SourceError>>,
{
    let material = auth.material().await.map_err(SourceError::login)?;
    match op(material.clone()).await {
        Err(SourceError::Unauthorized) => {
            let renewed = auth.renew(&material).await.map_err(SourceError::login)?;
            op(renewed).await
        }
        other => other,
    }
}

/// Sends a request and reads its answer: the body of a 2xx, or the error its status means (401
/// refused token, 429/5xx transient with their `Retry-After`, other statuses refused). `label`
/// names the source in metrics.
pub async fn send(
    request: reqwest::RequestBuilder,
    max_body: usize,
    label: &'static str,
) -> Result<Vec<u8>, SourceError> {
    let started = std::time::Instant::now();
    let response = request.send().await;
    crate::telemetry::events::upstream_request(
        label,
        response.as_ref().ok().map(|r| r.status().as_u16()).into(),
        started.elapsed().as_secs_f64(),
    );
    let response = response.map_err(|e| match crate::auth::token::untrusted_certificate(&e) {
        Some(why) => SourceError::Refused(why),
        None => SourceError::transient(e.to_string()),
    })?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        return Err(SourceError::Unauthorized);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Err(SourceError::Transient {
            reason: format!("HTTP {status}"),
            retry_after: retry_after(&response),
        });
    }
    if status == StatusCode::NOT_FOUND {
        return Err(SourceError::NotFound);
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(300).collect();
        return Err(SourceError::Refused(format!("HTTP {status}: {text}")));
    }
    crate::http::read_capped(response, max_body)
        .await
        .map_err(|e| match e {
            crate::http::BodyError::TooLarge(_) => SourceError::Contract(e.to_string()),
            crate::http::BodyError::Broken(_) => SourceError::transient(e.to_string()),
        })
}

/// `GET url?query`, authorised and retried; the answer as JSON (`what` names it in errors).
pub async fn get_json<A: Authorizer>(
    auth: &A,
    retry: &RetryPolicy,
    http: &reqwest::Client,
    url: &reqwest::Url,
    query: &[(String, String)],
    max_body: usize,
    what: &str,
) -> Result<serde_json::Value, SourceError> {
    authorized(auth, retry, move |m| async move {
        let request = m.apply(http.get(url.clone()).query(query));
        json(&send(request, max_body, "source").await?, what)
    })
    .await
}

/// A JSON body, or a contract error naming what was expected.
pub fn json(body: &[u8], what: &str) -> Result<serde_json::Value, SourceError> {
    serde_json::from_slice(body)
        .map_err(|e| SourceError::Contract(format!("{what} that is not JSON: {e}")))
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
