//! The all-in-one `geogame` binary's logic: `geogame up` runs the game
//! server, lobby, analytics and operator API in one process on one
//! listener, on SQLite and in-process queues by default, or on Redis and
//! PostgreSQL when their URLs are given; `geogame admin` moves POI and
//! zone files to and from a running server.

pub mod admin_cli;
pub mod cli;
pub mod up;

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
