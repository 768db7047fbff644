//! Raid lobbies: full raids start at once, small ones after the wait,
//! parties stay whole, and the radius and POI are checked.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use matchmaker::MatchConfig;
use protocol::ErrorCode;

use crate::common::*;

fn cfg(wait_ms: u64) -> MatchConfig {
    MatchConfig {
        lobby_wait: Duration::from_millis(wait_ms),
        tick: Duration::from_millis(20),
        ..MatchConfig::default()
    }
}

#[tokio::test]
async fn a_raid_of_20_starts_at_once_and_its_token_lists_the_players() {
    // The wait is a minute, so only fullness can start this raid.
    let t = TestLobby::start(cfg(60_000)).await;
    let (lat, lon) = north_of_poi(100.0);
    let mut clients = Vec::new();
    let mut tickets = Vec::new();
    let started = Instant::now();
    for i in 0..20 {
        let mut c = t.login(&format!("p{i:02}")).await;
        tickets.push(c.queue(&raid(i, lat, lon, &[])).await);
        clients.push(c);
    }
    let mut sessions = HashSet::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let m = c.match_found().await;
        assert_eq!(m.ticket_id, tickets[i]);
        assert_eq!(m.players.len(), 20);
        assert_eq!(m.server, "ws://gs-1.test/v1/play");
        let claims = key().verify_session(&m.session_token).unwrap();
        assert_eq!(claims.sid, m.session_id);
        assert_eq!(claims.server, "gs-1");
        assert_eq!(claims.mode, "raid");
        assert_eq!(claims.poi_id.as_deref(), Some(POI.0));
        let mut listed = claims.players.clone();
        listed.sort();
        let expected: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
        assert_eq!(listed, expected);
        assert!(claims.exp > now_s() && claims.exp <= now_s() + 125);
        sessions.insert(m.session_id);
    }
    assert_eq!(sessions.len(), 1, "one session for all 20");
    assert!(started.elapsed() < Duration::from_secs(10));
    let recs = t.matches();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].waited_ms.len(), 20);
    t.stop().await;
}

#[tokio::test]
async fn a_raid_of_3_starts_when_its_wait_is_up() {
    let t = TestLobby::start(cfg(400)).await;
    let (lat, lon) = north_of_poi(10.0);
    let mut clients = Vec::new();
    let queued_at = Instant::now();
    for i in 0..3 {
        let mut c = t.login(&format!("w{i}")).await;
        c.queue(&raid(1, lat, lon, &[])).await;
        clients.push(c);
    }
    // Nothing starts before the wait is up.
    assert!(
        clients[0]
            .recv_within(Duration::from_millis(150))
            .await
            .is_none()
    );
    let mut ids = HashSet::new();
    for c in &mut clients {
        let m = c.match_found().await;
        assert_eq!(m.players.len(), 3);
        ids.insert(m.session_id);
    }
    assert_eq!(ids.len(), 1);
    assert!(queued_at.elapsed() >= Duration::from_millis(400));
    t.stop().await;
}

#[tokio::test]
async fn a_lone_player_waits_past_the_lobby_wait() {
    let t = TestLobby::start(cfg(100)).await;
    let mut c = t.login("alone").await;
    c.queue(&raid(1, POI.1, POI.2, &[])).await;
    assert!(c.recv_within(Duration::from_millis(500)).await.is_none());
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 1);
    t.stop().await;
}

#[tokio::test]
async fn a_party_stays_together_and_members_get_the_push() {
    let t = TestLobby::start(MatchConfig {
        raid_max: 4,
        ..cfg(60_000)
    })
    .await;
    let mut leader = t.login("lead").await;
    let mut friend = t.login("friend1").await;
    let mut solo = t.login("solo").await;
    let mut late = t.login("late").await;
    let (lat, lon) = north_of_poi(50.0);
    let ticket = leader
        .queue(&raid(1, lat, lon, &["friend1", "friend2"]))
        .await;
    solo.queue(&raid(1, lat, lon, &[])).await;
    // 3 + 1 = 4: the lobby is full and starts at once.
    let m = leader.match_found().await;
    let mut players = m.players.clone();
    players.sort();
    assert_eq!(players, ["friend1", "friend2", "lead", "solo"]);
    let f = friend.match_found().await;
    assert_eq!(f.ticket_id, ticket, "members see the leader's ticket");
    assert_eq!(f.session_id, m.session_id);
    assert_eq!(solo.match_found().await.session_id, m.session_id);
    // A party of 3 never squeezes into a lobby with 2 free places.
    let mut p = t.login("p").await;
    p.queue(&raid(1, lat, lon, &[])).await;
    late.queue(&raid(2, lat, lon, &["x1", "x2", "x3"])).await;
    assert!(late.recv_within(Duration::from_millis(300)).await.is_none());
    assert!(p.recv_within(Duration::from_millis(10)).await.is_none());
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 2);
    for rec in t.matches() {
        assert!(rec.players.len() <= 4);
    }
    t.stop().await;
}

#[tokio::test]
async fn a_party_bigger_than_a_raid_is_refused() {
    let t = TestLobby::start(MatchConfig {
        raid_max: 3,
        ..cfg(60_000)
    })
    .await;
    let mut c = t.login("big").await;
    c.send(&raid(9, POI.1, POI.2, &["a", "b", "c"])).await;
    assert_eq!(c.error(ErrorCode::InvalidMessage).await, Some(9));
    c.send(&raid(10, POI.1, POI.2, &["a", "a"])).await;
    assert_eq!(c.error(ErrorCode::InvalidMessage).await, Some(10));
    t.stop().await;
}

#[tokio::test]
async fn beyond_the_radius_is_too_far_and_an_unknown_poi_is_not_found() {
    let t = TestLobby::start(cfg(60_000)).await;
    let mut c = t.login("far").await;
    let (lat, lon) = north_of_poi(350.0);
    c.send(&raid(7, lat, lon, &[])).await;
    assert_eq!(c.error(ErrorCode::TooFar).await, Some(7));
    let (lat, lon) = north_of_poi(290.0);
    c.queue(&raid(8, lat, lon, &[])).await;

    let mut d = t.login("lost").await;
    let mut q = raid(3, POI.1, POI.2, &[]);
    if let protocol::lobby::LobbyClientMessage::Queue(r) = &mut q {
        r.poi_id = Some("no-such-poi".into());
    }
    d.send(&q).await;
    assert_eq!(d.error(ErrorCode::NotFound).await, Some(3));
    assert_eq!(
        t.lobby.open_tickets().await.unwrap(),
        1,
        "refused tickets leave no trace"
    );
    t.stop().await;
}
