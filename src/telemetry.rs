//! Logging setup: structured `tracing` events to standard error (standard output carries reports).
//! `RUST_LOG` overrides the default filter.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// What the product counts, each a function, so the metrics are designed in one place rather
/// than sprinkled (vector's "internal events"). Exposed at the admin HTTP's `/metrics`.
pub mod events {
    use crate::domain::{Instant, RecordKind};

    /// Records stored by a pull (new or updated).
    pub fn records_pulled(kind: RecordKind, n: u64) {
        metrics::counter!("baocao_records_pulled_total", "kind" => kind.as_str()).increment(n);
    }

    /// A pull of `kind` that stored every window up to its bound.
    pub fn pull_succeeded(kind: RecordKind, at: Instant) {
        metrics::gauge!("baocao_last_successful_pull_timestamp_seconds", "kind" => kind.as_str())
            .set(at.0 as f64);
    }

    /// One HTTP request to an upstream system, by the class of its answer (`2xx`…`5xx`, or
    /// `error` when none came) and how long it took.
    pub fn upstream_request(system: &str, status: Option<u16>, seconds: f64) {
        let class = match status {
            Some(s) => format!("{}xx", s / 100),
            None => "error".to_owned(),
        };
        metrics::counter!("baocao_upstream_requests_total", "system" => system.to_owned(), "class" => class)
            .increment(1);
        metrics::histogram!("baocao_upstream_request_seconds", "system" => system.to_owned())
            .record(seconds);
    }

    /// A login (or token renewal): `ok`, `refused`, `unavailable`.
    pub fn login(system: &str, outcome: &'static str) {
        metrics::counter!("baocao_logins_total", "system" => system.to_owned(), "outcome" => outcome)
            .increment(1);
    }

    /// A draft's delivery attempt ended with `answer` (`created`, `transient`, …).
    pub fn delivered(system: &str, answer: &'static str, at: Instant) {
        metrics::counter!("baocao_deliveries_total", "system" => system.to_owned(), "answer" => answer)
            .increment(1);
        if matches!(answer, "created" | "updated" | "unchanged" | "recreated") {
            metrics::gauge!("baocao_last_successful_delivery_timestamp_seconds").set(at.0 as f64);
        }
    }

    /// The outbox as it stands: rows by state, and leases held (set when `/metrics` is read).
    pub fn outbox(by_state: &[(&'static str, usize)], leases: usize) {
        for (state, n) in by_state {
            metrics::gauge!("baocao_outbox_reports", "state" => *state).set(*n as f64);
        }
        metrics::gauge!("baocao_outbox_leases_held").set(leases as f64);
    }
}

/// The process's metrics recorder, installed once; renders the Prometheus text.
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}
