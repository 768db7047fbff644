//! End-to-end tests of catch, spin, collection and despawn pushes.

mod common;

use std::time::Duration;

use common::{Client, TestServer, config, start};
use serde_json::json;

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (start(config(), dir.path()).await, dir)
}

#[tokio::test]
async fn catch_in_range_is_stored_and_pushed_as_despawn_to_watchers() {
    let (srv, _d) = server().await;
    srv.place("mon-1", 30.0, spawner::Rarity::Uncommon);
    let (mut catcher, pid) = Client::player(&srv, "catcher").await;
    let (mut watcher, _) = Client::player(&srv, "watcher").await;
    catcher.locate(1, 0.0).await;
    let seen = watcher.locate(1, 100.0).await;
    assert_eq!(seen["creatures"][0]["id"], "mon-1");
    catcher
        .send(json!({"type":"catch","seq":2,"creature_id":"mon-1"}))
        .await;
    let r = catcher.recv_type("catch_result").await;
    assert_eq!(
        r,
        json!({"type":"catch_result","seq":2,"creature_id":"mon-1","outcome":"caught"})
    );
    let d = watcher.recv_type("despawn").await;
    assert_eq!(
        d,
        json!({"type":"despawn","creature_id":"mon-1","reason":"caught"})
    );
    // It is gone for everyone now.
    let v = watcher.locate(3, 100.0).await;
    assert!(v["creatures"].as_array().unwrap().is_empty());
    catcher
        .send(json!({"type":"catch","seq":4,"creature_id":"mon-1"}))
        .await;
    assert_eq!(catcher.recv_type("catch_result").await["outcome"], "gone");
    catcher.send(json!({"type":"collection","seq":5})).await;
    let col = catcher.recv_type("collection").await;
    assert_eq!(col["seq"], 5);
    assert_eq!(col["creatures"].as_array().unwrap().len(), 1);
    assert_eq!(col["creatures"][0]["id"], "mon-1");
    assert_eq!(col["creatures"][0]["species"], "Testmon");
    assert_eq!(col["creatures"][0]["rarity"], "uncommon");
    assert!(col["creatures"][0]["caught_at"].as_i64().unwrap() > 0);
    let _ = pid;
    srv.stop().await;
}

/// A connection watches the creatures of its latest `nearby` only: one that
/// walked on gets no `despawn` for what it saw earlier.
#[tokio::test]
async fn a_player_who_walked_out_of_view_gets_no_despawn() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        max_speed_mps: 1e12,
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    srv.place("mon-2", 30.0, spawner::Rarity::Common);
    let (mut catcher, _) = Client::player(&srv, "catcher").await;
    let (mut stayer, _) = Client::player(&srv, "stayer").await;
    let (mut walker, _) = Client::player(&srv, "walker").await;
    catcher.locate(1, 0.0).await;
    assert_eq!(stayer.locate(1, 60.0).await["creatures"][0]["id"], "mon-2");
    assert_eq!(walker.locate(1, 60.0).await["creatures"][0]["id"], "mon-2");
    // Out of view (view radius 200 m): the next reply leaves it out.
    let away = walker.locate(2, 1_000.0).await;
    assert!(away["creatures"].as_array().unwrap().is_empty());
    catcher
        .send(json!({"type":"catch","seq":2,"creature_id":"mon-2"}))
        .await;
    assert_eq!(catcher.recv_type("catch_result").await["outcome"], "caught");
    let d = stayer.recv_type("despawn").await;
    assert_eq!(d["creature_id"], "mon-2");
    walker.send(json!({"type":"ping","seq":3})).await;
    assert_eq!(walker.recv().await["type"], "pong");
    let extra = tokio::time::timeout(Duration::from_millis(500), walker.recv()).await;
    assert!(extra.is_err(), "pushed after walking away: {extra:?}");
    srv.stop().await;
}

