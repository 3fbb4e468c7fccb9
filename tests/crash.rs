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
    let clean_db = TestDb::new(backend);
    let (clean, points) =
        worlds::clean_run(&data, &dir.path().join("clean"), clean_db.url().to_owned());
    assert!(
        clean.remote.values().any(|r| r.writes == 1),
        "the clean run delivered drafts"
    );
    assert!(
        clean.remote.values().all(|r| r.writes == 1),
        "the clean world's second run found nothing new to write: {:?}",
        clean.remote
    );
    let seed = worlds::seed();
    println!(
        "crash drills on {backend}: seed {seed} (BAOCAO_DRILL_SEED replays), points {points:?}"
    );
    let plans = worlds::plans(seed, worlds::STAGES.len(), &points);
    let mut failures = Vec::new();
    let mut half_done = 0;
    for (i, plan) in plans.iter().enumerate() {
        let db = TestDb::new(backend);
        let work = dir.path().join(format!("drill-{i}"));
        let drilled = worlds::drill(&data, &work, db.url().to_owned(), plan, &clean);
        let differences = drilled.differences;
        println!(
            "  drill {i}: killed at {} point {}: {} differences left by the crash, {} after the next run",
            plan.stage,
            plan.point,
            drilled.left_by_the_crash,
            differences.len()
        );
        half_done += usize::from(drilled.left_by_the_crash > 0);
        if !differences.is_empty() {
            failures.push(format!(
                "drill {i} (seed {seed}, killed at {} point {}):\n    {}",
                plan.stage,
                plan.point,
                differences.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        half_done,
        plans.len(),
        "every kill left half-done work the comparison saw (else it proves nothing)"
    );
}

#[test]
fn killed_runs_on_sqlite_end_as_a_clean_run() {
    drills_end_as_the_clean_run("sqlite");
}

#[test]
fn killed_runs_on_postgres_end_as_a_clean_run() {
    drills_end_as_the_clean_run("postgres");
}
