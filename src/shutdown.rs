//! Shutdown, mini-redis style: one [`Trigger`] pulled on SIGTERM or Ctrl-C, any number of
//! [`Shutdown`] listeners. Workers check it before they claim more work and finish what they hold;
//! nothing is cancelled half-way through a write.

use tokio::sync::watch;

/// Pulls the shutdown.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// Tells whether shutdown was asked for, and waits for it.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn pull(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// A listener that is never told to stop (a foreground command runs to its end).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // The sender is leaked on purpose: dropping it would read as "the trigger is gone".
        std::mem::forget(tx);
        Shutdown(rx)
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when shutdown is asked for (or the trigger is gone).
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
