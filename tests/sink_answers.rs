//! The reporting-system client against every answer row of upstreams.md §2 (wiremock), and what it
//! sends: bearer token, If-Match only on updates, an Idempotency-Key, the body and its hash.

use baocao_sync::auth::vault::System;
use baocao_sync::sinks::{Base, Decision, Draft, DraftRow, History, ReportKey, ReportingClient};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PATH: &str = "/v1/reports/II.06a/2023-Q3/000.10.00.H55";

fn key() -> ReportKey {
    ReportKey {
        form: "II.06a".into(),
        period: "2023-Q3".into(),
        unit: "000.10.00.H55".into(),
    }
}

fn draft() -> Draft {
    Draft {
        rows: vec![DraftRow {
            key: "_total".into(),
            label: "Tổng số".into(),
            values: [("3".to_owned(), 12), ("4".to_owned(), 5)].into(),
        }],
        text: None,
    }
}

fn remote(status: &str, version: u64, hash: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "form": "II.06a", "period": "2023-Q3", "unit": "000.10.00.H55", "status": status, "version": version,
        "rows": [], "text": null, "content_hash": hash, "updated_by": "x", "updated_at": "2023-09-15T01:02:03Z"
    }))
}

fn error(status: u16, code: &str, extra: Value) -> ResponseTemplate {
    let mut body = json!({"error_code": code, "message": format!("{code} message")});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    ResponseTemplate::new(status).set_body_json(body)
}

/// Mounts the GET and (optional) PUT answers, pushes, and returns the decision and the requests.
async fn push(
    get: ResponseTemplate,
    put: Option<ResponseTemplate>,
    ours: Option<u64>,
    force: bool,
) -> (Decision, Vec<Request>) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(get)
        .mount(&server)
        .await;
    if let Some(put) = put {
        Mock::given(method("PUT"))
            .and(path(format!("{PATH}/draft")))
            .respond_with(put)
            .mount(&server)
            .await;
    }
    let client =
        ReportingClient::new(reqwest::Client::new(), &server.uri(), System::Central).unwrap();
    let history = History {
        ours,
        incarnation: 0,
        force,
    };
    let decision = client
        .push(
            &SecretString::from("tok".to_owned()),
            &key(),
            &draft(),
            history,
        )
        .await
        .decision;
    (
        decision,
        server.received_requests().await.unwrap_or_default(),
    )
}

fn header<'r>(r: &'r Request, name: &str) -> Option<&'r str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn puts(requests: &[Request]) -> Vec<&Request> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect()
}

#[tokio::test]
async fn created_when_absent_with_no_if_match() {
    let (d, reqs) = push(
        error(404, "not_found", json!({})),
        Some(ResponseTemplate::new(201).set_body_json(json!({"version": 1}))),
        None,
        false,
    )
    .await;
    assert_eq!(d, Decision::Created { version: 1 });
    let put = puts(&reqs)[0];
    assert_eq!(header(put, "authorization"), Some("Bearer tok"));
    assert_eq!(header(put, "if-match"), None);
    assert_eq!(header(put, "idempotency-key").map(str::len), Some(32));
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(body["content_hash"], draft().content_hash());
    assert_eq!(body["rows"][0]["key"], "_total");
    assert!(body["source"].as_str().unwrap().starts_with("baocao-sync/"));
    assert!(body["text"].is_null());
}

#[tokio::test]
async fn recreated_when_our_draft_disappeared() {
    let (d, reqs) = push(
        error(404, "not_found", json!({})),
        Some(ResponseTemplate::new(201).set_body_json(json!({"version": 1}))),
        Some(4),
        false,
    )
    .await;
    assert_eq!(d, Decision::Recreated { version: 1 });
    let (_, first) = push(
        error(404, "not_found", json!({})),
        Some(ResponseTemplate::new(201).set_body_json(json!({"version": 1}))),
        None,
        false,
    )
    .await;
    // A server that remembers keys for 24 h would answer the first creation's 201 again and
    // write nothing: the re-creation must carry a key of its own (upstreams.md §2).
    assert_ne!(
        header(puts(&reqs)[0], "idempotency-key"),
        header(puts(&first)[0], "idempotency-key")
    );
}

#[tokio::test]
async fn updated_with_if_match_on_our_own_draft() {
    let (d, reqs) = push(
        remote("draft", 3, "sha256:old"),
        Some(ResponseTemplate::new(200).set_body_json(json!({"version": 4}))),
        Some(3),
        false,
    )
    .await;
    assert_eq!(d, Decision::Updated { version: 4 });
    assert_eq!(header(puts(&reqs)[0], "if-match"), Some("3"));
}

#[tokio::test]
async fn unchanged_content_writes_nothing() {
    let (d, reqs) = push(
        remote("draft", 3, &draft().content_hash()),
        None,
        Some(3),
        false,
    )
    .await;
    assert_eq!(d, Decision::Unchanged { version: 3 });
    assert!(puts(&reqs).is_empty());
}

