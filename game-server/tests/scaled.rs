//! The scaled-out deployment: two game servers sharing one PostgreSQL
//! database and one Redis, as behind a load balancer.

mod common;

use std::time::Duration;

use common::{ADMIN, Client, HOME, pair};
use serde_json::json;

#[tokio::test]
async fn concurrent_throws_on_two_servers_have_exactly_one_winner() {
    let Some(p) = pair("gs_race").await else {
        return;
    };
    p.place("shared-prize", 5.0);
    let mut clients = Vec::new();
    for i in 0..40 {
        let srv = if i % 2 == 0 { &p.a } else { &p.b };
        let (mut c, _) = Client::player(srv, &format!("racer-{i}")).await;
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
        39,
        "{outcomes:?}"
    );
    p.stop().await;
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

#[tokio::test]
async fn a_zone_posted_to_one_server_takes_effect_on_the_other_within_a_second() {
    let Some(p) = pair("gs_zone").await else {
        return;
    };
    p.place("resident", 300.0);
    let (mut player, _) = Client::player(&p.b, "neighbour").await;
    assert_eq!(
        player.locate(1, 300.0).await["creatures"][0]["id"],
        "resident"
    );
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
