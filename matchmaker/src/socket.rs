//! The `/v1/lobby` WebSocket: authentication by `hello`, then queue,
//! cancel and ping requests, with pushes from the hub interleaved.
//!
//! The handler is written over any Stream + Sink of axum messages, so the
//! protocol logic does not depend on a real TCP socket.

use std::collections::HashSet;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::ErrorCode;
use protocol::close::{GOING_AWAY, POLICY, TOO_BIG, UNSUPPORTED};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};
use service_kit::{RateDecision, RateLimiter};

use crate::Lobby;

/// Per-socket read and write buffer of the transport.
const SOCKET_BUFFER: usize = 4 * 1024;

/// The most a socket's unsent output may grow to before writes fail.
const MAX_WRITE_BUFFER: usize = 256 * 1024;

impl Lobby {
    /// The `/v1/lobby` route, ready to be merged into a server's router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/lobby", get(upgrade))
            .with_state(self.clone())
    }
}

async fn upgrade(State(lobby): State<Lobby>, ws: WebSocketUpgrade) -> Response {
    // The transport limit sits above the contract's 16 KiB so that a frame
    // just over it is read and answered with 1009 by `serve`, not dropped.
    let limit = (lobby.inner.cfg.max_frame_bytes * 4).max(64 * 1024);
    let tracker = lobby.inner.conns.clone();
    // Lobby frames are small: 4 KiB socket buffers instead of tungstenite's
    // 128 KiB defaults keep an open lobby socket at a few kilobytes, and the
    // write buffer is capped so a client that does not read cannot grow it.
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| tracker.track_future(serve(lobby, socket)))
}

/// How a socket ends, as seen by the protocol.
enum End {
    /// Send a close frame with this code.
    Close(u16, &'static str),
    /// The peer is gone; nothing more to send.
    Gone,
}

struct Conn<S> {
    lobby: Lobby,
    ws: S,
    limiter: RateLimiter,
}

/// Serves one socket to its end.
pub(crate) async fn serve<S>(lobby: Lobby, ws: S)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    let cfg = &lobby.inner.cfg;
    let limiter = RateLimiter::new(
        cfg.rate_per_s,
        cfg.rate_burst,
        cfg.flood_strikes,
        tokio::time::Instant::now(),
    );
    let mut conn = Conn { lobby, ws, limiter };
    let end = match conn.hello().await {
        Ok(player) => conn.run(&player).await,
        Err(end) => end,
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = conn.send_raw(Message::Close(Some(frame))).await;
    }
}

impl<S> Conn<S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin,
{
    /// Waits for a valid `hello`; returns the authenticated player.
    async fn hello(&mut self) -> Result<String, End> {
        let inner = self.lobby.inner.clone();
        let deadline = tokio::time::sleep(inner.cfg.hello_timeout);
        tokio::pin!(deadline);
        loop {
            let text = tokio::select! {
                () = inner.closing.cancelled() => return Err(End::Close(GOING_AWAY, "server shutting down")),
                () = &mut deadline => {
                    self.send(&LobbyServerMessage::error(None, ErrorCode::Unauthorized, "no hello in time")).await?;
                    return Err(End::Close(POLICY, "no hello"));
                }
                m = self.ws.next() => match self.frame(m).await? {
                    Some(t) => t,
                    None => continue,
                },
            };
            match LobbyClientMessage::decode(&text) {
                Err(e) => {
                    // As on `/v1/play`: a hello that does not decode is an
                    // authentication failure, not a request to answer.
                    let msg = LobbyServerMessage::error(
                        e.seq,
                        ErrorCode::Unauthorized,
                        format!("bad hello: {e}"),
                    );
                    self.send(&msg).await?;
                    return Err(End::Close(POLICY, "bad hello"));
                }
                Ok(LobbyClientMessage::Hello { token }) => match inner.key.verify_player(&token) {
                    Ok(claims) => {
                        let welcome = LobbyServerMessage::Welcome {
                            player_id: claims.sub.clone(),
                            server_id: inner.server_id.clone(),
                            protocol: protocol::PROTOCOL_VERSION,
                        };
                        self.send(&welcome).await?;
                        return Ok(claims.sub);
                    }
                    Err(e) => {
                        let msg =
                            LobbyServerMessage::error(None, ErrorCode::Unauthorized, e.to_string());
                        self.send(&msg).await?;
                        return Err(End::Close(POLICY, "unauthorized"));
                    }
                },
                Ok(other) => {
                    let msg = LobbyServerMessage::error(
                        other.seq(),
                        ErrorCode::Unauthorized,
                        "the first message must be hello",
                    );
                    self.send(&msg).await?;
                    return Err(End::Close(POLICY, "unauthorized"));
                }
            }
        }
    }

