//! The store, on both backends (SQLite and PostgreSQL, a fresh database each): import is
//! idempotent, newer versions replace older ones, `report --from-store` gives the figures the file
//! gives; and the daemon's state — outbox claims under leases, fires claimed once, run leases,
//! watermarks that only move forward, the append-only audit — holds under concurrent callers.

mod common;

use baocao_sync::domain::{Instant, RecordKind};
use baocao_sync::sinks::Draft;
use baocao_sync::store::{
    AuditEntry, Claim, OutboxChanges, OutboxFilter, OutboxRow, OutboxState, PullLog, ReportId,
    Store,
};
use common::stores::{BACKENDS, TestDb};
use common::*;
use std::str::FromStr;

fn import(db: &str, input: &str) -> String {
    let out = run(&["import", "--input", input, "--database-url", db]);
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn import_is_idempotent_and_from_store_matches_the_file() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        import_and_report(db.url());
    }
    // SQLite makes the folders a database file lives in.
    let dir = tempfile::tempdir().unwrap();
    let nested = format!("sqlite://{}", dir.path().join("nested/store.db").display());
    assert!(import(&nested, fixture("dossiers.ndjson").to_str().unwrap()).starts_with("new "));
}

fn import_and_report(db: &str) {
    let db = db.to_owned();
    let input = fixture("dossiers.ndjson");
    let input = input.to_str().unwrap();

    let lines = std::fs::read_to_string(input).unwrap();
    let readable = lines
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    let first = import(&db, input);
    assert!(first.starts_with("new "), "{first}");
    let numbers: Vec<u64> = first
        .split(", ")
        .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let (new, updated, unchanged, rejected) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    assert_eq!(updated, 0);
    assert_eq!(
        new + unchanged + rejected,
        lines.lines().filter(|l| !l.trim().is_empty()).count() as u64
    );
    assert!(new > 0 && (new as usize) <= readable);

    let again = import(&db, input);
    assert_eq!(
        again,
        format!(
            "new 0, updated 0, unchanged {}, rejected {rejected}",
            new + unchanged
        )
    );

    for form in ["II.06a", "II.06"] {
        let args = |source: &[&str]| {
            let mut a: Vec<String> = source.iter().map(|s| s.to_string()).collect();
            a.extend(
                [
                    "--units",
                    fixture("units.toml").to_str().unwrap(),
                    "--period",
                    "2023-Q3",
                    "--form",
                    form,
                ]
                .map(str::to_owned),
            );
            a
        };
        let from_file = report_json(
            &args(&["--input", input])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let from_store = report_json(
            &args(&["--from-store", "--database-url", &db])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_same_figures(&from_file, &from_store);
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(&format!("expected-{form}-2023-Q3.json"))).unwrap(),
        )
        .unwrap();
        assert_same_figures(&expected, &from_store);
    }
}

#[test]
fn newer_versions_replace_older_and_older_ones_change_nothing() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        newer_versions(db.url());
    }
}

fn newer_versions(db: &str) {
    let db = db.to_owned();
    let dir = tempfile::tempdir().unwrap();
    let units = fixture("units.toml");
    let write = |name: &str, lines: &[&str]| {
        let p = dir.path().join(name);
        std::fs::write(&p, lines.join("\n")).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let v1 = r#"{"MaHoSo":"X-1","TrangThaiHoSo":"4","KenhThucHien":"2","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch (Bộ Tư pháp)","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","CapNhatLuc":"20230701080000"}"#;
    let v2 = r#"{"MaHoSo":"X-1","TrangThaiHoSo":"10","KenhThucHien":"2","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","TenLinhVuc":"Hộ tịch (Bộ Tư pháp)","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","NgayKetThucXuLy":"20230705080000","CapNhatLuc":"20230705080000"}"#;
    let other = r#"{"MaHoSo":"X-2","TrangThaiHoSo":"2","KenhThucHien":"1","MaDonViXuLy":"000.10.00.H55","MaLinhVuc":"G09-HT","NgayTiepNhan":"20230702080000","CapNhatLuc":"20230702080000"}"#;
    let bad = r#"{"MaHoSo":"X-3","TrangThaiHoSo":"99","CapNhatLuc":"20230702080000"}"#;

    assert_eq!(
        import(&db, &write("a.ndjson", &[v1, other, bad])),
        "new 2, updated 0, unchanged 0, rejected 1"
    );
    assert_eq!(
        import(&db, &write("b.ndjson", &[v2])),
        "new 0, updated 1, unchanged 0, rejected 0"
    );
    assert_eq!(
        import(&db, &write("c.ndjson", &[v1])),
        "new 0, updated 0, unchanged 1, rejected 0"
    );
    // The same key twice in one file: processed in order, the newer one stays.
    assert_eq!(
        import(&db, &write("d.ndjson", &[v2, v1])),
        "new 0, updated 0, unchanged 2, rejected 0"
    );

    let got = report_json(&[
        "--from-store",
        "--database-url",
        &db,
        "--units",
        units.to_str().unwrap(),
        "--period",
        "2023-Q3",
        "--form",
        "II.06a",
    ]);
    let total = &got["reports"][0]["total"];
    assert_eq!(total["3"], 2, "{got}");
    assert_eq!(total["7"], 1, "X-1 is resolved in its newer version");
    assert_eq!(total["8"], 1);
    assert_eq!(total["11"], 1);
    assert_eq!(
        error_findings(&got),
        [("invalid_record".to_owned(), "X-3".to_owned())]
    );
}

fn report_id(unit: &str) -> ReportId {
    ReportId {
        system: "central".into(),
        form: "II.06a".into(),
        period: "2023-Q3".into(),
        unit: unit.into(),
    }
}

fn pending(unit: &str) -> OutboxRow {
    let mut row = OutboxRow::new(report_id(unit), OutboxState::Pending, Instant(1_000));
    row.draft = Some(baocao_sync::sinks::Draft::narrative(format!(
        "draft of {unit}"
    )));
    row.content_hash = row.draft.as_ref().map(|d| d.content_hash());
    row.generation = 1;
    row.armed_by = "schedule".into();
    row
}

fn claim(owner: &str, now: i64) -> Claim {
    Claim {
        owner: owner.into(),
        now: Instant(now),
        lease_until: Instant(now + 300),
        system: "central".into(),
        filter: OutboxFilter::default(),
        limit: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_row_is_claimed_by_one_worker_and_returns_when_its_lease_expires() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let units: Vec<String> = (0..40).map(|i| format!("000.{i:02}.00.H55")).collect();
        let rows: Vec<OutboxRow> = units.iter().map(|u| pending(u)).collect();
        let written = store
            .outbox_apply(&OutboxFilter::default(), move |_| OutboxChanges {
                rows,
                ..OutboxChanges::default()
            })
            .await
            .unwrap();
        assert_eq!(written, 40);
        // Eight workers claim at once until nothing is left: each row goes to exactly one.
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..8 {
            let store = store.clone();
            workers.spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .outbox_claim(&claim(&format!("w{w}"), 2_000))
                        .await
                        .unwrap();
                    match got.into_iter().next() {
                        Some(r) => mine.push(r.report.unit),
                        None => return mine,
                    }
                }
            });
        }
        let mut claimed: Vec<String> = workers.join_all().await.into_iter().flatten().collect();
        claimed.sort();
        assert_eq!(claimed, units, "{backend}: each row claimed once");
        assert!(
            store
                .outbox_claim(&claim("late", 2_100))
                .await
                .unwrap()
                .is_empty()
        );
        // A worker that died: its rows come back once the lease is over, to another worker.
        let back = store.outbox_claim(&claim("w9", 2_301)).await.unwrap();
        assert_eq!(back.len(), 1, "{backend}");
        assert_eq!(back[0].state, OutboxState::Sending);
        assert_eq!(back[0].lease.as_ref().unwrap().owner, "w9");
        assert_eq!(back[0].sending_generation, Some(1));
        // A row armed again while its worker still holds the lease waits for that worker.
        let id = back[0].id.unwrap();
        store
            .outbox_apply(&OutboxFilter::id(id), |rows| {
                let mut r = rows[0].clone();
                r.state = OutboxState::Pending;
                OutboxChanges {
                    rows: vec![r],
                    ..OutboxChanges::default()
                }
            })
            .await
            .unwrap();
        let only = |now| Claim {
            filter: OutboxFilter::id(id),
            ..claim("w10", now)
        };
        assert!(
            store.outbox_claim(&only(2_400)).await.unwrap().is_empty(),
            "{backend}"
        );
        assert_eq!(store.outbox_claim(&only(2_602)).await.unwrap().len(), 1);
        // Retries are claimed when due, not before.
        let retry_id = store.outbox(&OutboxFilter::default()).await.unwrap()[5]
            .id
            .unwrap();
        store
            .outbox_apply(&OutboxFilter::id(retry_id), |rows| {
                let mut r = rows[0].clone();
                r.state = OutboxState::Retrying;
                r.lease = None;
                r.next_attempt_at = Some(Instant(5_000));
                OutboxChanges {
                    rows: vec![r],
                    ..OutboxChanges::default()
                }
            })
            .await
            .unwrap();
        let retry = |now| Claim {
            filter: OutboxFilter::id(retry_id),
            ..claim("w11", now)
        };
        assert!(store.outbox_claim(&retry(4_999)).await.unwrap().is_empty());
        assert_eq!(store.outbox_claim(&retry(5_000)).await.unwrap().len(), 1);
    }
}

