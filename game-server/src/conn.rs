//! One player's socket: the `hello` phase, then the play loop.
//!
//! The loop is written over any `Stream + Sink` of WebSocket messages so
//! that it does not care whether axum or a test harness drives it. Each
//! connection owns its socket; the only shared things it touches are the
//! world (briefly locked), the push hub and the sessions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::event::EventKind;
use protocol::play::{ClientMessage, ServerMessage};
use protocol::{ErrorCode, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::hub::{ConnHandle, ConnId};
use crate::movement::MovementGuard;
use crate::ratelimit::{RateDecision, RateLimiter};
use crate::state::GameState;

/// Close codes used by the play socket.
pub(crate) mod close {
    pub(crate) const GOING_AWAY: u16 = 1001;
    pub(crate) const UNSUPPORTED: u16 = 1003;
    pub(crate) const POLICY: u16 = 1008;
    pub(crate) const TOO_BIG: u16 = 1009;
}

/// Per-connection play state.
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) player_id: String,
    pub(crate) movement: MovementGuard,
    pub(crate) shown: HashSet<String>,
    pub(crate) fled_from: HashSet<String>,
    pub(crate) visits: HashMap<String, Instant>,
    pub(crate) session: Option<String>,
}

/// Why the play loop ended.
pub(crate) enum End {
    Close(u16, &'static str),
    Gone,
}

/// Serves one upgraded socket until it closes.
pub(crate) async fn serve<S>(state: Arc<GameState>, socket: S)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    metrics::gauge!("geogame_connections").increment(1.0);
    let (mut tx, mut rx) = socket.split();
    let player_id = match hello(&state, &mut tx, &mut rx).await {
        Ok(p) => p,
        Err(End::Close(code, reason)) => {
            close_with(&state, &mut tx, &mut rx, code, reason).await;
            metrics::gauge!("geogame_connections").decrement(1.0);
            return;
        }
        Err(End::Gone) => {
            metrics::gauge!("geogame_connections").decrement(1.0);
            return;
        }
    };
    let (push_tx, push_rx) = mpsc::channel(state.cfg.send_queue);
    let kick = CancellationToken::new();
    let id = state.hub.register(ConnHandle {
        tx: push_tx,
        kick: kick.clone(),
    });
    let mut conn = Conn {
        id,
        player_id,
        movement: MovementGuard::new(
            state.cfg.max_speed_mps,
            state.cfg.jitter_allowance_m,
            state.cfg.too_fast_cooldown,
        ),
        shown: HashSet::new(),
        fled_from: HashSet::new(),
        visits: HashMap::new(),
        session: None,
    };
    let started = Instant::now();
    state.emit(state.event(EventKind::SessionStart, Some(&conn.player_id)));
    let end = play(&state, &mut conn, &mut tx, &mut rx, push_rx, kick).await;
    if let End::Close(code, reason) = end {
        close_with(&state, &mut tx, &mut rx, code, reason).await;
    }
    crate::session::leave(&state, &mut conn);
    state.hub.unregister(conn.id, conn.shown.iter());
    let mut e = state.event(EventKind::SessionEnd, Some(&conn.player_id));
    e.value = Some(started.elapsed().as_secs_f64());
    state.emit(e);
    metrics::gauge!("geogame_connections").decrement(1.0);
}

