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

    /// What an upstream answered, for counting.
    #[derive(Debug, Clone, Copy)]
    pub enum Answer {
        /// An HTTP status.
        Status(u16),
        /// 404 where it is the expected answer (the read-back of a draft not yet created).
        Absent,
        /// No answer came (connection, timeout).
        None,
    }

    impl From<Option<u16>> for Answer {
        fn from(status: Option<u16>) -> Answer {
            status.map_or(Answer::None, Answer::Status)
        }
    }

    /// One HTTP request to an upstream system, by the class of its answer (`2xx`…`5xx`,
    /// `absent` for an expected 404, or `error` when none came) and how long it took.
    pub fn upstream_request(system: &str, answer: Answer, seconds: f64) {
        let class = match answer {
            Answer::Status(s) => format!("{}xx", s / 100),
            Answer::Absent => "absent".to_owned(),
            Answer::None => "error".to_owned(),
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

    /// A sign-in to the admin HTTP was refused (`wrong`) or made to wait (`throttled`).
    pub fn admin_sign_in_refused(outcome: &'static str) {
        metrics::counter!("baocao_admin_sign_in_failures_total", "outcome" => outcome).increment(1);
    }

    /// A draft's delivery attempt ended with `answer` (`created`, `transient`, …).
    pub fn delivered(system: &str, answer: &'static str, at: Instant) {
        metrics::counter!("baocao_deliveries_total", "system" => system.to_owned(), "answer" => answer)
            .increment(1);
        if matches!(answer, "created" | "updated" | "unchanged" | "recreated") {
            metrics::gauge!("baocao_last_successful_delivery_timestamp_seconds").set(at.0 as f64);
        }
    }

    /// The outbox as it stands: rows by period and state, and leases held (set when `/metrics`
    /// is read).
    pub fn outbox(by_state: &[(String, &'static str, usize)], leases: usize) {
        for (period, state, n) in by_state {
            metrics::gauge!("baocao_outbox_reports", "state" => *state, "period" => period.clone())
                .set(*n as f64);
        }
        metrics::gauge!("baocao_outbox_leases_held").set(leases as f64);
    }

    /// The `# HELP` line of every metric above.
    pub(super) fn describe() {
        use metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            "baocao_records_pulled_total",
            "Records stored by pulls (new or changed), by kind."
        );
        describe_gauge!(
            "baocao_last_successful_pull_timestamp_seconds",
            "When a pull of the kind last stored every window up to its bound (Unix seconds)."
        );
        describe_counter!(
            "baocao_upstream_requests_total",
            "HTTP requests to upstream systems, by system and answer class (2xx..5xx; absent: an expected 404 of a read-back; error: no answer)."
        );
        describe_histogram!(
            "baocao_upstream_request_seconds",
            metrics::Unit::Seconds,
            "How long upstream requests took, by system."
        );
        describe_counter!(
            "baocao_logins_total",
            "Logins and token renewals at upstream systems, by system and outcome."
        );
        describe_counter!(
            "baocao_admin_sign_in_failures_total",
            "Sign-ins to the admin HTTP refused: wrong (a wrong token) or throttled (tried during a lockout)."
        );
        describe_counter!(
            "baocao_deliveries_total",
            "Draft delivery attempts, by system and answer."
        );
        describe_gauge!(
            "baocao_last_successful_delivery_timestamp_seconds",
            "When a draft was last delivered (created, updated, unchanged or recreated; Unix seconds)."
        );
        describe_gauge!(
            "baocao_outbox_reports",
            "Reports in the outbox, by state and period."
        );
        describe_gauge!(
            "baocao_outbox_leases_held",
            "Outbox rows a delivery worker holds a live lease on."
        );
    }
}

/// Buckets of the latency histograms (seconds): an idle histogram shows no samples, never a
/// quantile of 0.
const LATENCY_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process's metrics recorder, installed once; renders the Prometheus text.
pub fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .expect("buckets are given")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            events::describe();
            handle
        })
        .clone()
}
