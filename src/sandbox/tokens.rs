//! The token endpoint of upstreams.md: form-encoded, client credentials in an HTTP Basic header or
//! as form fields, OAuth2 error bodies.

use super::State;
use axum::Form;
use axum::extract::{Path, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

/// `client_id`/`client_secret` from a Basic header (URL-encoded inside, as RFC 6749 says) or the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| BASE64.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if let Some(pair) = basic
        && let Some((id, secret)) = pair.split_once(':')
    {
        let decode = |s: &str| {
            form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return (decode(id), decode(secret));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

pub(super) async fn token(
    Shared(state): Shared<Arc<State>>,
    Path(system): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    issue(&state, system, &headers, &form)
}

/// The token endpoint of `system`: its clients and accounts, OAuth2 answers.
pub(super) fn issue(
    state: &Arc<State>,
    system: String,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    if let Some(answer) = super::down(state, &system) {
        return answer;
    }
    let faults = &state.data.faults;
    let n = state.token_requests.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(answer) = super::protocols::unlucky(state, &format!("token {system}"), n) {
        return answer;
    }
    if faults
        .token_transient_every
        .is_some_and(|every| every > 0 && n % every == 0)
    {
        state.fired("token_transient");
        let status =
            StatusCode::from_u16(faults.token_transient_status).unwrap_or(StatusCode::BAD_GATEWAY);
        // What a gateway in front of the token endpoint answers: not OAuth2 at all.
        return (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>Service Unavailable</h1></body></html>",
        )
            .into_response();
    }
    let (client_id, client_secret) = client_credentials(headers, form);
    let client = state
        .data
        .clients
        .iter()
        .find(|c| c.system == system && Some(&c.client_id) == client_id.as_ref());
    let Some(client) = client else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    if client.client_secret.is_some() && client.client_secret != client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let account = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") if client.client_secret.is_some() => None,
        Some("password") => {
            let (user, pass) = (form.get("username"), form.get("password"));
            let found = state.data.accounts.iter().find(|a| {
                a.system == system && Some(&a.username) == user && Some(&a.password) == pass
            });
            match found {
                Some(a) => Some(a.username.clone()),
                None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
            }
        }
        Some("refresh_token") => {
            let known = form
                .get("refresh_token")
                .and_then(|t| state.refresh.lock().expect("lock").remove(t));
            match known {
                Some((s, user)) if s == system => Some(user),
                _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    let n = state.issued.fetch_add(1, Ordering::Relaxed);
    let access = format!("sandbox-{system}-access-{n}");
    let holder = account.clone().unwrap_or_else(|| client.client_id.clone());
    state.access.lock().expect("lock").insert(
        access.clone(),
        super::Issued {
            system: system.clone(),
            holder,
            calls: 0,
            issued_ms: state.clock.now_ms(),
        },
    );
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.data.token_seconds,
    });
    if let Some(user) = account {
        let refresh = format!("sandbox-{system}-refresh-{n}");
        state
            .refresh
            .lock()
            .expect("lock")
            .insert(refresh.clone(), (system.clone(), user));
        body["refresh_token"] = json!(refresh);
    }
    Json(body).into_response()
}
