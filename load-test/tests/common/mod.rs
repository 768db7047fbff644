//! A small stand-in for the geogame server with KNOWN behaviour: guest auth,
//! `/v1/play` and `/v1/lobby` per CONTRACT.md, every reply delayed by a fixed
//! amount, an optional stall window, and a movement check that counts
//! impossible moves, so tests can compare the load tester's numbers with
//! what the server really did.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use load_test::geo::{LatLon, Region};
use protocol::ErrorCode;
use protocol::http::{GuestAuthRequest, GuestAuthResponse};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};
use protocol::play::{
    BossView, CatchOutcome, ClientMessage, CreatureView, PoiView, Rarity, ServerMessage,
    SessionOutcome, SpinOutcome,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the test server does.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Every reply goes out this long after its request arrived.
    pub delay: Duration,
    /// Replies due in `[start + .0, start + .0 + .1)` wait until the window ends.
    pub stall: Option<(Duration, Duration)>,
    /// `match_found` comes this long after `queued`.
    pub match_delay: Duration,
    /// Location updates get no reply at all.
    pub ignore_locations: bool,
    /// Every `hello` is refused.
    pub refuse_hello: bool,
    /// Movement faster than this (m/s) plus `jitter_m` is a violation.
    pub speed_limit_mps: f64,
    /// Distance always allowed between two fixes (GPS noise).
    pub jitter_m: f64,
    /// The `welcome` to a token's second and later play `hello`s (a
    /// resume) waits this long.
    pub resume_delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            delay: Duration::ZERO,
            stall: None,
            match_delay: Duration::from_millis(300),
            ignore_locations: false,
            refuse_hello: false,
            speed_limit_mps: 50.0,
            jitter_m: 15.0,
            resume_delay: Duration::ZERO,
        }
    }
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub locations: AtomicU64,
    pub violations: AtomicU64,
    pub catches: AtomicU64,
    pub spins: AtomicU64,
    pub queues: AtomicU64,
    pub joins: AtomicU64,
    pub attacks: AtomicU64,
    pub max_speed_mmps: AtomicU64,
    /// Play sockets welcomed.
    pub play_hellos: AtomicU64,
    /// Play sockets that ended with no close frame.
    pub ended_without_close: AtomicU64,
    /// Tokens that said hello on `/v1/play`.
    pub tokens: std::sync::Mutex<std::collections::HashSet<String>>,
}

struct AppState {
    behaviour: Behaviour,
    started: Instant,
    pois: Vec<(String, LatLon)>,
    seen: Arc<Seen>,
}

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The area tests walk in: small, so walkers meet POIs within seconds.
pub const TEST_REGION: Region = Region {
    center: LatLon::new(47.6162, -122.0326),
    radius_m: 300.0,
};

/// Starts the server on 127.0.0.1:0.
pub async fn start(behaviour: Behaviour) -> TestServer {
    // A fixed ring of POIs around the test region's centre.
    let pois = (0..12)
        .map(|i| {
            let pos = TEST_REGION
                .center
                .destination(f64::from(i) * 30.0, 60.0 + 20.0 * f64::from(i % 4));
            (format!("poi-{i}"), pos)
        })
        .collect();
    let seen = Arc::new(Seen::default());
    let state = Arc::new(AppState {
        behaviour,
        started: Instant::now(),
        pois,
        seen: Arc::clone(&seen),
    });
    let app = Router::new()
        .route("/v1/auth/guest", post(auth))
        .route("/v1/play", get(play))
        .route("/v1/lobby", get(lobby))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Small frames one at a time, as a real game server writes them.
    let listener = listener.tap_io(|tcp| tcp.set_nodelay(true).unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer { addr, seen }
}

async fn auth(body: axum::Json<GuestAuthRequest>) -> Response {
    if body.validate().is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    axum::Json(GuestAuthResponse {
        player_id: format!("player-{}", body.device_id),
        token: format!("tok-{}", body.device_id),
        expires_at: 4_000_000_000,
    })
    .into_response()
}

impl AppState {
    /// When a reply to a request that arrived at `at` may go out.
    fn due(&self, at: Instant) -> Instant {
        let due = at + self.behaviour.delay;
        match self.behaviour.stall {
            Some((from, len)) => {
                let (s, e) = (self.started + from, self.started + from + len);
                if (at >= s && at < e) || (due >= s && due < e) {
                    e + self.behaviour.delay
                } else {
                    due
                }
            }
            None => due,
        }
    }
}

/// Sends each reply at its due time; the writer half runs on its own task
/// so a delayed reply never holds up the reading of the next request.
fn spawn_writer(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
) -> mpsc::Sender<(Instant, String)> {
    let (tx, mut rx) = mpsc::channel::<(Instant, String)>(4096);
    let (out_tx, mut out_rx) = mpsc::channel::<String>(4096);
    tokio::spawn(async move {
        while let Some((due, text)) = rx.recv().await {
            let out = out_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let _ = out.send(text).await;
            });
        }
    });
    tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    });
    tx
}

