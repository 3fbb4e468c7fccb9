//! The source client and the pull stage against a source that breaks upstreams.md §1 (wiremock):
//! a cursor that comes back, an empty page that promises more, an answer larger than allowed are
//! contract errors, never endless loops; so are a page larger than asked and an answer of the wrong
//! shape, while a record of the wrong types in a good page is that record's finding only; the pull keeps the windows stored before the failure and
//! logs the failed one for the freshness gate; the watermark only covers what was stored.

mod common;

use baocao_sync::auth::session::Session;
use baocao_sync::auth::token::{TokenEndpoint, http_client};
use baocao_sync::auth::vault::{Credential, System};
use baocao_sync::domain::{Instant, RecordKind};
use baocao_sync::sources::procedure::{SourceClient, SourceError};
use baocao_sync::store::Store;
use baocao_sync::sync::pull::{PullRequest, pull};
use common::stores::TestDb;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn source() -> (MockServer, Session) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}),
        ))
        .mount(&server)
        .await;
    let credential = Credential {
        system: System::Source,
        unit: "*".into(),
        username: System::Source.username("lgsp").unwrap(),
        password: SecretString::from("s".to_owned()),
    };
    let endpoint = TokenEndpoint::at(format!("{}/token", server.uri()));
    let session = Session::new(http_client(Duration::from_secs(5)), endpoint, credential);
    (server, session)
}

fn dossier(key: &str, updated: &str) -> serde_json::Value {
    json!({"MaHoSo": key, "TrangThaiHoSo": "2", "KenhThucHien": "1", "MaDonViXuLy": "000.10.00.H55",
           "MaLinhVuc": "G09-HT", "NgayTiepNhan": "20230701080000", "CapNhatLuc": updated})
}

fn client(server: &MockServer, max_body: usize) -> SourceClient {
    SourceClient::new(http_client(Duration::from_secs(5)), &server.uri(), max_body).unwrap()
}

/// One window of July 2023, in pages of 2.
async fn window(
    server: &MockServer,
    session: &Session,
    max_body: usize,
) -> Result<Vec<String>, SourceError> {
    window_of(server, session, max_body, 2).await
}

async fn window_of(
    server: &MockServer,
    session: &Session,
    max_body: usize,
    size: u32,
) -> Result<Vec<String>, SourceError> {
    client(server, max_body)
        .window(
            session,
            &Default::default(),
            "dossiers",
            Instant::parse("2023-07-01T00:00:00Z").unwrap(),
            Instant::parse("2023-08-01T00:00:00Z").unwrap(),
            size,
        )
        .await
}

