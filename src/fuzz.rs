//! What the fuzz targets (tests/fuzz, cargo-fuzz) feed arbitrary bytes to, and what the corpus
//! replay test (tests/fuzz_corpus.rs) runs on stable: each entry point takes any bytes and may
//! return an error, never panic, and checks what must hold of whatever it accepted.
#![doc(hidden)]

use crate::domain::{Dossier, Feedback, Instant, Period, Rating, UnitTree};
use crate::forms::{self, FormCatalog, Inputs, Layout};
use crate::sources::export::{Input, InputFormat, RecordBatch, parse_raw};

/// A fuzz target: any bytes in, a panic only when something that must hold does not.
pub type Target = fn(&[u8]);

/// The targets, by name, for the replay test.
pub const TARGETS: [(&str, Target); 5] = [
    ("export", export),
    ("instant", instant),
    ("unit_tree", unit_tree),
    ("form_definition", form_definition),
    ("upstream_answer", upstream_answer),
];

const UNITS: &str = "[[units]]\ncode=\"P\"\nname=\"Tỉnh\"\nkind=\"province\"\nparent=\"\"\n\
[[units]]\ncode=\"U\"\nname=\"Sở\"\nkind=\"department\"\nparent=\"P\"\n\
[[units]]\ncode=\"000.10.00.H55\"\nname=\"Sở 1\"\nkind=\"department\"\nparent=\"P\"\n";

fn period() -> Period {
    "2023-Q3".parse().expect("a period")
}

/// An export of any format and kind (the first two bytes choose), read whole; the dossiers read
/// are then counted for II.06a and II.06.
pub fn export(data: &[u8]) {
    let [format, kind, rest @ ..] = data else {
        return;
    };
    let format = [
        InputFormat::Ndjson,
        InputFormat::Json,
        InputFormat::Csv,
        InputFormat::Xlsx,
    ][usize::from(*format) % 4];
    let input = Input::Bytes(rest.into());
    match kind % 3 {
        0 => {
            let Ok(batch) = RecordBatch::<Dossier>::read(&input, format) else {
                return;
            };
            check_batch(&batch);
            let units = UnitTree::from_toml(UNITS).expect("the fuzz tree");
            let catalog = FormCatalog::builtin();
            let regime = catalog.regime_for(&period()).expect("a regime");
            for code in ["II.06a", "II.06"] {
                let def = regime.form(code).expect("a form");
                let inputs = Inputs {
                    dossiers: Some(&batch.records),
                    ..Default::default()
                };
                let computed =
                    forms::compute(regime, def, inputs, &units, &period()).expect("computes");
                assert!(computed.violations.is_empty(), "{:?}", computed.violations);
            }
        }
        1 => {
            if let Ok(batch) = RecordBatch::<Rating>::read(&input, format) {
                check_batch(&batch);
            }
        }
        _ => {
            if let Ok(batch) = RecordBatch::<Feedback>::read(&input, format) {
                check_batch(&batch);
            }
        }
    }
}

/// Every record kept has a key of its own; every finding names its record.
fn check_batch<R: crate::sources::export::FromWire>(batch: &RecordBatch<R>) {
    let mut keys = std::collections::HashSet::new();
    for r in &batch.records {
        assert!(keys.insert(r.key()), "the key {} twice", r.key());
    }
    for f in &batch.findings {
        assert!(!f.record.is_empty(), "a finding without its record");
    }
    assert!(batch.records.len() <= batch.records_read);
}

/// An instant in any text: when it parses, it is written and read back unchanged, in both forms
/// the product writes.
pub fn instant(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(i) = Instant::parse(&text) {
        assert_eq!(Instant::parse(&i.to_rfc3339_utc()), Ok(i), "{text:?}");
        assert_eq!(Instant::parse(&i.to_compact_local()), Ok(i), "{text:?}");
    }
}

