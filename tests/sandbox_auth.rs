//! Logging in to the upstream token endpoints (the sandbox, a real server on port 0), and the
//! operator's chase list from `creds check`.

mod common;

use baocao_sync::auth::token::{TokenEndpoint, TokenError, http_client, login, refresh};
use baocao_sync::auth::vault::{Credential, System};
use baocao_sync::sandbox::{self, SandboxData};
use common::*;
use secrecy::{ExposeSecret, SecretString};

const CITIZEN_ID: &str = "051234567890";
const PASSWORD: &str = "Mật-khẩu-2023!";

const ACCOUNTS: &str = r#"
[[clients]]
system = "central"
client_id = "baocao-sync"
[[clients]]
system = "provincial"
client_id = "baocao-sync"
[[clients]]
system = "source"
client_id = "lgsp-quang-ngai"
client_secret = "bí mật:lgsp"
[[accounts]]
system = "central"
username = "051234567890"
password = "Mật-khẩu-2023!"
[[accounts]]
system = "provincial"
username = "can.bo@quangngai.gov.vn"
password = "Mật-khẩu-2023!"
"#;

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let data = SandboxData::from_toml(ACCOUNTS).unwrap();
    tokio::spawn(sandbox::serve(
        listener,
        data,
        Default::default(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

fn endpoint(base: &str, system: &str, client_id: Option<&str>) -> TokenEndpoint {
    TokenEndpoint {
        client_id: client_id.map(str::to_owned),
        timeout_ms: 5_000,
        ..TokenEndpoint::at(format!("{base}/{system}/oauth/token"))
    }
}

fn credential(system: System, username: &str, password: &str) -> Credential {
    Credential {
        system,
        unit: "000.10.00.H55".into(),
        username: system.username(username).unwrap(),
        password: SecretString::from(password.to_owned()),
    }
}

#[tokio::test]
async fn password_client_credentials_and_refresh_grants() {
    let base = start().await;
    let http = http_client(std::time::Duration::from_secs(5));
    let central = endpoint(&base, "central", Some("baocao-sync"));
    let token = login(
        &http,
        &central,
        &credential(System::Central, CITIZEN_ID, PASSWORD),
    )
    .await
    .unwrap();
    assert!(
        token
            .access
            .expose_secret()
            .starts_with("sandbox-central-access")
    );
    assert!(
        !format!("{token:?}").contains("sandbox-central"),
        "tokens do not print"
    );
    let renewed = refresh(&http, &central, token.refresh.as_ref().unwrap())
        .await
        .unwrap();
    assert_ne!(renewed.access.expose_secret(), token.access.expose_secret());
    // A refresh token is used once: again it is invalid_grant (log in with the password).
    let again = refresh(&http, &central, token.refresh.as_ref().unwrap()).await;
    assert!(matches!(again, Err(TokenError::InvalidGrant)), "{again:?}");

    let wrong = login(
        &http,
        &central,
        &credential(System::Central, CITIZEN_ID, "sai"),
    )
    .await;
    assert!(matches!(wrong, Err(TokenError::InvalidGrant)), "{wrong:?}");
    let unknown_client = login(
        &http,
        &endpoint(&base, "central", Some("khác")),
        &credential(System::Central, CITIZEN_ID, PASSWORD),
    )
    .await;
    assert!(
        matches!(unknown_client, Err(TokenError::InvalidClient)),
        "{unknown_client:?}"
    );

    // The source: client credentials (with characters that must be URL-encoded in the Basic header).
    let source = endpoint(&base, "source", None);
    let ok = login(
        &http,
        &source,
        &credential(System::Source, "lgsp-quang-ngai", "bí mật:lgsp"),
    )
    .await
    .unwrap();
    assert!(ok.refresh.is_none());
    let bad = login(
        &http,
        &source,
        &credential(System::Source, "lgsp-quang-ngai", "sai"),
    )
    .await;
    assert!(matches!(bad, Err(TokenError::InvalidClient)), "{bad:?}");

    let nowhere = login(
        &http,
        &endpoint("http://127.0.0.1:9", "central", Some("x")),
        &credential(System::Central, CITIZEN_ID, PASSWORD),
    )
    .await;
    assert!(
        matches!(nowhere, Err(TokenError::Transient(_))),
        "{nowhere:?}"
    );
}

#[test]
fn creds_check_prints_the_chase_list_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("accounts.toml"), ACCOUNTS).unwrap();
    let sandbox = Sandbox::spawn(dir.path());
    let base = sandbox.base.clone();

    let upstreams = dir.path().join("upstreams.toml");
    std::fs::write(
        &upstreams,
        format!(
            "[central]\ntoken_url = \"{base}/central/oauth/token\"\nclient_id = \"baocao-sync\"\n\
             [provincial]\ntoken_url = \"{base}/provincial/oauth/token\"\nclient_id = \"baocao-sync\"\n\
             [source]\nbase_url = \"{base}/source\"\ntoken_url = \"{base}/source/oauth/token\"\n"
        ),
    )
    .unwrap();
    let key = dir.path().join("key");
    assert!(
        bin()
            .args(["creds", "init-key", "--out", key.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let set = |system: &str, unit: &str, username: &str, password: &str| {
        creds_set(&db, &key, system, unit, username, password)
    };

    // Sở Tư pháp: both logins right. Xã Bình Thạnh: central right, provincial password wrong.
    set("central", "000.10.00.H55", CITIZEN_ID, PASSWORD);
    set(
        "provincial",
        "000.10.00.H55",
        "can.bo@quangngai.gov.vn",
        PASSWORD,
    );
    set("central", "000.00.30100.H55", CITIZEN_ID, PASSWORD);
    set(
        "provincial",
        "000.00.30100.H55",
        "can.bo@quangngai.gov.vn",
        "cũ",
    );
    // The province's source login, with a secret that was changed on the gateway.
    set("source", "*", "lgsp-quang-ngai", "bí mật:cũ");

    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/units.example.toml");
    let out = bin()
        .env("RUST_LOG", "debug")
        .args([
            "creds",
            "check",
            "--units",
            units.to_str().unwrap(),
            "--upstreams",
            upstreams.to_str().unwrap(),
        ])
        .args(["--key-file", key.to_str().unwrap(), "--database-url", &db])
        .output()
        .unwrap();
    drop(sandbox);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let all = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    for secret in [
        PASSWORD,
        CITIZEN_ID,
        "bí mật:cũ",
        "sandbox-central-access",
        "sandbox-provincial-refresh",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
    // Six units must file on two systems each: 3 logins work, 1 fails, 8 have no credential;
    // and the source login fails.
    assert!(
        text.contains("13 logins checked: 3 ok, 10 to chase"),
        "{text}"
    );
    let line = |unit: &str, system: &str| {
        text.lines()
            .find(|l| l.starts_with(unit) && l.contains(system))
            .map(str::to_owned)
    };
    assert!(
        line("000.00.30100.H55", "provincial")
            .unwrap()
            .contains("login fails: login refused (invalid_grant)")
    );
    assert!(
        line("*", "source")
            .unwrap()
            .contains("login fails: the client is not accepted (invalid_client)")
    );
    assert!(
        line("000.11.00.H55", "central")
            .unwrap()
            .contains("no credential")
    );
    assert!(
        line("000.10.00.H55", "central").is_none(),
        "working logins are not on the chase list"
    );
}
