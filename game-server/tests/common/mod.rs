//! Test harness: a real game server on 127.0.0.1:0 and real WebSocket
//! clients.
#![allow(dead_code, unreachable_pub)]

pub mod procs;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use game_server::app::{App, AppOptions, build};
use game_server::{GameServer, ServerConfig};
use serde_json::{Value, json};
use service_kit::serve;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// Where test creatures live: far from the demo POIs, so placement never
/// interferes with what a test sets up.
pub const HOME: (f64, f64) = (10.0, 10.0);

pub const ADMIN: &str = "test-admin-token";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

pub struct TestServer {
    pub addr: SocketAddr,
    pub server: GameServer,
    pub db: store::Db,
    pub shutdown: CancellationToken,
    pub serve: JoinHandle<std::io::Result<()>>,
    pub pipeline: JoinHandle<()>,
}

/// A config for tests: no flee, generous rate limit unless a test lowers it.
pub fn config() -> ServerConfig {
    ServerConfig {
        flee_chance: [0.0; 5],
        location_log_every: Duration::ZERO,
        // A debug build in a parallel test run lags like a saturated
        // release server; shedding on lag is pinned by its own tests.
        shed_lag: Duration::ZERO,
        ..ServerConfig::default()
    }
}

pub fn test_pois() -> Vec<spawner::Poi> {
    vec![
        spawner::Poi {
            id: "cafe".into(),
            name: "Test Cafe".into(),
            lat: HOME.0 + 0.0003,
            lon: HOME.1,
            weight: 3.0,
            sponsor: Some("Cafe Co".into()),
        },
        spawner::Poi {
            id: "shop".into(),
            name: "Test Shop".into(),
            lat: HOME.0 - 0.0005,
            lon: HOME.1,
            weight: 1.0,
            sponsor: None,
        },
    ]
}

pub async fn start(cfg: ServerConfig, dir: &Path) -> TestServer {
    start_with(options(cfg, dir)).await
}

/// The options `start` uses: SQLite in `dir`, fixed secrets, test POIs.
pub fn options(cfg: ServerConfig, dir: &Path) -> AppOptions {
    AppOptions {
        data_dir: dir.to_path_buf(),
        database_url: None,
        redis_url: None,
        redis_prefix: game_server::flags::DEFAULT_REDIS_PREFIX.into(),
        token_secret: Some(SECRET.into()),
        admin_token: Some(ADMIN.into()),
        seed: 1,
        spawn_config: None,
        placement: true,
        seed_pois: test_pois(),
        server: cfg,
        analytics: analytics::AnalyticsConfig::default(),
        sync_channel: "geogame:world".into(),
    }
}

pub async fn start_with(opts: AppOptions) -> TestServer {
    launch(opts, true).await
}

/// [`start`] keeping the population the warm-up placed.
pub async fn start_warm(cfg: ServerConfig, dir: &Path) -> TestServer {
    launch(options(cfg, dir), false).await
}

