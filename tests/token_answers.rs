//! The token endpoint's answers (upstreams.md "Common to all three"), one by one with wiremock:
//! what is sent for each grant, and how each OAuth2 error is classified.

use baocao_sync::auth::token::{TokenEndpoint, TokenError, login, refresh};
use baocao_sync::auth::vault::{Credential, System};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn endpoint(server: &MockServer) -> TokenEndpoint {
    TokenEndpoint {
        client_id: Some("baocao-sync".into()),
        timeout_ms: 5_000,
        ..TokenEndpoint::at(format!("{}/token", server.uri()))
    }
}

fn http_client() -> reqwest::Client {
    baocao_sync::auth::token::http_client(std::time::Duration::from_secs(5))
}

fn central() -> Credential {
    Credential {
        system: System::Central,
        unit: "U".into(),
        username: System::Central.username("051234567890").unwrap(),
        password: SecretString::from("mk".to_owned()),
    }
}

async fn answer(template: ResponseTemplate) -> Result<baocao_sync::auth::token::Token, TokenError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(template)
        .mount(&server)
        .await;
    login(&http_client(), &endpoint(&server), &central()).await
}

#[tokio::test]
async fn password_grant_sends_the_form_and_reads_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=password"))
        .and(body_string_contains("username=051234567890"))
        .and(body_string_contains("client_id=baocao-sync"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 300, "refresh_token": "r1"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let token = login(&http_client(), &endpoint(&server), &central())
        .await
        .unwrap();
    assert_eq!(token.access.expose_secret(), "a1");
    assert_eq!(token.expires_in, Some(std::time::Duration::from_secs(300)));
    assert_eq!(
        token.refresh.as_ref().map(|r| r.expose_secret().to_owned()),
        Some("r1".to_owned())
    );
}

#[tokio::test]
async fn client_credentials_go_in_a_basic_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header_exists("authorization"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "s1", "token_type": "Bearer"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let source = Credential {
        system: System::Source,
        unit: "*".into(),
        username: System::Source.username("lgsp").unwrap(),
        password: SecretString::from("secret".to_owned()),
    };
    let token = login(&http_client(), &endpoint(&server), &source)
        .await
        .unwrap();
    assert!(token.refresh.is_none() && token.expires_in.is_none());
}

#[tokio::test]
async fn oauth2_errors_are_classified() {
    let invalid_grant =
        answer(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}))).await;
    assert!(
        matches!(invalid_grant, Err(TokenError::InvalidGrant)),
        "{invalid_grant:?}"
    );
    let invalid_client =
        answer(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}))).await;
    assert!(
        matches!(invalid_client, Err(TokenError::InvalidClient)),
        "{invalid_client:?}"
    );
    let unsupported = answer(
        ResponseTemplate::new(400).set_body_json(json!({"error": "unsupported_grant_type"})),
    )
    .await;
    assert!(
        matches!(unsupported, Err(TokenError::Refused(_))),
        "{unsupported:?}"
    );
}

#[tokio::test]
async fn what_is_not_an_oauth2_error_is_transient() {
    // Only an OAuth2 error body on a 4xx is final; 5xx and 429 are transient whatever their body
    // says, and so is an answer that is not OAuth2 at all (a gateway's page): the policy retries
    // them like the APIs, and no unit is marked `login_failed` for an outage.
    let cases = [
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
        ResponseTemplate::new(503).set_body_string(""),
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        ResponseTemplate::new(500).set_body_json(json!({"error": "server_error"})),
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "2")
            .set_body_json(json!({"error_code": "too_many_requests"})),
        ResponseTemplate::new(400).set_body_json(json!({"error_code": "bad", "message": "x"})),
    ];
    for template in cases {
        let result = answer(template).await;
        assert!(matches!(&result, Err(e) if e.is_transient()), "{result:?}");
    }
}

#[tokio::test]
async fn a_refused_refresh_token_means_log_in_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    let result = refresh(
        &http_client(),
        &endpoint(&server),
        &SecretString::from("r-old".to_owned()),
    )
    .await;
    assert!(
        matches!(result, Err(TokenError::InvalidGrant)),
        "{result:?}"
    );
}
