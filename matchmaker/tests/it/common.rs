//! Helpers shared by the integration tests: a real lobby server on port 0
//! and real WebSocket clients.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use matchmaker::{Backend, Lobby, MatchConfig, MatchRecord, PoiTable, Registry, ServerInfo};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage, Mode, QueueRequest};
use protocol::token::TokenKey;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The raid POI every test uses, in Munich.
pub(crate) const POI: (&str, f64, f64) = ("poi-1", 48.137, 11.575);
/// A second POI, a few km away.
pub(crate) const POI2: (&str, f64, f64) = ("poi-2", 48.170, 11.600);

pub(crate) fn key() -> TokenKey {
    TokenKey::new(&[7u8; 32]).unwrap()
}

pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn pois() -> Arc<PoiTable> {
    Arc::new(PoiTable::new([
        (POI.0.to_owned(), POI.1, POI.2),
        (POI2.0.to_owned(), POI2.1, POI2.2),
    ]))
}

pub(crate) fn server(id: &str, capacity: u32) -> ServerInfo {
    ServerInfo {
        id: id.to_owned(),
        ws_url: format!("ws://{id}.test/v1/play"),
        capacity,
        load: 0,
        socket_capacity: 0,
        sockets: 0,
    }
}

/// A running lobby: real HTTP server on 127.0.0.1:0 plus its tick loop.
pub(crate) struct TestLobby {
    pub(crate) lobby: Lobby,
    pub(crate) addr: SocketAddr,
    pub(crate) registry: Registry,
    pub(crate) matches: Arc<Mutex<Vec<MatchRecord>>>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) run: tokio::task::JoinHandle<()>,
}

impl TestLobby {
    /// In memory, with one roomy game server `gs-1`.
    pub(crate) async fn start(cfg: MatchConfig) -> TestLobby {
        let registry = Registry::memory(&cfg);
        registry.heartbeat(&server("gs-1", 10_000)).await.unwrap();
        TestLobby::start_with(cfg, Backend::Memory, registry).await
    }

    pub(crate) async fn start_with(
        cfg: MatchConfig,
        backend: Backend,
        registry: Registry,
    ) -> TestLobby {
        let matches: Arc<Mutex<Vec<MatchRecord>>> = Arc::default();
        let sink = matches.clone();
        let lobby = Lobby::new(
            cfg,
            backend,
            registry.clone(),
            key(),
            pois(),
            Arc::new(move |m: &MatchRecord| sink.lock().unwrap().push(m.clone())),
            "mm-test".into(),
        )
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = lobby.router();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let shutdown = CancellationToken::new();
        let run = tokio::spawn({
            let (l, s) = (lobby.clone(), shutdown.clone());
            async move { l.run(s).await }
        });
        TestLobby {
            lobby,
            addr,
            registry,
            matches,
            shutdown,
            run,
        }
    }

    pub(crate) async fn login(&self, player: &str) -> Client {
        Client::login(self.addr, player).await
    }

    pub(crate) fn matches(&self) -> Vec<MatchRecord> {
        self.matches.lock().unwrap().clone()
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.run)
            .await
            .unwrap()
            .unwrap();
    }
}

pub(crate) fn raid(seq: u64, lat: f64, lon: f64, party: &[&str]) -> LobbyClientMessage {
    LobbyClientMessage::Queue(QueueRequest {
        seq: Some(seq),
        mode: Mode::Raid,
        poi_id: Some(POI.0.to_owned()),
        lat,
        lon,
        level: None,
        party: party.iter().map(|p| (*p).to_owned()).collect(),
    })
}

pub(crate) fn pvp(seq: u64, level: u32) -> LobbyClientMessage {
    LobbyClientMessage::Queue(QueueRequest {
        seq: Some(seq),
        mode: Mode::Pvp,
        poi_id: None,
        lat: POI.1,
        lon: POI.2,
        level: Some(level),
        party: Vec::new(),
    })
}

