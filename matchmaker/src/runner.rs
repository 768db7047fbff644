//! The long-running side of a [`Lobby`]: the tick loop, delivery of
//! events read from the shared stream, and closing sockets on shutdown.

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::Lobby;
use crate::backend::EventReader;

impl Lobby {
    /// Runs the matching loop until `shutdown` is cancelled, then closes
    /// every socket with 1001 (waiting at most `shutdown_grace`) and
    /// returns.
    pub async fn run(&self, shutdown: CancellationToken) {
        let inner = &self.inner;
        let reader = inner
            .state
            .take_reader()
            .map(|r| tokio::spawn(deliver_loop(self.clone(), r, shutdown.clone())));
        let mut interval = tokio::time::interval(inner.cfg.tick);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            match self.tick_once().await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("matching loop recovered");
                }
                Ok(_) => {}
                // Log the first failure of a streak only: during an outage
                // every tick fails the same way.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "matching tick failed; tickets stay queued");
                }
                Err(_) => {}
            }
        }
        inner.state.release_lead().await;
        self.close_sockets().await;
        if let Some(r) = reader {
            let _ = r.await;
        }
        tracing::info!("lobby stopped");
    }

    /// Closes every socket with 1001 and waits (bounded) for them to go.
    pub async fn close_sockets(&self) {
        let inner = &self.inner;
        inner.closing.cancel();
        inner.conns.close();
        if tokio::time::timeout(inner.cfg.shutdown_grace, inner.conns.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = inner.conns.len(),
                "lobby sockets still open after the grace period"
            );
        }
    }
}

/// Pushes every event of the shared stream to the sockets held here.
async fn deliver_loop(lobby: Lobby, mut reader: EventReader, shutdown: CancellationToken) {
    let mut failing = false;
    loop {
        let batch = tokio::select! {
            () = shutdown.cancelled() => return,
            b = reader.next_batch() => b,
        };
        match batch {
            Ok(events) => {
                if failing {
                    failing = false;
                    tracing::info!("lobby event stream recovered");
                }
                for ev in &events {
                    lobby.inner.hub.deliver(ev);
                }
            }
            Err(e) => {
                if !failing {
                    failing = true;
                    tracing::warn!(error = %e, "reading lobby events failed; retrying");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }
    }
}
