//! Crash drills: the points of the pipeline where a killed process leaves the most half-done work,
//! counted on every run, and the hook that kills this process there on purpose.
//!
//! `BAOCAO_DRILL_KILL=<stage>:<n>` (stages: pull, store, compute, deliver, the receiver's
//! receive and answer, and mail) makes the process send
//! itself SIGKILL the n-th time it reaches a point of that stage: no destructor, flush or commit
//! runs, as when the server loses power or the kernel's OOM killer strikes. `sync --timings`
//! prints how many points of each stage a whole run passed, from which a drill draws its moment.
//! `BAOCAO_DRILL_STALL=<stage>:<n>:<ms>` instead holds the thread that reaches the n-th point of
//! that stage for `ms` milliseconds, after saying so on standard error ("drill: stalled at …"):
//! a test then knows the pipeline is inside that stage and can take the store away under it (the
//! thread is blocked; the daemon's other threads go on answering).
//! Without the variables a point is one relaxed atomic increment.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where in the pipeline a point sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A window of records fetched from the source, not yet stored.
    Pull,
    /// A window's records stored, before its pull is logged and the watermark moves.
    Store,
    /// A form computed for every unit, before its drafts reach the outbox.
    Compute,
    /// A draft written to a reporting system, before its answer is recorded in the outbox.
    Deliver,
    /// The receiver read a pushed batch, before storing it.
    Receive,
    /// The receiver stored a pushed batch, before answering.
    Answer,
    /// The SMTP server said 250 to a message, before the message's row is marked sent.
    Mail,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Pull,
        Stage::Store,
        Stage::Compute,
        Stage::Deliver,
        Stage::Receive,
        Stage::Answer,
        Stage::Mail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pull => "pull",
            Stage::Store => "store",
            Stage::Compute => "compute",
            Stage::Deliver => "deliver",
            Stage::Receive => "receive",
            Stage::Answer => "answer",
            Stage::Mail => "mail",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

static PASSED: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];
static KILL_AT: OnceLock<Option<(Stage, u64)>> = OnceLock::new();
static STALL_AT: OnceLock<Option<(Stage, u64, u64)>> = OnceLock::new();

/// `<stage>:<n>` and what follows it (`:<ms>` for a stall), from `variable`; a value that does not
/// parse is reported and ignored.
fn read_plan(variable: &str, with_ms: bool) -> Option<(Stage, u64, u64)> {
    let text = std::env::var(variable).ok()?;
    let mut parts = text.split(':');
    let parsed = (|| {
        let stage = parts.next()?;
        let stage = Stage::ALL.into_iter().find(|s| s.as_str() == stage)?;
        let n = parts.next()?.parse::<u64>().ok().filter(|n| *n > 0)?;
        let ms = if with_ms {
            parts.next()?.parse::<u64>().ok()?
        } else {
            0
        };
        parts.next().is_none().then_some((stage, n, ms))
    })();
    if parsed.is_none() {
        let form = if with_ms {
            "<stage>:<n>:<ms>"
        } else {
            "<stage>:<n>"
        };
        tracing::warn!(value = %text, "{variable} is not {form} (stages: pull, store, compute, deliver, receive, answer, mail); no drill");
    }
    parsed
}

/// The plan in `BAOCAO_DRILL_KILL`, if any.
fn plan() -> Option<(Stage, u64)> {
    *KILL_AT.get_or_init(|| read_plan("BAOCAO_DRILL_KILL", false).map(|(s, n, _)| (s, n)))
}

/// The plan in `BAOCAO_DRILL_STALL`, if any.
fn stall() -> Option<(Stage, u64, u64)> {
    *STALL_AT.get_or_init(|| read_plan("BAOCAO_DRILL_STALL", true))
}

/// The pipeline passes a point of `stage`.
pub fn point(stage: Stage) {
    let n = PASSED[stage.index()].fetch_add(1, Ordering::Relaxed) + 1;
    if plan() == Some((stage, n)) {
        eprintln!("drill: killed at {} point {n}", stage.as_str());
        // SAFETY: kill(2) on this process's own id has no memory effects; SIGKILL cannot be
        // caught, so nothing runs after it.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    if let Some((at, m, ms)) = stall()
        && (at, m) == (stage, n)
    {
        eprintln!("drill: stalled at {} point {n} for {ms} ms", stage.as_str());
        let stall = || std::thread::sleep(std::time::Duration::from_millis(ms));
        // On a runtime's worker, the stalled stage alone waits: the worker's other tasks (the
        // admin HTTP's, say) move to another thread instead of waiting behind it.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(stall),
            _ => stall(),
        }
    }
}

/// How many points of each stage this process has passed.
pub fn passed() -> Vec<(&'static str, u64)> {
    Stage::ALL
        .into_iter()
        .map(|s| (s.as_str(), PASSED[s.index()].load(Ordering::Relaxed)))
        .collect()
}
