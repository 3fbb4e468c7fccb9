//! What both benchmarks share: the binary run as a child process, timed, with its own peak RSS.

#![allow(dead_code)]

pub mod anchor;
pub mod pipeline;
#[path = "../../tests/common/worlds.rs"]
pub mod worlds;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    pub peak_rss_mb: f64,
}

/// A comma-separated list from the environment (`_` in numbers ignored), else `default`'s.
pub fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| s.trim().replace('_', ""))
        .filter(|s| !s.is_empty())
        .collect()
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

/// The PostgreSQL server the benchmarks use (BENCH_POSTGRES).
pub fn postgres_server() -> String {
    std::env::var("BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs statements on the server's `postgres` database.
fn on_server(statements: &[String]) {
    let server = postgres_server();
    runtime().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres"))
            .await
            .expect("PostgreSQL answers (see .ci/run)");
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    });
}

/// A fresh PostgreSQL database; its URL.
pub fn fresh_database(name: &str) -> String {
    on_server(&[
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ]);
    format!("{}/{name}", postgres_server())
}

pub fn drop_database(name: &str) {
    on_server(&[format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")]);
}