pub(crate) struct Client {
    pub(crate) ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/lobby"))
            .await
            .unwrap();
        Client { ws }
    }

    /// Connects and authenticates as `player`.
    pub(crate) async fn login(addr: SocketAddr, player: &str) -> Client {
        let mut c = Client::connect(addr).await;
        let (token, _) = key().mint_player(player, now_s(), 3600);
        c.send(&LobbyClientMessage::Hello { token }).await;
        match c.recv().await {
            LobbyServerMessage::Welcome {
                player_id,
                protocol,
                ..
            } => {
                assert_eq!(player_id, player);
                assert_eq!(protocol, protocol::PROTOCOL_VERSION);
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        c
    }

    pub(crate) async fn send(&mut self, m: &LobbyClientMessage) {
        self.send_text(&m.encode()).await;
    }

    pub(crate) async fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s)).await.unwrap();
    }

    /// The next server frame, within 5 s.
    pub(crate) async fn recv(&mut self) -> LobbyServerMessage {
        self.recv_within(Duration::from_secs(5))
            .await
            .expect("no frame within 5 s")
    }

    /// The next server frame, or `None` if none comes within `d`.
    pub(crate) async fn recv_within(&mut self, d: Duration) -> Option<LobbyServerMessage> {
        loop {
            let m = tokio::time::timeout(d, self.ws.next()).await.ok()?;
            match m {
                Some(Ok(Message::Text(t))) => return Some(LobbyServerMessage::decode(&t).unwrap()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub(crate) async fn close_code(&mut self) -> u16 {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(15), self.ws.next())
                .await
                .expect("socket not closed in time");
            match m {
                Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    panic!("closed without a code")
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Queues and returns the ticket id.
    pub(crate) async fn queue(&mut self, m: &LobbyClientMessage) -> String {
        self.send(m).await;
        match self.recv().await {
            LobbyServerMessage::Queued { seq, ticket_id } => {
                assert_eq!(seq, m.seq());
                ticket_id
            }
            other => panic!("expected queued, got {other:?}"),
        }
    }

    /// Waits (up to 5 s) for `match_found`.
    pub(crate) async fn match_found(&mut self) -> MatchFound {
        match self.recv().await {
            LobbyServerMessage::MatchFound {
                ticket_id,
                session_id,
                players,
                server,
                session_token,
            } => MatchFound {
                ticket_id,
                session_id,
                players,
                server,
                session_token,
            },
            other => panic!("expected match_found, got {other:?}"),
        }
    }

    /// Expects an error frame with this code; returns its seq.
    pub(crate) async fn error(&mut self, code: protocol::ErrorCode) -> Option<u64> {
        match self.recv().await {
            LobbyServerMessage::Error { seq, code: c, .. } => {
                assert_eq!(c, code);
                seq
            }
            other => panic!("expected {code} error, got {other:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MatchFound {
    pub(crate) ticket_id: String,
    pub(crate) session_id: String,
    pub(crate) players: Vec<String>,
    pub(crate) server: String,
    pub(crate) session_token: String,
}

/// A point `metres` north of the POI.
pub(crate) fn north_of_poi(metres: f64) -> (f64, f64) {
    (POI.1 + metres / 111_195.0, POI.2)
}

/// Redis for tests, or `None` (outside CI) when it is not running.
pub(crate) async fn redis_url() -> Option<String> {
    let url =
        std::env::var("GEOGAME_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match redis_ping(&url).await {
        Ok(()) => Some(url),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("redis unreachable in CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: redis unreachable at {url}: {e}");
            None
        }
    }
}

pub(crate) async fn redis_ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let fut = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut con).await
    };
    match tokio::time::timeout(Duration::from_secs(1), fut).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// A fresh key prefix, so tests never see each other's keys.
pub(crate) fn unique_prefix() -> String {
    format!("mmtest:{}", uuid::Uuid::new_v4())
}

/// Deletes every key under `prefix`.
pub(crate) async fn redis_cleanup(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut con)
            .await
            .unwrap();
    }
}

/// Keeps `info` heartbeating into `registry` until the returned task is
/// aborted (or the test ends); errors (e.g. while Redis is down) are retried.
pub(crate) fn keep_alive(registry: Registry, info: ServerInfo) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _ = registry.heartbeat(&info).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Waits until `cond` holds, polling every 20 ms, at most `limit`.
pub(crate) async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond().await
}