async fn hello<T, R>(state: &GameState, tx: &mut T, rx: &mut R) -> Result<String, End>
where
    T: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    // Control frames (pings) may come first; only the first text frame
    // counts, and it must arrive before the hello deadline.
    let deadline = Instant::now() + state.cfg.hello_timeout;
    let text = loop {
        let next = tokio::select! {
            r = tokio::time::timeout_at(deadline, rx.next()) => r,
            _ = state.shutdown.cancelled() => return Err(End::Close(close::GOING_AWAY, "server shutting down")),
        };
        match next {
            Err(_) => {
                let msg = format!("no hello within {} s", state.cfg.hello_timeout.as_secs());
                send(
                    state,
                    tx,
                    &ServerMessage::error(None, ErrorCode::Unauthorized, msg),
                )
                .await?;
                return Err(End::Close(close::POLICY, "hello timeout"));
            }
            Ok(None) => return Err(End::Gone),
            Ok(Some(Err(e))) => return Err(read_error(&e)),
            Ok(Some(Ok(m))) => match classify(state, m) {
                Frame::Text(t) => break t,
                Frame::Skip => continue,
                Frame::End(e) => return Err(e),
            },
        }
    };
    let token = match ClientMessage::decode(&text) {
        Ok(ClientMessage::Hello { token }) => token,
        Ok(_) => {
            send(
                state,
                tx,
                &ServerMessage::error(
                    None,
                    ErrorCode::Unauthorized,
                    "the first frame must be hello",
                ),
            )
            .await?;
            return Err(End::Close(close::POLICY, "expected hello"));
        }
        Err(e) => {
            send(
                state,
                tx,
                &ServerMessage::error(e.seq, ErrorCode::Unauthorized, format!("bad hello: {e}")),
            )
            .await?;
            return Err(End::Close(close::POLICY, "bad hello"));
        }
    };
    match state.key.verify_player(&token) {
        Ok(claims) => {
            let welcome = ServerMessage::Welcome {
                player_id: claims.sub.clone(),
                server_id: state.cfg.server_id.clone(),
                protocol: PROTOCOL_VERSION,
            };
            send(state, tx, &welcome).await?;
            Ok(claims.sub)
        }
        Err(e) => {
            metrics::counter!("geogame_errors_total", "code" => "unauthorized").increment(1);
            send(
                state,
                tx,
                &ServerMessage::error(None, ErrorCode::Unauthorized, e.to_string()),
            )
            .await?;
            Err(End::Close(close::POLICY, "unauthorized"))
        }
    }
}

async fn play<T, R>(
    state: &Arc<GameState>,
    conn: &mut Conn,
    tx: &mut T,
    rx: &mut R,
    mut push_rx: mpsc::Receiver<Utf8Bytes>,
    kick: CancellationToken,
) -> End
where
    T: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let cfg = &state.cfg;
    let mut limiter = RateLimiter::new(
        cfg.rate_per_s,
        cfg.rate_burst,
        cfg.flood_strikes,
        Instant::now(),
    );
    let mut idle_deadline = Instant::now() + cfg.idle_timeout;
    let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
    let mut closing_at: Option<Instant> = None;
    loop {
        let close_deadline = closing_at.unwrap_or(idle_deadline);
        tokio::select! {
            _ = state.shutdown.cancelled(), if closing_at.is_none() => {
                let notice = ServerMessage::Shutdown { in_s: cfg.shutdown_notice_s };
                if send(state, tx, &notice).await.is_err() {
                    return End::Gone;
                }
                closing_at = Some(Instant::now() + std::time::Duration::from_secs(u64::from(cfg.shutdown_notice_s)));
            }
            _ = sleep_until(close_deadline) => {
                return if closing_at.is_some() {
                    End::Close(close::GOING_AWAY, "server shutting down")
                } else {
                    End::Close(close::POLICY, "idle timeout")
                };
            }
            _ = kick.cancelled() => return End::Close(close::POLICY, "client does not read"),
            Some(frame) = push_rx.recv() => {
                if write(state, tx, Message::Text(frame)).await.is_err() {
                    return End::Gone;
                }
            }
            _ = ping.tick() => {
                if write(state, tx, Message::Ping(Default::default())).await.is_err() {
                    return End::Gone;
                }
            }
            incoming = rx.next() => {
                idle_deadline = Instant::now() + cfg.idle_timeout;
                let msg = match incoming {
                    None => return End::Gone,
                    Some(Err(e)) => return read_error(&e),
                    Some(Ok(m)) => m,
                };
                let text = match classify(state, msg) {
                    Frame::Text(t) => t,
                    Frame::Skip => continue,
                    Frame::End(e) => return e,
                };
                match limiter.check(Instant::now()) {
                    RateDecision::Allow => {}
                    RateDecision::Refuse => {
                        metrics::counter!("geogame_errors_total", "code" => "rate_limited").increment(1);
                        let m = ServerMessage::error(None, ErrorCode::RateLimited, "slow down: message dropped");
                        if send(state, tx, &m).await.is_err() {
                            return End::Gone;
                        }
                        continue;
                    }
                    RateDecision::Disconnect => return End::Close(close::POLICY, "flood"),
                }
                let started = Instant::now();
                let (kind, reply) = crate::play::handle(state, conn, &text).await;
                if let Some(reply) = reply
                    && send(state, tx, &reply).await.is_err()
                {
                    return End::Gone;
                }
                metrics::histogram!("geogame_update_to_reply_seconds", "type" => kind)
                    .record(started.elapsed().as_secs_f64());
            }
        }
    }
}