/// Sets `row`'s state with `f` in one outbox transaction; the row as read back after.
async fn change(store: &impl Store, id: i64, f: impl FnOnce(&mut OutboxRow) + Send) -> OutboxRow {
    store
        .outbox_apply(&OutboxFilter::id(id), |rows| {
            let mut r = rows[0].clone();
            f(&mut r);
            OutboxChanges {
                rows: vec![r],
                ..OutboxChanges::default()
            }
        })
        .await
        .unwrap();
    store.outbox(&OutboxFilter::id(id)).await.unwrap().remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_stays_through_state_changes_and_follows_its_content() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let first = pending("000.01.00.H55");
        let text = |r: &OutboxRow| r.draft.as_ref().and_then(|d| d.text.clone());
        store
            .outbox_apply(&OutboxFilter::default(), {
                let first = first.clone();
                move |_| OutboxChanges {
                    rows: vec![first],
                    ..OutboxChanges::default()
                }
            })
            .await
            .unwrap();
        // Claimed and answered: the state changes, the draft is the one written.
        let claimed = store.outbox_claim(&claim("w0", 2_000)).await.unwrap();
        assert_eq!(text(&claimed[0]).as_deref(), Some("draft of 000.01.00.H55"));
        let id = claimed[0].id.unwrap();
        let answered = change(&store, id, |r| {
            r.state = OutboxState::Created;
            r.lease = None;
        })
        .await;
        assert_eq!(answered.state, OutboxState::Created, "{backend}");
        assert_eq!(answered.draft, first.draft, "{backend}: kept");
        // New content: the new draft is read back, under its own hash.
        let second = Draft::narrative("draft of 000.01.00.H55, again".into());
        let changed = change(&store, id, |r| {
            r.content_hash = Some(second.content_hash());
            r.draft = Some(second.clone());
            r.state = OutboxState::Pending;
        })
        .await;
        assert_eq!(changed.draft.as_ref(), Some(&second), "{backend}: replaced");
        // Read for its state alone: the same row, no draft read (its hash says there is one).
        let light = store
            .outbox_without_drafts(&OutboxFilter::id(id))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            light,
            OutboxRow {
                draft: None,
                ..changed.clone()
            },
            "{backend}: the row but its draft"
        );
        assert_eq!(light.content_hash, Some(second.content_hash()), "{backend}");
        // Nothing to report: no draft, and none left behind.
        let emptied = change(&store, id, |r| {
            r.content_hash = None;
            r.draft = None;
            r.state = OutboxState::NothingToReport;
        })
        .await;
        assert_eq!(emptied.draft, None, "{backend}");
        assert_eq!(
            common::stores::scalar(db.url(), "SELECT COUNT(*) FROM outbox_drafts").await,
            0,
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_rows_alone_reads_no_draft_and_keeps_each() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let first = pending("000.01.00.H55");
        let draft = first.draft.clone();
        store
            .outbox_apply(&OutboxFilter::default(), move |_| OutboxChanges {
                rows: vec![first],
                ..OutboxChanges::default()
            })
            .await
            .unwrap();
        let id = store.outbox(&OutboxFilter::default()).await.unwrap()[0]
            .id
            .unwrap();
        // A delivery's answer: the state changes, the draft is neither read nor lost.
        let mut seen = None;
        store
            .outbox_apply_rows(&OutboxFilter::id(id), |rows| {
                seen = Some(rows[0].draft.clone());
                let mut r = rows[0].clone();
                r.state = OutboxState::Created;
                r.our_version = Some(1);
                OutboxChanges {
                    rows: vec![r],
                    ..OutboxChanges::default()
                }
            })
            .await
            .unwrap();
        assert_eq!(seen, Some(None), "{backend}: no draft was read");
        let after = store.outbox(&OutboxFilter::id(id)).await.unwrap().remove(0);
        assert_eq!(after.state, OutboxState::Created, "{backend}");
        assert_eq!(after.our_version, Some(1), "{backend}");
        assert_eq!(after.draft, draft, "{backend}: the draft is kept");
        // New content through it is refused, and nothing of the change is written.
        let refused = store
            .outbox_apply_rows(&OutboxFilter::id(id), |rows| {
                let mut r = rows[0].clone();
                r.content_hash = Some("sha256:other".into());
                r.state = OutboxState::Pending;
                OutboxChanges {
                    rows: vec![r],
                    ..OutboxChanges::default()
                }
            })
            .await;
        assert!(refused.is_err(), "{backend}: {refused:?}");
        let kept = store.outbox(&OutboxFilter::id(id)).await.unwrap().remove(0);
        assert_eq!(kept.state, OutboxState::Created, "{backend}");
        assert_eq!(kept.content_hash, after.content_hash, "{backend}");
        assert_eq!(kept.draft, draft, "{backend}");
    }
}