#[tokio::test]
async fn approved_signed_or_sent_is_never_written() {
    for status in ["approved", "signed", "sent"] {
        let (d, reqs) = push(remote(status, 3, "sha256:old"), None, Some(3), true).await;
        assert_eq!(
            d,
            Decision::Locked {
                status: status.into()
            }
        );
        assert!(puts(&reqs).is_empty(), "{status}");
    }
}

#[tokio::test]
async fn a_draft_a_person_changed_is_left_unless_forced() {
    let (d, reqs) = push(remote("draft", 5, "sha256:theirs"), None, Some(3), false).await;
    assert_eq!(
        d,
        Decision::EditedByPerson {
            remote_version: Some(5)
        }
    );
    assert!(puts(&reqs).is_empty());
    let (d, _) = push(remote("draft", 5, "sha256:theirs"), None, None, false).await;
    assert_eq!(
        d,
        Decision::EditedByPerson {
            remote_version: Some(5)
        },
        "a draft we never wrote"
    );
    let (d, reqs) = push(
        remote("draft", 5, "sha256:theirs"),
        Some(ResponseTemplate::new(200).set_body_json(json!({"version": 6}))),
        Some(3),
        true,
    )
    .await;
    assert_eq!(d, Decision::Updated { version: 6 });
    assert_eq!(header(puts(&reqs)[0], "if-match"), Some("5"));
}

#[tokio::test]
async fn every_refusal_of_a_write_has_its_decision() {
    let get = || remote("draft", 3, "sha256:old");
    let cases: Vec<(ResponseTemplate, Decision)> = vec![
        (
            error(409, "not_draft", json!({})),
            Decision::Locked {
                status: "not_draft".into(),
            },
        ),
        (
            error(412, "version_mismatch", json!({"current_version": 7})),
            Decision::EditedByPerson {
                remote_version: Some(7),
            },
        ),
        (
            error(403, "forbidden", json!({})),
            Decision::Forbidden {
                message: "forbidden message".into(),
            },
        ),
        (
            error(422, "invalid", json!({"details": {"row": "G99"}})),
            Decision::Invalid {
                message: "invalid message: {\"row\":\"G99\"}".into(),
            },
        ),
        (
            error(428, "precondition_required", json!({})),
            Decision::EditedByPerson {
                remote_version: None,
            },
        ),
        (
            error(401, "unauthorized", json!({})),
            Decision::Unauthorized,
        ),
    ];
    for (answer, expected) in cases {
        let (d, _) = push(get(), Some(answer), Some(3), false).await;
        assert_eq!(d, expected);
    }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_transient() {
    let (d, _) = push(
        remote("draft", 3, "sha256:old"),
        Some(error(429, "too_many", json!({})).insert_header("Retry-After", "30")),
        Some(3),
        false,
    )
    .await;
    assert!(
        matches!(d, Decision::Transient { retry_after: Some(t), .. } if t == Duration::from_secs(30)),
        "{d:?}"
    );
    let (d, _) = push(
        remote("draft", 3, "sha256:old"),
        Some(error(503, "unavailable", json!({}))),
        Some(3),
        false,
    )
    .await;
    assert!(
        matches!(
            d,
            Decision::Transient {
                retry_after: None,
                ..
            }
        ),
        "{d:?}"
    );
    let (d, reqs) = push(error(500, "boom", json!({})), None, Some(3), false).await;
    assert!(matches!(d, Decision::Transient { .. }), "{d:?}");
    assert!(
        puts(&reqs).is_empty(),
        "nothing is written when the read back fails"
    );
    let (d, _) = push(error(401, "unauthorized", json!({})), None, Some(3), false).await;
    assert_eq!(d, Decision::Unauthorized);
}

#[tokio::test]
async fn path_segments_are_url_encoded_and_keys_follow_the_write() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(error(404, "not_found", json!({})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"version": 1})))
        .mount(&server)
        .await;
    let client =
        ReportingClient::new(reqwest::Client::new(), &server.uri(), System::Provincial).unwrap();
    let key = ReportKey {
        form: "II.01-ĐC".into(),
        period: "2023-Q3".into(),
        unit: "000.00.30.H55".into(),
    };
    client
        .push(
            &SecretString::from("t".to_owned()),
            &key,
            &draft(),
            History::default(),
        )
        .await;
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs[0].url.path(),
        "/v1/reports/II.01-%C4%90C/2023-Q3/000.00.30.H55"
    );
    // The same write keys the same; another base version, content or creation keys differently.
    let a = client.idempotency_key(&key, "sha256:a", Base::New, 0);
    assert_eq!(a, client.idempotency_key(&key, "sha256:a", Base::New, 0));
    assert_ne!(
        a,
        client.idempotency_key(&key, "sha256:a", Base::Version(1), 0)
    );
    assert_ne!(a, client.idempotency_key(&key, "sha256:b", Base::New, 0));
    // A draft deleted twice is created again twice, each time with a key of its own, even when
    // the server numbers the new draft's versions from 1 again.
    let again = client.idempotency_key(&key, "sha256:a", Base::Gone(1), 1);
    assert_ne!(a, again);
    assert_ne!(
        again,
        client.idempotency_key(&key, "sha256:a", Base::Gone(1), 2)
    );
}
