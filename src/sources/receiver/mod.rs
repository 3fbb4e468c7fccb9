//! The receiver: a second target of a province's national-portal sync (real-sources.md §5.6). It
//! speaks the envelope as one-stop systems send it to the national portal — a login answering a
//! `session`, then `DongBoHoSoMC`, `CapNhatTienDoHoSoMC`, `TraCuuHoSo` and `DongBoDanhGia`
//! posted with it — and answers `{error_code, message}`.
//!
//! - A batch is stored durably before `error_code` 0 is answered; a resend stores nothing new.
//! - A bad item gets its own error in the answer (named by its MaHoSo or position); the others
//!   are stored.
//! - Each client has its own account (`receiver client add`), its password kept as an argon2
//!   hash, its sessions as SHA-256 hashes in the store (replicas share them).
//! - Bodies are capped (413), calls rate-limited per client (429 with `Retry-After`), logins per
//!   account name.
//! - Plain HTTP on the configured address; TLS is the reverse proxy's (docs/sources.md).
//!
//! Batches are stored one at a time per receiver: the store's dossier import is one transaction
//! per batch, and concurrent clients queue for it rather than contend.

mod services;

use crate::domain::{Axis, Instant, RecordKind};
use crate::sources::config::SourceSettings;
use crate::sources::mapping::{Mapping, UnitIndex};
use crate::store::{AnyStore, PullLog, Store};
use axum::Json;
use axum::extract::{DefaultBodyLimit, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::{Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::sync::Arc;

/// What "now" is for the receiver (the daemon's clock).
pub type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

type Limiter = RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    governor::clock::DefaultClock,
>;

/// One receiver: its source's settings and mapping, the store, the clock, the limits.
pub struct Receiver {
    pub store: AnyStore,
    pub settings: SourceSettings,
    mapping: Mapping,
    units: UnitIndex,
    now: Now,
    calls: Limiter,
    logins: Limiter,
    /// Batches are stored one at a time.
    writing: tokio::sync::Mutex<()>,
}

impl Receiver {
    pub fn new(
        store: AnyStore,
        settings: SourceSettings,
        units: &crate::domain::UnitTree,
        now: Now,
    ) -> Result<Receiver, String> {
        let mapping = Mapping::compile(&settings.name, &settings.effective_mapping())?;
        let r = &settings.receiver;
        let per_minute = |n: u32| NonZeroU32::new(n.max(1)).expect("at least one");
        let calls = RateLimiter::hashmap(
            Quota::per_minute(per_minute(r.rate_per_minute)).allow_burst(per_minute(r.burst)),
        );
        let logins = RateLimiter::hashmap(Quota::per_minute(per_minute(r.logins_per_minute)));
        Ok(Receiver {
            store,
            mapping,
            units: UnitIndex::of(units),
            now,
            calls,
            logins,
            settings,
            writing: tokio::sync::Mutex::new(()),
        })
    }

    fn name(&self) -> &str {
        &self.settings.name
    }

    /// The receiver's routes.
    pub fn router(self: Arc<Self>) -> axum::Router {
        use axum::routing::post;
        let r = &self.settings.receiver;
        let limit = r.max_body_bytes;
        axum::Router::new()
            .route(&r.login_path, post(login))
            .route(&r.integration_path, post(integration))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(source = %self.name(), address = ?listener.local_addr().ok(), "receiver listening");
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Logs one batch for the freshness gate.
    async fn log(&self, kind: RecordKind, at: Instant, outcome: Result<i64, String>) {
        let (ok, detail, records) = match outcome {
            Ok(n) => (true, String::new(), n),
            Err(e) => (false, e, 0),
        };
        let log = PullLog {
            source: self.name().to_owned(),
            kind,
            axis: Axis::Push,
            from: at,
            to: at,
            ok,
            detail,
            records,
            finished_at: (self.now)(),
        };
        if let Err(e) = self.store.record_pull(&log).await {
            tracing::error!(source = %self.name(), error = %e, "cannot log a received batch");
        }
    }
}

/// An envelope answer: `error_code` as a number, as the national portal answers.
fn answer(code: i64, message: &str) -> Response {
    Json(json!({"error_code": code, "message": message})).into_response()
}

fn refused(code: i64, message: &str, result: Value) -> Response {
    Json(json!({"error_code": code, "message": message, "result": result})).into_response()
}

/// 429 with the wait the limiter says.
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1).to_string();
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"error_code": -1, "message": "Quá nhiều yêu cầu; gửi lại sau ít phút"})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, seconds.parse().expect("digits"));
    r
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_default()
}

