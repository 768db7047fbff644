//! Ticket lifecycle: cancel, one open ticket per player, no second session,
//! expiry, and cleanup when a socket closes or the lobby shuts down.

use std::time::Duration;

use matchmaker::MatchConfig;
use protocol::ErrorCode;
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};

use crate::common::*;

fn cfg() -> MatchConfig {
    MatchConfig {
        lobby_wait: Duration::from_millis(300),
        tick: Duration::from_millis(20),
        ..MatchConfig::default()
    }
}

#[tokio::test]
async fn cancel_removes_the_ticket_and_frees_the_player() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    let ticket = a.queue(&raid(1, POI.1, POI.2, &[])).await;
    a.send(&LobbyClientMessage::Cancel {
        seq: Some(2),
        ticket_id: ticket.clone(),
    })
    .await;
    assert_eq!(
        a.recv().await,
        LobbyServerMessage::Cancelled {
            seq: Some(2),
            ticket_id: ticket.clone()
        }
    );
    a.send(&LobbyClientMessage::Cancel {
        seq: Some(3),
        ticket_id: ticket.clone(),
    })
    .await;
    assert_eq!(a.error(ErrorCode::NotFound).await, Some(3));
    // b alone does not start a raid: a's cancelled ticket is really gone.
    b.queue(&raid(1, POI.1, POI.2, &[])).await;
    assert!(b.recv_within(Duration::from_millis(600)).await.is_none());
    // And a may queue again.
    a.queue(&raid(4, POI.1, POI.2, &[])).await;
    assert_eq!(
        a.match_found().await.session_id,
        b.match_found().await.session_id
    );
    t.stop().await;
}

#[tokio::test]
async fn nobody_cancels_another_players_ticket() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    let ticket = a.queue(&raid(1, POI.1, POI.2, &["b"])).await;
    b.send(&LobbyClientMessage::Cancel {
        seq: Some(1),
        ticket_id: ticket,
    })
    .await;
    assert_eq!(b.error(ErrorCode::NotFound).await, Some(1));
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 1);
    t.stop().await;
}

#[tokio::test]
async fn one_open_ticket_per_player_including_party_members() {
    let t = TestLobby::start(MatchConfig {
        lobby_wait: Duration::from_secs(60),
        ..cfg()
    })
    .await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    let mut c = t.login("c").await;
    a.queue(&raid(1, POI.1, POI.2, &["b"])).await;
    a.send(&raid(2, POI.1, POI.2, &[])).await;
    assert_eq!(a.error(ErrorCode::Conflict).await, Some(2));
    a.send(&pvp(3, 5)).await;
    assert_eq!(a.error(ErrorCode::Conflict).await, Some(3));
    b.send(&raid(1, POI.1, POI.2, &[])).await;
    assert_eq!(
        b.error(ErrorCode::Conflict).await,
        Some(1),
        "b is in a's party"
    );
    c.send(&raid(1, POI.1, POI.2, &["b"])).await;
    assert_eq!(c.error(ErrorCode::Conflict).await, Some(1));
    // The refused request left c free.
    c.queue(&pvp(2, 5)).await;
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 2);
    t.stop().await;
}

#[tokio::test]
async fn a_player_in_a_session_cannot_queue_until_it_ends() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    a.queue(&pvp(1, 5)).await;
    b.queue(&pvp(1, 5)).await;
    let m = a.match_found().await;
    b.match_found().await;
    a.send(&pvp(2, 5)).await;
    assert_eq!(a.error(ErrorCode::Conflict).await, Some(2));
    assert_eq!(t.lobby.sessions_running().await.unwrap(), 1);
    assert!(t.lobby.end_session(&m.session_id).await.unwrap());
    assert!(
        !t.lobby.end_session(&m.session_id).await.unwrap(),
        "ends once"
    );
    a.queue(&pvp(3, 5)).await;
    b.queue(&pvp(2, 5)).await;
    assert_ne!(a.match_found().await.session_id, m.session_id);
    t.stop().await;
}

#[tokio::test]
async fn sessions_release_their_players_after_the_maximum_duration() {
    let t = TestLobby::start(MatchConfig {
        session_max: Duration::from_millis(300),
        session_sweep: Duration::from_millis(50),
        ..cfg()
    })
    .await;
    let mut a = t.login("a").await;
    let mut b = t.login("b").await;
    a.queue(&pvp(1, 5)).await;
    b.queue(&pvp(1, 5)).await;
    a.match_found().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(t.lobby.sessions_running().await.unwrap(), 0);
    a.queue(&pvp(2, 5)).await;
    t.stop().await;
}

#[tokio::test]
async fn an_expired_ticket_is_pushed_and_frees_the_player() {
    let t = TestLobby::start(MatchConfig {
        ticket_ttl: Duration::from_millis(300),
        ..cfg()
    })
    .await;
    let mut a = t.login("a").await;
    let mut friend = t.login("f").await;
    let ticket = a.queue(&raid(1, POI.1, POI.2, &[])).await;
    assert_eq!(
        a.recv().await,
        LobbyServerMessage::Expired {
            ticket_id: ticket.clone()
        }
    );
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 0);
    // Party members hear of the expiry too.
    let ticket = a.queue(&raid(2, POI.1, POI.2, &["f"])).await;
    assert_eq!(
        friend.recv().await,
        LobbyServerMessage::Expired {
            ticket_id: ticket.clone()
        }
    );
    assert_eq!(
        a.recv().await,
        LobbyServerMessage::Expired { ticket_id: ticket }
    );
    t.stop().await;
}

#[tokio::test]
async fn closing_the_socket_cancels_its_tickets() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    a.queue(&raid(1, POI.1, POI.2, &[])).await;
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 1);
    drop(a);
    for _ in 0..50 {
        if t.lobby.open_tickets().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(t.lobby.open_tickets().await.unwrap(), 0);
    // The player is free again.
    let mut a = t.login("a").await;
    a.queue(&raid(1, POI.1, POI.2, &[])).await;
    t.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let t = TestLobby::start(cfg()).await;
    let mut a = t.login("a").await;
    a.send(&LobbyClientMessage::Ping { seq: Some(1) }).await;
    assert_eq!(a.recv().await, LobbyServerMessage::Pong { seq: Some(1) });
    let shutdown = t.shutdown.clone();
    let run = t.run;
    shutdown.cancel();
    assert_eq!(a.close_code().await, 1001);
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
}