#[tokio::test]
async fn catch_out_of_range_or_unknown_or_before_any_location() {
    let (srv, _d) = server().await;
    srv.place("distant", 120.0, spawner::Rarity::Common);
    let (mut c, _) = Client::player(&srv, "ranger").await;
    c.send(json!({"type":"catch","seq":1,"creature_id":"distant"}))
        .await;
    assert_eq!(c.recv().await["outcome"], "too_far", "no location yet");
    c.locate(2, 0.0).await;
    c.send(json!({"type":"catch","seq":3,"creature_id":"distant"}))
        .await;
    assert_eq!(c.recv().await["outcome"], "too_far");
    c.send(json!({"type":"catch","seq":4,"creature_id":"no-such"}))
        .await;
    assert_eq!(c.recv().await["outcome"], "gone");
    srv.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_throws_have_exactly_one_winner() {
    let (srv, _d) = server().await;
    srv.place("prize", 5.0, spawner::Rarity::Legendary);
    let mut clients = Vec::new();
    for i in 0..50 {
        let (mut c, _) = Client::player(&srv, &format!("racer-{i}")).await;
        c.locate(1, 0.0).await;
        clients.push(c);
    }
    let outcomes = common::throw_all(clients, "prize").await;
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
    srv.stop().await;
}

#[tokio::test]
async fn a_catch_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    srv.place("keeper", 5.0, spawner::Rarity::Epic);
    let (mut c, _) = Client::player(&srv, "loyal").await;
    c.locate(1, 0.0).await;
    c.send(json!({"type":"catch","seq":2,"creature_id":"keeper"}))
        .await;
    assert_eq!(c.recv().await["outcome"], "caught");
    drop(c);
    srv.stop().await;

    let srv = start(config(), dir.path()).await;
    let (mut c, _) = Client::player(&srv, "loyal").await;
    c.send(json!({"type":"collection","seq":3})).await;
    let col = c.recv().await;
    let ids: Vec<&str> = col["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["keeper"]);
    srv.stop().await;
}

#[tokio::test]
async fn fled_creature_stays_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        flee_chance: [1.0; 5],
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    srv.place("shy", 5.0, spawner::Rarity::Common);
    let (mut a, _) = Client::player(&srv, "scary").await;
    a.locate(1, 0.0).await;
    a.send(json!({"type":"catch","seq":2,"creature_id":"shy"}))
        .await;
    assert_eq!(a.recv().await["outcome"], "fled");
    let v = a.locate(3, 0.0).await;
    assert!(
        v["creatures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != "shy"),
        "hidden from the one it fled"
    );
    let (mut b, _) = Client::player(&srv, "calm").await;
    let v = b.locate(1, 0.0).await;
    assert_eq!(v["creatures"][0]["id"], "shy", "still there for others");
    srv.stop().await;
}

#[tokio::test]
async fn spin_grants_items_then_cooldown_and_refuses_far_or_unknown() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "spinner").await;
    c.locate(1, 0.0).await;
    c.send(json!({"type":"spin","seq":2,"poi_id":"cafe"})).await;
    let r = c.recv().await;
    assert_eq!(r["type"], "spin_result");
    assert_eq!(r["outcome"], "ok", "{r}");
    let granted: u64 = r["items"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        (4..=6).contains(&granted),
        "sponsored spin grants 4..6 items: {r}"
    );
    c.send(json!({"type":"spin","seq":3,"poi_id":"cafe"})).await;
    let r = c.recv().await;
    assert_eq!(r["outcome"], "cooldown");
    assert!(r["items"].as_object().unwrap().is_empty());
    c.send(json!({"type":"spin","seq":4,"poi_id":"shop"})).await;
    assert_eq!(
        c.recv().await["outcome"],
        "too_far",
        "shop is 55 m away, beyond 40 m"
    );
    c.send(json!({"type":"spin","seq":5,"poi_id":"nowhere"}))
        .await;
    let r = c.recv().await;
    assert_eq!(r["code"], "not_found");
    assert_eq!(r["seq"], 5);
    c.send(json!({"type":"collection","seq":6})).await;
    let col = c.recv().await;
    let total: u64 = col["items"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, granted);
    srv.stop().await;
}

