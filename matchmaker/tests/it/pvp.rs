//! Pvp: close levels pair at once, distant ones only after waiting.

use std::time::{Duration, Instant};

use matchmaker::MatchConfig;
use protocol::ErrorCode;
use protocol::lobby::LobbyClientMessage;

use crate::common::*;

fn cfg() -> MatchConfig {
    MatchConfig {
        pvp_base_gap: 2,
        pvp_gap_per_s: 20.0,
        pvp_max_gap: 100,
        tick: Duration::from_millis(20),
        ..MatchConfig::default()
    }
}

#[tokio::test]
async fn close_levels_pair_at_once() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    a.queue(&pvp(1, 10)).await;
    b.queue(&pvp(1, 12)).await;
    let m = a.match_found().await;
    assert_eq!(b.match_found().await.session_id, m.session_id);
    let claims = key().verify_session(&m.session_token).unwrap();
    assert_eq!(claims.mode, "pvp");
    assert_eq!(claims.players.len(), 2);
    t.stop().await;
}

#[tokio::test]
async fn the_level_gap_widens_with_waiting() {
    let t = TestLobby::start(cfg()).await;
    let mut low = t.login("low").await;
    let mut high = t.login("high").await;
    let mut mid = t.login("mid").await;
    let queued = Instant::now();
    low.queue(&pvp(1, 10)).await;
    high.queue(&pvp(1, 40)).await;
    // A gap of 30 needs (30 - 2) / 20 = 1.4 s of waiting.
    assert!(low.recv_within(Duration::from_millis(700)).await.is_none());
    let m = low.match_found().await;
    // The lobby counts waits in whole milliseconds of the wall clock
    // (`model::now_ms`): its two truncations, and a wall clock slewed
    // against the monotonic one, can make 1.4 s of its waiting end a few
    // milliseconds before 1.4 s of this test's `Instant`.
    let waited = queued.elapsed();
    assert!(
        waited >= Duration::from_millis(1395),
        "matched after {waited:?}"
    );
    assert_eq!(high.match_found().await.session_id, m.session_id);
    // A newcomer does not get matched with nobody.
    mid.queue(&pvp(2, 25)).await;
    assert!(mid.recv_within(Duration::from_millis(200)).await.is_none());
    t.stop().await;
}

#[tokio::test]
async fn a_pvp_party_is_refused() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    let mut q = pvp(4, 10);
    if let LobbyClientMessage::Queue(r) = &mut q {
        r.party = vec!["b".into()];
    }
    a.send(&q).await;
    assert_eq!(a.error(ErrorCode::InvalidMessage).await, Some(4));
    t.stop().await;
}
