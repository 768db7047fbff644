//! The `spawner` binary as the world's authority: two `game-server`
//! binaries started with `--follow-spawner` on one PostgreSQL database and
//! one Redis (a prefix of its own), the operator API on the spawner only,
//! and every change it makes reaching both servers' players within a
//! second.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::procs::Service;
use common::{ADMIN, Client, HOME, SECRET, guest};
use serde_json::{Value, json};
use sqlx::Connection;

async fn admin(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A player on a game server, signed in and past `hello`.
async fn player(srv: &Service, device: &str) -> Client {
    let (_, token) = guest(&srv.base, device).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(json!({"type": "hello", "token": token})).await;
    assert_eq!(c.recv_type("welcome").await["type"], "welcome");
    c
}

fn poi_names(nearby: &Value) -> Vec<String> {
    nearby["pois"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `location` until the POIs the player sees satisfy `want`; how
/// long that took, or a panic after 3 s.
async fn until_pois(c: &mut Client, seq: &mut u64, want: impl Fn(&[String]) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        *seq += 1;
        let names = poi_names(&c.locate(*seq, 0.0).await);
        if want(&names) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the player still sees {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

#[test]
fn the_spawner_binary_answers_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_spawner"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("authority"), "{text}");
    assert!(
        text.contains("--database-url") && text.contains("--redis-url"),
        "{text}"
    );
    // It holds no players: none of the game server's play flags.
    assert!(!text.contains("--rate-limit"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_servers_follow_the_spawner_and_serve_no_operator_routes() {
    let Some(pg) = store::testing::TempPostgres::create("spawner_svc").await else {
        return;
    };
    let redis = store::testing::redis_url();
    let prefix = format!("t:spawner:{}", uuid::Uuid::new_v4().simple());
    let stack = [
        "--database-url",
        pg.url(),
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix,
        "--admin-token",
        ADMIN,
        "--token-secret",
        SECRET,
    ];
    // The spawner first: it creates the schema the game servers use.
    let mut args = stack.to_vec();
    args.extend(["--listen", "127.0.0.1:0"]);
    let spawner = Service::start(env!("CARGO_BIN_EXE_spawner"), &args);
    let servers: Vec<Service> = ["gs-1", "gs-2"]
        .into_iter()
        .map(|id| {
            let mut args = stack.to_vec();
            args.extend(["--listen", "127.0.0.1:0", "--server-id", id]);
            args.extend(["--follow-spawner", "--shed-lag-ms", "0"]);
            Service::start(env!("CARGO_BIN_EXE_game-server"), &args)
        })
        .collect();

    // Operators go to the spawner; a following game server says so.
    for gs in &servers {
        let (status, body) = admin(
            reqwest::Method::GET,
            format!("{}/v1/admin/zones", gs.base),
            None,
        )
        .await;
        assert_eq!(status, 404, "{body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("spawner"), "{msg}");
    }
    // The spawner holds no players.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/guest", spawner.base))
        .json(&json!({"device_id": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let mut a = player(&servers[0], "walker-a").await;
    let mut b = player(&servers[1], "walker-b").await;
    let (mut sa, mut sb) = (0, 0);
    until_pois(&mut a, &mut sa, |p| p.is_empty()).await;
    until_pois(&mut b, &mut sb, |p| p.is_empty()).await;
    // Both servers subscribe to the world channel as they start; give them
    // a moment before the first announcement.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (lat, lon) = (HOME.0 + 40.0 / 111_195.0, HOME.1);
    let poi = json!({"type":"Feature","properties":{"name":"Fresh Cafe","sponsor":"Fresh Co"},
        "geometry":{"type":"Point","coordinates":[lon, lat]}});
    let (status, body) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/pois", spawner.base),
        Some(poi),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let has_cafe = |p: &[String]| p.iter().any(|n| n == "Fresh Cafe");
    for (c, seq) in [(&mut a, &mut sa), (&mut b, &mut sb)] {
        let took = until_pois(c, seq, has_cafe).await;
        assert!(took < Duration::from_secs(1), "the POI took {took:?}");
    }

    let d = 30.0 / 111_195.0;
    let zone = json!({"type":"Feature","properties":{"name":"Museum","reason":"memorial"},
        "geometry":{"type":"Polygon","coordinates":[[[lon-d,lat-d],[lon+d,lat-d],[lon+d,lat+d],[lon-d,lat+d],[lon-d,lat-d]]]}});
    let started = Instant::now();
    let (status, body) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", spawner.base),
        Some(zone),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let zone_id = body["properties"]["id"].as_str().unwrap().to_owned();
    for (c, seq) in [(&mut a, &mut sa), (&mut b, &mut sb)] {
        until_pois(c, seq, |p| !has_cafe(p)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the zone took {:?} to hide the POI on both servers",
        started.elapsed()
    );

    // The spawner's own view and its audit log.
    let (status, zones) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/zones", spawner.base),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(zones["features"][0]["properties"]["id"], zone_id.as_str());
    let (status, _) = admin(
        reqwest::Method::DELETE,
        format!("{}/v1/admin/zones/{zone_id}", spawner.base),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for (c, seq) in [(&mut a, &mut sa), (&mut b, &mut sb)] {
        let took = until_pois(c, seq, has_cafe).await;
        assert!(took < Duration::from_secs(1), "the deletion took {took:?}");
    }
    let (_, audit) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/audit", spawner.base),
        None,
    )
    .await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["actor"], "admin");
            r["action"].as_str().unwrap()
        })
        .collect();
    assert_eq!(actions, ["zone.delete", "zone.create", "poi.upsert"]);

    // Operator writes are applied one at a time; reads are not held up.
    // The test holds a lock on `pois`, so a POI upload waits inside its
    // transaction; a zone written meanwhile (another table) must wait its
    // turn behind it, while a listing is answered at once.
    let mut conn = sqlx::PgConnection::connect(pg.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query("LOCK TABLE pois IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .unwrap();
    let post = |path: &str, body: Value| {
        tokio::spawn(admin(
            reqwest::Method::POST,
            format!("{}{path}", spawner.base),
            Some(body),
        ))
    };
    let first = post(
        "/v1/admin/pois",
        json!({"type":"Feature","properties":{"name":"Queued Cafe"},
            "geometry":{"type":"Point","coordinates":[lon, lat]}}),
    );
    common::waiting_for_lock(&mut conn, 1).await;
    let second = post(
        "/v1/admin/zones",
        json!({"type":"Feature","properties":{"name":"Far","reason":"test"},
            "geometry":{"type":"Polygon","coordinates":[[[0.0,0.0],[0.01,0.0],[0.01,0.01],[0.0,0.01],[0.0,0.0]]]}}),
    );
    let (status, _) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/zones", spawner.base),
        None,
    )
    .await;
    assert_eq!(status, 200, "a read waits for no write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the zone was written before the POI upload ahead of it"
    );
    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    assert_eq!(first.await.unwrap().0, 201);
    assert_eq!(second.await.unwrap().0, 201);
    let (_, audit) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/audit", spawner.base),
        None,
    )
    .await;
    assert_eq!(audit[0]["action"], "zone.create");
    assert_eq!(audit[1]["action"], "poi.upsert");
}