async fn play(ws: WebSocketUpgrade, State(state): State<Arc<AppState>>) -> Response {
    ws.on_upgrade(move |socket| play_session(socket, state))
}

async fn hello(socket: &mut WebSocket, refuse: bool, play: Option<&AppState>) -> bool {
    let Some(Ok(Message::Text(t))) = socket.recv().await else {
        return false;
    };
    if let (Some(state), Ok(ClientMessage::Hello { token })) = (play, ClientMessage::decode(&t)) {
        let again = !state.seen.tokens.lock().unwrap().insert(token);
        if again {
            tokio::time::sleep(state.behaviour.resume_delay).await;
        }
    }
    let token_ok = matches!(ClientMessage::decode(&t), Ok(ClientMessage::Hello { token }) if token.starts_with("tok-"))
        || matches!(LobbyClientMessage::decode(&t), Ok(LobbyClientMessage::Hello { token }) if token.starts_with("tok-"));
    if !token_ok || refuse {
        let err = ServerMessage::error(None, ErrorCode::Unauthorized, "bad token");
        let _ = socket.send(Message::Text(err.encode().into())).await;
        return false;
    }
    let welcome = ServerMessage::Welcome {
        player_id: "p".into(),
        server_id: "test".into(),
        protocol: 1,
    };
    socket
        .send(Message::Text(welcome.encode().into()))
        .await
        .is_ok()
}