    /// Serves an authenticated player until the socket ends.
    async fn run(&mut self, player: &str) -> End {
        let inner = self.lobby.inner.clone();
        let mut reg = inner.hub.register(player, inner.cfg.socket_buffer);
        // Tickets opened on this socket and not yet settled: cancelled when
        // the socket goes, since nobody could be told of their match.
        let mut open: HashSet<String> = HashSet::new();
        let end = loop {
            let step = tokio::select! {
                () = inner.closing.cancelled() => Err(End::Close(GOING_AWAY, "server shutting down")),
                () = reg.kick.cancelled() => Err(End::Close(POLICY, "not reading")),
                out = reg.rx.recv() => match out {
                    Some(msg) => {
                        if let LobbyServerMessage::MatchFound { ticket_id, .. }
                        | LobbyServerMessage::Expired { ticket_id } = &msg
                        {
                            open.remove(ticket_id);
                        }
                        self.send(&msg).await
                    }
                    None => Err(End::Close(POLICY, "not reading")),
                },
                m = self.ws.next() => match self.frame(m).await {
                    Ok(Some(text)) => self.request(player, &text, &mut open).await,
                    Ok(None) => Ok(()),
                    Err(end) => Err(end),
                },
            };
            if let Err(end) = step {
                break end;
            }
        };
        inner.hub.unregister(player, reg.id);
        for ticket in open {
            match self.lobby.cancel(player, &ticket).await {
                Ok(()) | Err(crate::MatchError::NotFound) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not cancel the ticket of a closed socket")
                }
            }
        }
        end
    }

    /// Answers one decoded request.
    async fn request(
        &mut self,
        player: &str,
        text: &str,
        open: &mut HashSet<String>,
    ) -> Result<(), End> {
        let reply = match LobbyClientMessage::decode(text) {
            Err(e) => LobbyServerMessage::error(e.seq, e.code(), e.to_string()),
            Ok(LobbyClientMessage::Queue(q)) => match self.lobby.queue(player, &q).await {
                Ok(ticket_id) => {
                    open.insert(ticket_id.clone());
                    LobbyServerMessage::Queued {
                        seq: q.seq,
                        ticket_id,
                    }
                }
                Err(e) => LobbyServerMessage::error(q.seq, e.code(), e.to_string()),
            },
            Ok(LobbyClientMessage::Cancel { seq, ticket_id }) => {
                match self.lobby.cancel(player, &ticket_id).await {
                    Ok(()) => {
                        open.remove(&ticket_id);
                        LobbyServerMessage::Cancelled { seq, ticket_id }
                    }
                    Err(e) => LobbyServerMessage::error(seq, e.code(), e.to_string()),
                }
            }
            Ok(LobbyClientMessage::Ping { seq }) => LobbyServerMessage::Pong { seq },
            Ok(LobbyClientMessage::Hello { .. }) => {
                LobbyServerMessage::error(None, ErrorCode::InvalidMessage, "already authenticated")
            }
        };
        self.send(&reply).await
    }

    /// Screens one incoming frame: the text of a data frame within the
    /// limits, `None` for frames to skip, or how the socket must end.
    async fn frame(
        &mut self,
        m: Option<Result<Message, axum::Error>>,
    ) -> Result<Option<String>, End> {
        let inner = self.lobby.inner.clone();
        let cfg = &inner.cfg;
        let text = match m {
            None | Some(Ok(Message::Close(_))) => return Err(End::Gone),
            Some(Err(e)) => {
                // The transport refuses frames far above the limit, and
                // protocol faults, itself; the client is told which.
                let closing = e
                    .into_inner()
                    .downcast::<service_kit::wsclose::WsError>()
                    .ok()
                    .and_then(|ws| service_kit::wsclose::read_close(&ws));
                return Err(match closing {
                    Some((code, reason)) => End::Close(code, reason),
                    None => End::Gone,
                });
            }
            Some(Ok(Message::Binary(_))) => {
                return Err(End::Close(UNSUPPORTED, "binary frames are not supported"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(None),
            Some(Ok(Message::Text(t))) => t,
        };
        if text.len() > cfg.max_frame_bytes {
            return Err(End::Close(TOO_BIG, "message too big"));
        }
        match self.limiter.check(tokio::time::Instant::now()) {
            RateDecision::Allow => Ok(Some(text.as_str().to_owned())),
            RateDecision::Disconnect => Err(End::Close(POLICY, "flood")),
            RateDecision::Refuse => {
                // One warning per run of refusals: the lobby's requests are
                // rare, so a client that floods it is told once.
                if self.limiter.strikes() == 1 {
                    let msg = LobbyServerMessage::error(None, ErrorCode::RateLimited, "slow down");
                    self.send(&msg).await?;
                }
                Ok(None)
            }
        }
    }

    async fn send(&mut self, msg: &LobbyServerMessage) -> Result<(), End> {
        self.send_raw(Message::text(msg.encode())).await
    }

    async fn send_raw(&mut self, msg: Message) -> Result<(), End> {
        match tokio::time::timeout(self.lobby.inner.cfg.write_timeout, self.ws.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }
}