/// A recompute writes a province's rows in one transaction, many a statement: every row and
/// draft lands as decided across the statements' bounds (500 rows each), a report named twice
/// is written as last named, a draft whose content did not change is kept, and the audit keeps
/// the order its entries were listed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recompute_of_many_reports_writes_each_row_and_draft_as_decided() {
    const UNITS: usize = 1_203;
    let unit = |i: usize| format!("{i:04}.00.00.H55");
    let with_text = |i: usize, text: String| {
        let mut row = pending(&unit(i));
        row.draft = Some(Draft::narrative(text));
        row.content_hash = row.draft.as_ref().map(|d| d.content_hash());
        row
    };
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let mut rows: Vec<OutboxRow> = (0..UNITS)
            .map(|i| with_text(i, format!("v1 {i}")))
            .collect();
        // Unit 17 named again further on, in another statement's rows: the later one counts.
        rows.push(with_text(17, "v1 17, named again".into()));
        let audit: Vec<AuditEntry> = (0..UNITS)
            .map(|i| AuditEntry {
                at: Some(Instant(1_000)),
                actor: "test".into(),
                action: "recompute".into(),
                reason: i.to_string(),
                ..AuditEntry::default()
            })
            .collect();
        let written = store
            .outbox_apply(&OutboxFilter::default(), move |_| OutboxChanges {
                rows,
                audit,
                ..OutboxChanges::default()
            })
            .await
            .unwrap();
        assert!(written >= UNITS, "{backend}");
        // Every third unit gets new content, every seventh (not a third) has nothing to report;
        // the rest come back unchanged, each with an attempt recorded.
        let second = store
            .outbox_apply(&OutboxFilter::default(), |held| {
                assert_eq!(held.len(), UNITS, "{backend}: one row each");
                let mut attempts = Vec::new();
                let rows = held
                    .into_iter()
                    .map(|mut r| {
                        let i: usize = r.report.unit[..4].parse().unwrap();
                        if i % 3 == 0 {
                            r.draft = Some(Draft::narrative(format!("v2 {i}")));
                            r.content_hash = r.draft.as_ref().map(|d| d.content_hash());
                        } else if i % 7 == 0 {
                            r.draft = None;
                            r.content_hash = None;
                            r.state = OutboxState::NothingToReport;
                        } else {
                            attempts.push(baocao_sync::store::AttemptRecord {
                                outbox_id: r.id.unwrap(),
                                at: Instant(2_000),
                                generation: r.generation,
                                content_hash: r.content_hash.clone(),
                                answer: "created".into(),
                                remote_version: Some(1),
                                detail: String::new(),
                                worker: "w0".into(),
                            });
                        }
                        r
                    })
                    .collect();
                OutboxChanges {
                    rows,
                    attempts,
                    ..OutboxChanges::default()
                }
            })
            .await
            .unwrap();
        assert_eq!(second, UNITS, "{backend}");
        let after = store.outbox(&OutboxFilter::default()).await.unwrap();
        assert_eq!(after.len(), UNITS, "{backend}");
        let mut kept = 0;
        for r in &after {
            let i: usize = r.report.unit[..4].parse().unwrap();
            let want = if i % 3 == 0 {
                Some(format!("v2 {i}"))
            } else if i % 7 == 0 {
                None
            } else if i == 17 {
                Some("v1 17, named again".to_owned())
            } else {
                Some(format!("v1 {i}"))
            };
            let got = r.draft.as_ref().and_then(|d| d.text.clone());
            assert_eq!(got, want, "{backend}: {}", r.report.unit);
            assert_eq!(
                r.content_hash,
                r.draft.as_ref().map(|d| d.content_hash()),
                "{backend}"
            );
            kept += usize::from(want.is_some());
        }
        let scalar = |q: &'static str| common::stores::scalar(db.url(), q);
        assert_eq!(
            scalar("SELECT COUNT(*) FROM outbox_drafts").await,
            kept as i64
        );
        let answered = (0..UNITS).filter(|i| i % 3 != 0 && i % 7 != 0).count();
        assert_eq!(
            scalar("SELECT COUNT(*) FROM outbox_attempts").await,
            answered as i64,
            "{backend}"
        );
        assert_eq!(
            scalar("SELECT COUNT(*) FROM audit WHERE action = 'recompute'").await,
            UNITS as i64
        );
        assert_eq!(
            scalar(
                "SELECT COUNT(*) FROM audit a JOIN audit b ON a.id < b.id \
                 WHERE a.action = 'recompute' AND b.action = 'recompute' \
                 AND CAST(a.reason AS INTEGER) > CAST(b.reason AS INTEGER)"
            )
            .await,
            0,
            "{backend}: the audit in the order listed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fires_are_claimed_once_and_run_leases_exclude_each_other() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let mut claims = tokio::task::JoinSet::new();
        for r in 0..6 {
            let store = store.clone();
            claims.spawn(async move {
                store
                    .claim_fire(
                        "prefill:2023-Q3",
                        Instant(100),
                        &format!("r{r}"),
                        Instant(101),
                    )
                    .await
                    .unwrap()
            });
        }
        let won = claims.join_all().await.into_iter().filter(|w| *w).count();
        assert_eq!(won, 1, "{backend}: one replica runs the fire");
        store
            .finish_fire("prefill:2023-Q3", Instant(100), "done", Instant(150))
            .await
            .unwrap();
        let fires = store.fires("prefill:").await.unwrap();
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0].outcome.as_deref(), Some("done"));
        assert!(store.fires("refresh:").await.unwrap().is_empty());

        assert!(
            store
                .acquire_lock("run:2023-Q3", "a", Instant(220), Instant(100))
                .await
                .unwrap()
        );
        assert!(
            !store
                .acquire_lock("run:2023-Q3", "b", Instant(230), Instant(110))
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_lock("run:2023-Q3", "a", Instant(240), Instant(120))
                .await
                .unwrap(),
            "renewed"
        );
        assert!(
            !store
                .acquire_lock("run:2023-Q3", "b", Instant(250), Instant(230))
                .await
                .unwrap()
        );
        assert!(
            store
                .acquire_lock("run:2023-Q3", "b", Instant(400), Instant(241))
                .await
                .unwrap(),
            "expired"
        );
        store.release_lock("run:2023-Q3", "a").await.unwrap();
        assert!(
            !store
                .acquire_lock("run:2023-Q3", "c", Instant(500), Instant(300))
                .await
                .unwrap(),
            "not a's to release"
        );
        store.release_lock("run:2023-Q3", "b").await.unwrap();
        assert!(
            store
                .acquire_lock("run:2023-Q3", "c", Instant(500), Instant(300))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn watermarks_only_move_forward_and_pulls_are_logged() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let k = RecordKind::Dossier;
        assert!(
            store
                .advance_watermark("default", k, Instant(500))
                .await
                .unwrap()
        );
        assert!(
            !store
                .advance_watermark("default", k, Instant(400))
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(
            store.watermark("default", k).await.unwrap(),
            Some(Instant(500))
        );
        assert!(
            store
                .advance_watermark("default", k, Instant(600))
                .await
                .unwrap()
        );
        let log = PullLog {
            source: "default".into(),
            kind: k,
            axis: baocao_sync::domain::Axis::Updated,
            from: Instant(0),
            to: Instant(600),
            ok: true,
            detail: String::new(),
            records: 12,
            finished_at: Instant(601),
        };
        store.record_pull(&log).await.unwrap();
        store
            .record_pull(&PullLog {
                ok: false,
                detail: "HTTP 503".into(),
                ..log.clone()
            })
            .await
            .unwrap();
        let got = store.pulls("default", k).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], log);
        assert!(
            store
                .pulls("default", RecordKind::Rating)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// An import of dossiers keeps the text of each record it cannot read (the reject), while the
/// records it stores keep none of theirs (they live in blocks).
#[test]
fn an_import_keeps_the_text_of_a_reject() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    let bad = r#"{"MaHoSo":"B-1","TrangThaiHoSo":"2","NgayTiepNhan":"20230231080000"}"#;
    std::fs::write(
        &input,
        format!("{{\"MaHoSo\":\"A-1\",\"TrangThaiHoSo\":\"2\"}}\n{bad}\n"),
    )
    .unwrap();
    let db = TestDb::new("sqlite");
    let out = import(db.url(), input.to_str().unwrap());
    assert!(out.ends_with("rejected 1"), "{out}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored: Vec<(String, String)> = rt.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(db.url()).unwrap();
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query_as("SELECT record_key, raw FROM rejected_records")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!(stored, [("B-1".to_owned(), bad.to_owned())]);
}

/// A key index built ahead (`prepare_dossier_import`, while a pull fetches) serves this process's
/// next import, and one that another process's write made stale is not used: the dossier that
/// process stored is found, updated, not stored twice.
#[tokio::test]
async fn a_key_index_built_ahead_is_not_used_once_another_write_moved_the_source() {
    use baocao_sync::domain::Dossier;
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let (here, other) = (db.open().await, db.open().await);
        let version = |key: &str, updated: &str| {
            baocao_sync::sources::export::parse_raw::<Dossier>(
                [format!(
                    "{{\"MaHoSo\":\"{key}\",\"TrangThaiHoSo\":\"2\",\"CapNhatLuc\":\"{updated}\"}}"
                )]
                .iter()
                .map(String::as_str),
                false,
            )
            .records
        };
        let upsert = |store: &baocao_sync::store::AnyStore, records: Vec<Dossier>| {
            let store = store.clone();
            async move {
                store
                    .upsert_dossiers("nguon", &records.iter().collect::<Vec<_>>())
                    .await
                    .unwrap()
            }
        };
        // Nothing stored yet: nothing to build.
        here.prepare_dossier_import("nguon").await.unwrap();
        upsert(&here, version("A", "20230901080000")).await;
        // Built ahead, then used by this process's own import.
        here.prepare_dossier_import("nguon").await.unwrap();
        let counts = upsert(&here, version("A", "20230902080000")).await;
        assert_eq!((counts.new, counts.updated), (0, 1), "{backend}");
        // Built ahead, then another process stores B: the index built here does not know B.
        here.prepare_dossier_import("nguon").await.unwrap();
        upsert(&other, version("B", "20230901080000")).await;
        let counts = upsert(&here, version("B", "20230903080000")).await;
        assert_eq!((counts.new, counts.updated), (0, 1), "{backend}: B found");
        let stored = here
            .dossiers_by_keys("nguon", &["A", "B"])
            .await
            .unwrap()
            .len();
        assert_eq!(stored, 2, "{backend}: each key once");
    }
}

