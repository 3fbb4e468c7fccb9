//! Upgrades (issue 20): a store written by release v0.1.0 (main at b3eca6d, tagged) opens with
//! this binary and migrates in place, on both backends, its dossiers, outbox, audit and sealed
//! logins intact and the figures unchanged. The v0.1.0 stores are kept as plain SQL dumps
//! (tests/fixtures/v0.1.0/, how they were made in its README), loaded into a fresh database here.

mod common;

use common::stores::{BACKENDS, TestDb, execute, scalar};
use common::*;

/// The dump's statements, without psql's meta-commands (`\restrict` …).
fn dump(backend: &str) -> String {
    own_fixture("v0.1.0", &format!("{backend}.sql"))
        .parse::<std::path::PathBuf>()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v0_1_0_store_migrates_in_place_with_everything_it_held() {
    let expected = expected_ii06a();
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        execute(db.url(), dump(backend)).await;
        let kept = [
            "SELECT COUNT(*) FROM outbox",
            "SELECT COUNT(*) FROM audit",
            "SELECT COUNT(*) FROM credentials",
            "SELECT COUNT(*) FROM outbox WHERE state = 'created'",
        ];
        let mut before = Vec::new();
        for q in kept {
            before.push(scalar(db.url(), q).await);
        }
        assert!(
            before[0] > 0 && before[1] > 0 && before[2] > 0,
            "{backend}: {before:?}"
        );
        // The drafts, which v0.1.0 kept in the outbox's rows and this release in a table of
        // their own: as many, of the same rows, as long.
        let drafts_before = [
            "SELECT COUNT(*) FROM outbox WHERE draft IS NOT NULL",
            "SELECT CAST(SUM(id) AS BIGINT) FROM outbox WHERE draft IS NOT NULL",
            "SELECT CAST(SUM(LENGTH(draft)) AS BIGINT) FROM outbox",
        ];
        let mut drafts = Vec::new();
        for q in drafts_before {
            drafts.push(scalar(db.url(), q).await);
        }
        assert!(drafts[0] > 0, "{backend}: the dump holds drafts");
        let applied = scalar(db.url(), "SELECT COUNT(*) FROM _sqlx_migrations").await;

        // This binary opens it: the figures are the golden ones.
        let report = ii06a_from_store(db.url());
        assert_same_figures(&expected, &report);
        let mut after = Vec::new();
        for q in kept {
            after.push(scalar(db.url(), q).await);
        }
        assert_eq!(before, after, "{backend}: outbox, audit and logins intact");
        let drafts_after = [
            "SELECT COUNT(*) FROM outbox_drafts",
            "SELECT CAST(SUM(outbox_id) AS BIGINT) FROM outbox_drafts",
            "SELECT CAST(SUM(LENGTH(draft)) AS BIGINT) FROM outbox_drafts",
        ];
        for (q, was) in drafts_after.into_iter().zip(&drafts) {
            assert_eq!(scalar(db.url(), q).await, *was, "{backend}: {q}");
        }
        let migrations = std::fs::read_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend),
        )
        .unwrap()
        .count() as i64;
        assert!(
            applied < migrations,
            "{backend}: the dump is older than this release"
        );
        assert_eq!(
            scalar(db.url(), "SELECT COUNT(*) FROM _sqlx_migrations").await,
            migrations,
            "{backend}: every migration of this release applied"
        );
        // The outbox as `status` reads it: every report of the dump's push still there (the
        // upstreams are named, not called).
        let dir = tempfile::tempdir().unwrap();
        let upstreams = dir.path().join("upstreams.toml");
        sandbox_upstreams(&upstreams, "http://127.0.0.1:9", "");
        let status = output_with(
            bin()
                .args(["status", "--period", "2023-Q3", "--database-url", db.url()])
                .args(["--units", fixture("units.toml").to_str().unwrap()])
                .args(["--upstreams", upstreams.to_str().unwrap()]),
            &[0, 2],
        );
        assert!(
            status.contains("000.10.00.H55") && status.contains("no_credential"),
            "{backend}: {status}"
        );
    }
}
