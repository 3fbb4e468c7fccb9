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

#[path = "common/worlds.rs"]
mod worlds;

/// Backs up the store `world` uses: `backup` for SQLite, PostgreSQL's documented way
/// (`pg_dump --format=custom`) for PostgreSQL.
fn back_up(world: &worlds::World, to: &std::path::Path) {
    if world.url.starts_with("sqlite:") {
        output_with(
            bin()
                .args(["backup", "--out", to.to_str().unwrap(), "--config"])
                .arg(world.config()),
            &[0],
        );
    } else {
        output_with(
            std::process::Command::new("pg_dump").args([
                "--format=custom",
                "--file",
                to.to_str().unwrap(),
                &world.url,
            ]),
            &[0],
        );
    }
}

/// Puts the backup back: `restore` for SQLite, `pg_restore --clean --if-exists --no-owner` for
/// PostgreSQL (as the README and `backup` say).
fn restore_into(world: &worlds::World, from: &std::path::Path) {
    if world.url.starts_with("sqlite:") {
        output_with(
            bin()
                .args(["restore", "--from", from.to_str().unwrap(), "--config"])
                .arg(world.config()),
            &[0],
        );
    } else {
        output_with(
            std::process::Command::new("pg_restore").args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--dbname",
                &world.url,
                from.to_str().unwrap(),
            ]),
            &[0],
        );
    }
}

/// Dossiers of the generated province the source changes after the backup: five of the period,
/// their channel swapped (online ↔ at the counter, so the II.06a figures move), updated between
/// the first run and the next.
fn changed_dossiers(data: &std::path::Path) -> String {
    let text = std::fs::read_to_string(data.join("dossiers.ndjson")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut d: serde_json::Value = serde_json::from_str(line).unwrap();
        let received = d["NgayTiepNhan"].as_str().unwrap_or_default();
        if !(received.starts_with("202307") || received.starts_with("202308")) {
            continue;
        }
        let swapped = match d["KenhThucHien"].as_str() {
            Some("1") => "2",
            Some("2") => "1",
            _ => continue,
        };
        d["KenhThucHien"] = swapped.into();
        d["CapNhatLuc"] = "20231101080000".into();
        out.push_str(&format!("{d}\n"));
        if out.lines().count() == 5 {
            break;
        }
    }
    assert_eq!(out.lines().count(), 5);
    out
}

/// The story: a store is backed up after the first run of the quarter; the source changes and the
/// next run updates the drafts; the server is then restored from the backup (the store is back
/// before those updates, the reporting systems are not) and the quarter goes on. It ends as a
/// store never restored ends: the same records, outbox and drafts, no draft written more often.
fn a_store_restored_mid_quarter_ends_the_quarter_as_one_never_restored(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 600, 6);
    let steady_db = TestDb::new("sqlite");
    let restored_db = TestDb::new(backend);
    let steady = worlds::World::new(&data, &dir.path().join("steady"), steady_db.url().into());
    let restored = worlds::World::new(
        &data,
        &dir.path().join("restored"),
        restored_db.url().into(),
    );
    let backup = dir.path().join("backup");
    let changes = changed_dossiers(&data);
    let later = "2023-11-01T09:30:00+07:00";
    let mut at_backup = None;
    for world in [&steady, &restored] {
        world.sync(worlds::FIRST_RUN, None);
        if std::ptr::eq(world, &restored) {
            back_up(world, &backup);
            at_backup = Some(world.state());
        }
        let taken = reqwest::blocking::Client::new()
            .post(format!("{}/_sandbox/records/dossiers", world.address()))
            .body(changes.clone())
            .send()
            .unwrap();
        assert!(taken.status().is_success());
        let next = world.sync(worlds::NEXT_RUN, None);
        assert!(next.stdout.contains("updated"), "{}", next.stdout);
    }
    restore_into(&restored, &backup);
    // The store is back as it was at the backup, behind the reporting systems.
    let (at_backup, now) = (at_backup.unwrap(), restored.state());
    assert_eq!(now.records, at_backup.records);
    assert_eq!(now.outbox, at_backup.outbox);
    assert_ne!(now.remote, at_backup.remote);
    for world in [&steady, &restored] {
        world.sync(later, None);
    }
    let (steady, restored) = (steady.state(), restored.state());
    assert!(
        steady.remote.values().any(|r| r.version == 2),
        "the changes updated drafts"
    );
    let differences = restored.differences(&steady);
    assert!(
        differences.is_empty(),
        "{backend}: the restored store ends otherwise:\n{}",
        differences.join("\n")
    );
}

#[test]
fn a_sqlite_store_restored_mid_quarter_ends_the_quarter_as_one_never_restored() {
    a_store_restored_mid_quarter_ends_the_quarter_as_one_never_restored("sqlite");
}

#[test]
fn a_postgresql_store_restored_mid_quarter_with_pg_restore_ends_the_quarter_as_one_never_restored()
{
    a_store_restored_mid_quarter_ends_the_quarter_as_one_never_restored("postgres");
}
