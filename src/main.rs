//! The `baocao-sync` binary: parse the command line, set up logging, dispatch. Nothing else
//! (but for telling the C allocator how many heaps to keep, below).

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// glibc's allocator gives each thread that allocates a heap of its own, up to eight per core,
/// and keeps what is freed in each: a pull's pages freed on one thread and a million dossiers
/// loaded on another then add up. Two heaps held a whole province's pre-fill at 440 MB where the
/// default peaked at 1 GB, at the same speed. An operator's MALLOC_ARENA_MAX still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_heaps() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called first thing, on one thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_heaps() {}

fn main() -> ExitCode {
    limit_heaps();
    let args = cli::Cli::parse();
    baocao_sync::telemetry::init(&args.log_filter());
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            // One line, the whole chain of causes: what failed and why.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
