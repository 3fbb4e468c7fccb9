//! A quarter unattended (issue 20), its part from the cut-off to the last deadline on small data:
//! two daemon replicas on one PostgreSQL database and the sandbox, all on one simulated clock
//! (an hour a second), fires from the daemons' own alarm. The source changes every hour; people
//! edit, approve, release, send and delete drafts; one replica is killed during the pre-fill; the
//! database stops for two hours; both replicas stop for two hours the night before the last
//! refresh. At the end every fire ran once (those due while nothing could claim them coalesced
//! into one), every report is what a clean run of the final data writes unless a person keeps it,
//! no write was in vain and the audit holds each one. `cargo bench --bench soak` runs the quarter.

use baocao_sync::domain::Instant;

mod common;
#[path = "common/soak.rs"]
mod soak;
#[path = "common/worlds.rs"]
mod worlds;

#[test]
fn from_the_cut_off_to_the_last_deadline_unattended() {
    let dir = tempfile::tempdir().unwrap();
    let story = soak::Story {
        speed: 3600,
        dossiers: 1_500,
        units: 6,
        changes_per_day: 480,
        deadline_days: 2,
        start: "2023-09-14T18:00:00+07:00",
        end: "2023-09-16T20:00:00+07:00",
        seed: worlds::seed(),
        sample_hours: 6,
        asynchronous_commit: true,
    };
    let ended = soak::run(&story, dir.path());
    let mut faults = soak::faults(&ended, 15 * 60);
    // An hour a second leaves a slot 250 ms of real time: a slot may pass with no tick while the
    // store is busy (each such gap coalesced into the next pull, which `faults` checks), but
    // hardly any does.
    let gaps = soak::unexplained_gaps(&ended, 15 * 60);
    let skipped = soak::skipped_slots(&gaps, 15 * 60);
    let slots =
        (Instant::parse(story.end).unwrap().0 - Instant::parse(story.start).unwrap().0) / 900;
    if skipped * 20 > slots {
        faults.push(format!(
            "{skipped} of {slots} pull slots passed with no tick outside outages: {gaps:?}"
        ));
    }
    let logs: String = ended
        .logs
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n----\n");
    let tail: String = logs
        .lines()
        .rev()
        .take(200)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    if !faults.is_empty() {
        // The replicas' whole logs, kept for reading.
        let kept = std::env::temp_dir().join(format!("baocao-soak-{}", story.seed));
        std::fs::create_dir_all(&kept).unwrap();
        for log in &ended.logs {
            std::fs::copy(log, kept.join(log.file_name().unwrap())).unwrap();
        }
        panic!(
            "seed {} (logs in {}):\n{}\n\nlogs (tail):\n{tail}",
            story.seed,
            kept.display(),
            faults.join("\n")
        );
    }
    // The story happened: the source changed, people acted, the pulls ran, the drafts exist.
    assert!(ended.changes_posted > 0 && ended.person_actions > 0);
    let pulls = ended.fires.iter().filter(|f| f.job == "pull").count();
    assert!(pulls > 100, "{pulls} pulls");
    assert!(!ended.clean.is_empty() && ended.outages.len() == 2);
    // The replica killed was running the pre-fill: another took it over, and ran it again or,
    // when a newer fire of the pre-fill was due by then, closed it as superseded (that fire
    // does its work; `faults` checks the pre-fill ran once).
    assert!(
        ended.orphaned,
        "the killed replica's pre-fill was taken over"
    );
    assert!(
        logs.contains("a fire whose process is gone runs again") || logs.contains("superseded: "),
        "the taken-over pre-fill ran again or was superseded"
    );
    eprintln!(
        "soak: {} fires, {} changes, {} person actions, pre-fill orphaned by the kill: {}, {:?} wall",
        ended.fires.len(),
        ended.changes_posted,
        ended.person_actions,
        ended.orphaned,
        ended.wall
    );
}
