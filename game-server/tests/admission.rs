//! Admission under a storm: sign-ins and arrivals beyond the server's
//! limits are shed at once with a retryable answer (503 with
//! `Retry-After`, close 1013), and the ones admitted still succeed.
//!
//! The storm is made real and deterministic with PostgreSQL: the test
//! holds an `ACCESS EXCLUSIVE` lock on the table the admitted requests
//! read, so they stay in flight (holding their slots) until it lets go.
//! (Shedding on runtime lag, which a test cannot stage this exactly, is
//! pinned by the unit tests of `admission` and by `geogame/tests/storm.rs`.)

mod common;

use std::time::Duration;

use common::{Client, config, guest, options, start_with, waiting_for_lock};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// A server on a fresh PostgreSQL database with the given limits, and a
/// connection of the test's own to that database.
async fn server(
    label: &str,
    sign_ins: usize,
    hellos: usize,
) -> Option<(
    common::TestServer,
    PgConnection,
    store::testing::TempPostgres,
    tempfile::TempDir,
)> {
    let pg = store::testing::TempPostgres::create(label).await?;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(
        game_server::ServerConfig {
            max_pending_sign_ins: sign_ins,
            max_pending_hellos: hellos,
            ..config()
        },
        dir.path(),
    );
    opts.database_url = Some(pg.url().to_owned());
    let srv = start_with(opts).await;
    let conn = PgConnection::connect(pg.url()).await.unwrap();
    Some((srv, conn, pg, dir))
}

/// Waits until the server reports `n` sign-ins in flight.
async fn sign_ins_in_flight(base: &str, n: u32) {
    let want = format!("geogame_sign_ins_in_flight {n}\n");
    for _ in 0..500 {
        let text = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(&want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} sign-ins never were in flight together");
}

async fn sign_in(base: &str, device: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/v1/auth/guest"))
        .json(&json!({"device_id": device}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_ins_beyond_the_limit_get_503_with_retry_after_and_the_admitted_succeed() {
    let Some((srv, mut conn, _pg, _dir)) = server("admit_sign_in", 2, 100).await else {
        return;
    };
    let base = srv.http();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query("LOCK TABLE players IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .unwrap();
    let admitted: Vec<_> = (0..2)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move { sign_in(&base, &format!("storm-device-{i}")).await })
        })
        .collect();
    // One batch reads for both, and waits behind the lock.
    waiting_for_lock(&mut conn, 1).await;
    sign_ins_in_flight(&base, 2).await;

    let shed = sign_in(&base, "storm-device-2").await;
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: Value = shed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    for a in admitted {
        let r = a.await.unwrap();
        assert_eq!(r.status(), 200, "an admitted sign-in completes");
    }
    // Shed is not lost: the retry works once the storm has passed.
    let (player, _) = guest(&base, "storm-device-2").await;
    assert!(player.starts_with("p_"));
    srv.stop().await;
}

#[tokio::test]
async fn hellos_beyond_the_limit_are_closed_1013_and_come_back() {
    let Some((srv, mut conn, _pg, _dir)) = server("admit_hello", 100, 1).await else {
        return;
    };
    let base = srv.http();
    let (a_id, a_token) = guest(&base, "arriving-a").await;
    let (b_id, b_token) = guest(&base, "arriving-b").await;
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query("LOCK TABLE strikes IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .unwrap();

    // A's arrival reads its standing and waits behind the lock.
    let mut a = Client::connect(srv.addr).await;
    a.send(json!({"type": "hello", "token": a_token})).await;
    waiting_for_lock(&mut conn, 1).await;

    let mut b = Client::connect(srv.addr).await;
    b.send(json!({"type": "hello", "token": b_token.clone()}))
        .await;
    let refused = b.recv().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert_eq!(b.closed().await, 1013);

    sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
    let welcome = a.recv().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["player_id"], a_id.as_str());

    let mut again = Client::connect(srv.addr).await;
    again.send(json!({"type": "hello", "token": b_token})).await;
    let welcome = again.recv().await;
    assert_eq!(welcome["player_id"], b_id.as_str(), "{welcome}");
    srv.stop().await;
}

#[tokio::test]
async fn capacity_counts_sockets_and_a_full_server_advertises_no_room() {
    // Regression: `--capacity` was parsed and never read, and a server
    // full of sockets still got raids. It now bounds the play sockets (one
    // more gets 503) and the heartbeat reports them, so the matchmaker
    // sends a full server no session.
    let dir = tempfile::tempdir().unwrap();
    let srv = start_with(options(
        game_server::ServerConfig {
            capacity: 1,
            ..config()
        },
        dir.path(),
    ))
    .await;
    let registry = matchmaker::Registry::memory(&Default::default());
    let beat = srv
        .server
        .spawn_heartbeat(registry.clone(), Duration::from_millis(20));
    let (_held, _) = Client::player(&srv, "first").await;
    let started = std::time::Instant::now();
    loop {
        let rooms = registry.rooms().await.unwrap();
        if rooms.first().is_some_and(|r| r.info.sockets == 1) {
            assert_eq!(rooms[0].info.socket_capacity, 1);
            assert_eq!(rooms[0].room, 0, "a full server advertised room");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{rooms:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/v1/play", srv.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("a second socket was not refused with 503: {other:?}"),
    }
    beat.abort();
    srv.stop().await;
}
