//! A login session renews its token before it expires: with the refresh token while the server
//! accepts it, by logging in again when it does not, and never while the token has life left. The
//! clock is injected (a manual one), so nobody waits; the token endpoint is wiremock's.

use baocao_sync::auth::session::{Clock, Session};
use baocao_sync::auth::token::{TokenEndpoint, http_client};
use baocao_sync::auth::vault::{Credential, System};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A clock that moves only when told.
fn manual_clock() -> (Clock, Arc<AtomicU64>) {
    let start = std::time::Instant::now();
    let seconds = Arc::new(AtomicU64::new(0));
    let read = seconds.clone();
    let clock: Clock = Arc::new(move || start + Duration::from_secs(read.load(Ordering::SeqCst)));
    (clock, seconds)
}

fn token(access: &str, refresh: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": 300});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

async fn session(server: &MockServer, clock: Clock) -> Session {
    let endpoint = TokenEndpoint {
        client_id: Some("baocao-sync".into()),
        timeout_ms: 5_000,
        ..TokenEndpoint::at(format!("{}/token", server.uri()))
    };
    let credential = Credential {
        system: System::Provincial,
        unit: "000.10.00.H55".into(),
        username: System::Provincial
            .username("van.thu@quangngai.gov.vn")
            .unwrap(),
        password: SecretString::from("mk".to_owned()),
    };
    Session::with_clock(
        http_client(Duration::from_secs(5)),
        endpoint,
        credential,
        clock,
    )
}

fn grant(kind: &str) -> impl wiremock::Match + use<> {
    body_string_contains(format!("grant_type={kind}"))
}

/// The token endpoint answers a `kind` grant (whose body also holds `with`) with `answer`, at most
/// `limit` times, and must be asked exactly `calls` times (any number when `None`).
async fn answers(
    server: &MockServer,
    kind: &str,
    with: &str,
    answer: ResponseTemplate,
    limit: Option<u64>,
    calls: Option<u64>,
) {
    let mut mock = Mock::given(method("POST"))
        .and(path("/token"))
        .and(grant(kind))
        .and(body_string_contains(with))
        .respond_with(answer);
    if let Some(n) = limit {
        mock = mock.up_to_n_times(n);
    }
    if let Some(n) = calls {
        mock = mock.expect(n);
    }
    mock.mount(server).await;
}

#[tokio::test]
async fn renews_with_the_refresh_token_shortly_before_expiry() {
    let server = MockServer::start().await;
    answers(
        &server,
        "password",
        "",
        token("a1", Some("r1")),
        None,
        Some(1),
    )
    .await;
    answers(
        &server,
        "refresh_token",
        "refresh_token=r1",
        token("a2", None),
        None,
        Some(1),
    )
    .await;
    let (clock, seconds) = manual_clock();
    let session = session(&server, clock).await;

    assert_eq!(session.token().await.unwrap().expose_secret(), "a1");
    seconds.store(269, Ordering::SeqCst);
    assert_eq!(
        session.token().await.unwrap().expose_secret(),
        "a1",
        "a token with more than a tenth of its life left is kept"
    );
    seconds.store(271, Ordering::SeqCst);
    assert_eq!(
        session.token().await.unwrap().expose_secret(),
        "a2",
        "30 s before a 300 s token expires, it is renewed"
    );
    assert_eq!(session.token().await.unwrap().expose_secret(), "a2");
    // wiremock checks on drop: one password login, one refresh.
}

#[tokio::test]
async fn a_refused_refresh_token_means_logging_in_again() {
    let server = MockServer::start().await;
    answers(
        &server,
        "password",
        "",
        token("a1", Some("r1")),
        Some(1),
        Some(1),
    )
    .await;
    answers(
        &server,
        "refresh_token",
        "",
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
        None,
        Some(1),
    )
    .await;
    answers(
        &server,
        "password",
        "",
        token("a3", Some("r3")),
        None,
        Some(1),
    )
    .await;
    let (clock, seconds) = manual_clock();
    let session = session(&server, clock).await;
    assert_eq!(session.token().await.unwrap().expose_secret(), "a1");
    seconds.store(600, Ordering::SeqCst);
    assert_eq!(session.token().await.unwrap().expose_secret(), "a3");
}

#[tokio::test]
async fn a_token_refused_by_two_requests_is_renewed_once() {
    let server = MockServer::start().await;
    answers(&server, "password", "", token("a1", None), Some(1), None).await;
    answers(&server, "password", "", token("a2", None), None, Some(1)).await;
    let (clock, _) = manual_clock();
    let session = session(&server, clock).await;
    let refused = session.token().await.unwrap();
    let (a, b) = tokio::join!(session.renew(&refused), session.renew(&refused));
    assert_eq!(a.unwrap().expose_secret(), "a2");
    assert_eq!(
        b.unwrap().expose_secret(),
        "a2",
        "the second request gets the renewed token"
    );
}