/// Keys waiting as rejects are kept between a process's imports (an import no longer reads them
/// all for every window); a reject another process writes still gets cleared by a readable
/// version, and writing rejects moves the source's generation (the status page lists them).
#[tokio::test]
async fn a_readable_version_clears_rejects_written_by_this_process_or_another() {
    use baocao_sync::domain::{Dossier, FindingCode};
    use baocao_sync::store::Reject;
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let (here, other) = (db.open().await, db.open().await);
        let readable = |key: &str| {
            baocao_sync::sources::export::parse_raw::<Dossier>(
                [format!("{{\"MaHoSo\":\"{key}\",\"TrangThaiHoSo\":\"2\"}}")]
                    .iter()
                    .map(String::as_str),
                false,
            )
            .records
        };
        let reject = |key: &str| Reject {
            record_key: key.to_owned(),
            reason: "NgayTiepNhan 20230231: no such day".to_owned(),
            raw: format!("{{\"MaHoSo\":\"{key}\"}}"),
            code: FindingCode::InvalidRecord,
        };
        let waiting = |store: &baocao_sync::store::AnyStore| {
            let store = store.clone();
            async move {
                let mut keys: Vec<String> = store
                    .rejects(RecordKind::Dossier, Some("nguon"))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|f| f.record)
                    .collect();
                keys.sort();
                keys
            }
        };
        // This process imports once (its index and the keys waiting are kept), then both
        // processes write a reject each.
        let a = readable("A");
        here.upsert_dossiers("nguon", &a.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        let before = here.dossier_generations().await.unwrap();
        here.record_rejects(RecordKind::Dossier, "nguon", &[reject("B")])
            .await
            .unwrap();
        let after = here.dossier_generations().await.unwrap();
        assert!(
            after[0].1 > before[0].1,
            "{backend}: {before:?} then {after:?}"
        );
        other
            .record_rejects(RecordKind::Dossier, "nguon", &[reject("C")])
            .await
            .unwrap();
        assert_eq!(waiting(&here).await, ["B", "C"], "{backend}");
        // Readable versions of both arrive here: both rejects are cleared.
        let (b, c) = (readable("B"), readable("C"));
        here.upsert_dossiers("nguon", &b.iter().chain(&c).collect::<Vec<_>>())
            .await
            .unwrap();
        assert!(waiting(&here).await.is_empty(), "{backend}");
        // A reject written here after that, then its readable version, in this process only.
        here.record_rejects(RecordKind::Dossier, "nguon", &[reject("D")])
            .await
            .unwrap();
        assert_eq!(waiting(&other).await, ["D"], "{backend}");
        let d = readable("D");
        here.upsert_dossiers("nguon", &d.iter().collect::<Vec<_>>())
            .await
            .unwrap();
        assert!(waiting(&other).await.is_empty(), "{backend}");
    }
}

