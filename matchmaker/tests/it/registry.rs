//! Assignment: dead servers are never used, and capacity is respected.

use std::time::Duration;

use matchmaker::{Backend, MatchConfig, Registry};

use crate::common::*;

fn cfg() -> MatchConfig {
    MatchConfig {
        tick: Duration::from_millis(20),
        heartbeat_ttl: Duration::from_millis(300),
        reservation_ttl: Duration::from_secs(60),
        ..MatchConfig::default()
    }
}

#[tokio::test]
async fn a_server_with_a_stale_heartbeat_is_never_assigned() {
    let cfg = cfg();
    let registry = Registry::memory(&cfg);
    // "dead" has far more room but stops heartbeating.
    registry.heartbeat(&server("dead", 1000)).await.unwrap();
    keep_alive(registry.clone(), server("alive", 100));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let t = TestLobby::start_with(cfg, Backend::Memory, registry).await;
    for round in 0..5u32 {
        let mut a = t.login(&format!("a{round}")).await;
        let mut b = t.login(&format!("b{round}")).await;
        a.queue(&pvp(1, 5)).await;
        b.queue(&pvp(1, 5)).await;
        let m = a.match_found().await;
        assert_eq!(m.server, "ws://alive.test/v1/play");
        assert_eq!(
            key().verify_session(&m.session_token).unwrap().server,
            "alive"
        );
    }
    assert!(t.matches().iter().all(|m| m.server_id == "alive"));
    let live: Vec<_> = t
        .registry
        .live()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, ["alive"]);
    t.stop().await;
}

#[tokio::test]
async fn assignment_respects_capacity_and_keeps_the_rest_queued() {
    let cfg = cfg();
    let registry = Registry::memory(&cfg);
    keep_alive(registry.clone(), server("small", 1));
    let t = TestLobby::start_with(cfg, Backend::Memory, registry.clone()).await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let mut c = t.login(&format!("p{i}")).await;
        c.queue(&pvp(1, 5)).await;
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(t.matches().len(), 1, "capacity 1: one session");
    assert_eq!(
        t.lobby.open_tickets().await.unwrap(),
        2,
        "the other pair stays queued"
    );
    // A second server comes up: the queued pair is matched there.
    keep_alive(registry, server("big", 10));
    let mut found = Vec::new();
    for c in &mut clients {
        found.push(c.match_found().await);
    }
    let mut servers: Vec<_> = found.iter().map(|m| m.server.clone()).collect();
    servers.sort();
    servers.dedup();
    assert_eq!(
        servers,
        ["ws://big.test/v1/play", "ws://small.test/v1/play"]
    );
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 0);
    t.stop().await;
}

#[tokio::test]
async fn reported_load_counts_against_room() {
    let cfg = cfg();
    let registry = Registry::memory(&cfg);
    let mut full = server("full", 3);
    full.load = 3;
    keep_alive(registry.clone(), full);
    let t = TestLobby::start_with(cfg, Backend::Memory, registry).await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    a.queue(&pvp(1, 5)).await;
    b.queue(&pvp(1, 5)).await;
    assert!(a.recv_within(Duration::from_millis(300)).await.is_none());
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 2);
    t.stop().await;
}
