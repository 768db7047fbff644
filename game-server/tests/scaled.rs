//! The scaled-out deployment: two game servers sharing one PostgreSQL
//! database and one Redis, as behind a load balancer.

mod common;

use std::time::Duration;

use common::{ADMIN, Client, HOME, pair};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_throwers_on_four_servers_have_exactly_one_winner() {
    let Some(f) = common::fleet_on("gs_race", &store::testing::redis_url(), 4).await else {
        return;
    };
    f.place("shared-prize", 5.0);
    let mut clients = Vec::new();
    for i in 0..50 {
        let (mut c, _) = Client::player(&f.servers[i % 4], &format!("racer-{i}")).await;
        c.locate(1, 0.0).await;
        clients.push(c);
    }
    let outcomes = common::throw_all(clients, "shared-prize").await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "caught").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "gone").count(),
        49,
        "{outcomes:?}"
    );
    // No server shows it any more, within a second of the race.
    let started = tokio::time::Instant::now();
    for (i, s) in f.servers.iter().enumerate() {
        let (mut c, _) = Client::player(s, &format!("looker-{i}")).await;
        let mut seq = 0;
        loop {
            seq += 1;
            let seen = c.locate(seq, 0.0).await;
            if seen["creatures"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "gs-{i} still shows {seen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    f.stop().await;
}

#[tokio::test]
async fn a_catch_on_one_server_despawns_the_creature_on_the_other() {
    let Some(p) = pair("gs_taken").await else {
        return;
    };
    p.place("wanderer", 10.0);
    let (mut catcher, _) = Client::player(&p.a, "catcher").await;
    let (mut watcher, _) = Client::player(&p.b, "watcher").await;
    catcher.locate(1, 0.0).await;
    assert_eq!(
        watcher.locate(1, 50.0).await["creatures"][0]["id"],
        "wanderer"
    );
    catcher
        .send(json!({"type":"catch","seq":2,"creature_id":"wanderer"}))
        .await;
    assert_eq!(catcher.recv_type("catch_result").await["outcome"], "caught");
    let d = watcher.recv_type("despawn").await;
    assert_eq!(
        d,
        json!({"type":"despawn","creature_id":"wanderer","reason":"caught"})
    );
    assert!(
        watcher.locate(2, 50.0).await["creatures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    p.stop().await;
}

/// A creature 300 m north of HOME on both servers, and a player on `b`
/// who sees it.
async fn neighbour_of_a_resident(p: &common::Pair) -> Client {
    p.place("resident", 300.0);
    let (mut player, _) = Client::player(&p.b, "neighbour").await;
    assert_eq!(
        player.locate(1, 300.0).await["creatures"][0]["id"],
        "resident"
    );
    player
}

#[tokio::test]
async fn a_zone_posted_to_one_server_takes_effect_on_the_other_within_a_second() {
    let Some(p) = pair("gs_zone").await else {
        return;
    };
    let mut player = neighbour_of_a_resident(&p).await;
    let d = 30.0 / 111_195.0;
    let (lat, lon) = (HOME.0 + 300.0 / 111_195.0, HOME.1);
    let zone = json!({"type":"Feature","properties":{"name":"Museum","reason":"memorial"},
        "geometry":{"type":"Polygon","coordinates":[[[lon-d,lat-d],[lon+d,lat-d],[lon+d,lat+d],[lon-d,lat+d],[lon-d,lat-d]]]}});
    let started = tokio::time::Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/admin/zones", p.a.http()))
        .bearer_auth(ADMIN)
        .body(zone.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let d = player.recv_type("despawn").await;
    assert_eq!(d["reason"], "excluded");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        player.locate(2, 300.0).await["creatures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    p.stop().await;
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn accounts_and_operators_made_on_one_server_work_on_the_other() {
    use reqwest::Method;
    let Some(pair) = pair("trust_across").await else {
        return;
    };
    let (a, b) = (pair.a.http(), pair.b.http());
    let creds = json!({"email": "both@example.com", "password": "shared secret pw"});
    let (s, reg) = call(
        &a,
        Method::POST,
        "/v1/auth/register",
        None,
        Some(creds.clone()),
    )
    .await;
    assert_eq!(s, 200, "{reg}");
    let (s, login) = call(&b, Method::POST, "/v1/auth/login", None, Some(creds)).await;
    assert_eq!(
        (s, &login["player_id"]),
        (200, &reg["player_id"]),
        "{login}"
    );
    // A refresh token works once across the fleet.
    let refresh = json!({"refresh_token": reg["refresh_token"]});
    let (s, _) = call(
        &b,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(refresh.clone()),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&a, Method::POST, "/v1/auth/refresh", None, Some(refresh)).await;
    assert_eq!(s, 401, "used on b, refused on a");
    // An operator added on one server signs in on the other, and its
    // revocation there ends it here.
    let (s, op) = call(
        &a,
        Method::POST,
        "/v1/admin/operators",
        Some(ADMIN),
        Some(json!({"name": "ops-1", "role": "operator"})),
    )
    .await;
    assert_eq!(s, 201, "{op}");
    let token = op["token"].as_str().unwrap();
    assert_eq!(
        call(&b, Method::GET, "/v1/admin/zones", Some(token), None)
            .await
            .0,
        200
    );
    let (s, _) = call(
        &b,
        Method::DELETE,
        "/v1/admin/operators/ops-1",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        call(&a, Method::GET, "/v1/admin/zones", Some(token), None)
            .await
            .0,
        401
    );
    pair.stop().await;
}

#[tokio::test]
async fn an_erasure_on_one_server_closes_the_players_socket_on_the_other() {
    let Some(pair) = pair("erase_across").await else {
        return;
    };
    let (player, token) = common::guest(&pair.a.http(), "erase-me").await;
    let mut on_a = Client::connect(pair.a.addr).await;
    on_a.send(json!({"type": "hello", "token": token})).await;
    assert_eq!(on_a.recv().await["type"], "welcome");
    on_a.locate(1, 0.0).await;
    let (s, erased) = call(
        &pair.b.http(),
        reqwest::Method::DELETE,
        &format!("/v1/admin/players/{player}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, 200, "{erased}");
    let e = on_a.recv_type("error").await;
    assert_eq!(e["code"], "unauthorized", "{e}");
    assert_eq!(on_a.closed().await, 4003, "server a closed its socket");
    // Neither server takes the old token.
    for srv in [&pair.a, &pair.b] {
        let mut c = Client::connect(srv.addr).await;
        c.send(json!({"type": "hello", "token": token})).await;
        assert_eq!(c.recv().await["code"], "unauthorized");
        assert_eq!(c.closed().await, 4003);
    }
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_posted_right_after_a_redis_restart_reaches_the_other_server() {
    // Regression: the first PUBLISH after Redis came back failed with a
    // broken pipe and was never tried again, so a zone posted once the
    // other server had resubscribed (and reloaded) never reached it.
    let Some(mut redis) = store::testing::ThrowawayRedis::start() else {
        return;
    };
    let Some(p) = common::pair_on("gs_redis_back", &redis.url()).await else {
        return;
    };
    let mut player = neighbour_of_a_resident(&p).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    // Both servers resubscribe (and reload) before the zone is posted.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let started = tokio::time::Instant::now();
    loop {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&p.channel)
            .query_async(&mut con)
            .await
            .unwrap();
        if n == 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{n} of 2 resubscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = 30.0 / 111_195.0;
    let (lat, lon) = (HOME.0 + 300.0 / 111_195.0, HOME.1);
    let zone = json!({"type":"Feature","properties":{"name":"Museum","reason":"memorial"},
        "geometry":{"type":"Polygon","coordinates":[[[lon-d,lat-d],[lon+d,lat-d],[lon+d,lat+d],[lon-d,lat+d],[lon-d,lat-d]]]}});
    let (status, body) = call(
        &p.a.http(),
        reqwest::Method::POST,
        "/v1/admin/zones",
        Some(ADMIN),
        Some(zone),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let started = tokio::time::Instant::now();
    let despawn = player.recv_type("despawn").await;
    assert_eq!(despawn["reason"], "excluded");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    p.stop().await;
}
