//! The whole raid journey through `geogame up` in one process: two players
//! queue in the lobby at a demo POI, get matched to the game server, join
//! the session and see each other's attacks.

mod common;

use std::time::Duration;

use common::{guest, open, recv_type};
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_players_queue_get_matched_join_and_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(
        dir.path(),
        &["--admin-token", "raid-admin", "--lobby-wait-s", "0.3"],
    )
    .await;
    let addr = up.addr;
    // Let the game server's first heartbeat reach the registry.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut players = Vec::new();
    for device in ["raider-1", "raider-2"] {
        let v = guest(addr, device).await;
        players.push((
            v["player_id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        ));
    }
    // The sponsored Starbucks on 228th Ave is the raid POI.
    let mut lobbies = Vec::new();
    for (i, (_, token)) in players.iter().enumerate() {
        let mut lobby = open(&format!("ws://{addr}/v1/lobby"), token).await;
        lobby
            .send(Message::Text(
                json!({"type":"queue","seq":1,"mode":"raid","poi_id":"sammamish-highlands-starbucks","lat":47.61598 + i as f64 * 0.0001,"lon":-122.03412})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        assert!(recv_type(&mut lobby, "queued").await["ticket_id"].is_string());
        lobbies.push(lobby);
    }
    let mut matches = Vec::new();
    for lobby in &mut lobbies {
        matches.push(recv_type(lobby, "match_found").await);
    }
    assert_eq!(matches[0]["session_id"], matches[1]["session_id"]);
    let server = matches[0]["server"].as_str().unwrap().to_owned();
    assert_eq!(server, format!("ws://{addr}/v1/play"));

    let mut games = Vec::new();
    for ((_, token), m) in players.iter().zip(&matches) {
        let mut g = open(&server, token).await;
        g.send(Message::Text(
            json!({"type":"join_session","seq":1,"session_token":m["session_token"]})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        let joined = recv_type(&mut g, "session_joined").await;
        assert_eq!(joined["session_id"], m["session_id"]);
        games.push(g);
    }
    games[1]
        .send(Message::Text(
            json!({"type":"attack","seq":2}).to_string().into(),
        ))
        .await
        .unwrap();
    let hit = recv_type(&mut games[1], "attack_result").await;
    let seen = recv_type(&mut games[0], "session_event").await;
    let seen = if seen["action"] == "joined" {
        recv_type(&mut games[0], "session_event").await
    } else {
        seen
    };
    assert_eq!(seen["action"], "attack");
    assert_eq!(seen["player_id"], players[1].0.as_str());
    assert_eq!(seen["boss_hp"], hit["boss_hp"]);

    up.stop().await;
}
