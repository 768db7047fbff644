//! One shutdown signal for a whole process: SIGINT or SIGTERM cancels a
//! token, and every listener, socket and background task waits on it.

use tokio_util::sync::CancellationToken;

/// Resolves on SIGINT or SIGTERM (on Unix; SIGINT elsewhere).
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the process");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A new token that is cancelled when the process gets SIGINT or SIGTERM.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down");
        fire.cancel();
    });
    token
}