#[tokio::test]
async fn a_cursor_that_comes_back_is_a_contract_error() {
    let (server, session) = source().await;
    let page = |next: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "content": [dossier("A", "20230702080000")], "next_after": next
        }))
    };
    Mock::given(path("/v1/dossiers"))
        .and(query_param_is_missing("after"))
        .respond_with(page("c1"))
        .mount(&server)
        .await;
    Mock::given(path("/v1/dossiers"))
        .and(query_param("after", "c1"))
        .respond_with(page("c2"))
        .mount(&server)
        .await;
    Mock::given(path("/v1/dossiers"))
        .and(query_param("after", "c2"))
        .respond_with(page("c1"))
        .mount(&server)
        .await;
    let result = window(&server, &session, 1 << 20).await;
    assert!(
        matches!(&result, Err(SourceError::Contract(m)) if m.contains("c1")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_empty_page_with_a_cursor_is_a_contract_error() {
    let (server, session) = source().await;
    Mock::given(path("/v1/dossiers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"content": [], "next_after": "more"})),
        )
        .mount(&server)
        .await;
    let result = window(&server, &session, 1 << 20).await;
    assert!(
        matches!(&result, Err(SourceError::Contract(m)) if m.contains("empty page")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_page_larger_than_asked_is_a_contract_error() {
    let (server, session) = source().await;
    Mock::given(path("/v1/dossiers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": [dossier("A", "20230702080000"), dossier("B", "20230702080000"),
                        dossier("C", "20230702080000")],
            "next_after": null
        })))
        .mount(&server)
        .await;
    // `window` asks for pages of 2.
    let result = window(&server, &session, 1 << 20).await;
    assert!(
        matches!(&result, Err(SourceError::Contract(m)) if m.contains("3 records where at most 2 were asked")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_a_contract_error() {
    for body in [
        json!({"content": {"MaHoSo": "A"}, "next_after": null}),
        json!({"content": [dossier("A", "20230702080000")], "next_after": 7}),
        json!([dossier("A", "20230702080000")]),
        json!("content"),
    ] {
        let (server, session) = source().await;
        Mock::given(path("/v1/dossiers"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let result = window(&server, &session, 1 << 20).await;
        assert!(
            matches!(&result, Err(SourceError::Contract(m)) if m.contains("does not parse")),
            "{body}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_record_of_the_wrong_types_is_its_own_finding_and_the_page_is_kept() {
    let (server, session) = source().await;
    let mut wrong = dossier("B", "20230702080000");
    wrong["NgayTiepNhan"] = json!(20230701080000u64);
    wrong["TrangThaiHoSo"] = json!(["2"]);
    Mock::given(path("/v1/dossiers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": [dossier("A", "20230702080000"), wrong], "next_after": null
        })))
        .mount(&server)
        .await;
    let texts = window(&server, &session, 1 << 20)
        .await
        .expect("a good page");
    let batch = baocao_sync::sources::export::parse_raw::<baocao_sync::domain::Dossier>(
        texts.iter().map(String::as_str),
        true,
    );
    use baocao_sync::sources::export::FromWire;
    let keys: Vec<&str> = batch.records.iter().map(|d| d.key()).collect();
    assert_eq!(keys, ["A"], "the good record is kept");
    assert_eq!(batch.findings.len(), 1, "{:?}", batch.findings);
    let finding = &batch.findings[0];
    assert_eq!(finding.record, "B");
    assert!(
        finding.message.contains("TrangThaiHoSo"),
        "{}",
        finding.message
    );
}

#[tokio::test]
async fn an_answer_over_the_limit_is_refused() {
    let (server, session) = source().await;
    let big: Vec<_> = (0..50)
        .map(|i| dossier(&format!("K{i}"), "20230702080000"))
        .collect();
    Mock::given(path("/v1/dossiers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"content": big, "next_after": null})),
        )
        .mount(&server)
        .await;
    let result = window_of(&server, &session, 1_000, 50).await;
    assert!(
        matches!(&result, Err(SourceError::Contract(m)) if m.contains("1000 bytes")),
        "{result:?}"
    );
    assert_eq!(
        window_of(&server, &session, 1 << 20, 50)
            .await
            .unwrap()
            .len(),
        50
    );
}

#[tokio::test]
async fn a_failure_keeps_the_windows_before_it_and_is_logged() {
    let (server, session) = source().await;
    // Three monthly windows from history_from: July answers, August fails for good, September
    // would answer.
    let month = |from: &str, status: u16, body: serde_json::Value| {
        Mock::given(path("/v1/dossiers"))
            .and(query_param("updated_from", from))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
    };
    month(
        "2023-07-01T00:00:00Z",
        200,
        json!({"content": [dossier("JUL", "20230702080000")], "next_after": null}),
    )
    .mount(&server)
    .await;
    month(
        "2023-07-31T00:00:00Z",
        400,
        json!({"error_code": "invalid", "message": "no"}),
    )
    .mount(&server)
    .await;
    month(
        "2023-08-30T00:00:00Z",
        200,
        json!({"content": [dossier("SEP", "20230902080000")], "next_after": null}),
    )
    .mount(&server)
    .await;
    let db = TestDb::new("sqlite");
    let store = db.open().await;
    let history = Instant::parse("2023-07-01T00:00:00Z").unwrap();
    let req = PullRequest {
        source: "default".into(),
        kind: RecordKind::Dossier,
        now: Instant(Instant::parse("2023-09-29T00:00:00Z").unwrap().0 + 300),
        lag_seconds: 300,
        overlap_seconds: 900,
        window_seconds: 30 * 86_400,
        history_from: history,
        full_from: None,
        page_size: 100,
        parallel: 3,
        retry: Default::default(),
    };
    let outcome = pull(&store, &client(&server, 1 << 20), &session, &req)
        .await
        .unwrap();
    assert_eq!((outcome.windows, outcome.stored), (3, 1));
    assert!(outcome.failure.unwrap().contains("400"));
    let stored: Vec<String> = store
        .dossiers(None)
        .await
        .unwrap()
        .iter()
        .map(|d| d.key.to_string())
        .collect();
    assert_eq!(
        stored,
        ["JUL"],
        "what came before the failure is kept, nothing after"
    );
    assert_eq!(
        store
            .watermark("default", RecordKind::Dossier)
            .await
            .unwrap(),
        Some(Instant::parse("2023-07-31T00:00:00Z").unwrap()),
        "the watermark covers the stored prefix only"
    );
    let log = store.pulls("default", RecordKind::Dossier).await.unwrap();
    assert_eq!(log.iter().map(|l| l.ok).collect::<Vec<_>>(), [true, false]);
}
