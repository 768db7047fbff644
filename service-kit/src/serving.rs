//! Serving a router until shutdown, and background tasks that stop with
//! it, each with a drain deadline.

use std::future::Future;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::serve::{Listener, ListenerExt, TapIo};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_service::Service;

use crate::tls::{TlsFiles, TlsListener};

/// The longest a client may take to send a request's headers, and the
/// longest an idle keep-alive connection is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a request's body may take to arrive once its headers have;
/// a body still coming after that is refused with 400.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Turns Nagle's algorithm off on every accepted socket. Replies and pushes
/// are small frames written one at a time; with Nagle on, a frame written
/// while the previous one is still unacknowledged waits for the peer's
/// delayed ACK (about 40 ms on Linux), which happened whenever a push and a
/// reply met.
pub(crate) fn no_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn tune(tcp: &mut TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    }
    listener.tap_io(tune as fn(&mut TcpStream))
}

/// Serves `app` on `listener` until `shutdown` fires, then stops accepting
/// and gives open requests `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, drain, None).await
}

/// [`serve`], over TLS when `tls` names a certificate and key (see
/// [`crate::tls`]: renewals are picked up while serving).
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    drain: Duration,
    tls: Option<TlsFiles>,
) -> std::io::Result<()> {
    // A path no route knows gets the contract's error body too.
    // Every error, axum's own rejections included, has the contract's shape.
    let app = app
        .fallback(|uri: axum::http::Uri| async move {
            crate::ApiError::not_found(format!("no such endpoint: {}", uri.path()))
        })
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(axum::middleware::map_response(crate::error::json_errors));
    match tls {
        None => {
            let server = accept_loop(no_delay(listener), app, shutdown.clone());
            until_drained(server, shutdown, drain).await
        }
        Some(files) => {
            // The TLS listener's own tasks stop with the server.
            let stop = shutdown.child_token();
            let tls = TlsListener::start(listener, files, stop.clone())?;
            let r = until_drained(accept_loop(tls, app, shutdown.clone()), shutdown, drain).await;
            stop.cancel();
            r
        }
    }
}

/// Accepts connections until `stop`, serves each over HTTP/1.1 (with
/// upgrades, for WebSockets) and, after `stop`, waits for the requests in
/// flight. Every request carries its peer's address as
/// `ConnectInfo<SocketAddr>`.
///
/// A connection that does not finish sending a request's headers within
/// [`HEADER_READ_TIMEOUT`] is closed: a half-sent request (slowloris) or an
/// idle keep-alive connection holds a socket that long and no longer.
async fn accept_loop<L>(
    mut listener: L,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let conns = TaskTracker::new();
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let app = app.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().call(req)
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let conn = http
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let done = tokio::select! {
                done = conn.as_mut() => done,
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    conns.close();
    conns.wait().await;
    Ok(())
}

/// Runs `server` until it stops by itself after `shutdown`, or until
/// `drain` has passed since `shutdown`.
async fn until_drained(
    server: impl Future<Output = std::io::Result<()>>,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let mut server = std::pin::pin!(server);
    tokio::select! {
        r = &mut server => r,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("drain deadline passed; closing remaining connections");
            Ok(())
        }
    }
}

/// A process's background tasks: spawned here, they are awaited together
/// at shutdown under one deadline. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    /// No tasks yet.
    pub fn new() -> Self {
        Tasks::default()
    }

    /// Spawns `task`; it is expected to return once shutdown fires.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// How many tasks are still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether every task has finished.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Waits, up to `deadline`, for every task spawned so far and any
    /// spawned meanwhile; returns whether all finished. Wakes as soon as the
    /// last one ends: nothing is polled.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.tracker.close();
        let done = tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok();
        // Reopen so the set can be reused (a test may drain twice).
        self.tracker.reopen();
        done
    }
}

/// Runs `f` every `period` until `shutdown`, on `tasks`.
pub fn every<F, Fut>(tasks: &Tasks, period: Duration, shutdown: CancellationToken, mut f: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = interval.tick() => f().await,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::serve::Listener;

    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = no_delay(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_sent_request_is_closed_at_the_header_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        tokio::spawn(serve(listener, app, stop.clone(), Duration::from_secs(1)));
        // A whole request is answered, and knows its peer.
        let mut whole = TcpStream::connect(addr).await.unwrap();
        whole
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        whole.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("127.0.0.1"), "{reply}");
        // Headers that never end: closed at the timeout, not held.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let t0 = tokio::time::Instant::now();
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(HEADER_READ_TIMEOUT * 3, slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "still open after {:?}", t0.elapsed());
        let waited = t0.elapsed();
        assert!(
            waited >= HEADER_READ_TIMEOUT && waited < HEADER_READ_TIMEOUT * 2,
            "closed after {waited:?}"
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_tasks_and_gives_up_at_the_deadline() {
        let tasks = Tasks::new();
        let stop = CancellationToken::new();
        let s = stop.clone();
        tasks.spawn(async move { s.cancelled().await });
        tasks.spawn(std::future::pending());
        stop.cancel();
        assert!(!tasks.drain(Duration::from_secs(3)).await, "one never ends");
        let done = Tasks::new();
        let s = stop.clone();
        done.spawn(async move { s.cancelled().await });
        assert!(done.drain(Duration::from_secs(3)).await);
        assert!(done.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn every_runs_until_shutdown() {
        let tasks = Tasks::new();
        let stop = CancellationToken::new();
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        every(&tasks, Duration::from_secs(1), stop.clone(), move || {
            m.fetch_add(1, Ordering::Relaxed);
            async {}
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(n.load(Ordering::Relaxed), 3);
        stop.cancel();
        assert!(tasks.drain(Duration::from_secs(1)).await);
    }
}
