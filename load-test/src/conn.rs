//! Connection setup for one player: guest auth, WebSocket handshake and the
//! `hello` / `welcome` exchange on `/v1/play` and `/v1/lobby`.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::ErrorCode;
use protocol::http::{GuestAuthRequest, GuestAuthResponse};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};
use protocol::play::{ClientMessage, ServerMessage};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// A client WebSocket, plain or over TLS.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where one run's players connect, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    /// `POST` URL of guest auth; None for an echo server.
    pub(crate) auth: Option<String>,
    /// The `/v1/play` URL (or the echo server's URL).
    pub(crate) play: String,
    /// The `/v1/lobby` URL; None for an echo server.
    pub(crate) lobby: Option<String>,
}

/// Why a player could not connect; the reasons are report keys.
pub(crate) type ConnectFailure = &'static str;

/// Small per-connection buffers: 10,000 sockets with tungstenite's default
/// 128 KiB read buffer would take over a gigabyte. The write buffer only
/// grows to what one batch of frames needs; frames are written on flush.
pub(crate) fn ws_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
}

/// Bytes queued before tungstenite writes to the socket without a flush.
const WRITE_BUFFER: usize = 8 * 1024;
/// Most bytes a connection may queue when the socket does not drain.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// The server shed a sign-in (503 with `Retry-After`): retry later.
pub(crate) const AUTH_BUSY: ConnectFailure = "auth_busy";
/// The server refused the upgrade with 503: retry later.
pub(crate) const WS_BUSY: ConnectFailure = "ws_busy";
/// The server closed the socket with 1013 after `hello`: retry later.
pub(crate) const HELLO_BUSY: ConnectFailure = "hello_busy";

/// Whether `reason` is a server's "busy, come back shortly" (shed load)
/// rather than a failure.
pub(crate) fn is_busy(reason: ConnectFailure) -> bool {
    matches!(reason, AUTH_BUSY | WS_BUSY | HELLO_BUSY)
}

/// The wait before retry `attempt` (from 0) after a busy answer, for a
/// uniform `unit` in [0, 1]: the server's `Retry-After`, doubled per
/// attempt up to 8 s, plus up to half of it again at random. Never
/// earlier than the server asked, and spread out, so that a shed storm
/// does not come back in one wave.
pub(crate) fn busy_backoff(retry_after: Duration, attempt: u32, unit: f64) -> Duration {
    let full = retry_after
        .saturating_mul(1 << attempt.min(3))
        .min(Duration::from_secs(8));
    full.mul_f64(1.0 + 0.5 * unit.clamp(0.0, 1.0))
}

/// `Retry-After` in seconds, when the header holds a number.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

/// Gets a guest token for `device_id`.
pub(crate) async fn guest_token(
    dialer: &Dialer,
    http: &reqwest::Client,
    url: &str,
    device_id: String,
) -> Result<String, ConnectFailure> {
    let resp = http
        .post(url)
        .json(&GuestAuthRequest { device_id })
        .send()
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, "guest auth request failed");
            "auth_request"
        })?;
    let status = resp.status();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        if let Some(after) = retry_after(resp.headers()) {
            dialer.set_retry_after(after);
        }
        return Err(AUTH_BUSY);
    }
    if !status.is_success() {
        return Err(if status.is_client_error() {
            "auth_http_4xx"
        } else if status.is_server_error() {
            "auth_http_5xx"
        } else {
            "auth_http_other"
        });
    }
    let body: GuestAuthResponse = resp.json().await.map_err(|_| "auth_body")?;
    Ok(body.token)
}

/// How players' sockets are opened: their buffers, the connect timeout,
/// and for `wss://` the TLS settings.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    pub(crate) read_buffer: usize,
    pub(crate) timeout: Duration,
    /// Trusted roots for `wss://`; None when the target is plain `ws://`.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// The server's last `Retry-After`, in milliseconds (one second until
    /// it says otherwise): how long a shed player waits at first.
    pub(crate) retry_after_ms: Arc<AtomicU64>,
}

