//! Backups and releases (issue 20, its first parts): `backup` copies a SQLite store whole and
//! `restore` puts it back, figures and logins as they were at the backup; a restore is refused
//! while a daemon holds a lease on the store. A store a newer release migrated is refused by this
//! binary, naming both schemas, and left unchanged, on both backends.

mod common;

use common::stores::{BACKENDS, TestDb, execute, scalar};
use common::*;

fn creds_list(db: &str, key: &std::path::Path) -> String {
    output_with(
        bin().args([
            "creds",
            "list",
            "--database-url",
            db,
            "--key-file",
            key.to_str().unwrap(),
        ]),
        &[0],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restored_backup_is_the_store_as_it_was_and_a_running_daemon_blocks_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let key = dir.path().join("key");
    import_golden(&db);
    init_key(&key);
    creds_set(
        &db,
        &key,
        "central",
        "000.10.00.H55",
        "051234567890",
        "mk-so",
    );
    let expected = expected_ii06a();
    let backup = dir.path().join("backup.db");
    let said = output_with(
        bin().args([
            "backup",
            "--out",
            backup.to_str().unwrap(),
            "--database-url",
            &db,
        ]),
        &[0],
    );
    assert!(said.contains("vault key"), "{said}");
    // A backup never overwrites a file.
    let again = bin()
        .args([
            "backup",
            "--out",
            backup.to_str().unwrap(),
            "--database-url",
            &db,
        ])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));

    // After the backup: another login, and every dossier gone.
    creds_set(
        &db,
        &key,
        "central",
        "000.00.30.H55",
        "051234567891",
        "mk-huyen",
    );
    execute(&db, "DELETE FROM dossier_blocks".to_owned()).await;
    assert!(creds_list(&db, &key).contains("000.00.30.H55"));
    assert_eq!(
        ii06a_from_store(&db)["reports"].as_array().map(Vec::len),
        Some(0),
        "the dossiers are gone before the restore"
    );

    // A daemon's live lease blocks the restore.
    execute(
        &db,
        "INSERT INTO locks (name, owner, until) VALUES ('run:2023-Q3', 'host-1-abcd', 9999999999)"
            .to_owned(),
    )
    .await;
    let blocked = bin()
        .args([
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--database-url",
            &db,
        ])
        .output()
        .unwrap();
    assert_eq!(blocked.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("stop the daemon"));
    execute(&db, "DELETE FROM locks".to_owned()).await;

    output_with(
        bin().args([
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--database-url",
            &db,
        ]),
        &[0],
    );
    let listed = creds_list(&db, &key);
    assert!(
        listed.contains("000.10.00.H55") && !listed.contains("000.00.30.H55"),
        "{listed}"
    );
    assert_same_figures(&expected, &ii06a_from_store(&db));
    // The backup itself opens as a store with the same figures.
    assert_same_figures(
        &expected,
        &ii06a_from_store(&format!("sqlite://{}", backup.display())),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_from_a_newer_release_is_refused_and_left_unchanged() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        import_golden(db.url());
        let checksum = if backend == "sqlite" {
            "X'00'"
        } else {
            "'\\x00'::bytea"
        };
        execute(
            db.url(),
            format!(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99991231000000, 'from a later release', true, {checksum}, 0)"
            ),
        )
        .await;
        let migrations = scalar(db.url(), "SELECT COUNT(*) FROM _sqlx_migrations").await;
        let refused = bin()
            .args(["creds", "list", "--database-url", db.url()])
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(1), "{backend}");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("newer release"), "{backend}: {said}");
        assert!(said.contains("99991231000000"), "{backend}: {said}");
        assert!(
            said.contains(env!("CARGO_PKG_VERSION")),
            "{backend}: {said}"
        );
        assert!(said.contains("nothing was changed"), "{backend}: {said}");
        assert_eq!(
            scalar(db.url(), "SELECT COUNT(*) FROM _sqlx_migrations").await,
            migrations,
            "{backend}"
        );
    }
}