enum Frame {
    Text(Utf8Bytes),
    Skip,
    End(End),
}

/// Sorts an incoming frame: text to handle, control frames to skip, or a
/// protocol fault that ends the socket.
fn classify(state: &GameState, m: Message) -> Frame {
    match m {
        Message::Text(t) if t.len() > state.cfg.max_frame_bytes => {
            metrics::counter!("geogame_errors_total", "code" => "too_big").increment(1);
            Frame::End(End::Close(close::TOO_BIG, "message over 16 KiB"))
        }
        Message::Text(t) => Frame::Text(t),
        Message::Binary(_) => {
            metrics::counter!("geogame_errors_total", "code" => "binary").increment(1);
            Frame::End(End::Close(
                close::UNSUPPORTED,
                "binary frames are not supported",
            ))
        }
        Message::Ping(_) | Message::Pong(_) => Frame::Skip,
        Message::Close(_) => Frame::End(End::Gone),
    }
}

/// Maps a read error to how the socket ends. A frame beyond the transport
/// limit surfaces here as a capacity error.
fn read_error(e: &axum::Error) -> End {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") || text.contains("capacity") {
        End::Close(close::TOO_BIG, "message too big")
    } else {
        End::Gone
    }
}

/// Sends one reply, bounded by the write timeout.
pub(crate) async fn send<T>(state: &GameState, tx: &mut T, m: &ServerMessage) -> Result<(), End>
where
    T: Sink<Message, Error = axum::Error> + Unpin,
{
    if let ServerMessage::Error { code, .. } = m {
        metrics::counter!("geogame_errors_total", "code" => code.as_str()).increment(1);
    }
    write(state, tx, Message::Text(m.encode().into())).await
}

async fn write<T>(state: &GameState, tx: &mut T, m: Message) -> Result<(), End>
where
    T: Sink<Message, Error = axum::Error> + Unpin,
{
    match timeout(state.cfg.write_timeout, tx.send(m)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            // The client stopped reading; its kernel buffers are full.
            metrics::counter!("geogame_slow_consumer_kicks_total").increment(1);
            Err(End::Gone)
        }
    }
}

async fn close_with<T, R>(
    state: &GameState,
    tx: &mut T,
    rx: &mut R,
    code: u16,
    reason: &'static str,
) where
    T: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if write(state, tx, Message::Close(Some(frame))).await.is_err() {
        return;
    }
    // The closing handshake: read (and drop) what the client still sends
    // until its close reply, so the socket is not torn down with unread
    // data, which would make the kernel reset the connection and lose the
    // close frame on the way.
    let drain = async {
        while let Some(Ok(m)) = rx.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = timeout(std::time::Duration::from_secs(1), drain).await;
    let _ = timeout(std::time::Duration::from_secs(1), tx.close()).await;
}