/// What the status page computed from the dossiers is current while each source's generation
/// stands: every committed write of dossiers moves it (a sync that stored something makes the
/// pages compute again rather than show what they computed before it for up to a minute).
#[tokio::test]
async fn a_committed_write_of_dossiers_moves_the_generation() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        assert!(store.dossier_generations().await.unwrap().is_empty());
        let write = |key: &'static str| {
            let store = &store;
            async move {
                let batch = baocao_sync::sources::export::parse_raw::<baocao_sync::domain::Dossier>(
                    [format!("{{\"MaHoSo\":\"{key}\",\"TrangThaiHoSo\":\"2\"}}")]
                        .iter()
                        .map(String::as_str),
                    false,
                );
                let refs: Vec<&baocao_sync::domain::Dossier> = batch.records.iter().collect();
                store.upsert_dossiers("nguon", &refs).await.unwrap();
                store.dossier_generations().await.unwrap()
            }
        };
        let first = write("A").await;
        assert_eq!(first.len(), 1, "{backend}");
        assert_eq!(first[0].0, "nguon");
        let second = write("B").await;
        assert!(
            second[0].1 > first[0].1,
            "{backend}: {first:?} then {second:?}"
        );
    }
}

/// A unit's audit lines are found however many lines other units have since (a unit page asks
/// for its own, not for the period's latest lines filtered afterwards).
#[tokio::test]
async fn a_units_audit_lines_are_read_by_unit() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let early = AuditEntry::about(&report_id("000.20.00.H55"), "schedule", "write", Instant(1));
        let later: Vec<AuditEntry> = (0..600)
            .map(|i| {
                AuditEntry::about(
                    &report_id("000.10.00.H55"),
                    "schedule",
                    "write",
                    Instant(2 + i),
                )
            })
            .collect();
        store
            .append_audit(std::slice::from_ref(&early))
            .await
            .unwrap();
        store.append_audit(&later).await.unwrap();
        let mine = store
            .audit(Some("2023-Q3"), Some("000.20.00.H55"), 30)
            .await
            .unwrap();
        assert_eq!(mine, [early], "{backend}");
        let theirs = store
            .audit(Some("2023-Q3"), Some("000.10.00.H55"), 30)
            .await
            .unwrap();
        assert_eq!(theirs.len(), 30, "{backend}");
        assert_eq!(theirs[0], later[599], "{backend}: newest first");
    }
}

