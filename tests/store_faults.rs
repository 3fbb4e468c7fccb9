//! The store failing under the product (issue 20): SQLite's file that cannot grow (a process
//! file-size limit, `ulimit -f`, as a full disk gives: the write fails), and PostgreSQL going away
//! for a while under a running daemon (a TCP proxy the test cuts, never the shared server).

mod common;

use common::stores::scalar;
use common::*;
use std::os::unix::process::CommandExt;

/// `command` may write files of at most `bytes` (and gets EFBIG, not SIGXFSZ, beyond).
fn with_file_size_limit(command: &mut std::process::Command, bytes: u64) {
    // SAFETY: between fork and exec only async-signal-safe calls: signal and setrlimit.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_that_cannot_grow_is_named_with_its_free_space_keeps_nothing_half_written_and_resumes()
 {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.db");
    let db = format!("sqlite://{}", file.display());
    // A migrated, empty store, closed (its WAL folded into the file).
    baocao_sync::store::open(&db).await.unwrap();
    let blocks = "SELECT COUNT(*) FROM dossier_blocks";
    assert_eq!(scalar(&db, blocks).await, 0);

    // The golden import needs more than 64 kB of journal: the file cannot grow that far.
    let mut import = bin();
    import
        .args([
            "import",
            "--input",
            fixture("dossiers.ndjson").to_str().unwrap(),
        ])
        .args(["--database-url", &db]);
    with_file_size_limit(&mut import, 64 * 1024);
    let out = import.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for said in [
        format!("the store's file {} could not grow", file.display()),
        "free on its disk".to_owned(),
        "this process may write files of at most 65.5 kB".to_owned(),
        "nothing of it was kept".to_owned(),
    ] {
        assert!(stderr.contains(&said), "`{said}` in: {stderr}");
    }

    // Nothing half-written: the file is whole and holds no dossier.
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    assert_eq!(
        scalar(&db, blocks).await,
        0,
        "the failed import kept nothing"
    );

    // Space returns: the same import goes through, and the figures are the golden ones.
    import_golden(&db);
    assert_same_figures(&expected_ii06a(), &ii06a_from_store(&db));
}
