//! A game server restarted on the same data: its warm-up replays the last
//! two minutes of placement, which must neither bring back a creature
//! that was caught nor count a creature's spawn a second time.

mod common;

use common::{Client, HOME, config, start_warm};
use serde_json::{Value, json};
use sqlx::Connection;

/// How far north of HOME, in metres, the test POI "cafe" stands.
fn cafe_north_m() -> f64 {
    let cafe = common::test_pois()
        .into_iter()
        .find(|p| p.id == "cafe")
        .unwrap();
    (cafe.lat - HOME.0) * 111_195.0
}

/// Spawn events in the server's SQLite: (all, distinct creatures).
async fn spawn_events(dir: &std::path::Path) -> (i64, i64) {
    let url = format!("sqlite://{}", dir.join("geogame.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT creature_id) FROM events WHERE kind = 'spawn'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restart_brings_back_no_caught_creature_and_counts_no_spawn_twice() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_warm(config(), dir.path()).await;
    let (mut c, _) = Client::player(&srv, "catcher").await;
    let before = c.locate(1, cafe_north_m()).await;
    let in_reach: Vec<&Value> = before["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["distance_m"].as_f64().unwrap() < 45.0)
        .collect();
    assert!(
        in_reach.len() >= 2,
        "the warm-up placed too few creatures by the cafe: {before}"
    );
    let prize = in_reach[0]["id"].as_str().unwrap().to_owned();
    let mut seq = 1;
    let outcome = loop {
        seq += 1;
        c.send(json!({"type":"catch","seq":seq,"creature_id":prize}))
            .await;
        let r = c.recv_type("catch_result").await;
        let o = r["outcome"].as_str().unwrap().to_owned();
        if o != "escaped" || seq > 60 {
            break o;
        }
    };
    assert_eq!(outcome, "caught");
    drop(c);
    srv.stop().await;
    let (all, distinct) = spawn_events(dir.path()).await;
    assert_eq!(all, distinct, "one spawn event per creature");

    // The same data, the same seed: the warm-up places the same creatures.
    let srv = start_warm(config(), dir.path()).await;
    let (mut c, _) = Client::player(&srv, "looker").await;
    let after = common::creature_ids(&c.locate(1, cafe_north_m()).await);
    assert!(
        !after.contains(&prize),
        "the caught {prize} is back after the restart: {after:?}"
    );
    let others: Vec<String> = common::creature_ids(&before)
        .into_iter()
        .filter(|i| *i != prize)
        .collect();
    assert!(
        others.iter().any(|i| after.contains(i)),
        "the restarted world is not the same placement: {others:?} then {after:?}"
    );
    drop(c);
    srv.stop().await;
    let (all_again, distinct_again) = spawn_events(dir.path()).await;
    assert_eq!(
        all_again, distinct_again,
        "the warm-up logged spawns again ({all_again} events for {distinct_again} creatures)"
    );
    assert!(distinct_again >= distinct);
}