#[tokio::test]
async fn expired_creatures_are_pushed_as_despawn_expired() {
    let (srv, _d) = server().await;
    srv.place_for("mayfly", 0.0, spawner::Rarity::Common, 300);
    let (mut p, _) = Client::player(&srv, "observer").await;
    assert_eq!(p.locate(1, 0.0).await["creatures"][0]["id"], "mayfly");
    tokio::time::sleep(Duration::from_millis(400)).await;
    srv.server.tick_now();
    let d = p.recv_type("despawn").await;
    assert_eq!(
        d,
        json!({"type":"despawn","creature_id":"mayfly","reason":"expired"})
    );
    srv.stop().await;
}

/// Regression: a creature caught before its timer ran out left a stale
/// expiry entry, and the next tick past that time spun forever (found by
/// the load test against the demo world).
#[tokio::test]
async fn a_tick_after_an_early_catch_does_not_hang() {
    let (srv, _d) = server().await;
    srv.place_for("early", 0.0, spawner::Rarity::Common, 200);
    let (mut p, _) = Client::player(&srv, "quick").await;
    p.locate(1, 0.0).await;
    p.send(json!({"type":"catch","seq":2,"creature_id":"early"}))
        .await;
    assert_eq!(p.recv_type("catch_result").await["outcome"], "caught");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A plain thread, so a hung tick fails this test instead of hanging the
    // runtime's shutdown.
    let server = srv.server.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        server.tick_now();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the tick returned");
    srv.stop().await;
}

/// Above the passenger speed (10.5 m/s) a catch or spin needs the player
/// to say they are a passenger; walking again, the next ride asks again.
#[tokio::test]
async fn above_cycling_speed_actions_wait_for_a_passenger_confirmation() {
    let (srv, _d) = server().await;
    srv.place("car-mon", 60.0, spawner::Rarity::Common);
    let (mut c, _) = Client::player(&srv, "passenger").await;
    // 40 m in 2 s: 20 m/s, a car.
    c.locate(1, 0.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.locate(2, 40.0).await;
    c.send(json!({"type":"catch","seq":3,"creature_id":"car-mon"}))
        .await;
    let e = c.recv_type("error").await;
    assert_eq!(
        (e["seq"].as_u64(), e["code"].as_str()),
        (Some(3), Some("passenger_required")),
        "{e}"
    );
    c.send(json!({"type":"spin","seq":4,"poi_id":"cafe"})).await;
    assert_eq!(c.recv_type("error").await["code"], "passenger_required");

    c.send(json!({"type":"passenger","seq":5})).await;
    let ok = c.recv_type("passenger_confirmed").await;
    assert_eq!(ok["seq"], 5);
    c.send(json!({"type":"catch","seq":6,"creature_id":"car-mon"}))
        .await;
    assert_eq!(c.recv_type("catch_result").await["outcome"], "caught");

    // Out of the car: walking pace clears the confirmation…
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.locate(7, 42.0).await;
    c.send(json!({"type":"spin","seq":8,"poi_id":"cafe"})).await;
    let r = c.recv().await;
    assert_eq!(
        r["type"], "spin_result",
        "walking needs no confirmation: {r}"
    );
    // …so the next fast leg asks again. A reported speed counts too.
    c.send(json!({"type":"location","seq":9,"lat":common::HOME.0 + 42.0 / 111_195.0,"lon":common::HOME.1,"accuracy":5.0,"speed":25.0})).await;
    c.recv_type("nearby").await;
    c.send(json!({"type":"spin","seq":10,"poi_id":"shop"}))
        .await;
    assert_eq!(c.recv_type("error").await["code"], "passenger_required");
    srv.stop().await;
}
