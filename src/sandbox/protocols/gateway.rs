//! An LGSP gateway in front of the envelope (real-sources.md §4): WSO2-style client credentials
//! at `/lgsp/token` (clients of system `lgsp`), or VNPT-style — `lgspaccesstoken:
//! base64(JSON {AccessKey, SecretKey, AppName, PartnerCode, PartnerCodeCus})` at `/vnpt/token`
//! (clients of system `vnpt`: the access key as id, the secret key as secret), after which every
//! call carries both that header and the Bearer token. 401 for bad credentials, as a city's LGSP
//! documents.

use super::super::{State, tokens};
use axum::Form;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

fn refused(why: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "invalid_token", "error_description": why})),
    )
        .into_response()
}

/// The (access key, secret key) an `lgspaccesstoken` header carries.
fn access_keys(headers: &HeaderMap) -> Option<(String, String)> {
    let text = headers.get("lgspaccesstoken")?.to_str().ok()?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    Some((
        v.get("AccessKey")?.as_str()?.to_owned(),
        v.get("SecretKey")?.as_str()?.to_owned(),
    ))
}

/// The gateway's check of a call to what it fronts; `None` lets the call through.
pub(super) fn check(state: &State, headers: &HeaderMap) -> Option<Response> {
    match state.data.quirks.gateway.as_deref() {
        None | Some("") => None,
        Some("wso2") => match super::super::bearer(state, "lgsp", headers) {
            Some(_) => None,
            None => Some(refused("the gateway's Bearer token is missing or expired")),
        },
        Some("vnpt") => {
            let known = access_keys(headers).is_some_and(|(ak, sk)| {
                state.data.clients.iter().any(|c| {
                    c.system == "vnpt"
                        && c.client_id == ak
                        && c.client_secret.as_deref() == Some(&sk)
                })
            });
            if !known {
                return Some(refused(
                    "lgspaccesstoken is missing or not a known application",
                ));
            }
            match super::super::bearer(state, "vnpt", headers) {
                Some(_) => None,
                None => Some(refused("the gateway's Bearer token is missing or expired")),
            }
        }
        Some(other) => Some(refused(&format!("the sandbox has no gateway `{other}`"))),
    }
}

pub(super) async fn wso2_token(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    tokens::issue(&state, "lgsp".to_owned(), &headers, &form)
}

pub(super) async fn vnpt_token(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some((access, secret)) = access_keys(&headers) else {
        return refused("no lgspaccesstoken header");
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let form = HashMap::from([
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("client_id".to_owned(), access),
        ("client_secret".to_owned(), secret),
    ]);
    tokens::issue(&state, "vnpt".to_owned(), &HeaderMap::new(), &form)
}
