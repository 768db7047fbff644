//! One player's socket: the `hello` phase, then the play loop.
//!
//! The loop is written over any `Stream + Sink` of tokio-tungstenite
//! messages, so that it does not care whether a real socket or a test
//! harness drives it. Each connection's task owns its whole socket (no
//! split halves and no lock between them) and waits on a fixed set of
//! long-lived futures, so a message costs no timer or waiter
//! registration. The only shared things it touches are the world (briefly
//! locked), the push hub and the sessions.

use std::pin::pin;
use std::sync::Arc;

use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use protocol::play::{ClientMessage, ServerMessage};
use protocol::{ErrorCode, PROTOCOL_VERSION, close};
use tokio::sync::SemaphorePermit;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::hub::Outbox;
use crate::play::Reply;
use crate::player::Player;
use crate::state::GameState;
use service_kit::{RateDecision, RateLimiter};

/// A WebSocket as the play loop sees it: one object for both directions.
pub(crate) trait Socket:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin
{
}

impl<T> Socket for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin
{
}

/// Why the play loop ended.
pub(crate) enum End {
    Close(u16, &'static str),
    Gone,
}

/// Serves one upgraded socket until it closes. `_held` (the socket's
/// capacity permit) is released when it does.
pub(crate) async fn serve<S: Socket, H: Send>(state: Arc<GameState>, mut socket: S, _held: H) {
    metrics::gauge!("geogame_connections").increment(1.0);
    let (player_id, standing, arriving) = match hello(&state, &mut socket).await {
        Ok(p) => p,
        Err(End::Close(code, reason)) => {
            close_with(&state, &mut socket, code, reason).await;
            metrics::gauge!("geogame_connections").decrement(1.0);
            return;
        }
        Err(End::Gone) => {
            metrics::gauge!("geogame_connections").decrement(1.0);
            return;
        }
    };
    let outbox = Outbox::new(state.cfg.send_queue);
    let id = state.hub.register(outbox.clone());
    let guard = crate::arrival::take_over(&state, &player_id, id, &outbox, standing).await;
    let mut conn = Player::new(id, player_id, guard);
    crate::session::resume(&state, &mut conn);
    // Arrived: the next socket may take this one's admission slot.
    drop(arriving);
    let started = Instant::now();
    state.emit(state.stamp().socket_opened(&conn.player_id));
    let end = play(&state, &mut conn, &mut socket, &outbox).await;
    // An erased player's last socket leaves no event naming them.
    let erased = matches!(end, End::Close(close::ERASED, _));
    if let End::Close(code, reason) = end {
        close_with(&state, &mut socket, code, reason).await;
    }
    crate::arrival::depart(&state, &mut conn);
    if !erased {
        let lasted = started.elapsed().as_secs_f64();
        state.emit(state.stamp().socket_closed(&conn.player_id, lasted));
    }
    metrics::gauge!("geogame_connections").decrement(1.0);
}

async fn hello<'s, S: Socket>(
    state: &'s GameState,
    socket: &mut S,
) -> Result<(String, crate::strikes::Standing, SemaphorePermit<'s>), End> {
    // Control frames (pings) may come first; only the first text frame
    // counts, and it must arrive before the hello deadline.
    let deadline = Instant::now() + state.cfg.hello_timeout;
    let text = loop {
        let next = tokio::select! {
            r = tokio::time::timeout_at(deadline, socket.next()) => r,
            _ = state.shutdown.cancelled() => return Err(End::Close(close::GOING_AWAY, "server shutting down")),
        };
        match next {
            Err(_) => {
                let msg = format!("no hello within {} s", state.cfg.hello_timeout.as_secs());
                send(
                    state,
                    socket,
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
                socket,
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
                socket,
                &ServerMessage::error(e.seq, ErrorCode::Unauthorized, format!("bad hello: {e}")),
            )
            .await?;
            return Err(End::Close(close::POLICY, "bad hello"));
        }
    };
    // Too many arriving at once: this one comes back shortly.
    let Some(arriving) = state.admission.hello() else {
        send(state, socket, &crate::admission::shed_hello()).await?;
        return Err(End::Close(close::TRY_AGAIN_LATER, "try again later"));
    };
    match state.key.verify_player(&token) {
        Ok(claims) => {
            // A suspended or banned player is told why, and not let in.
            let standing = crate::arrival::standing(state, &claims.sub).await;
            if let Some((code, why)) = standing.refusal() {
                metrics::counter!("geogame_errors_total", "code" => code.as_str()).increment(1);
                send(state, socket, &ServerMessage::error(None, code, why)).await?;
                return Err(End::Close(standing.close_code(), code.as_str()));
            }
            let welcome = ServerMessage::Welcome {
                player_id: claims.sub.clone(),
                server_id: state.cfg.server_id.clone(),
                protocol: PROTOCOL_VERSION,
            };
            send(state, socket, &welcome).await?;
            Ok((claims.sub, standing, arriving))
        }
        Err(e) => {
            metrics::counter!("geogame_errors_total", "code" => "unauthorized").increment(1);
            send(
                state,
                socket,
                &ServerMessage::error(None, ErrorCode::Unauthorized, e.to_string()),
            )
            .await?;
            Err(End::Close(close::POLICY, "unauthorized"))
        }
    }
}

/// What woke the play loop.
enum Wake {
    Shutdown,
    Deadline,
    Pushed,
    Ping,
    Frame(Option<Result<Message, WsError>>),
}

async fn play<S: Socket>(
    state: &Arc<GameState>,
    conn: &mut Player,
    socket: &mut S,
    outbox: &Outbox,
) -> End {
    let cfg = &state.cfg;
    let mut limiter = RateLimiter::new(
        cfg.rate_per_s,
        cfg.rate_burst,
        cfg.flood_strikes,
        Instant::now(),
    );
    // One timer serves both the idle timeout and, once the server shuts
    // down, the end of the notice period. Frames only move `last_frame`;
    // the timer is re-armed lazily when it fires early.
    let mut last_frame = Instant::now();
    let mut closing_at: Option<Instant> = None;
    let mut deadline = pin!(sleep_until(last_frame + cfg.idle_timeout));
    let mut shutdown = pin!(state.shutdown.cancelled());
    let mut pushed = pin!(outbox.ready.notified());
    let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
    loop {
        let wake = tokio::select! {
            () = &mut shutdown, if closing_at.is_none() => Wake::Shutdown,
            () = &mut deadline => Wake::Deadline,
            () = &mut pushed => Wake::Pushed,
            _ = ping.tick() => Wake::Ping,
            incoming = socket.next() => Wake::Frame(incoming),
        };
        match wake {
            Wake::Shutdown => {
                let notice = ServerMessage::Shutdown {
                    in_s: cfg.shutdown_notice_s,
                };
                if send(state, socket, &notice).await.is_err() {
                    return End::Gone;
                }
                let at = Instant::now()
                    + std::time::Duration::from_secs(u64::from(cfg.shutdown_notice_s));
                closing_at = Some(at);
                deadline.as_mut().reset(at);
            }
            Wake::Deadline => {
                if closing_at.is_some() {
                    return End::Close(close::GOING_AWAY, "server shutting down");
                }
                let idle_at = last_frame + cfg.idle_timeout;
                if Instant::now() >= idle_at {
                    return End::Close(close::POLICY, "idle timeout");
                }
                deadline.as_mut().reset(idle_at);
            }
            Wake::Pushed => {
                pushed.set(outbox.ready.notified());
                if outbox.kicked() {
                    return End::Close(close::POLICY, "client does not read");
                }
                // Everything queued goes out with one flush.
                while let Some(frame) = outbox.pop() {
                    if bounded(state, socket.feed(Message::Text(frame)))
                        .await
                        .is_err()
                    {
                        return End::Gone;
                    }
                }
                if flush(state, socket).await.is_err() {
                    return End::Gone;
                }
                match outbox.closing() {
                    Some(close::REPLACED) => {
                        return End::Close(close::REPLACED, "replaced by a newer connection");
                    }
                    Some(close::ERASED) => return End::Close(close::ERASED, "erased"),
                    Some(code) => return End::Close(code, "suspended"),
                    None => {}
                }
            }
            Wake::Ping => {
                if write(state, socket, Message::Ping(Default::default()))
                    .await
                    .is_err()
                {
                    return End::Gone;
                }
            }
            Wake::Frame(incoming) => {
                // Frames that arrived together are answered together: each
                // reply is queued, and one flush sends them all, so a busy
                // socket costs one write per batch rather than per reply.
                let mut next = incoming;
                let mut batch = 0;
                loop {
                    // One clock read per frame serves the idle timer, the
                    // rate limit, the movement check and the reply's timing.
                    let now = Instant::now();
                    last_frame = now;
                    let msg = match next {
                        None => return End::Gone,
                        Some(Err(e)) => return read_error(&e),
                        Some(Ok(m)) => m,
                    };
                    match classify(state, msg) {
                        Frame::Text(t) => {
                            if let Err(end) =
                                on_text(state, conn, socket, &mut limiter, &t, now).await
                            {
                                return end;
                            }
                        }
                        Frame::Skip => {}
                        Frame::End(e) => return e,
                    }
                    batch += 1;
                    if batch >= MAX_BATCH {
                        break;
                    }
                    match socket.next().now_or_never() {
                        Some(more) => next = more,
                        None => break,
                    }
                }
                if flush(state, socket).await.is_err() {
                    return End::Gone;
                }
            }
        }
    }
}

/// Most frames answered before the replies are flushed.
const MAX_BATCH: usize = 64;

/// Handles one text frame of the play phase, received at `now`: rate
/// limit, dispatch, and a reply queued for the caller to flush.
async fn on_text<S: Socket>(
    state: &Arc<GameState>,
    conn: &mut Player,
    socket: &mut S,
    limiter: &mut RateLimiter,
    text: &str,
    now: Instant,
) -> Result<(), End> {
    match limiter.check(now) {
        RateDecision::Allow => {}
        RateDecision::Refuse => {
            metrics::counter!("geogame_errors_total", "code" => "rate_limited").increment(1);
            let m =
                ServerMessage::error(None, ErrorCode::RateLimited, "slow down: message dropped");
            return send(state, socket, &m).await;
        }
        RateDecision::Disconnect => return Err(End::Close(close::POLICY, "flood")),
    }
    let (kind, reply) = crate::play::handle(state, conn, text, now).await;
    match reply {
        Reply::Message(m) => queue(state, socket, &m).await?,
        Reply::Text(frame) => bounded(state, socket.feed(Message::Text(frame.into()))).await?,
    }
    crate::telemetry::record_reply(kind, now.elapsed().as_secs_f64());
    Ok(())
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
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Frame::Skip,
        Message::Close(_) => Frame::End(End::Gone),
    }
}

