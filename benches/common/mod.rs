//! What both benchmarks share: the binary run as a child process, timed, with its own peak RSS.

#![allow(dead_code)]

pub mod anchor;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    pub peak_rss_mb: f64,
}

/// A size from the environment (`1_000_000` reads as a million), else `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Runs the binary to its end and reads its own peak RSS with wait4 (which reaps it, so std's
/// `wait` is not called); it must exit with one of `exits`. Its standard error is returned for
/// the lines the caller wants.
#[allow(clippy::zombie_processes)]
pub fn measure(args: &[&str], exits: &[i32]) -> (Measured, String) {
    let started = Instant::now();
    let err = tempfile::NamedTempFile::new().expect("temp file");
    let child = Command::new(env!("CARGO_BIN_EXE_baocao-sync"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(err.reopen().expect("reopen"))
        .spawn()
        .expect("spawn baocao-sync");
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we just spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && exits.contains(&libc::WEXITSTATUS(status)),
        "baocao-sync {args:?} failed ({status}):\n{stderr}"
    );
    (
        Measured {
            wall,
            peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        },
        stderr,
    )
}
