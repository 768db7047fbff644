//! Every bad-input path: each gets its error or close code, and only the
//! protocol-level faults close the socket.

use std::time::Duration;

use futures_util::SinkExt;
use matchmaker::MatchConfig;
use protocol::ErrorCode;
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage};
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

async fn lobby() -> TestLobby {
    TestLobby::start(MatchConfig {
        hello_timeout: Duration::from_millis(300),
        ..MatchConfig::default()
    })
    .await
}

async fn still_open(c: &mut Client) {
    c.send(&LobbyClientMessage::Ping { seq: Some(99) }).await;
    assert_eq!(c.recv().await, LobbyServerMessage::Pong { seq: Some(99) });
}

#[tokio::test]
async fn malformed_json_and_unknown_types_get_errors_and_the_socket_stays() {
    let t = lobby().await;
    let mut c = t.login("a").await;
    c.send_text("{not json").await;
    assert_eq!(c.error(ErrorCode::InvalidMessage).await, None);
    c.send_text(r#"{"type":"dance","seq":5}"#).await;
    assert_eq!(c.error(ErrorCode::InvalidMessage).await, Some(5));
    c.send_text(r#"{"type":"queue","seq":6,"mode":"raid","lat":1,"lon":2}"#)
        .await;
    assert_eq!(
        c.error(ErrorCode::InvalidMessage).await,
        Some(6),
        "missing poi_id"
    );
    c.send_text(r#"{"type":"queue","seq":7,"mode":"raid","poi_id":"poi-1","lat":91,"lon":2}"#)
        .await;
    assert_eq!(c.error(ErrorCode::InvalidMessage).await, Some(7));
    still_open(&mut c).await;
    assert_eq!(
        t.lobby.open_tickets().await.unwrap(),
        0,
        "bad input changes nothing"
    );
    t.stop().await;
}

#[tokio::test]
async fn a_request_before_hello_is_unauthorized_then_1008() {
    let t = lobby().await;
    let mut c = Client::connect(t.addr).await;
    c.send(&raid(1, POI.1, POI.2, &[])).await;
    c.error(ErrorCode::Unauthorized).await;
    assert_eq!(c.close_code().await, 1008);
    t.stop().await;
}

#[tokio::test]
async fn an_undecodable_hello_is_unauthorized_then_1008_as_on_play() {
    // Regression: `/v1/lobby` answered a hello that did not decode with an
    // error and went on waiting, where `/v1/play` closed with 1008.
    let t = lobby().await;
    for first in [
        "{not json",
        r#"{"type":"hello"}"#,
        r#"{"type":"hello","token":7}"#,
    ] {
        let mut c = Client::connect(t.addr).await;
        c.send_text(first).await;
        c.error(ErrorCode::Unauthorized).await;
        assert_eq!(c.close_code().await, 1008, "{first}");
    }
    t.stop().await;
}

#[tokio::test]
async fn no_hello_in_time_is_unauthorized_then_1008() {
    let t = lobby().await;
    let mut c = Client::connect(t.addr).await;
    assert_eq!(c.error(ErrorCode::Unauthorized).await, None);
    assert_eq!(c.close_code().await, 1008);
    t.stop().await;
}

#[tokio::test]
async fn bad_forged_and_expired_tokens_are_unauthorized_then_1008() {
    let t = lobby().await;
    let other = protocol::token::TokenKey::new(&[9u8; 32]).unwrap();
    let forged = other.mint_player("a", now_s(), 3600).0;
    let expired = key().mint_player("a", now_s() - 7200, 3600).0;
    for token in ["garbage".to_owned(), forged, expired] {
        let mut c = Client::connect(t.addr).await;
        c.send(&LobbyClientMessage::Hello { token }).await;
        c.error(ErrorCode::Unauthorized).await;
        assert_eq!(c.close_code().await, 1008);
    }
    t.stop().await;
}

#[tokio::test]
async fn a_binary_frame_closes_with_1003() {
    let t = lobby().await;
    let mut c = t.login("a").await;
    c.ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(c.close_code().await, 1003);
    t.stop().await;
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009() {
    let t = lobby().await;
    let mut c = t.login("a").await;
    let pad = "x".repeat(17 * 1024);
    c.send_text(&format!(r#"{{"type":"ping","pad":"{pad}"}}"#))
        .await;
    assert_eq!(c.close_code().await, 1009);
    // Far over any limit: still 1009.
    let mut c = t.login("b").await;
    c.send_text(&"y".repeat(1024 * 1024)).await;
    assert_eq!(c.close_code().await, 1009);
    // Just under the limit is fine.
    let mut c = t.login("c").await;
    let pad = "x".repeat(16 * 1024 - 64);
    c.send_text(&format!(r#"{{"type":"ping","seq":1,"pad":"{pad}"}}"#))
        .await;
    assert_eq!(c.recv().await, LobbyServerMessage::Pong { seq: Some(1) });
    t.stop().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_then_closed_with_1008() {
    let t = TestLobby::start(MatchConfig {
        rate_per_s: 5.0,
        rate_burst: 10.0,
        flood_strikes: 10,
        ..MatchConfig::default()
    })
    .await;
    let mut c = t.login("a").await;
    for i in 0..40 {
        c.send(&LobbyClientMessage::Ping { seq: Some(i) }).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures_util::StreamExt::next(&mut c.ws),
        )
        .await
        .unwrap()
        {
            Some(Ok(Message::Text(s))) => match LobbyServerMessage::decode(&s).unwrap() {
                LobbyServerMessage::Pong { .. } => pongs += 1,
                LobbyServerMessage::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => limited += 1,
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1008);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The hello took one token of the burst of 10.
    assert!(
        (9..=11).contains(&pongs),
        "about a burst of pongs, got {pongs}"
    );
    assert_eq!(limited, 1, "one rate_limited warning before the close");
    t.stop().await;
}

#[tokio::test]
async fn a_short_burst_is_only_rate_limited() {
    let t = TestLobby::start(MatchConfig {
        rate_per_s: 5.0,
        rate_burst: 4.0,
        flood_strikes: 10,
        ..MatchConfig::default()
    })
    .await;
    // The hello takes one token, leaving 3 of the burst of 4.
    let mut c = t.login("a").await;
    for i in 0..5 {
        c.send(&LobbyClientMessage::Ping { seq: Some(i) }).await;
    }
    for _ in 0..3 {
        assert!(matches!(c.recv().await, LobbyServerMessage::Pong { .. }));
    }
    c.error(ErrorCode::RateLimited).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    still_open(&mut c).await;
    t.stop().await;
}
