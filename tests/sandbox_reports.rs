//! The sink client against the sandbox's report API (a real server on port 0): a draft's whole
//! life — created, unchanged, updated, edited by a person, approved — and the sandbox's own rules
//! (If-Match, Idempotency-Key replay, rights per unit), checked through its inspection endpoint.

use baocao_sync::auth::token::{TokenEndpoint, http_client, login};
use baocao_sync::auth::vault::{Credential, System};
use baocao_sync::sandbox::{self, SandboxData};
use baocao_sync::sinks::{Decision, Draft, DraftRow, History, ReportKey, ReportingClient};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const ACCOUNTS: &str = r#"
[[clients]]
system = "central"
client_id = "baocao-sync"
[[accounts]]
system = "central"
username = "051234567890"
password = "mk"
units = ["000.10.00.H55"]
"#;

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(sandbox::serve(
        listener,
        SandboxData::from_toml(ACCOUNTS).unwrap(),
        Default::default(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn draft(total: u64) -> Draft {
    Draft {
        rows: vec![DraftRow {
            key: "_total".into(),
            label: "Tổng số".into(),
            values: [("3".to_owned(), total)].into(),
        }],
        text: None,
    }
}

fn key(unit: &str) -> ReportKey {
    ReportKey {
        form: "II.06a".into(),
        period: "2023-Q3".into(),
        unit: unit.into(),
    }
}

async fn inspect(base: &str) -> Vec<Value> {
    reqwest::get(format!("{base}/_sandbox/reports"))
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_drafts_life_on_the_sandbox() {
    let base = start().await;
    let http = http_client(std::time::Duration::from_secs(5));
    let endpoint = TokenEndpoint {
        client_id: Some("baocao-sync".into()),
        timeout_ms: 5_000,
        ..TokenEndpoint::at(format!("{base}/central/oauth/token"))
    };
    let credential = Credential {
        system: System::Central,
        unit: "000.10.00.H55".into(),
        username: System::Central.username("051234567890").unwrap(),
        password: SecretString::from("mk".to_owned()),
    };
    let token = login(&http, &endpoint, &credential).await.unwrap().access;
    let client =
        ReportingClient::new(http.clone(), &format!("{base}/central"), System::Central).unwrap();
    let k = key("000.10.00.H55");

    assert_eq!(
        client
            .push(
                &token,
                &k,
                &draft(12),
                History {
                    ours: None,
                    incarnation: 0,
                    force: false
                }
            )
            .await
            .decision,
        Decision::Created { version: 1 }
    );
    assert_eq!(
        client
            .push(
                &token,
                &k,
                &draft(12),
                History {
                    ours: Some(1),
                    incarnation: 0,
                    force: false
                }
            )
            .await
            .decision,
        Decision::Unchanged { version: 1 }
    );
    assert_eq!(
        client
            .push(
                &token,
                &k,
                &draft(13),
                History {
                    ours: Some(1),
                    incarnation: 0,
                    force: false
                }
            )
            .await
            .decision,
        Decision::Updated { version: 2 }
    );
    let held = inspect(&base).await;
    assert_eq!(
        held.len(),
        1,
        "exactly one draft for (system, form, period, unit)"
    );
    assert_eq!(
        (held[0]["version"].as_u64(), held[0]["writes"].as_u64()),
        (Some(2), Some(2))
    );

    // A person edits the draft: it is left as they left it.
    let url = format!("{base}/_sandbox/reports/central/II.06a/2023-Q3/000.10.00.H55");
    reqwest::Client::new()
        .post(format!("{url}/edit"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        client
            .push(
                &token,
                &k,
                &draft(14),
                History {
                    ours: Some(2),
                    incarnation: 0,
                    force: false
                }
            )
            .await
            .decision,
        Decision::EditedByPerson {
            remote_version: Some(3)
        }
    );
    // Then approves it: never touched again, not even when forced.
    reqwest::Client::new()
        .post(format!("{url}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        client
            .push(
                &token,
                &k,
                &draft(14),
                History {
                    ours: Some(3),
                    incarnation: 0,
                    force: true
                }
            )
            .await
            .decision,
        Decision::Locked {
            status: "approved".into()
        }
    );
    let held = inspect(&base).await;
    assert_eq!(
        (held[0]["status"].as_str(), held[0]["writes"].as_u64()),
        (Some("approved"), Some(2))
    );
    assert_eq!(held[0]["content_hash"], "sha256:edited-by-a-person");

    // No data-entry right for another unit; a token that is not one is refused.
    assert!(matches!(
        client
            .push(&token, &key("000.11.00.H55"), &draft(1), History::default())
            .await
            .decision,
        Decision::Forbidden { .. }
    ));
    let bogus = SecretString::from("not-a-token".to_owned());
    assert_eq!(
        client
            .push(
                &bogus,
                &k,
                &draft(1),
                History {
                    ours: None,
                    incarnation: 0,
                    force: false
                }
            )
            .await
            .decision,
        Decision::Unauthorized
    );
    let _ = token.expose_secret();
}

#[tokio::test]
async fn the_sandbox_replays_idempotent_writes_and_wants_if_match() {
    let base = start().await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/central/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "baocao-sync"),
            ("username", "051234567890"),
            ("password", "mk"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let url = format!("{base}/central/v1/reports/II.06a/2023-Q3/000.10.00.H55/draft");
    let body = json!({"rows": [], "text": null, "content_hash": "sha256:x", "source": "test"});
    let put = |idem: &'static str, if_match: Option<&'static str>| {
        let mut r = http
            .put(&url)
            .header("Authorization", &bearer)
            .header("Idempotency-Key", idem)
            .json(&body);
        if let Some(v) = if_match {
            r = r.header("If-Match", v);
        }
        r.send()
    };
    assert_eq!(put("k1", None).await.unwrap().status(), 201);
    let again = put("k1", None).await.unwrap();
    assert_eq!(again.status(), 201, "the first final answer, replayed");
    assert_eq!(
        put("k2", None).await.unwrap().status(),
        428,
        "a draft exists and no If-Match was sent"
    );
    let stale = put("k3", Some("\"7\"")).await.unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(stale.json::<Value>().await.unwrap()["current_version"], 1);
    assert_eq!(put("k4", Some("1")).await.unwrap().status(), 200);
    let held = inspect(&base).await;
    assert_eq!(
        (held[0]["version"].as_u64(), held[0]["writes"].as_u64()),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn refusals_before_any_write_are_not_remembered() {
    // upstreams.md §2: 403 and 422 are refused before anything is written, so the same
    // Idempotency-Key may come again once the cause is fixed — and must then be written.
    let base = start().await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/central/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "baocao-sync"),
            ("username", "051234567890"),
            ("password", "mk"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let put = |unit: &str, body: Value| {
        http.put(format!(
            "{base}/central/v1/reports/II.06a/2023-Q3/{unit}/draft"
        ))
        .header("Authorization", &bearer)
        .header("Idempotency-Key", "same-key")
        .json(&body)
        .send()
    };
    let good = json!({"rows": [], "text": null, "content_hash": "sha256:x", "source": "t"});
    let bad = json!({"rows": "not rows", "text": null, "content_hash": "sha256:x", "source": "t"});
    assert_eq!(put("000.10.00.H55", bad).await.unwrap().status(), 422);
    assert_eq!(
        put("000.10.00.H55", good.clone()).await.unwrap().status(),
        201,
        "the key of a refused request writes once the request is right"
    );
    let with_key = |form: &'static str, unit: &'static str| {
        http.put(format!(
            "{base}/central/v1/reports/{form}/2023-Q3/{unit}/draft"
        ))
        .header("Authorization", &bearer)
        .header("Idempotency-Key", "other-key")
        .json(&good)
        .send()
    };
    assert_eq!(
        with_key("II.06a", "000.11.00.H55").await.unwrap().status(),
        403
    );
    assert_eq!(
        with_key("II.05a", "000.10.00.H55").await.unwrap().status(),
        201,
        "a 403 is not replayed for the key"
    );
}
