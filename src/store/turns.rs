//! Writers of one process take turns at SQLite's write lock.
//!
//! SQLite has one write lock per database file. A connection that finds it taken waits in
//! SQLite's busy handler, which sleeps 1, 2, 5, 10, … up to 100 ms between tries and so wakes
//! well after the lock is free: with the daemon's eight delivery workers each writing twice per
//! draft, the machine sat half idle while they slept. Writers of this process now queue here
//! first and are woken the moment the one before them ends; the busy handler is left to waits on
//! other processes (a second replica, a one-shot `sync` beside the daemon) and on the import's
//! long transaction. PostgreSQL locks rows and wakes its waiters itself: it takes no turns.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// How long a writer waits for its turn before it goes to the lock without one (as every writer
/// did before), so a turn can never wait longer than SQLite's own busy timeout would.
const PATIENCE: Duration = Duration::from_secs(60);

/// The turns of one store (shared by its clones); none for a backend that needs none.
#[derive(Debug, Clone, Default)]
pub(super) struct WriteTurns(Option<Arc<Mutex<()>>>);

impl WriteTurns {
    /// One writing transaction of this process at a time.
    pub(super) fn one_at_a_time() -> WriteTurns {
        WriteTurns(Some(Arc::default()))
    }

    /// This process's turn to write, held until the guard is dropped: declare it before the
    /// transaction, so that it outlives it.
    pub(super) async fn take(&self) -> Option<MutexGuard<'_, ()>> {
        let turns = self.0.as_ref()?;
        match tokio::time::timeout(PATIENCE, turns.lock()).await {
            Ok(turn) => Some(turn),
            Err(_) => {
                tracing::debug!("no write turn after 60 s: writing without one");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_writer_waits_for_the_first_turn_to_end() {
        let turns = WriteTurns::one_at_a_time();
        let first = turns.take().await.expect("a turn");
        let other = turns.clone();
        let second = tokio::spawn(async move { other.take().await.is_some() });
        tokio::task::yield_now().await;
        assert!(
            !second.is_finished(),
            "the second writer waits while the first holds its turn"
        );
        drop(first);
        assert!(second.await.expect("joined"), "and gets a turn after it");
        assert!(WriteTurns::default().take().await.is_none(), "no turns");
    }
}
