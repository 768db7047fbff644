//! The shipped HAProxy configuration (`deploy/haproxy/haproxy.cfg`) in
//! front of three `game-server` binaries on one PostgreSQL database and
//! one Redis: HAProxy starts first, players arrive through it, one server
//! is drained with SIGTERM, and its players reconnect through the balancer
//! to the other two with nothing they were acknowledged lost.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::procs::Service;
use common::{HOME, SECRET};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// HAProxy in the foreground, killed when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn haproxy_installed() -> bool {
    let found = Command::new("haproxy").arg("-v").output().is_ok();
    if !found {
        let why = "haproxy is not installed (apt-get install -y haproxy; scripts/check-deploy.sh does it)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipping: {why}");
    }
    found
}

/// The state of each game server in HAProxy's stats, by server name.
async fn backend_states(stats_port: u16) -> BTreeMap<String, String> {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{stats_port}/;csv")).await else {
        return BTreeMap::new();
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.first() == Some(&"game") && f.get(1).is_some_and(|s| s.starts_with("gs-")))
                .then(|| (f[1].to_owned(), f.get(17).copied().unwrap_or("").to_owned()))
        })
        .collect()
}

async fn until_backends(stats_port: u16, want: impl Fn(&BTreeMap<String, String>) -> bool) {
    let started = Instant::now();
    loop {
        let states = backend_states(stats_port).await;
        if want(&states) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "HAProxy's game servers stayed {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next frame of type `ty`; `None` when the socket closes first.
async fn next_of(ws: &mut Ws, ty: &str) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame within 10 s")?;
        match m {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == ty {
                    return Some(v);
                }
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// A player through the balancer: signed in, past `hello`, and at HOME.
/// Returns the socket and the server that holds it.
async fn arrive(lb: &str, token: &str) -> (Ws, String) {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}/v1/play", lb.replace("http", "ws")))
            .await
            .unwrap();
    send(&mut ws, json!({"type": "hello", "token": token})).await;
    let w = next_of(&mut ws, "welcome").await.expect("welcome");
    send(
        &mut ws,
        json!({"type":"location","seq":1,"lat":HOME.0,"lon":HOME.1,"accuracy":5.0}),
    )
    .await;
    next_of(&mut ws, "nearby").await.expect("nearby");
    (ws, w["server_id"].as_str().unwrap().to_owned())
}

/// Spins `poi` with `seq`; the items, if it was acknowledged `ok`.
async fn spin(ws: &mut Ws, seq: u64, poi: &str) -> Option<BTreeMap<String, u64>> {
    send(ws, json!({"type":"spin","seq":seq,"poi_id":poi})).await;
    let r = next_of(ws, "spin_result").await?;
    assert_eq!(r["seq"], seq);
    assert_eq!(r["outcome"], "ok", "{r}");
    Some(serde_json::from_value(r["items"].clone()).unwrap())
}

fn add(total: &mut BTreeMap<String, u64>, items: &BTreeMap<String, u64>) {
    for (k, v) in items {
        *total.entry(k.clone()).or_default() += v;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_game_servers_players_reconnect_through_haproxy_losing_nothing() {
    if !haproxy_installed() {
        return;
    }
    let Some(pg) = store::testing::TempPostgres::create("balancer").await else {
        return;
    };
    let redis = store::testing::redis_url();
    let prefix = format!("t:lb:{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world.geojson");
    let d = 10.0 / 111_195.0;
    let poi = |id: &str, lat: f64| {
        json!({"type":"Feature","properties":{"id":id,"name":id},
            "geometry":{"type":"Point","coordinates":[HOME.1, lat]}})
    };
    let features = json!({"type":"FeatureCollection",
        "features":[poi("before", HOME.0 + d), poi("during", HOME.0 - d)]});
    std::fs::write(&world, features.to_string()).unwrap();

    // HAProxy first, as in a deployment: the servers join it as they come.
    let (lb_port, stats_port) = (free_port(), free_port());
    let ports = [free_port(), free_port(), free_port()];
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/haproxy/haproxy.cfg");
    let unused = format!("127.0.0.1:{}", free_port());
    let _lb = Haproxy(
        Command::new("haproxy")
            .args(["-db", "-f", cfg])
            .env("LB_PORT", lb_port.to_string())
            .env("LB_STATS_PORT", stats_port.to_string())
            .env("GAME1_PORT", ports[0].to_string())
            .env("GAME2_PORT", ports[1].to_string())
            .env("GAME3_PORT", ports[2].to_string())
            .env("SPAWNER_ADDR", &unused)
            .env("MATCHMAKER_ADDR", &unused)
            .env("ANALYTICS_ADDR", &unused)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start haproxy"),
    );
    let lb = format!("http://127.0.0.1:{lb_port}");
    let world = world.to_str().unwrap();
    let mut servers: BTreeMap<String, Service> = BTreeMap::new();
    for (i, port) in ports.iter().enumerate() {
        let (id, listen) = (format!("gs-{}", i + 1), format!("127.0.0.1:{port}"));
        let args = [
            "--listen",
            &listen,
            "--server-id",
            &id,
            "--database-url",
            pg.url(),
            "--redis-url",
            &redis,
            "--redis-prefix",
            &prefix,
            "--token-secret",
            SECRET,
            "--world",
            world,
            "--trusted-proxy",
            "127.0.0.1",
            "--shed-lag-ms",
            "0",
        ];
        let service = Service::start(env!("CARGO_BIN_EXE_game-server"), &args);
        servers.insert(id, service);
    }
    until_backends(stats_port, |s| {
        s.len() == 3 && s.values().all(|v| v == "UP")
    })
    .await;

    // 30 players arrive through the balancer and each spins once.
    let mut players = Vec::new();
    let mut acked: Vec<BTreeMap<String, u64>> = Vec::new();
    for i in 0..30 {
        let (_, token) = common::guest(&lb, &format!("walker-{i}")).await;
        let (mut ws, server) = arrive(&lb, &token).await;
        let mut mine = BTreeMap::new();
        add(
            &mut mine,
            &spin(&mut ws, 2, "before").await.expect("acknowledged"),
        );
        acked.push(mine);
        players.push((ws, server, token));
    }
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, s, _) in &players {
        *count.entry(s.clone()).or_default() += 1;
    }
    assert_eq!(count.len(), 3, "leastconn spreads the players: {count:?}");
    let drained = players[0].1.clone();

    // SIGTERM; the drained server's players spin again at once: whatever
    // it acknowledges before it closes must be there afterwards.
    let pid = servers[&drained].child.id();
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let (mut moved, mut during) = (0, 0);
    for (i, (ws, server, token)) in players.iter_mut().enumerate() {
        if *server != drained {
            continue;
        }
        if let Some(items) = spin(ws, 3, "during").await {
            add(&mut acked[i], &items);
            during += 1;
        }
        while next_of(ws, "never").await.is_some() {}
        let (mut again, now_on) = arrive(&lb, token).await;
        assert_ne!(
            now_on, drained,
            "the balancer sent a player back to the drained server"
        );
        check_collection(&mut again, &acked[i]).await;
        *ws = again;
        *server = now_on;
        moved += 1;
    }
    eprintln!(
        "players per server {count:?}; {moved} moved off {drained}, {during} of their spins during the drain acknowledged"
    );
    assert!(moved >= 5, "only {moved} players were on {drained}");
    // The others never noticed.
    for (i, (ws, server, _)) in players.iter_mut().enumerate() {
        if *server == drained {
            continue;
        }
        send(
            ws,
            json!({"type":"location","seq":9,"lat":HOME.0,"lon":HOME.1}),
        )
        .await;
        assert!(
            next_of(ws, "nearby").await.is_some(),
            "player {i} lost its socket"
        );
    }
    let status = servers.get_mut(&drained).unwrap().child.wait().unwrap();
    assert!(status.success(), "the drained server exited with {status}");
    until_backends(stats_port, |s| {
        s.get(&drained).is_some_and(|v| v.starts_with("DOWN"))
    })
    .await;
}

/// Checks the player's collection holds at least what it was acknowledged.
async fn check_collection(ws: &mut Ws, acked: &BTreeMap<String, u64>) {
    send(ws, json!({"type":"collection","seq":4})).await;
    let c = next_of(ws, "collection").await.expect("collection");
    let items: BTreeMap<String, u64> = serde_json::from_value(c["items"].clone()).unwrap();
    for (k, v) in acked {
        assert!(
            items.get(k).copied().unwrap_or(0) >= *v,
            "acknowledged {acked:?}, stored {items:?}"
        );
    }
}
