//! Crash drills in CI (tests/common/worlds.rs): a small province, `sync` killed with SIGKILL once
//! in each stage (pull, store, compute, deliver) at a point drawn from a printed seed, then run
//! normally; each drilled world must end as the clean one, on SQLite and on PostgreSQL. Replay a
//! failure with `BAOCAO_DRILL_SEED=<seed> cargo test --test crash`. The benchmark command runs
//! twenty drills at province size.

#[path = "common/stores.rs"]
#[allow(dead_code)]
mod stores;
#[path = "common/worlds.rs"]
mod worlds;

use stores::TestDb;

fn drills_end_as_the_clean_run(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 3_000, 12);
    let seed = worlds::seed();
    let mut databases = Vec::new();
    let mut store = |_: &str| {
        let db = TestDb::new(backend);
        let url = db.url().to_owned();
        databases.push(db);
        url
    };
    let (points, runs) =
        worlds::drill_series(&data, dir.path(), &mut store, seed, worlds::STAGES.len());
    println!(
        "crash drills on {backend}: seed {seed} (BAOCAO_DRILL_SEED replays), points {points:?}"
    );
    let mut failures = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let (plan, drilled) = (&run.plan, &run.drilled);
        println!(
            "  drill {i}: killed at {} point {}: {} differences left by the crash, {} after the next run",
            plan.stage,
            plan.point,
            drilled.left_by_the_crash,
            drilled.differences.len()
        );
        if drilled.left_by_the_crash == 0 {
            failures.push(format!(
                "drill {i}: the kill left nothing half-done that the comparison saw (it proves nothing)"
            ));
        }
        if !drilled.differences.is_empty() {
            failures.push(format!(
                "drill {i} (seed {seed}, killed at {} point {}):\n    {}",
                plan.stage,
                plan.point,
                drilled.differences.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn killed_runs_on_sqlite_end_as_a_clean_run() {
    drills_end_as_the_clean_run("sqlite");
}

#[test]
fn killed_runs_on_postgres_end_as_a_clean_run() {
    drills_end_as_the_clean_run("postgres");
}

/// A killed run never records how it ended; the next run of the period, holding the period's
/// lock, closes it as abandoned, so no run reads as running for ever.
#[test]
fn the_next_run_closes_a_killed_run_as_abandoned() {
    use baocao_sync::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 600, 6);
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let world = worlds::World::with(
        &data,
        &dir.path().join("world"),
        url.clone(),
        &worlds::Setup::default(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = || {
        runtime.block_on(async {
            let store = baocao_sync::store::open(&url).await.unwrap();
            store.runs(Some(worlds::PERIOD), 10).await.unwrap()
        })
    };

    assert!(world.sync(worlds::FIRST_RUN, Some(("compute", 1))).killed);
    let killed = runs();
    assert_eq!(killed.len(), 1, "{killed:?}");
    assert_eq!(killed[0].outcome, None, "{killed:?}");

    world.sync(worlds::NEXT_RUN, None);
    let after = runs();
    assert_eq!(after.len(), 2, "{after:?}");
    let (next, first) = (&after[0], &after[1]);
    assert_eq!(first.id, killed[0].id);
    assert_eq!(first.outcome.as_deref(), Some("abandoned"), "{after:?}");
    assert!(
        first.summary.contains("before recording how the run ended"),
        "{after:?}"
    );
    assert!(first.finished_at.is_some(), "{after:?}");
    assert!(
        next.outcome.is_some() && next.outcome != first.outcome,
        "{after:?}"
    );
}