#[tokio::test]
async fn a_viewers_link_works_once_before_it_expires_and_revoking_ends_their_sessions() {
    use baocao_sync::store::{SessionRecord, Viewer};
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let viewer = |name: &str| Viewer {
            name: name.into(),
            unit: "000.00.100.H55".into(),
            password_hash: None,
            created_at: 100,
            revoked_at: None,
        };
        store
            .issue_viewer(&viewer("a"), "link-a", 1_000)
            .await
            .unwrap();
        store
            .issue_viewer(&viewer("b"), "link-b", 1_000)
            .await
            .unwrap();
        assert_eq!(
            store
                .redeem_viewer_link("link-b", "hash-b", 1_000)
                .await
                .unwrap(),
            None,
            "{backend}: expired at 1000"
        );
        let used = store
            .redeem_viewer_link("link-a", "hash-a", 500)
            .await
            .unwrap()
            .expect("a fresh link");
        assert_eq!(
            (used.name.as_str(), used.password_hash.as_deref()),
            ("a", Some("hash-a"))
        );
        assert_eq!(
            store
                .redeem_viewer_link("link-a", "other", 501)
                .await
                .unwrap(),
            None,
            "{backend}: once"
        );
        let session = SessionRecord {
            role: "viewer".into(),
            name: "a".into(),
            unit: Some("000.00.100.H55".into()),
            csrf: "c".into(),
            expires_at: 2_000,
        };
        store.open_session("s-a", &session, 500).await.unwrap();
        assert_eq!(
            store.session("s-a", 600).await.unwrap(),
            Some(session.clone())
        );
        assert_eq!(
            store.session("s-a", 2_000).await.unwrap(),
            None,
            "{backend}: expired"
        );
        store.open_session("s-a2", &session, 2_000).await.unwrap();
        assert!(store.revoke_viewer("a", 700).await.unwrap());
        assert!(
            !store.revoke_viewer("a", 701).await.unwrap(),
            "{backend}: once"
        );
        assert_eq!(
            store.session("s-a2", 702).await.unwrap(),
            None,
            "{backend}: closed"
        );
        let a = store.viewer("a").await.unwrap().unwrap();
        assert_eq!((a.revoked_at, a.password_hash), (Some(700), None));
        // Issued again: allowed again, with a new link and no password until it is used.
        store
            .issue_viewer(&viewer("a"), "link-a2", 5_000)
            .await
            .unwrap();
        let again = store.viewer("a").await.unwrap().unwrap();
        assert_eq!((again.revoked_at, again.password_hash), (None, None));
        assert_eq!(store.viewers().await.unwrap().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_failures_counted_at_once_are_all_counted() {
    use baocao_sync::store::SignInFailures;
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = std::sync::Arc::new(db.open().await);
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_sign_in_failure("10.0.0.9", move |c: Option<SignInFailures>| {
                            SignInFailures {
                                failures: c.map_or(0, |c| c.failures) + 1,
                                last_at: i,
                                until_at: i,
                            }
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for t in tries {
            t.await.unwrap();
        }
        let counted = store.sign_in_failures("10.0.0.9").await.unwrap().unwrap();
        assert_eq!(counted.failures, 8, "{backend}: none lost");
        assert_eq!(store.sign_in_failures("10.0.0.10").await.unwrap(), None);
        store.clear_sign_in_failures("10.0.0.9").await.unwrap();
        assert_eq!(store.sign_in_failures("10.0.0.9").await.unwrap(), None);
    }
}

#[tokio::test]
async fn the_audit_is_append_only() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let mut entry = AuditEntry::about(
            &report_id("000.10.00.H55"),
            "cli:ops",
            "force_push",
            Instant(7),
        );
        entry.reason = "asked by the department".into();
        store
            .append_audit(std::slice::from_ref(&entry))
            .await
            .unwrap();
        assert_eq!(
            store.audit(Some("2023-Q3"), None, 10).await.unwrap(),
            [entry]
        );
        assert!(
            store
                .audit(Some("2023-Q2"), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Neither backend lets a line change or go.
        let change = match &store {
            baocao_sync::store::AnyStore::Sqlite(_) => {
                let url = db.url().to_owned();
                use sqlx::Connection;
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                (
                    sqlx::query("UPDATE audit SET reason = 'x'")
                        .execute(&mut c)
                        .await
                        .is_err(),
                    sqlx::query("DELETE FROM audit")
                        .execute(&mut c)
                        .await
                        .is_err(),
                )
            }
            baocao_sync::store::AnyStore::Postgres(_) => {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
                (
                    sqlx::query("UPDATE audit SET reason = 'x'")
                        .execute(&mut c)
                        .await
                        .is_err(),
                    sqlx::query("DELETE FROM audit")
                        .execute(&mut c)
                        .await
                        .is_err(),
                )
            }
        };
        assert_eq!(change, (true, true), "{backend}");
    }
}

/// A generated province, big enough for many blocks and for an import that writes blocks out
/// before it commits; then a day's changes to some of its dossiers.
#[test]
fn many_blocks_read_back_as_the_file_and_a_day_of_changes_rewrites_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(&[
        "generate",
        "--dossiers",
        "70000",
        "--units",
        "20",
        "--seed",
        "7",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let input = data.join("dossiers.ndjson");
    let units = data.join("units.toml");
    // A day's changes: every 14th dossier moved to the counter channel, later.
    let changed_lines: Vec<String> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 14 == 0)
        .map(|(_, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["KenhThucHien"] = "1".into();
            v["CapNhatLuc"] = "20301231000000".into();
            v.to_string()
        })
        .collect();
    let changes = dir.path().join("changes.ndjson");
    std::fs::write(&changes, changed_lines.join("\n")).unwrap();
    // The whole file as it stands after the changes, to compare with.
    let changed: std::collections::HashMap<String, &String> = changed_lines
        .iter()
        .map(|l| {
            (
                serde_json::from_str::<serde_json::Value>(l).unwrap()["MaHoSo"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                l,
            )
        })
        .collect();
    let after: Vec<String> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|l| {
            let key = serde_json::from_str::<serde_json::Value>(l).unwrap()["MaHoSo"]
                .as_str()
                .unwrap()
                .to_owned();
            changed
                .get(&key)
                .map_or_else(|| l.to_owned(), |c| (*c).clone())
        })
        .collect();
    let after_file = dir.path().join("after.ndjson");
    std::fs::write(&after_file, after.join("\n")).unwrap();

    let report = |source: &[&str]| {
        let mut a = vec![
            "--units",
            units.to_str().unwrap(),
            "--period",
            "2023-Q3",
            "--form",
            "II.06a",
        ];
        a.extend_from_slice(source);
        report_json(&a)
    };
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let url = db.url();
        assert_eq!(
            import(url, input.to_str().unwrap()),
            "new 70000, updated 0, unchanged 0, rejected 0"
        );
        let from_file = report(&["--input", input.to_str().unwrap()]);
        assert_same_figures(
            &from_file,
            &report(&["--from-store", "--database-url", url]),
        );
        assert_eq!(
            import(url, input.to_str().unwrap()),
            "new 0, updated 0, unchanged 70000, rejected 0",
            "{backend}"
        );
        assert_eq!(
            import(url, changes.to_str().unwrap()),
            "new 0, updated 5000, unchanged 0, rejected 0",
            "{backend}"
        );
        let expected = report(&["--input", after_file.to_str().unwrap()]);
        assert_same_figures(&expected, &report(&["--from-store", "--database-url", url]));
    }
}

/// The store of an earlier version, one row per dossier: opening it moves the rows into blocks.
#[test]
fn dossiers_an_earlier_version_stored_one_row_each_move_into_blocks() {
    let input = fixture("dossiers.ndjson");
    let units = fixture("units.toml");
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let url = db.url().to_owned();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            // The schema as it stood before blocks: every migration before the blocks' one.
            let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
            let old = tempfile::tempdir().unwrap();
            let mut names: Vec<_> = std::fs::read_dir(&all).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            let before_blocks = names
                .iter()
                .filter(|p| p.file_name().unwrap().to_string_lossy().as_ref() < "20261202000001_dossier_blocks.sql");
            for path in before_blocks {
                std::fs::copy(path, old.path().join(path.file_name().unwrap())).unwrap();
            }
            let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
            let rows: Vec<serde_json::Value> = std::fs::read_to_string(&input)
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .take(40)
                .collect();
            let insert = "INSERT INTO dossiers (source, record_key, procedure_code, field_code, field_name, \
                 unit_code, channel, status, received_at, due_at, supplement_requested_at, finished_at, returned_at, \
                 updated_at, result_withdrawal, deleted, raw) VALUES ('default', $1, 'P', $2, $3, $4, $5, $6, \
                 $7, $8, NULL, $9, NULL, NULL, 0, 0, '{}')";
            let secs = |v: &serde_json::Value| {
                v.as_str()
                    .filter(|s| !s.is_empty())
                    .and_then(|s| baocao_sync::domain::Instant::parse(s).ok())
                    .map(|i| i.0)
            };
            macro_rules! fill {
                ($conn:expr) => {{
                    migrator.run(&mut $conn).await.unwrap();
                    for (i, r) in rows.iter().enumerate() {
                        let status: i64 = r["TrangThaiHoSo"].as_str().and_then(|s| s.trim().parse().ok()).unwrap_or(2);
                        if !(1..=10).contains(&status) {
                            continue;
                        }
                        sqlx::query(insert)
                            .bind(format!("OLD-{i}"))
                            .bind(r["MaLinhVuc"].as_str().unwrap_or(""))
                            .bind(r["TenLinhVuc"].as_str().unwrap_or(""))
                            .bind(r["MaDonViXuLy"].as_str().unwrap_or(""))
                            .bind(r["KenhThucHien"].as_str().unwrap_or(""))
                            .bind(status)
                            .bind(secs(&r["NgayTiepNhan"]))
                            .bind(secs(&r["NgayHenTra"]))
                            .bind(secs(&r["NgayKetThucXuLy"]))
                            .execute(&mut $conn)
                            .await
                            .unwrap();
                    }
                }};
            }
            use sqlx::Connection;
            if backend == "sqlite" {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
                fill!(conn);
            } else {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                fill!(conn);
            }
        });
        let report = || {
            run(&[
                "report",
                "--from-store",
                "--database-url",
                &url,
                "--units",
                units.to_str().unwrap(),
                "--period",
                "2023-Q3",
                "--form",
                "II.06a",
            ])
        };
        let stored = report();
        assert!(
            stored.status.success(),
            "{}",
            String::from_utf8_lossy(&stored.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
        let counted: u64 = got["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["total"]["3"].as_u64().unwrap())
            .sum();
        assert!(counted > 0, "{backend}: the converted dossiers are counted");
        // Opened again: nothing left to convert, the same figures.
        let again = report();
        assert_eq!(again.stdout, stored.stdout, "{backend}");
    }
}

/// A 32-bit word of a block.
fn word(block: &[u8], at: usize) -> usize {
    u32::from_le_bytes(block[at..at + 4].try_into().unwrap()) as usize
}

/// Where a block's keys end, read off its bytes by the layout (blocks.rs): magic, count and text
/// count, then the texts each after its length, the key lengths, the keys.
fn keys_end(block: &[u8]) -> usize {
    let n = word(block, 4);
    let mut at = 12;
    for _ in 0..word(block, 8) {
        at += 4 + word(block, at);
    }
    let keys: usize = (0..n).map(|i| word(block, at + 4 * i)).sum();
    at + 4 * n + keys
}

/// A block as an earlier version wrote it ("BCD1"): today's layout without the sequences after
/// the keys.
fn block_before_buckets(dossiers: &[baocao_sync::domain::Dossier]) -> Vec<u8> {
    let seqs: Vec<i64> = (0..dossiers.len() as i64).collect();
    let now = baocao_sync::store::blocks::encode(dossiers, &seqs);
    let at = keys_end(&now);
    let mut old = now[..at].to_vec();
    old.extend_from_slice(&now[at + 8 * dossiers.len()..]);
    old[..4].copy_from_slice(b"1DCB");
    old
}

/// The blocks of an earlier version, without buckets: opening the store lays them out again with
/// their data, and the report says what it said.
#[test]
fn blocks_an_earlier_version_wrote_are_laid_out_in_buckets() {
    let input = fixture("dossiers.ndjson");
    let units = fixture("units.toml");
    let report = |url: &str| {
        report_json(&[
            "--from-store",
            "--database-url",
            url,
            "--units",
            units.to_str().unwrap(),
            "--period",
            "2023-Q3",
            "--form",
            "II.06a",
        ])
    };
    for backend in BACKENDS {
        // Today's store of the golden data, to read its dossiers in their stored order from.
        let today = TestDb::new(backend);
        import(today.url(), input.to_str().unwrap());
        let expected = report(today.url());
        let old = TestDb::new(backend);
        let url = old.url().to_owned();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let dossiers = today.open().await.dossiers(None).await.unwrap();
            assert!(dossiers.len() > 20);
            let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
            let before = tempfile::tempdir().unwrap();
            for entry in std::fs::read_dir(&all).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().as_ref() < "20261204000001_buckets.sql" {
                    std::fs::copy(&path, before.path().join(path.file_name().unwrap())).unwrap();
                }
            }
            let migrator = sqlx::migrate::Migrator::new(before.path()).await.unwrap();
            macro_rules! fill {
                ($conn:expr) => {{
                    migrator.run(&mut $conn).await.unwrap();
                    sqlx::query("INSERT INTO dossier_sources (source, generation) VALUES ('default', 3)")
                        .execute(&mut $conn)
                        .await
                        .unwrap();
                    // Blocks of seven, in the order first stored.
                    for (block, chunk) in dossiers.chunks(7).enumerate() {
                        sqlx::query("INSERT INTO dossier_blocks (source, block, records, facts) VALUES ('default', $1, $2, $3)")
                            .bind(block as i64)
                            .bind(chunk.len() as i64)
                            .bind(block_before_buckets(chunk))
                            .execute(&mut $conn)
                            .await
                            .unwrap();
                    }
                }};
            }
            use sqlx::Connection;
            if backend == "sqlite" {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
                fill!(conn);
            } else {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                fill!(conn);
            }
        });
        let laid_out = report(&url);
        assert_eq!(laid_out["reports"], expected["reports"], "{backend}");
        assert_eq!(laid_out["findings"].as_array().unwrap().len(), {
            // The old store kept no rejects: the golden data's unreadable lines are not in it.
            let rejects = expected["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["code"] == "invalid_record")
                .count();
            expected["findings"].as_array().unwrap().len() - rejects
        });
        rt.block_on(async {
            let store = old.open().await;
            let dossiers = store.dossiers(None).await.unwrap();
            let reference = today.open().await.dossiers(None).await.unwrap();
            assert_eq!(
                dossiers, reference,
                "{backend}: the same dossiers, in the same order"
            );
            let firsts = store.field_firsts("default").await.unwrap();
            assert_eq!(
                firsts,
                today.open().await.field_firsts("default").await.unwrap()
            );
        });
        // Opened again: nothing left to lay out, the same figures.
        assert_eq!(report(&url)["reports"], expected["reports"], "{backend}");
    }
}

