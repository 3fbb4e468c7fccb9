//! The fuzz targets' committed corpus (tests/fuzz/corpus/<target>/), replayed on stable: each
//! input is a case the fuzzer kept (minimised), or one that once crashed and was fixed. Every one
//! must be read or refused without a panic, and what was accepted must hold up (src/fuzz.rs).

use std::path::Path;

#[test]
fn every_corpus_input_is_read_or_refused_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus");
    for (target, run) in baocao_sync::fuzz::TARGETS {
        let dir = root.join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{target} has a corpus");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} panics", input.display());
        }
    }
}
