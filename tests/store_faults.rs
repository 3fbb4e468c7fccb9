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

#[path = "common/worlds.rs"]
mod worlds;

/// The built-in duties with every deadline 120 days after the cut-off, so that the daemon still
/// works on the drilled period at the instant its clock is frozen at (after its records all
/// arrived).
fn late_duties(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duties/quang-ngai-2023.toml"),
    )
    .unwrap();
    let mut late = String::new();
    for line in shipped.lines() {
        late.push_str(if line.starts_with("deadline_days = ") {
            "deadline_days = 120"
        } else {
            line
        });
        late.push('\n');
    }
    assert_ne!(late.trim_end(), shipped.trim_end(), "deadlines were moved");
    let file = dir.join("duties.toml");
    std::fs::write(&file, late).unwrap();
    file
}

/// `/readyz`: its status and how long it took to answer.
fn readyz(base: &str) -> (u16, std::time::Duration) {
    let started = std::time::Instant::now();
    let status = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{base}/readyz"))
        .send()
        .map_or(0, |r| r.status().as_u16());
    (status, started.elapsed())
}

/// A daemon on a PostgreSQL database reached through a proxy, its clock frozen on a morning when
/// the drilled period's records have all arrived and its pre-fill is due. When the daemon is
/// inside `stage` (held there a moment by `BAOCAO_DRILL_STALL`), the database goes away for 30 s:
/// the daemon keeps running, `/readyz` says "not ready" within 2 s; when it returns the daemon
/// resumes by itself and ends as a clean `sync` of the same data on SQLite ends: the same
/// records, outbox and drafts, each draft written once, every run with its outcome recorded.
fn the_database_stops_for_30_s(stage: &str, resumed_by: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 600, 6);
    let setup = worlds::Setup {
        duties: Some(late_duties(dir.path())),
        ..worlds::Setup::default()
    };
    let clean_db = format!("sqlite://{}", dir.path().join("clean.db").display());
    let clean = worlds::World::with(&data, &dir.path().join("clean"), clean_db, &setup);
    clean.sync(worlds::FIRST_RUN, None);
    let clean = clean.state();

    let db = common::stores::TestDb::new("postgres");
    let proxy = common::proxy::Proxy::spawn("127.0.0.1:5432");
    let (_, name) = db.url().rsplit_once('/').unwrap();
    let through = format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port);
    let world = worlds::World::with(&data, &dir.path().join("drilled"), through, &setup);

    let log = dir.path().join("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_baocao-sync"))
        .args(["daemon", "--freeze-clock", "--now", worlds::FIRST_RUN])
        .arg("--config")
        .arg(world.config())
        .env("BAOCAO__HTTP__LISTEN", "127.0.0.1:0")
        .env("BAOCAO_DRILL_STALL", format!("{stage}:1:3000"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(daemon.stdout.take().unwrap()).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("admin HTTP on ").map(str::to_owned))
            .expect("the daemon says where its admin HTTP listens");
        std::thread::spawn(move || for _ in lines {});
        base
    };
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let started = std::time::Instant::now();
    while !logged().contains(&format!("drill: stalled at {stage}")) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the daemon never reached {stage}:\n{}",
            logged()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    proxy.cut();
    let (status, took) = readyz(&base);
    assert_eq!(status, 503, "not ready while the database is away");
    assert!(
        took < std::time::Duration::from_secs(2),
        "/readyz took {took:?}"
    );
    // The outage lasts 30 s (real time: the database is what is away, not the clock).
    let cut_at = std::time::Instant::now();
    while cut_at.elapsed() < std::time::Duration::from_secs(30) {
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "the daemon exited while the database was away:\n{}",
            logged()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(readyz(&base).0, 503);
    proxy.restore();

    // It resumes by itself and ends as the clean run.
    let started = std::time::Instant::now();
    loop {
        let differences = world.state().differences(&clean);
        if differences.is_empty() {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "after the database returned, the daemon did not end as the clean run:\n{}\n{}",
            differences.join("\n"),
            logged()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(readyz(&base).0, 200, "ready again");
    let log_text = logged();
    assert!(log_text.contains(resumed_by), "{log_text}");
    let store = tokio::runtime::Runtime::new().unwrap();
    store.block_on(async {
        use baocao_sync::store::Store;
        let store = db.open().await;
        // The run the outage interrupted records its outcome once its own store calls get
        // through (each tried again every second); the run after it may end first. One whose
        // start the outage cut off unacknowledged is closed as abandoned by the run after it.
        let started = std::time::Instant::now();
        loop {
            let runs = store.runs(Some(worlds::PERIOD), 50).await.unwrap();
            if runs.iter().all(|r| r.outcome.is_some()) {
                break;
            }
            assert!(
                started.elapsed().as_secs() < 60,
                "every run's outcome is recorded: {runs:?}\n{}",
                logged()
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let fires = store.fires("prefill:").await.unwrap();
        assert_eq!(fires.len(), 1, "{fires:?}");
        assert_eq!(fires[0].outcome.as_deref(), Some("done"), "{fires:?}");
    });
    unsafe {
        libc::kill(daemon.id() as i32, libc::SIGTERM);
    }
    assert_eq!(daemon.wait().unwrap().code(), Some(0), "{}", logged());
}

#[test]
fn the_database_stops_for_30_s_during_a_pull() {
    the_database_stops_for_30_s("pull", "the store stopped answering during a fire");
}

#[test]
fn the_database_stops_for_30_s_during_compute() {
    the_database_stops_for_30_s("compute", "the store stopped answering during a fire");
}

#[test]
fn the_database_stops_for_30_s_during_delivery() {
    the_database_stops_for_30_s("deliver", "the store does not answer; trying again");
}
