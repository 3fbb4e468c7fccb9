//! The sync pipeline: the one path that cron, the CLI and the admin HTTP call. So far: `push`,
//! computed reports from the store out to the reporting systems as drafts; the pull side and the
//! scheduler come next.

pub mod pull;
pub mod push;