async fn login(Shared(r): Shared<Arc<Receiver>>, headers: HeaderMap, body: String) -> Response {
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return answer(-1, "Dữ liệu đăng nhập không phải JSON {username, password}");
    };
    let username = text(&v, "username");
    let password = SecretString::from(text(&v, "password"));
    if let Some(code) = &r.settings.receiver.dstcode {
        let sent = headers.get("dstcode").and_then(|h| h.to_str().ok());
        if sent != Some(code.as_str()) {
            tracing::warn!(source = %r.name(), client = %username, "login without the right dstcode");
            return answer(-1, "dstcode không đúng");
        }
    }
    if let Err(not_until) = r.logins.check_key(&username) {
        use governor::clock::Clock as _;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        tracing::warn!(source = %r.name(), client = %username, "logins throttled");
        return too_many(wait);
    }
    let hash = match r.store.receiver_client(r.name(), &username).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(source = %r.name(), error = %e, "cannot read the receiver's clients");
            return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
        }
    };
    // argon2 costs tens of milliseconds: off the async threads.
    let ok = match hash {
        Some(hash) => tokio::task::spawn_blocking(move || {
            crate::auth::receiver::verify_password(&password, &hash)
        })
        .await
        .unwrap_or(false),
        None => false,
    };
    if !ok {
        tracing::warn!(source = %r.name(), client = %username, "receiver login refused");
        return answer(-1, "Sai tên đăng nhập hoặc mật khẩu");
    }
    let (token, hash) = match crate::auth::receiver::new_session() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot make a session");
            return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
        }
    };
    let minutes = r.settings.receiver.session_minutes.max(1) as i64;
    let expires = Instant((r.now)().0 + minutes * 60);
    if let Err(e) = r
        .store
        .put_receiver_session(&hash, r.name(), &username, expires)
        .await
    {
        tracing::error!(source = %r.name(), error = %e, "cannot keep a session");
        return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
    }
    tracing::info!(source = %r.name(), client = %username, "receiver login");
    Json(json!({"error_code": 0, "message": "Đăng nhập thành công", "session": token.expose_secret()}))
        .into_response()
}

async fn integration(Shared(r): Shared<Arc<Receiver>>, body: String) -> Response {
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return answer(-1, "Dữ liệu không phải JSON");
    };
    let session = text(&v, "session");
    let hash = crate::auth::receiver::session_hash(&session);
    let client = match r.store.receiver_session(&hash, (r.now)()).await {
        Ok(Some((source, client))) if source == r.name() => client,
        Ok(_) => {
            return answer(
                -1,
                "Phiên làm việc không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại",
            );
        }
        Err(e) => {
            tracing::error!(source = %r.name(), error = %e, "cannot read sessions");
            return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
        }
    };
    if let Err(not_until) = r.calls.check_key(&client) {
        use governor::clock::Clock as _;
        return too_many(not_until.wait_time_from(governor::clock::DefaultClock::default().now()));
    }
    let service = text(&v, "service");
    let span = tracing::info_span!("receiver.call", source = %r.name(), client = %client, service = %service);
    tracing::Instrument::instrument(services::call(&r, &client, &service, &v), span).await
}

/// A receiver being served.
pub struct Serving {
    pub name: String,
    pub address: std::net::SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves every configured receiver that has a listen address, each until `stop` says so.
pub async fn spawn_all(
    store: &AnyStore,
    sources: &[SourceSettings],
    units: &crate::domain::UnitTree,
    now: Now,
    stop: crate::shutdown::Shutdown,
) -> Result<Vec<Serving>, String> {
    let mut out = Vec::new();
    for (receiver, listener) in bind_all(store, sources, units, now).await? {
        let address = listener
            .local_addr()
            .map_err(|e| format!("receiver `{}`: {e}", receiver.name()))?;
        let name = receiver.name().to_owned();
        let mut stop = stop.clone();
        let task = tokio::spawn(receiver.serve(listener, async move { stop.requested().await }));
        out.push(Serving {
            name,
            address,
            task,
        });
    }
    Ok(out)
}

/// Binds every configured receiver that has a listen address: (receiver, listener).
pub async fn bind_all(
    store: &AnyStore,
    sources: &[SourceSettings],
    units: &crate::domain::UnitTree,
    now: Now,
) -> Result<Vec<(Arc<Receiver>, tokio::net::TcpListener)>, String> {
    let mut out = Vec::new();
    for s in sources {
        if s.protocol != crate::sources::config::Protocol::Receiver {
            continue;
        }
        let Some(address) = &s.receiver.listen else {
            continue;
        };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("receiver `{}` cannot listen on {address}: {e}", s.name))?;
        let receiver = Receiver::new(store.clone(), s.clone(), units, now.clone())?;
        out.push((Arc::new(receiver), listener));
    }
    Ok(out)
}
