//! A bare tokio-tungstenite echo server: the transport alone, with no game
//! logic, so the generator's ceiling and the game server's overhead can be
//! measured against it.

use std::future::Future;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::error::LoadTestError;

/// Read buffer per echo connection, in bytes.
const ECHO_READ_BUFFER: usize = 4096;

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: &str) -> Result<TcpListener, LoadTestError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| LoadTestError::Echo {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves echo connections on `listener` until `shutdown` completes. Text
/// and binary frames come back unchanged; pings are answered by tungstenite.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(echo_connection(stream, peer));
                }
                Err(e) => {
                    // Out of file descriptors, usually: back off instead of spinning.
                    tracing::warn!(error = %e, "echo accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Starts an echo server on 127.0.0.1:0 in the background and returns its
/// WebSocket URL; it stops when the runtime shuts down.
pub async fn spawn_local() -> Result<(String, SocketAddr), LoadTestError> {
    let listener = bind("127.0.0.1:0").await?;
    let addr = listener
        .local_addr()
        .map_err(|source| LoadTestError::Echo {
            addr: "127.0.0.1:0".to_owned(),
            source,
        })?;
    tokio::spawn(serve(listener, std::future::pending()));
    Ok((format!("ws://{addr}"), addr))
}

async fn echo_connection(stream: TcpStream, peer: SocketAddr) {
    // Latency matters more than packet count here, as in any game server.
    let _ = stream.set_nodelay(true);
    // The same small buffers as the generator's sockets, so that memory
    // figures of a calibration run are not dominated by tungstenite's
    // 128 KiB default read buffer.
    let config = crate::conn::ws_config(ECHO_READ_BUFFER);
    let mut ws = match tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "echo handshake failed");
            return;
        }
    };
    while let Some(msg) = ws.next().await {
        let reply = match msg {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => m,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}
