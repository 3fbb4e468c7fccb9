//! The `baocao-sync` binary: parse the command line, set up logging, dispatch. Nothing else.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
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