/// Maps a read error to how the socket ends (`service_kit::wsclose`).
fn read_error(e: &WsError) -> End {
    match service_kit::wsclose::read_close(e) {
        Some((code, reason)) => End::Close(code, reason),
        None => End::Gone,
    }
}

/// Sends one reply, bounded by the write timeout.
async fn send<S: Socket>(state: &GameState, socket: &mut S, m: &ServerMessage) -> Result<(), End> {
    queue(state, socket, m).await?;
    flush(state, socket).await
}

/// Queues one reply without flushing, bounded by the write timeout (a full
/// write buffer makes the transport write out, which may wait).
async fn queue<S: Socket>(state: &GameState, socket: &mut S, m: &ServerMessage) -> Result<(), End> {
    if let ServerMessage::Error { code, .. } = m {
        metrics::counter!("geogame_errors_total", "code" => code.as_str()).increment(1);
    }
    bounded(state, socket.feed(Message::Text(m.encode().into()))).await
}

/// Sends whatever is queued, bounded by the write timeout.
async fn flush<S: Socket>(state: &GameState, socket: &mut S) -> Result<(), End> {
    bounded(state, socket.flush()).await
}

async fn write<S: Socket>(state: &GameState, socket: &mut S, m: Message) -> Result<(), End> {
    bounded(state, socket.send(m)).await
}

