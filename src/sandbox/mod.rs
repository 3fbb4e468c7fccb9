//! The sandbox: the upstream systems of upstreams.md served on loopback from a data set, for tests
//! and demos, so that no test mocks the code under test. So far it serves the token endpoints of
//! the three systems (`/{system}/oauth/token`, system being `source`, `central` or `provincial`);
//! the procedure-handling and reporting-system APIs and the fault plan come next.

mod tokens;

use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// The sandbox's data set: OAuth2 clients and accounts (`<data>/accounts.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxData {
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Seconds an access token lives.
    #[serde(default = "default_token_seconds")]
    pub token_seconds: u64,
}

fn default_token_seconds() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    pub system: String,
    pub client_id: String,
    /// Absent for a public client (the reporting systems' password-grant client).
    #[serde(default)]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub system: String,
    pub username: String,
    pub password: String,
}

impl SandboxData {
    pub fn from_toml(text: &str) -> Result<SandboxData, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub data: SandboxData,
    pub issued: AtomicU64,
    /// refresh token → (system, username)
    pub refresh: Mutex<HashMap<String, (String, String)>>,
}

pub fn router(data: SandboxData) -> Router {
    let state = Arc::new(State {
        data,
        ..State::default()
    });
    Router::new()
        .route("/{system}/oauth/token", axum::routing::post(tokens::token))
        .with_state(state)
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    data: SandboxData,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(data))
        .with_graceful_shutdown(shutdown)
        .await
}