/// A units file: when it parses, its tree is walked from the root and every unit is reached.
pub fn unit_tree(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(tree) = UnitTree::from_toml(&text) {
        let reached: Vec<_> = tree.subtree(tree.root()).collect();
        assert_eq!(reached.len(), tree.len());
        for id in reached {
            assert!(tree.depth(id) < tree.len());
        }
    }
}

/// A form definition in place of II.06a: when the regime accepts it, every form computes on a
/// few dossiers and renders as JSON, CSV and XLSX.
pub fn form_definition(data: &[u8]) {
    const REGIME: &str = "id = \"F\"\nname = \"F\"\nbasis = \"F\"\n";
    let text = String::from_utf8_lossy(data).into_owned();
    let Ok(catalog) = FormCatalog::from_files(vec![(
        "F".to_owned(),
        vec![
            ("regime.toml".to_owned(), REGIME.to_owned()),
            ("II.06a.toml".to_owned(), text),
        ],
    )]) else {
        return;
    };
    let units = UnitTree::from_toml(UNITS).expect("the fuzz tree");
    let dossiers = sample_dossiers();
    let regime = &catalog.regimes[0];
    for def in regime.forms.values() {
        if def.layout == Layout::Narrative {
            continue;
        }
        let inputs = Inputs {
            dossiers: Some(&dossiers),
            ratings: Some(&[]),
            feedback: Some(&[]),
            ..Default::default()
        };
        let Ok(computed) = forms::compute(regime, def, inputs, &units, &period()) else {
            continue;
        };
        let reports = match def.layout {
            Layout::Aggregate => {
                crate::render::Reports::Aggregate(&computed.aggregates, &computed.per_unit)
            }
            Layout::Satisfaction => crate::render::Reports::Satisfaction(
                &computed.satisfaction,
                &computed.satisfaction_aggregates,
            ),
            _ => crate::render::Reports::PerUnit(&computed.per_unit),
        };
        let texts = crate::render::texts::DocumentTexts::default();
        let doc = crate::render::Document {
            form: def,
            regime: &regime.info,
            period: &period(),
            units: &units,
            reports,
            findings: &computed.findings,
            texts: &texts,
        };
        for format in [
            crate::render::OutputFormat::Json,
            crate::render::OutputFormat::Csv,
            crate::render::OutputFormat::Xlsx,
        ] {
            let _ = crate::render::write(&doc, format, &mut std::io::sink());
        }
    }
}

fn sample_dossiers() -> Vec<Dossier> {
    let lines = [
        r#"{"MaHoSo":"A","MaDonViXuLy":"U","MaLinhVuc":"F","TenLinhVuc":"Lĩnh vực","KenhThucHien":"2","TrangThaiHoSo":"10","NgayTiepNhan":"20230701080000","NgayHenTra":"20230710080000","NgayKetThucXuLy":"20230705080000"}"#,
        r#"{"MaHoSo":"B","MaDonViXuLy":"U","MaLinhVuc":"F","KenhThucHien":"1","TrangThaiHoSo":"4","NgayTiepNhan":"20230601080000","NgayHenTra":"20230720080000"}"#,
    ];
    parse_raw::<Dossier>(lines, false).records
}

/// An answer of the upstreams (the first byte chooses): a page of the record API, read and its
/// records parsed as each kind; or a reporting system's answer.
pub fn upstream_answer(data: &[u8]) {
    let [which, rest @ ..] = data else {
        return;
    };
    match which % 2 {
        0 => {
            if let Ok((texts, _)) = crate::sources::procedure::parse_page(rest, 1000) {
                assert!(texts.len() <= 1000);
                let texts = || texts.iter().map(String::as_str);
                check_batch(&parse_raw::<Dossier>(texts(), true));
                check_batch(&parse_raw::<Rating>(texts(), false));
                check_batch(&parse_raw::<Feedback>(texts(), false));
            }
        }
        _ => crate::sinks::reporting::read_answers(rest),
    }
}
