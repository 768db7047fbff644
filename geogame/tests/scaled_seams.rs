//! The seams of the scaled-out deployment, with each service as its own
//! binary runs it (here in one test process): a standalone game server,
//! matchmaker and analytics service over one PostgreSQL and one Redis,
//! under a key prefix and stream of this test's own.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{guest, open, recv_type, send};
use futures_util::StreamExt;
use serde_json::{Value, json};
use store::testing::{TempPostgres, redis_url};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "0123456789abcdef0123456789abcdef-seams";
const RAID_POI: &str = "sammamish-highlands-starbucks";

struct Stack {
    game: SocketAddr,
    lobby: SocketAddr,
    reports: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    _pg: TempPostgres,
    _dir: tempfile::TempDir,
}

async fn bound<F>(
    start: impl FnOnce(tokio::sync::oneshot::Sender<SocketAddr>) -> F,
) -> (SocketAddr, JoinHandle<()>)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(start(tx));
    let addr = tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("the service binds within 20 s")
        .expect("the service started");
    (addr, task)
}

async fn stack(label: &str) -> Option<Stack> {
    let pg = TempPostgres::create(label).await?;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t:{label}:{}", uuid::Uuid::new_v4().simple());
    let stream = format!("{prefix}:events");
    let redis = redis_url();
    let shutdown = CancellationToken::new();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/world.geojson");

    let data_dir = dir.path().to_str().unwrap().to_owned();
    let args = game_server::standalone::Args::try_parse_from([
        "game-server",
        "--listen",
        "127.0.0.1:0",
        "--server-id",
        "gs-seams",
        "--data-dir",
        &data_dir,
        "--database-url",
        pg.url(),
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix,
        "--stream-key",
        &stream,
        "--token-secret",
        SECRET,
        "--admin-token",
        "seams-admin",
        "--world",
        world,
    ])
    .unwrap();
    let stop = shutdown.clone();
    let (game, game_task) = bound(|tx| async move {
        let run = game_server::standalone::run(args, stop, move |a| {
            let _ = tx.send(a);
        });
        run.await.expect("the game server runs");
    })
    .await;

    let settings = matchmaker::standalone::Args::try_parse_from([
        "matchmaker",
        "--listen",
        "127.0.0.1:0",
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix,
        "--database-url",
        pg.url(),
        "--lobby-wait-s",
        "0.3",
        "--token-secret",
        SECRET,
    ])
    .unwrap()
    .settings()
    .unwrap();
    // The game server stored the demo world before it bound.
    let db = store::Db::open(pg.url()).await.unwrap();
    let pois = Arc::new(matchmaker::PoiTable::default());
    pois.replace(
        db.list_pois()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.lat, p.lon)),
    );
    let stop = shutdown.clone();
    let (lobby, lobby_task) = bound(|tx| async move {
        let serve = matchmaker::standalone::serve(settings, pois, db, stop, move |a| {
            let _ = tx.send(a);
        });
        serve.await.expect("the matchmaker runs");
    })
    .await;

    let group = format!("{prefix}:group");
    let aargs = analytics::service::Args::try_parse_from([
        "analytics",
        "--redis-url",
        &redis,
        "--database-url",
        pg.url(),
        "--listen",
        "127.0.0.1:0",
        "--stream-key",
        &stream,
        "--group",
        &group,
        "--admin-token",
        "seams-admin",
    ])
    .unwrap();
    let service = analytics::service::Service::start(&aargs).await.unwrap();
    let reports = service.local_addr().unwrap();
    let stop = shutdown.clone();
    let reports_task = tokio::spawn(async move {
        service.run(stop).await.expect("analytics runs");
    });
    Some(Stack {
        game,
        lobby,
        reports,
        shutdown,
        tasks: vec![game_task, lobby_task, reports_task],
        _pg: pg,
        _dir: dir,
    })
}

impl Stack {
    async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("stops within 15 s")
                .unwrap();
        }
    }
}

fn queue(seq: u64, i: usize) -> Value {
    json!({"type":"queue","seq":seq,"mode":"raid","poi_id":RAID_POI,
           "lat":47.61598 + i as f64 * 0.0001,"lon":-122.03412})
}

#[tokio::test]
async fn scaled_out_raid_players_queue_again_at_once_and_matches_are_counted() {
    // Regressions: the standalone game server never told the matchmaker
    // that a raid ended (its players were locked out until the lobby's
    // 30-minute sweep), and the standalone matchmaker only logged formed
    // matches, so `summary.matches` stayed 0 when scaled out.
    let Some(s) = stack("seams").await else {
        return;
    };
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for device in ["seam-raider-1", "seam-raider-2"] {
        let v = guest(s.game, device).await;
        tokens.push(v["token"].as_str().unwrap().to_owned());
    }
    let mut lobbies = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let mut l = open(&format!("ws://{}/v1/lobby", s.lobby), token).await;
        send(&mut l, queue(1, i)).await;
        recv_type(&mut l, "queued").await;
        lobbies.push(l);
    }
    let mut matched = Vec::new();
    for l in &mut lobbies {
        matched.push(recv_type(l, "match_found").await);
    }
    assert_eq!(matched[0]["server"], format!("ws://{}/v1/play", s.game));

    let mut games = Vec::new();
    for (token, m) in tokens.iter().zip(&matched) {
        let mut g = open(&format!("ws://{}/v1/play", s.game), token).await;
        send(
            &mut g,
            json!({"type":"join_session","seq":1,"session_token":m["session_token"]}),
        )
        .await;
        recv_type(&mut g, "session_joined").await;
        games.push(g);
    }
    // Fight until the boss falls.
    let mut seq = 10;
    loop {
        let g = &mut games[seq % 2];
        send(g, json!({"type":"attack","seq":seq})).await;
        let hit = recv_type(g, "attack_result").await;
        seq += 1;
        if hit["boss_hp"] == 0 {
            break;
        }
    }
    assert_eq!(
        recv_type(&mut games[0], "session_ended").await["outcome"],
        "victory"
    );

    // The raid is over: the matchmaker has released its players, so one
    // of them queues again at once (alone, so no second match forms).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut attempt = 100;
    loop {
        send(&mut lobbies[0], queue(attempt, 0)).await;
        let reply = loop {
            let m = tokio::time::timeout(Duration::from_secs(5), lobbies[0].next())
                .await
                .expect("a reply")
                .unwrap()
                .unwrap();
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["seq"] == attempt {
                    break v;
                }
            }
        };
        if reply["type"] == "queued" {
            break;
        }
        assert_eq!(reply["code"], "conflict", "{reply}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the player is still held by the ended session: {reply}"
        );
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // One `match_formed` per member reached the SQL sink through the
    // outbox and the stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let summary: Value = http
            .get(format!("http://{}/v1/reports/summary", s.reports))
            .bearer_auth("seams-admin")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if summary["matches"] == 2 {
            break;
        }
        assert!(summary["matches"].as_i64().unwrap_or(0) < 2, "{summary}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "matches not counted: {summary}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((games, lobbies));
    s.stop().await;
}
