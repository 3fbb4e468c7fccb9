//! The credentials vault through the binary: logins sealed at rest, listed masked, re-sealed on
//! key rotation; no password or full citizen-ID number in any output or log line.

mod common;

use common::*;
use std::io::Write;
use std::process::{Output, Stdio};

const CITIZEN_ID: &str = "051234567890";
const PASSWORD: &str = "Mật-khẩu-2023!";

fn creds(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.env("RUST_LOG", "debug")
        .env_remove("BAOCAO_VAULT_KEY")
        .env_remove("BAOCAO_VAULT_KEY_FILE");
    cmd.arg("creds").args(args).args(["--database-url", db]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        // A command that fails before reading its password closes the pipe first: that is fine.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(PASSWORD), "password leaked: {all}");
    assert!(!all.contains(CITIZEN_ID), "citizen ID leaked: {all}");
    out
}

fn init_key(path: &std::path::Path) {
    let out = bin()
        .args(["creds", "init-key", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `creds set` of the department's central login (the citizen ID and password above) with `key`.
fn set_central_login(db: &str, key: &std::path::Path) -> Output {
    creds(
        db,
        &[
            "set",
            "--system",
            "central",
            "--unit",
            "000.10.00.H55",
            "--username",
            CITIZEN_ID,
            "--password-stdin",
            "--key-file",
            key.to_str().unwrap(),
        ],
        Some(&format!("{PASSWORD}\n")),
    )
}

#[test]
fn logins_are_sealed_listed_masked_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let (key1, key2) = (dir.path().join("key1"), dir.path().join("key2"));
    init_key(&key1);
    init_key(&key2);
    let k1 = key1.to_str().unwrap();

    let set = set_central_login(&db, &key1);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let set = creds(
        &db,
        &[
            "set",
            "--system",
            "provincial",
            "--unit",
            "000.10.00.H55",
            "--username",
            "can.bo@quangngai.gov.vn",
            "--password-stdin",
            "--key-file",
            k1,
        ],
        Some(PASSWORD),
    );
    assert!(set.status.success());

    let list = creds(&db, &["list"], None);
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.contains("*********890"), "{text}");
    assert!(text.contains("can.bo@quangngai.gov.vn"));

    // The database holds no password or citizen-ID number in the clear.
    let bytes = std::fs::read(dir.path().join("store.db")).unwrap();
    let raw = String::from_utf8_lossy(&bytes);
    assert!(!raw.contains(PASSWORD) && !raw.contains(CITIZEN_ID));

    let rotate = creds(
        &db,
        &[
            "rotate-key",
            "--new-key-file",
            key2.to_str().unwrap(),
            "--key-file",
            k1,
        ],
        None,
    );
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    assert!(String::from_utf8_lossy(&rotate.stdout).starts_with("2 credentials re-sealed"));
    // The old key no longer opens them: a second rotation from it stops before writing anything.
    let again = creds(
        &db,
        &["rotate-key", "--new-key-file", k1, "--key-file", k1],
        None,
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("was sealed with key"));
    let list = String::from_utf8(creds(&db, &["list"], None).stdout).unwrap();
    assert_eq!(
        list.lines().count(),
        3,
        "header and two logins, unchanged: {list}"
    );
}

#[test]
fn bad_logins_and_missing_keys_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    init_key(&key);
    let out = creds(
        &db,
        &[
            "set",
            "--system",
            "central",
            "--unit",
            "U",
            "--username",
            "can.bo@x.vn",
            "--password-stdin",
            "--key-file",
            key.to_str().unwrap(),
        ],
        Some(PASSWORD),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("9 (CMND) or 12 (CCCD) digits"));
    let out = creds(
        &db,
        &[
            "set",
            "--system",
            "central",
            "--unit",
            "U",
            "--username",
            CITIZEN_ID,
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no vault key"));
    let twice = bin()
        .args(["creds", "init-key", "--out", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!twice.status.success(), "a key file is never overwritten");
}

#[test]
fn a_key_file_others_can_read_or_kept_beside_its_store_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let set = |key: &std::path::Path| {
        let out = set_central_login(&db, key);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Beside the store and readable by all: both warnings, each with its fix.
    let beside = dir.path().join("vault.key");
    init_key(&beside);
    std::fs::set_permissions(&beside, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = set(&beside);
    assert!(
        err.contains("readable by others (mode 644): chmod 600"),
        "{err}"
    );
    assert!(err.contains("sits beside the store it opens"), "{err}");
    // In a folder of its own, private: no warning.
    let apart = dir.path().join("keys");
    std::fs::create_dir(&apart).unwrap();
    let key = apart.join("vault.key");
    std::fs::copy(&beside, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = set(&key);
    assert!(!err.contains("vault key file"), "{err}");
}