async fn play_session(mut socket: WebSocket, state: Arc<AppState>) {
    if !hello(&mut socket, state.behaviour.refuse_hello, Some(&state)).await {
        return;
    }
    state.seen.play_hellos.fetch_add(1, Ordering::Relaxed);
    let (sink, mut stream) = socket.split();
    let mut closed = false;
    let tx = spawn_writer(sink);
    let mut last: Option<(LatLon, Instant)> = None;
    let mut window: Option<(LatLon, Instant)> = None;
    let mut n = 0u64;
    let mut raid_hits: Option<u32> = None;
    while let Some(Ok(msg)) = stream.next().await {
        closed |= matches!(msg, Message::Close(_));
        let Message::Text(text) = msg else { continue };
        let at = Instant::now();
        let reply = match ClientMessage::decode(&text) {
            Ok(ClientMessage::Location(l)) => {
                let here = LatLon::new(l.lat, l.lon);
                state.seen.locations.fetch_add(1, Ordering::Relaxed);
                // The fix at least 2 s back catches a trickle of small
                // jumps that each hide inside the jitter allowance.
                let mut too_fast = false;
                let limit = |from: LatLon, t: Instant| {
                    let dt = at.duration_since(t).as_secs_f64();
                    from.distance_m(here)
                        > state.behaviour.speed_limit_mps * dt + state.behaviour.jitter_m
                };
                match window {
                    Some((p, t)) if at.duration_since(t) >= Duration::from_secs(2) => {
                        let mmps = (p.distance_m(here) / at.duration_since(t).as_secs_f64()
                            * 1000.0) as u64;
                        state.seen.max_speed_mmps.fetch_max(mmps, Ordering::Relaxed);
                        too_fast |= limit(p, t);
                        window = Some((here, at));
                    }
                    Some(_) => {}
                    None => window = Some((here, at)),
                }
                if let Some((prev, t)) = last {
                    too_fast |= limit(prev, t);
                }
                if too_fast {
                    state.seen.violations.fetch_add(1, Ordering::Relaxed);
                }
                last = Some((here, at));
                if state.behaviour.ignore_locations {
                    continue;
                }
                if too_fast {
                    ServerMessage::error(l.seq, ErrorCode::TooFast, "impossible movement")
                } else {
                    n += 1;
                    nearby(&state, l.seq, here, n)
                }
            }
            Ok(ClientMessage::Catch { seq, creature_id }) => {
                state.seen.catches.fetch_add(1, Ordering::Relaxed);
                ServerMessage::CatchResult {
                    seq,
                    creature_id,
                    outcome: CatchOutcome::Caught,
                }
            }
            Ok(ClientMessage::Spin { seq, poi_id }) => {
                state.seen.spins.fetch_add(1, Ordering::Relaxed);
                ServerMessage::SpinResult {
                    seq,
                    poi_id,
                    outcome: SpinOutcome::Ok,
                    items: [("ball".to_owned(), 3)].into(),
                }
            }
            // A raid: joined, then the boss falls at the third attack.
            Ok(ClientMessage::JoinSession { seq, .. }) => {
                state.seen.joins.fetch_add(1, Ordering::Relaxed);
                raid_hits = Some(0);
                ServerMessage::SessionJoined {
                    seq,
                    session_id: "s".into(),
                    boss: BossView {
                        species: "Boss".into(),
                        rarity: Rarity::Legendary,
                        hp: 60,
                        max_hp: 60,
                    },
                    members: vec!["a".into()],
                    ends_at: 0,
                }
            }
            Ok(ClientMessage::Attack { seq }) => {
                state.seen.attacks.fetch_add(1, Ordering::Relaxed);
                let Some(hits) = raid_hits.as_mut() else {
                    let m = ServerMessage::error(seq, ErrorCode::NotFound, "not in a session");
                    if tx.send((state.due(at), m.encode())).await.is_err() {
                        return;
                    }
                    continue;
                };
                *hits += 1;
                let hp = 60 - 20 * (*hits).min(3);
                let result = ServerMessage::AttackResult {
                    seq,
                    damage: 20,
                    boss_hp: hp,
                };
                if hp == 0 {
                    raid_hits = None;
                    let ended = ServerMessage::SessionEnded {
                        session_id: "s".into(),
                        outcome: SessionOutcome::Victory,
                    };
                    if tx.send((state.due(at), result.encode())).await.is_err() {
                        return;
                    }
                    ended
                } else {
                    result
                }
            }
            Ok(other) => ServerMessage::error(other.seq(), ErrorCode::InvalidMessage, "unexpected"),
            Err(e) => ServerMessage::error(e.seq, ErrorCode::InvalidMessage, e.to_string()),
        };
        if tx.send((state.due(at), reply.encode())).await.is_err() {
            return;
        }
    }
    if !closed {
        state
            .seen
            .ended_without_close
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// A creature 15 m east of the player and the POIs within 300 m.
fn nearby(state: &AppState, seq: Option<u64>, here: LatLon, n: u64) -> ServerMessage {
    let c = here.destination(90.0, 15.0);
    let creatures = vec![CreatureView {
        id: format!("c-{}-{n}", seq.unwrap_or(0)),
        species: "testmon".into(),
        rarity: protocol::play::Rarity::Common,
        lat: c.lat,
        lon: c.lon,
        distance_m: 15.0,
        bearing_deg: 90.0,
        expires_at: 4_000_000_000,
    }];
    let pois = state
        .pois
        .iter()
        .filter(|(_, p)| here.distance_m(*p) <= 300.0)
        .map(|(id, p)| PoiView {
            id: id.clone(),
            name: id.clone(),
            lat: p.lat,
            lon: p.lon,
            distance_m: here.distance_m(*p),
            sponsor: None,
        })
        .collect();
    ServerMessage::Nearby {
        seq,
        creatures,
        pois,
    }
}

async fn lobby(ws: WebSocketUpgrade, State(state): State<Arc<AppState>>) -> Response {
    ws.on_upgrade(move |socket| lobby_session(socket, state))
}

async fn lobby_session(mut socket: WebSocket, state: Arc<AppState>) {
    if !hello(&mut socket, state.behaviour.refuse_hello, None).await {
        return;
    }
    let (sink, mut stream) = socket.split();
    let tx = spawn_writer(sink);
    let mut tickets = 0u64;
    while let Some(Ok(Message::Text(text))) = stream.next().await {
        let at = Instant::now();
        if let Ok(LobbyClientMessage::Queue(q)) = LobbyClientMessage::decode(&text) {
            state.seen.queues.fetch_add(1, Ordering::Relaxed);
            tickets += 1;
            let ticket_id = format!("t-{tickets}");
            let queued = LobbyServerMessage::Queued {
                seq: q.seq,
                ticket_id: ticket_id.clone(),
            };
            let found = LobbyServerMessage::MatchFound {
                ticket_id,
                session_id: "s".into(),
                players: vec!["a".into(), "b".into()],
                server: "ws://127.0.0.1/v1/play".into(),
                session_token: "st".into(),
            };
            let due = state.due(at);
            if tx.send((due, queued.encode())).await.is_err()
                || tx
                    .send((due + state.behaviour.match_delay, found.encode()))
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}
