//! Every sandbox fault at a high rate, alone and all together, on a generated province (small
//! here; at province size in `cargo bench --bench province`): however many runs it takes to settle
//! (`sync` again an hour later, as the schedule would), the world ends as a fault-free one — the
//! same records, every outbox row in the same outcome class with the same content, and the same
//! drafts in both reporting systems, each written exactly once. The plans: tests/common/worlds.rs.

#[path = "common/worlds.rs"]
mod worlds;

#[test]
fn every_fault_at_a_high_rate_ends_as_a_fault_free_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = worlds::province(dir.path(), 2_000, 8);
    let root = dir.path().to_owned();
    let mut store = |name: &str| format!("sqlite://{}", root.join(format!("{name}.db")).display());
    let mut failures = Vec::new();
    for run in worlds::fault_series(&data, dir.path(), &mut store) {
        println!(
            "{}: settled in {} run(s), {} differences; faults fired: {:?}",
            run.name,
            run.runs,
            run.differences.len(),
            run.fired
        );
        if run.fired.is_empty() || run.fired.values().any(|n| *n < 20) {
            failures.push(format!(
                "{}: a fault of the plan hardly fired ({:?})",
                run.name, run.fired
            ));
        }
        if !run.differences.is_empty() {
            failures.push(format!(
                "{}:\n    {}",
                run.name,
                run.differences.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
