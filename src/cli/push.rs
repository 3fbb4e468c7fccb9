//! `push`: the pipeline without its pull stage (compute from the store, gate, deliver). Like
//! every writer, it goes through `sync::Engine::run`: there is no other path to a reporting
//! system.

use super::sync::SyncArgs;
use std::process::ExitCode;

pub async fn run(a: SyncArgs) -> anyhow::Result<ExitCode> {
    super::sync::run(a, false).await
}