async fn launch(opts: AppOptions, clear: bool) -> TestServer {
    let shutdown = CancellationToken::new();
    let App {
        server,
        db,
        pipeline,
        ..
    } = build(opts, shutdown.clone(), None)
        .await
        .expect("build server");
    // Tests place their own creatures; clear the warm-up population
    // around the test POIs so counts are exact.
    if clear {
        clear_creatures(&server);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = tokio::spawn(serve(
        listener,
        server.router(),
        shutdown.clone(),
        Duration::from_secs(5),
    ));
    let pipeline = tokio::spawn(pipeline.run(shutdown.clone()));
    // World sync between servers (a no-op for a lone SQLite server).
    server.spawn_sync();
    TestServer {
        addr,
        server,
        db,
        shutdown,
        serve,
        pipeline,
    }
}

pub fn clear_creatures(server: &GameServer) {
    server.state().with_world(|w| {
        let ids: Vec<String> = w
            .nearby_creatures(HOME.0, HOME.1, 100_000.0)
            .iter()
            .map(|s| s.creature.id.clone())
            .collect();
        for id in ids {
            w.take_creature(&id);
        }
    });
}

impl TestServer {
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Puts a creature `north_m` metres north of HOME for ten minutes.
    pub fn place(&self, id: &str, north_m: f64, rarity: spawner::Rarity) {
        self.place_for(id, north_m, rarity, 600_000);
    }

    /// Puts a creature `north_m` metres north of HOME that expires in
    /// `lifetime_ms`.
    pub fn place_for(&self, id: &str, north_m: f64, rarity: spawner::Rarity, lifetime_ms: i64) {
        let c = spawner::Creature {
            id: id.into(),
            species: Arc::from("Testmon"),
            rarity,
            lat: HOME.0 + north_m / 111_195.0,
            lon: HOME.1,
            poi_id: "cafe".into(),
            spawned_at_ms: now_ms(),
            expires_at_ms: now_ms() + lifetime_ms,
        };
        self.server
            .state()
            .with_world(|w| w.insert_creatures(vec![c]));
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.serve).await;
        self.server.drained(Duration::from_secs(5)).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.pipeline).await;
        self.db.close().await;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub async fn guest(base: &str, device: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/auth/guest"))
        .json(&json!({"device_id": device}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    (
        v["player_id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/play"))
            .await
            .unwrap();
        Client { ws }
    }

    /// Signs in as a new guest and completes the hello exchange.
    pub async fn player(srv: &TestServer, device: &str) -> (Client, String) {
        let (pid, token) = guest(&srv.http(), device).await;
        let mut c = Client::connect(srv.addr).await;
        c.send(json!({"type": "hello", "token": token})).await;
        let w = c.recv().await;
        assert_eq!(w["type"], "welcome", "{w}");
        assert_eq!(w["player_id"], pid.as_str());
        assert_eq!(w["protocol"], 1);
        (c, pid)
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, s: &str) {
        self.ws
            .send(Message::Text(s.to_owned().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame; fails on close or after 5 s.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("no frame within 5 s")
                .expect("socket ended")
                .expect("socket error");
            match m {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next frame of type `ty`, skipping pushes of other types.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// Sends a location at `north_m` metres north of HOME and returns the reply.
    pub async fn locate(&mut self, seq: u64, north_m: f64) -> Value {
        self.send(json!({"type": "location", "seq": seq, "lat": HOME.0 + north_m / 111_195.0, "lon": HOME.1, "accuracy": 5.0})).await;
        let v = self.recv_type("nearby").await;
        assert_eq!(v["seq"], seq);
        v
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), self.ws.next())
                .await
                .expect("no close within 15 s")
            {
                Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error before close: {e}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }
}

/// Every client throws at `creature` at the same moment; returns the
/// outcomes.
pub async fn throw_all(clients: Vec<Client>, creature: &str) -> Vec<String> {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients.len()));
    let mut tasks = Vec::new();
    for mut c in clients {
        let b = barrier.clone();
        let creature = creature.to_owned();
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            c.send(json!({"type":"catch","seq":9,"creature_id":creature}))
                .await;
            c.recv_type("catch_result").await["outcome"]
                .as_str()
                .unwrap()
                .to_owned()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}

/// Game servers sharing one PostgreSQL database and one Redis, as behind
/// a load balancer.
pub struct Fleet {
    pub servers: Vec<TestServer>,
    /// Their world-sync channel.
    pub channel: String,
    _pg: store::testing::TempPostgres,
    _dirs: Vec<tempfile::TempDir>,
}

/// Starts `n` servers (`gs-0`, `gs-1`, ...) on a fresh database named after
/// `label` and the Redis at `redis_url`; none when PostgreSQL or Redis is
/// missing outside CI.
pub async fn fleet_on(label: &str, redis_url: &str, n: usize) -> Option<Fleet> {
    let pg = store::testing::TempPostgres::create(label).await?;
    let channel = format!("{label}:{}", uuid::Uuid::new_v4().simple());
    let mut servers = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(
            game_server::ServerConfig {
                server_id: format!("gs-{i}"),
                ..config()
            },
            dir.path(),
        );
        opts.database_url = Some(pg.url().to_owned());
        opts.redis_url = Some(redis_url.to_owned());
        opts.sync_channel = channel.clone();
        opts.analytics.stream_key = format!("{channel}:events");
        servers.push(start_with(opts).await);
        dirs.push(dir);
    }
    // Every server must be subscribed before the test announces anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Some(Fleet {
        servers,
        channel,
        _pg: pg,
        _dirs: dirs,
    })
}

impl Fleet {
    /// The same creature in every world, as deterministic placement gives.
    pub fn place(&self, id: &str, north_m: f64) {
        for s in &self.servers {
            s.place(id, north_m, spawner::Rarity::Common);
        }
    }

    pub async fn stop(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}

/// Two servers of a [`Fleet`], named for the tests that use two.
pub struct Pair {
    pub a: TestServer,
    pub b: TestServer,
    /// Their world-sync channel.
    pub channel: String,
    _rest: Fleet,
}

/// Starts a [`Pair`] on a fresh database named after `label`; none when
/// PostgreSQL or Redis is missing outside CI.
pub async fn pair(label: &str) -> Option<Pair> {
    pair_on(label, &store::testing::redis_url()).await
}

/// [`pair`] on the Redis at `redis_url`.
pub async fn pair_on(label: &str, redis_url: &str) -> Option<Pair> {
    let mut fleet = fleet_on(label, redis_url, 2).await?;
    let b = fleet.servers.pop().unwrap();
    let a = fleet.servers.pop().unwrap();
    Some(Pair {
        a,
        b,
        channel: fleet.channel.clone(),
        _rest: fleet,
    })
}

impl Pair {
    /// The same creature in both worlds, as deterministic placement gives.
    pub fn place(&self, id: &str, north_m: f64) {
        self.a.place(id, north_m, spawner::Rarity::Common);
        self.b.place(id, north_m, spawner::Rarity::Common);
    }

    pub async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
    }
}

/// Waits until `n` statements of the server wait for the test's lock.
pub async fn waiting_for_lock(conn: &mut sqlx::PgConnection, n: i64) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} statements never queued behind the lock");
}

/// The ids of the creatures in a `nearby` reply, in order.
pub fn creature_ids(nearby: &Value) -> Vec<String> {
    nearby["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}