/// Runs one socket write under the write timeout.
async fn bounded<F>(state: &GameState, op: F) -> Result<(), End>
where
    F: Future<Output = Result<(), WsError>>,
{
    match timeout(state.cfg.write_timeout, op).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            // The client stopped reading; its kernel buffers are full.
            metrics::counter!("geogame_slow_consumer_kicks_total").increment(1);
            Err(End::Gone)
        }
    }
}

async fn close_with<S: Socket>(state: &GameState, socket: &mut S, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    if write(state, socket, Message::Close(Some(frame)))
        .await
        .is_err()
    {
        return;
    }
    // The closing handshake: read (and drop) what the client still sends
    // until its close reply, so the socket is not torn down with unread
    // data, which would make the kernel reset the connection and lose the
    // close frame on the way.
    let drain = async {
        while let Some(Ok(m)) = socket.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = timeout(std::time::Duration::from_secs(1), drain).await;
    let _ = timeout(std::time::Duration::from_secs(1), socket.close()).await;
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A socket that never yields, for measuring the task's size.
    struct Idle;

    impl Stream for Idle {
        type Item = Result<Message, WsError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    impl Sink<Message> for Idle {
        type Error = WsError;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), Self::Error> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn future_size<F, Fut>(_: F) -> usize
    where
        F: FnOnce(Arc<GameState>, Idle, ()) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    #[test]
    fn a_connection_task_stays_small() {
        let size = future_size(serve::<Idle, ()>);
        // Every connected player holds one of these for the life of its
        // socket; rare, storage-bound actions are boxed to keep it small
        // (it was 3.6 KB with them inline).
        assert!(size <= 2048, "the per-connection future is {size} bytes");
    }
}