/// The length of a block's head (texts, keys, sequences) by the layout: its keys, then a
/// sequence of 8 bytes for each dossier.
fn head_of(block: &[u8]) -> i64 {
    (keys_end(block) + 8 * word(block, 4)) as i64
}

/// A store of the release before `head_bytes`: opening it measures every block's head, and a
/// write's key index, read from the heads alone, finds every stored key.
#[test]
fn blocks_written_before_their_heads_were_measured_are_measured_when_the_store_opens() {
    let input = fixture("dossiers.ndjson");
    let input = input.to_str().unwrap();
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let first = import(db.url(), input);
        assert!(first.starts_with("new "), "{first}");
        let url = db.url().to_owned();
        let rt = tokio::runtime::Runtime::new().unwrap();
        macro_rules! with_conn {
            ($body:expr) => {{
                use sqlx::Connection;
                if backend == "sqlite" {
                    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).unwrap();
                    let mut conn = sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .unwrap();
                    $body(&mut conn).await
                } else {
                    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                    $body(&mut conn).await
                }
            }};
        }
        rt.block_on(async {
            with_conn!(|c| async move {
                sqlx::query("UPDATE dossier_blocks SET head_bytes = NULL")
                    .execute(c)
                    .await
                    .unwrap();
            });
        });
        // Opened: every head measured, as the layout says.
        rt.block_on(async { drop(db.open().await) });
        let rows: Vec<(Option<i64>, Vec<u8>)> = rt.block_on(async {
            with_conn!(|c| async move {
                sqlx::query_as("SELECT head_bytes, facts FROM dossier_blocks")
                    .fetch_all(c)
                    .await
                    .unwrap()
            })
        });
        assert!(!rows.is_empty());
        for (head, facts) in &rows {
            assert_eq!(*head, Some(head_of(facts)), "{backend}");
        }
        // Every key found again by the index built from the heads: nothing new.
        let count = |line: &str, what: &str| -> u64 {
            let at = line.find(&format!("{what} ")).unwrap() + what.len() + 1;
            line[at..].split(',').next().unwrap().parse().unwrap()
        };
        let again = import(db.url(), input);
        assert_eq!(count(&again, "new"), 0, "{backend}: {again}");
        assert_eq!(count(&again, "updated"), 0, "{backend}: {again}");
        assert!(
            count(&again, "unchanged") >= count(&first, "new"),
            "{backend}: {again} after {first}"
        );
    }
}

