//! The sync pipeline: the one path that cron, the CLI and the admin HTTP call. `pull` brings
//! records from the procedure-handling system into the store, `records` loads them for the forms,
//! and `push` sends the computed reports out to the reporting systems as drafts; the scheduler
//! that chains them comes with the daemon.

pub mod pull;
pub mod push;
pub mod records;