impl Dialer {
    /// A dialer with these buffers, timeout and TLS settings.
    pub(crate) fn new(
        read_buffer: usize,
        timeout: Duration,
        tls: Option<Arc<ClientConfig>>,
    ) -> Dialer {
        Dialer {
            read_buffer,
            timeout,
            tls,
            retry_after_ms: Arc::new(AtomicU64::new(1000)),
        }
    }

    /// What the server last said to wait after shedding.
    pub(crate) fn retry_after(&self) -> Duration {
        Duration::from_millis(self.retry_after_ms.load(Ordering::Relaxed))
    }

    fn set_retry_after(&self, after: Duration) {
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.retry_after_ms.store(ms, Ordering::Relaxed);
    }

    /// Opens a WebSocket to `url` (`ws://` or `wss://host[:port]/path`).
    ///
    /// The TCP connect runs on the blocking pool: once a few thousand
    /// sockets go to one destination, the kernel's search for a free
    /// ephemeral port makes each `connect()` call slow (it scans the used
    /// half of the range), and on a runtime worker that would stall every
    /// other player's sends.
    pub(crate) async fn open(&self, url: &str) -> Result<Ws, ConnectFailure> {
        let authority = authority_of(url).ok_or("bad_url")?;
        let timeout = self.timeout;
        let tcp = tokio::task::spawn_blocking(move || connect_blocking(&authority, timeout))
            .await
            .map_err(|_| "connect_task")?
            .map_err(|e| {
                tracing::debug!(error = %e, "tcp connect failed");
                "tcp_connect"
            })?;
        let tcp = TcpStream::from_std(tcp).map_err(|_| "tcp_connect")?;
        let config = Some(ws_config(self.read_buffer));
        let connector = self.tls.clone().map(Connector::Rustls);
        match tokio_tungstenite::client_async_tls_with_config(url, tcp, config, connector).await {
            Ok((ws, _)) => Ok(ws),
            Err(WsError::Http(response))
                if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE =>
            {
                if let Some(after) = retry_after(response.headers()) {
                    self.set_retry_after(after);
                }
                Err(WS_BUSY)
            }
            Err(e) => {
                tracing::debug!(error = %e, url, "websocket handshake failed");
                Err(if matches!(e, WsError::Tls(_)) {
                    "tls_handshake"
                } else {
                    "ws_handshake"
                })
            }
        }
    }
}

/// The TLS client settings for an `https://` / `wss://` target: the
/// system's trusted roots plus the CA certificates (PEM) in `ca_files`,
/// for a staging server signed by a private CA.
pub(crate) fn tls_config(ca_files: &[PathBuf]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, errors = native.errors.len(), "system roots");
    for file in ca_files {
        let certs = CertificateDer::pem_file_iter(file)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--ca-cert {}: {e}", file.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-cert {}: no certificate in the file",
                file.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("--ca-cert {}: {e}", file.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted root certificates: the system has none; pass --ca-cert".into());
    }
    let cfg = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(cfg))
}

fn connect_blocking(authority: &str, timeout: Duration) -> std::io::Result<std::net::TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in authority.to_socket_addrs()? {
        match std::net::TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                // Latency matters more than packet count, as in any game client.
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `host:port` of a `ws://` or `wss://` URL (port 80 or 443 when absent).
fn authority_of(url: &str) -> Option<String> {
    let (rest, port) = match url.strip_prefix("wss://") {
        Some(rest) => (rest, 443),
        None => (url.strip_prefix("ws://")?, 80),
    };
    let authority = rest.split('/').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(']') {
        // An IPv6 literal: a port follows the closing bracket.
        Some(i) => authority[i..].contains(':'),
        None => authority.contains(':'),
    };
    Some(if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{port}")
    })
}

