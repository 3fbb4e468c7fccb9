#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| baocao_sync::fuzz::upstream_answer(data));
