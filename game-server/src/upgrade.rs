//! The play socket's WebSocket opening handshake (RFC 6455, section 4.2).
//!
//! It is done here rather than through axum's `WebSocketUpgrade` so that a
//! connection's task is exactly [`crate::conn::serve`] over
//! tokio-tungstenite's stream (wrapped in [`PlaySocket`], which writes text
//! frames without copying them): one copy of the socket per player, with no
//! wrapper future around it and no message conversion on the way. Every
//! connected player holds that task for the life of its socket, so its size
//! is memory per player (docs/benchmarks.md).

use std::sync::Arc;

use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use axum::response::IntoResponse;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::state::GameState;
use crate::wire::PlaySocket;
use service_kit::ApiError;

/// The transport's own frame limit. Frames between the protocol limit and
/// this are read and answered with close 1009; beyond it the transport
/// refuses to buffer them at all.
const TRANSPORT_MAX_MESSAGE: usize = 64 * 1024;

/// Per-socket read buffer of the transport, allocated for the life of the
/// socket. Client frames are 100 to 300 bytes, so one read still takes
/// several. tungstenite's default is 128 KiB per socket.
const READ_BUFFER: usize = 1024;

/// Queued output beyond which a send writes to the socket without waiting
/// for a flush (for our text frames and tungstenite's own). It is a
/// threshold, not an allocation: a player at one update a second never has
/// more than one reply queued, while a busy socket's batch of replies goes
/// out in fewer writes.
const WRITE_THRESHOLD: usize = 16 * 1024;

/// The most a socket's unsent output may grow to before sends fail, so a
/// client that does not read cannot grow it.
const MAX_WRITE_BUFFER: usize = 256 * 1024;

/// The transport settings of every play socket.
pub(crate) fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(TRANSPORT_MAX_MESSAGE))
        .max_frame_size(Some(TRANSPORT_MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_THRESHOLD)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
}

/// A checked upgrade request: the client's key and hyper's handle on the
/// connection once the `101` has gone out.
#[derive(Debug)]
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request is not taken as a play socket.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Not a WebSocket opening handshake: `400` in the contract's error
    /// shape.
    NotHandshake(&'static str),
    /// A WebSocket version other than 13: `426`, naming the one this server
    /// speaks.
    Version,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        match self {
            Refusal::NotHandshake(why) => {
                ApiError::bad_request(format!("not a WebSocket handshake: {why}")).into_response()
            }
            Refusal::Version => {
                let mut r = ApiError::new(
                    StatusCode::UPGRADE_REQUIRED,
                    "bad_request",
                    "Sec-WebSocket-Version must be 13",
                )
                .into_response();
                r.headers_mut()
                    .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                r
            }
        }
    }
}

/// Checks that `parts` is a WebSocket opening handshake.
pub(crate) fn check(parts: &mut Parts) -> Result<Upgrade, Refusal> {
    use Refusal::NotHandshake;
    if parts.method != Method::GET {
        return Err(NotHandshake("the method must be GET"));
    }
    if !has_token(&parts.headers, CONNECTION, "upgrade") {
        return Err(NotHandshake("Connection must include upgrade"));
    }
    if !has_token(&parts.headers, UPGRADE, "websocket") {
        return Err(NotHandshake("Upgrade must be websocket"));
    }
    if parts
        .headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(Refusal::Version);
    }
    // The key is 16 random bytes in base64, always 24 characters.
    let key = match parts.headers.get(SEC_WEBSOCKET_KEY) {
        Some(k) if valid_key(k.as_bytes()) => k.clone(),
        _ => return Err(NotHandshake("Sec-WebSocket-Key is missing or malformed")),
    };
    let on_upgrade = parts
        .extensions
        .remove::<OnUpgrade>()
        .ok_or(NotHandshake("this connection cannot be upgraded"))?;
    Ok(Upgrade { key, on_upgrade })
}

/// Whether `key` is what RFC 6455 4.1 says a `Sec-WebSocket-Key` is: 16
/// bytes in base64, so 22 base64 characters (the last one carrying only 2
/// bits, so one of `A`, `Q`, `g`, `w`) and `==`.
fn valid_key(key: &[u8]) -> bool {
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    key.len() == 24
        && key[22..] == *b"=="
        && key[..21].iter().all(b64)
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
}

