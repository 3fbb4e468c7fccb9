//! Every sandbox fault at a high rate, alone and all together, on a generated province (small
//! here; at province size in `cargo bench --bench province`): however many runs it takes to settle
//! (`sync` again an hour later, as the schedule would), the world ends as a fault-free one — the
//! same records, every outbox row in the same outcome class with the same content, and the same
//! drafts in both reporting systems, each written exactly once.

#[path = "common/worlds.rs"]
mod worlds;

use worlds::Setup;

/// (name, fault plan): each fault of the sandbox's plan that leaves the data as it is, at a rate
/// far above what a real day brings, then all of them at once. (Records changing between pages
/// and a person's edits change what the right end state is: tests/faults.rs covers those.)
pub const PLANS: [(&str, &str); 7] = [
    ("503 on every other request", "transient_every = 2\n"),
    (
        "502 on every third request",
        "transient_every = 3\ntransient_status = 502\n",
    ),
    (
        "bursts of 429",
        "rate_limit_every = 3\nrate_limit_burst = 2\n",
    ),
    (
        "slow answers past the timeout",
        "slow_every = 5\nslow_ms = 700\n",
    ),
    (
        "tokens worn out after 4 calls",
        "tokens_expire_after_calls = 4\n",
    ),
    (
        "token endpoint's error pages",
        "token_transient_every = 2\ntokens_expire_after_calls = 5\n",
    ),
    (
        "all at once",
        "transient_every = 4\nrate_limit_every = 5\nrate_limit_burst = 2\nslow_every = 9\n\
         slow_ms = 700\ntokens_expire_after_calls = 6\ntoken_transient_every = 4\n",
    ),
];

/// Requests time out after 400 ms and are tried up to 8 times from 50 ms.
pub const UPSTREAM_EXTRA: &str =
    "timeout_ms = 400\nretry = { max_attempts = 8, backoff_ms = 50, cap_seconds = 2 }";

#[test]
fn every_fault_at_a_high_rate_ends_as_a_fault_free_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 2_000, 8);
    let sqlite = |name: &str| {
        format!(
            "sqlite://{}",
            dir.path().join(name).join("store.db").display()
        )
    };
    let clean_setup = Setup {
        faults: None,
        upstream_extra: UPSTREAM_EXTRA.to_owned(),
    };
    let clean_world = worlds::World::with(
        &data,
        &dir.path().join("clean"),
        sqlite("clean"),
        &clean_setup,
    );
    worlds::settle(&clean_world, 2);
    let clean = clean_world.state().without_watermarks();
    assert!(
        !clean.remote.is_empty(),
        "the fault-free run delivered drafts"
    );
    let mut failures = Vec::new();
    for (i, (name, plan)) in PLANS.iter().enumerate() {
        let work = dir.path().join(format!("fault-{i}"));
        let setup = Setup {
            faults: Some((*plan).to_owned()),
            upstream_extra: UPSTREAM_EXTRA.to_owned(),
        };
        let world = worlds::World::with(&data, &work, sqlite(&format!("fault-{i}")), &setup);
        let runs = worlds::settle(&world, 6);
        let fired = world.faults_fired();
        let differences = world.state().without_watermarks().differences(&clean);
        println!(
            "{name}: settled in {runs} run(s), {} differences; faults fired: {fired:?}",
            differences.len()
        );
        if fired.is_empty() || fired.values().any(|n| *n < 20) {
            failures.push(format!(
                "{name}: a fault of the plan hardly fired ({fired:?})"
            ));
        }
        if !differences.is_empty() {
            failures.push(format!("{name}:\n    {}", differences.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
