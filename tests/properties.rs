//! Property tests: for arbitrary dossiers the four identities hold on every II.06a report (each
//! column is counted by its own rule, so this is a real check), II.06 totals equal the sum of the
//! constituent II.06a totals, and every dossier is either outside the period by rule, an error
//! finding with its key, or counted exactly once.

use baocao_sync::domain::{
    Dossier, FindingCode, Instant, Period, ResultKind, Severity, Status, UnitTree,
};
use baocao_sync::forms::ii06a::{Placement, Window, place};
use baocao_sync::forms::{self, FormCatalog, Values};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

const UNITS: &str = r#"
[[units]]
code = "P"
name = "Tỉnh"
kind = "province"
parent = ""
[[units]]
code = "S1"
name = "Sở 1"
kind = "department"
parent = "P"
[[units]]
code = "H1"
name = "Huyện 1"
kind = "district"
parent = "P"
[[units]]
code = "X1"
name = "Xã 1"
kind = "commune"
parent = "H1"
[[units]]
code = "X2"
name = "Xã 2"
kind = "commune"
parent = "H1"
[[units]]
code = "T1"
name = "Thôn 1"
kind = "hamlet"
parent = "X2"
"#;

fn tree() -> UnitTree {
    UnitTree::from_toml(UNITS).unwrap()
}

/// An instant around the 2023-Q3 window (15/06–14/09), at a random hour, sometimes absent.
fn instant() -> impl Strategy<Value = Option<Instant>> {
    let base = Instant::parse("20230501000000").unwrap().0;
    prop_oneof![
        1 => Just(None),
        6 => (0i64..180, 0i64..86_400).prop_map(move |(d, s)| Some(Instant(base + d * 86_400 + s))),
    ]
}

prop_compose! {
    fn dossier()(
        n in 0u32..40,
        status in 1u8..=10,
        channel in prop::sample::select(vec!["1", "2", "3", "4", ""]),
        unit in prop::sample::select(vec!["P", "S1", "H1", "X1", "X2", "T1", "NOWHERE"]),
        field in prop::sample::select(vec!["F1", "F2", "F3"]),
        received_at in instant(),
        due_at in instant(),
        supplement_requested_at in instant(),
        finished_at in instant(),
        withdrawal in prop::bool::weighted(0.15),
        deleted in prop::bool::weighted(0.05),
    ) -> Dossier {
        Dossier {
            key: format!("D{n}").into(),
            procedure_code: Arc::from("1.000"),
            field_code: Arc::from(field),
            field_name: Arc::from(format!("Lĩnh vực {field}").as_str()),
            unit_code: Arc::from(unit),
            channel: Arc::from(channel),
            status: Status::new(status).unwrap(),
            received_at: received_at.into(),
            due_at: due_at.into(),
            supplement_requested_at: supplement_requested_at.into(),
            finished_at: finished_at.into(),
            returned_at: baocao_sync::domain::Moment::NONE,
            updated_at: baocao_sync::domain::Moment::NONE,
            result_kind: if withdrawal { ResultKind::Withdrawal } else { ResultKind::Other },
            deleted,
        }
    }
}

fn dossiers(ds: &[Dossier]) -> forms::Inputs<'_> {
    forms::Inputs {
        dossiers: Some(ds),
        ..Default::default()
    }
}

fn unique(mut ds: Vec<Dossier>) -> Vec<Dossier> {
    let mut seen = std::collections::HashSet::new();
    ds.retain(|d| seen.insert(d.key.clone()));
    ds
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn identities_hold_and_ii06_sums_ii06a(ds in prop::collection::vec(dossier(), 0..60), period in prop::sample::select(vec!["2023-Q3", "2023-M07", "2023-H2", "2023-9M"])) {
        let ds = unique(ds);
        let units = tree();
        let period: Period = period.parse().unwrap();
        let catalog = FormCatalog::builtin();
        let regime = catalog.regime_for(&period).unwrap();
        let ii06 = regime.form("II.06").unwrap();
        let identities = &regime.form("II.06a").unwrap().identities;
        prop_assert_eq!(identities.len(), 4);
        let computed = forms::compute(regime, ii06, dossiers(&ds), &units, &period).unwrap();
        prop_assert!(computed.violations.is_empty(), "{:?}", computed.violations);
        for r in &computed.per_unit {
            for row in &r.rows {
                prop_assert_eq!(row.values.broken_identity(identities), None);
            }
            prop_assert_eq!(r.total.broken_identity(identities), None);
        }
        let by_unit: HashMap<&str, &Values> = computed.per_unit.iter().map(|r| (r.unit.as_str(), &r.total)).collect();
        for agg in &computed.aggregates {
            let id = units.find(&agg.unit).unwrap();
            let mut expected = Values::zeros(&ii06.figure_columns());
            for member in units.subtree(id) {
                if let Some(t) = by_unit.get(units.get(member).code.as_str()) {
                    expected.add(t);
                }
            }
            prop_assert_eq!(&agg.total, &expected);
            let mut sections = Values::zeros(&ii06.figure_columns());
            for s in &agg.sections {
                sections.add(&s.subtotal);
            }
            prop_assert_eq!(&agg.total, &sections);
        }
    }

    #[test]
    fn every_dossier_is_outside_an_error_or_counted_once(ds in prop::collection::vec(dossier(), 0..60)) {
        let ds = unique(ds);
        let units = tree();
        let period: Period = "2023-Q3".parse().unwrap();
        let catalog = FormCatalog::builtin();
        let regime = catalog.regime_for(&period).unwrap();
        let computed = forms::compute(regime, regime.form("II.06a").unwrap(), dossiers(&ds), &units, &period).unwrap();
        let window = Window::from(&period);
        let mut counted = 0;
        let mut errors = Vec::new();
        for d in &ds {
            match place(d, window, &units) {
                Placement::Outside => {}
                Placement::Error(code, _) => errors.push((code, d.key.to_string())),
                Placement::Counted { .. } => counted += 1,
            }
        }
        let col3: u64 = computed.per_unit.iter().map(|r| r.total.get(3)).sum();
        prop_assert_eq!(col3, counted);
        let mut listed: Vec<(FindingCode, String)> = computed.findings.iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| (f.code, f.record.clone()))
            .collect();
        listed.sort_by(|a, b| a.1.cmp(&b.1));
        errors.sort_by(|a, b| a.1.cmp(&b.1));
        prop_assert_eq!(listed, errors);
    }
}