/// Whether the comma-separated header `name` lists `token` (in any case).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl Upgrade {
    /// Starts the connection's task, which serves the socket once the
    /// `101` returned here has been sent, and holds `held` (the socket's
    /// capacity permit) until it ends.
    pub(crate) fn accept<H: Send + 'static>(
        self,
        state: Arc<GameState>,
        held: H,
    ) -> axum::response::Response {
        // Tracked, so that shutdown waits for exactly these tasks.
        let conns = state.conns.clone();
        conns.spawn(run(state, self.on_upgrade, held));
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(self.key.as_bytes()))
            .body(axum::body::Body::empty())
            .map_or_else(
                |e| ApiError::bad_request(e.to_string()).into_response(),
                IntoResponse::into_response,
            )
    }
}

/// The connection's task: waits for hyper to hand the connection over,
/// then serves it.
async fn run<H: Send>(state: Arc<GameState>, on_upgrade: OnUpgrade, held: H) {
    let io = match on_upgrade.await {
        Ok(io) => io,
        Err(e) => {
            tracing::debug!(error = %e, "play socket upgrade failed");
            return;
        }
    };
    let ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, Some(config())).await;
    let socket = PlaySocket::new(ws, WRITE_THRESHOLD, MAX_WRITE_BUFFER);
    crate::conn::serve(state, socket, held).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::get("/v1/play");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(()).unwrap();
        // What hyper puts on every request it serves.
        let on_upgrade = hyper::upgrade::on(&mut req);
        req.extensions_mut().insert(on_upgrade);
        req.into_parts().0
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_handshake_is_accepted_with_tokens_in_any_case() {
        assert!(check(&mut parts(&GOOD)).is_ok());
    }

    #[test]
    fn each_missing_or_wrong_header_is_refused() {
        for missing in GOOD {
            let without: Vec<_> = GOOD.into_iter().filter(|h| *h != missing).collect();
            assert!(check(&mut parts(&without)).is_err(), "without {missing:?}");
        }
        let mut wrong = GOOD;
        wrong[2] = ("sec-websocket-version", "8");
        let e = check(&mut parts(&wrong)).unwrap_err().into_response();
        assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(e.headers()[SEC_WEBSOCKET_VERSION], "13");
        for bad_key in [
            "short",
            // 24 characters, but not base64 of 16 bytes.
            "!!!!!!!!!!!!!!!!!!!!!!!!",
            "dGhlIHNhbXBsZSBub25jZQ=x",
            "dGhlIHNhbXBsZSBub25jZR==",
        ] {
            wrong = GOOD;
            wrong[3] = ("sec-websocket-key", bad_key);
            assert!(check(&mut parts(&wrong)).is_err(), "{bad_key}");
        }
        let mut post = parts(&GOOD);
        post.method = Method::POST;
        assert!(check(&mut post).is_err());
    }

    #[test]
    fn a_request_hyper_cannot_upgrade_is_refused() {
        let mut req = axum::http::Request::get("/v1/play").body(()).unwrap();
        for (k, v) in GOOD {
            req.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        assert!(check(&mut req.into_parts().0).is_err());
    }

    fn task_size<F, Fut>(_: F) -> usize
    where
        F: FnOnce(Arc<GameState>, OnUpgrade, tokio::sync::OwnedSemaphorePermit) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    fn serve_size<F, Fut, S>(_: F) -> usize
    where
        F: FnOnce(Arc<GameState>, S, tokio::sync::OwnedSemaphorePermit) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    type Ws = PlaySocket<TokioIo<hyper::upgrade::Upgraded>>;

    #[test]
    fn the_connection_task_holds_one_copy_of_the_socket() {
        let task = task_size(run::<tokio::sync::OwnedSemaphorePermit>);
        let serve = serve_size(crate::conn::serve::<Ws, tokio::sync::OwnedSemaphorePermit>);
        let socket = std::mem::size_of::<Ws>();
        // The task is `serve` plus what waits for the upgrade: less than
        // a second socket.
        assert!(
            task < serve + socket,
            "task {task} bytes, serve {serve}, socket {socket}"
        );
    }
}