/// Sends `hello` on `/v1/play` and waits for `welcome`.
pub(crate) async fn play_hello(ws: &mut Ws, token: &str) -> Result<(), ConnectFailure> {
    let hello = ClientMessage::Hello {
        token: token.to_owned(),
    };
    ws.send(Message::text(hello.encode()))
        .await
        .map_err(|_| "hello_send")?;
    loop {
        let text = next_text(ws).await?;
        match ServerMessage::decode(&text) {
            Ok(ServerMessage::Welcome { .. }) => return Ok(()),
            Ok(ServerMessage::Error {
                code: ErrorCode::Unauthorized,
                ..
            }) => return Err("hello_unauthorized"),
            // Shed: the close 1013 that follows is not waited for.
            Ok(ServerMessage::Error {
                code: ErrorCode::Unavailable,
                ..
            }) => return Err(HELLO_BUSY),
            Ok(ServerMessage::Error { .. }) => return Err("hello_error"),
            // Pushes that may precede the welcome are not expected, but a
            // tolerant client skips them.
            Ok(_) => continue,
            Err(_) => return Err("hello_bad_reply"),
        }
    }
}

/// Sends `hello` on `/v1/lobby` and waits for `welcome`.
pub(crate) async fn lobby_hello(ws: &mut Ws, token: &str) -> Result<(), ConnectFailure> {
    let hello = LobbyClientMessage::Hello {
        token: token.to_owned(),
    };
    ws.send(Message::text(hello.encode()))
        .await
        .map_err(|_| "lobby_hello_send")?;
    loop {
        let text = next_text(ws).await.map_err(|_| "lobby_closed")?;
        match LobbyServerMessage::decode(&text) {
            Ok(LobbyServerMessage::Welcome { .. }) => return Ok(()),
            Ok(LobbyServerMessage::Error { .. }) => return Err("lobby_hello_error"),
            Ok(_) => continue,
            Err(_) => return Err("lobby_bad_reply"),
        }
    }
}

/// The next text frame, skipping control frames.
async fn next_text(
    ws: &mut Ws,
) -> Result<tokio_tungstenite::tungstenite::Utf8Bytes, ConnectFailure> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(Some(f))))
                if u16::from(f.code) == protocol::close::TRY_AGAIN_LATER =>
            {
                return Err(HELLO_BUSY);
            }
            Some(Ok(Message::Close(_))) | None => return Err("closed_during_hello"),
            Some(Ok(_)) => continue,
            Some(Err(_)) => return Err("ws_error_during_hello"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_waits_honour_retry_after_grow_and_are_capped() {
        let one = Duration::from_secs(1);
        assert_eq!(busy_backoff(one, 0, 0.0), one);
        assert_eq!(busy_backoff(one, 0, 1.0), Duration::from_millis(1500));
        assert_eq!(busy_backoff(one, 2, 0.0), Duration::from_secs(4));
        assert_eq!(busy_backoff(one, 30, 0.0), Duration::from_secs(8));
        assert!(is_busy(AUTH_BUSY) && is_busy(WS_BUSY) && is_busy(HELLO_BUSY));
        assert!(!is_busy("auth_http_5xx"));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn authority_gets_a_default_port() {
        assert_eq!(
            authority_of("ws://127.0.0.1:9/v1/play").as_deref(),
            Some("127.0.0.1:9")
        );
        assert_eq!(
            authority_of("ws://example.com/v1/play").as_deref(),
            Some("example.com:80")
        );
        assert_eq!(authority_of("ws://[::1]:81").as_deref(), Some("[::1]:81"));
        assert_eq!(authority_of("ws://[::1]/x").as_deref(), Some("[::1]:80"));
        assert_eq!(
            authority_of("wss://example.com/v1/play").as_deref(),
            Some("example.com:443")
        );
        assert_eq!(authority_of("wss://h:8443").as_deref(), Some("h:8443"));
        assert_eq!(authority_of("http://x"), None);
        assert_eq!(authority_of("ws:///x"), None);
    }
}