/// What the store keeps for sources without CapNhatLuc, on both backends: watermarks per window
/// axis, open dossiers and when each was read, what mappings noted, monthly aggregates, the
/// receiver's clients and sessions, dossiers by key, the sources that hold records.
#[tokio::test]
async fn what_sources_keep_holds_on_both_backends() {
    use baocao_sync::domain::Axis;
    use baocao_sync::store::{IncomingRaw, OpenMark, SourceFinding};
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = db.open().await;
        let at = |s: i64| Instant(1_690_000_000 + s);
        let d = RecordKind::Dossier;
        // Axes keep their own watermarks, apart from the CapNhatLuc one.
        assert!(
            store
                .advance_axis_watermark("dvc", d, Axis::Received, at(100))
                .await
                .unwrap()
        );
        assert!(
            !store
                .advance_axis_watermark("dvc", d, Axis::Received, at(50))
                .await
                .unwrap()
        );
        assert!(
            store
                .advance_axis_watermark("dvc", d, Axis::Due, at(10))
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .axis_watermark("dvc", d, Axis::Received)
                .await
                .unwrap(),
            Some(at(100))
        );
        assert_eq!(
            store.axis_watermark("dvc", d, Axis::Due).await.unwrap(),
            Some(at(10))
        );
        assert_eq!(store.watermark("dvc", d).await.unwrap(), None, "{backend}");
        // Open dossiers: kept while open, forgotten once closed, the longest unread first.
        let mark = |k: &str, open: bool| OpenMark {
            key: k.into(),
            remote_id: Some(format!("id-{k}")),
            open,
        };
        store
            .track_open(
                "dvc",
                &[mark("A", true), mark("B", true), mark("C", true)],
                at(0),
            )
            .await
            .unwrap();
        store
            .track_open("dvc", &[mark("B", true), mark("C", false)], at(60))
            .await
            .unwrap();
        assert_eq!(
            store.count_open("dvc", at(30)).await.unwrap(),
            1,
            "{backend}: A only"
        );
        assert_eq!(
            store.count_open("dvc", at(61)).await.unwrap(),
            2,
            "{backend}: A, B"
        );
        let due = store.open_dossiers("dvc", at(61), 10).await.unwrap();
        assert_eq!(
            due.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
            ["A", "B"],
            "{backend}"
        );
        assert_eq!(due[0].remote_id.as_deref(), Some("id-A"));
        store.mark_gone("dvc", &["A"], at(90)).await.unwrap();
        let a = store.open_dossiers("dvc", at(91), 10).await.unwrap();
        assert!(
            a.iter()
                .any(|o| o.key == "A" && o.gone && o.seen_at == at(90)),
            "{backend}"
        );
        assert_eq!(
            store.count_open("igate", at(1000)).await.unwrap(),
            0,
            "per source"
        );
        // Findings about records: replaced for the keys given, listed with their kind.
        let finding = |k: &str, field: &str| SourceFinding {
            key: k.into(),
            field: field.into(),
            code: baocao_sync::domain::FindingCode::UnmappedValue,
            unit: None,
            message: format!("{k} {field}"),
        };
        store
            .replace_source_findings(
                "dvc",
                d,
                &["A", "B"],
                &[finding("A", "KenhThucHien"), finding("B", "MaDonViXuLy")],
                at(1),
            )
            .await
            .unwrap();
        store
            .replace_source_findings("dvc", d, &["B"], &[], at(2))
            .await
            .unwrap();
        let listed = store.source_findings(None).await.unwrap();
        assert_eq!(
            listed.len(),
            1,
            "{backend}: B's note went with its clean read"
        );
        assert_eq!(listed[0].1.record, "A");
        assert_eq!(listed[0].0, d);
        // Monthly aggregates follow upsert_raw's rule.
        let raw = IncomingRaw {
            key: "U|2023-07|q",
            updated_at: None,
            raw: "{\"x\":1}",
        };
        let first = store.upsert_rating_months("nhan", &[raw]).await.unwrap();
        let again = store.upsert_rating_months("nhan", &[raw]).await.unwrap();
        assert_eq!((first.new, again.unchanged), (1, 1), "{backend}");
        assert_eq!(
            store.rating_months(Some("nhan")).await.unwrap(),
            ["{\"x\":1}"]
        );
        assert_eq!(
            store.sources(RecordKind::Rating).await.unwrap(),
            ["nhan"],
            "{backend}"
        );
        // The receiver's clients and sessions.
        store
            .put_receiver_client("nhan", "tinh", "$argon2id$x", at(0))
            .await
            .unwrap();
        assert_eq!(
            store
                .receiver_client("nhan", "tinh")
                .await
                .unwrap()
                .as_deref(),
            Some("$argon2id$x")
        );
        store
            .put_receiver_session("h1", "nhan", "tinh", at(600))
            .await
            .unwrap();
        assert_eq!(
            store.receiver_session("h1", at(599)).await.unwrap(),
            Some(("nhan".into(), "tinh".into()))
        );
        assert_eq!(
            store.receiver_session("h1", at(600)).await.unwrap(),
            None,
            "expired"
        );
        assert!(store.remove_receiver_client("nhan", "tinh").await.unwrap());
        assert_eq!(
            store.receiver_session("h1", at(0)).await.unwrap(),
            None,
            "sessions end with the client"
        );
        assert!(!store.remove_receiver_client("nhan", "tinh").await.unwrap());
        // Dossiers by key, across blocks.
        let batch = baocao_sync::sources::export::parse_raw::<baocao_sync::domain::Dossier>(
            (0..5000)
                .map(|i| format!("{{\"MaHoSo\":\"K{i}\",\"TrangThaiHoSo\":\"2\"}}"))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
            false,
        );
        let refs: Vec<&baocao_sync::domain::Dossier> = batch.records.iter().collect();
        store.upsert_dossiers("nhan", &refs).await.unwrap();
        let found = store
            .dossiers_by_keys("nhan", &["K3", "K4999", "NONE"])
            .await
            .unwrap();
        let mut keys: Vec<&str> = found.iter().map(|d| &*d.key).collect();
        keys.sort();
        assert_eq!(keys, ["K3", "K4999"], "{backend}");
        assert!(
            store
                .dossiers_by_keys("dvc", &["K3"])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.sources(d).await.unwrap(), ["nhan"], "{backend}");
    }
}
