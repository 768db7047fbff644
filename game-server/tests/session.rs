//! End-to-end tests of shared raid sessions on the game server.

mod common;

use common::{Client, SECRET, config, now_ms, start};
use protocol::token::{SessionClaims, TokenKey};
use serde_json::json;

fn session_token(key: &TokenKey, sid: &str, players: &[&str], server: &str) -> String {
    let now = now_ms() / 1000;
    key.mint_session(SessionClaims {
        sid: sid.into(),
        players: players.iter().map(|p| (*p).to_owned()).collect(),
        server: server.into(),
        mode: "raid".into(),
        poi_id: Some("cafe".into()),
        exp: now + 120,
        iat: now,
        typ: String::new(),
    })
}

#[tokio::test]
async fn members_fight_together_and_each_gets_one_catch() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        boss_hp_per_member: 40,
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let key = TokenKey::new(SECRET.as_bytes()).unwrap();
    let (mut a, pa) = Client::player(&srv, "raider-a").await;
    let (mut b, pb) = Client::player(&srv, "raider-b").await;
    let token = session_token(&key, "s-1", &[&pa, &pb], "gs-1");

    a.send(json!({"type":"join_session","seq":1,"session_token":token}))
        .await;
    let joined = a.recv_type("session_joined").await;
    assert_eq!(joined["seq"], 1);
    assert_eq!(joined["session_id"], "s-1");
    assert_eq!(joined["boss"]["max_hp"], 80);
    b.send(json!({"type":"join_session","seq":1,"session_token":token}))
        .await;
    b.recv_type("session_joined").await;
    let ev = a.recv_type("session_event").await;
    assert_eq!(ev["action"], "joined");
    assert_eq!(ev["player_id"], pb.as_str());

    // A raid_catch before victory is refused.
    a.send(json!({"type":"raid_catch","seq":2})).await;
    assert_eq!(a.recv_type("error").await["code"], "conflict");

    // Attack until the boss falls; the other member sees every attack.
    let mut hp = 80u64;
    let mut seq = 10;
    while hp > 0 {
        a.send(json!({"type":"attack","seq":seq})).await;
        let r = a.recv_type("attack_result").await;
        assert_eq!(r["seq"], seq);
        hp = r["boss_hp"].as_u64().unwrap();
        let seen = b.recv_type("session_event").await;
        assert_eq!(seen["action"], "attack");
        assert_eq!(seen["player_id"], pa.as_str());
        assert_eq!(seen["boss_hp"], hp);
        seq += 1;
    }
    assert_eq!(b.recv_type("session_ended").await["outcome"], "victory");
    a.recv_type("session_ended").await;

    b.send(json!({"type":"raid_catch","seq":50})).await;
    let r = b.recv_type("catch_result").await;
    assert_eq!(r["outcome"], "caught", "flee chance is 0 in tests");
    b.send(json!({"type":"raid_catch","seq":51})).await;
    assert_eq!(
        b.recv_type("error").await["code"],
        "conflict",
        "one attempt per member"
    );
    b.send(json!({"type":"collection","seq":52})).await;
    let col = b.recv_type("collection").await;
    assert_eq!(col["creatures"][0]["id"], format!("s-1:{pb}"));
    srv.stop().await;
}

#[tokio::test]
async fn forged_foreign_and_misaddressed_session_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let key = TokenKey::new(SECRET.as_bytes()).unwrap();
    let forger = TokenKey::new(b"not-the-real-secret-not-the-real").unwrap();
    let (mut a, pa) = Client::player(&srv, "lonely").await;
    let cases = [
        session_token(&forger, "s-2", &[&pa], "gs-1"),
        session_token(&key, "s-2", &["p_someone_else"], "gs-1"),
        session_token(&key, "s-2", &[&pa], "gs-other"),
        key.mint_player(&pa, now_ms() / 1000, 60).0,
        "garbage".to_owned(),
    ];
    for (i, t) in cases.iter().enumerate() {
        a.send(json!({"type":"join_session","seq":i,"session_token":t}))
            .await;
        let r = a.recv().await;
        assert_eq!(r["type"], "error", "case {i}");
        assert_eq!(r["code"], "unauthorized", "case {i}");
        assert_eq!(r["seq"], i as u64);
    }
    a.send(json!({"type":"attack","seq":9})).await;
    assert_eq!(a.recv().await["code"], "not_found", "not in a session");
    srv.stop().await;
}

#[tokio::test]
async fn a_session_that_runs_out_of_time_ends_with_timeout_for_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        session_duration: std::time::Duration::from_millis(300),
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let key = TokenKey::new(SECRET.as_bytes()).unwrap();
    let (mut a, pa) = Client::player(&srv, "slow-a").await;
    let (mut b, pb) = Client::player(&srv, "slow-b").await;
    let token = session_token(&key, "s-slow", &[&pa, &pb], "gs-1");
    for c in [&mut a, &mut b] {
        c.send(json!({"type":"join_session","seq":1,"session_token":token}))
            .await;
        c.recv_type("session_joined").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    srv.server.tick_now();
    for c in [&mut a, &mut b] {
        let end = c.recv_type("session_ended").await;
        assert_eq!(
            end,
            json!({"type":"session_ended","session_id":"s-slow","outcome":"timeout"})
        );
    }
    a.send(json!({"type":"attack","seq":2})).await;
    assert_eq!(a.recv_type("error").await["code"], "conflict");
    a.send(json!({"type":"raid_catch","seq":3})).await;
    assert_eq!(
        a.recv_type("error").await["code"],
        "conflict",
        "no catch after a timeout"
    );
    srv.stop().await;
}

/// A raid member whose phone drops says `hello` again within 60 s: they
/// are back in the raid at once (a `session_joined` push follows
/// `welcome`), the boss is as the others left it, and they fight on.
#[tokio::test]
async fn a_member_who_drops_is_back_in_the_raid_after_hello() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let key = TokenKey::new(SECRET.as_bytes()).unwrap();
    let (pa, token_a) = common::guest(&srv.http(), "dropper").await;
    let (mut b, pb) = Client::player(&srv, "stayer").await;
    let session = session_token(&key, "s-resume", &[&pa, &pb], "gs-1");
    let mut a = Client::connect(srv.addr).await;
    a.send(json!({"type":"hello","token":token_a})).await;
    a.recv_type("welcome").await;
    for c in [&mut a, &mut b] {
        c.send(json!({"type":"join_session","seq":1,"session_token":session}))
            .await;
        c.recv_type("session_joined").await;
    }
    a.send(json!({"type":"attack","seq":2})).await;
    let hp = a.recv_type("attack_result").await["boss_hp"].clone();
    assert_eq!(b.recv_type("session_event").await["action"], "attack");
    // The phone drops (no leave_session), and comes back.
    drop(a);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut a = Client::connect(srv.addr).await;
    a.send(json!({"type":"hello","token":token_a})).await;
    assert_eq!(a.recv().await["type"], "welcome");
    let back = a.recv().await;
    assert_eq!(back["type"], "session_joined", "{back}");
    assert_eq!(back["session_id"], "s-resume");
    assert_eq!(back["boss"]["hp"], hp);
    let seen = b.recv_type("session_event").await;
    assert_eq!(
        (seen["action"].as_str(), seen["player_id"].as_str()),
        (Some("joined"), Some(pa.as_str()))
    );
    // Still a member: the attack lands and the other member sees it.
    a.send(json!({"type":"attack","seq":3})).await;
    a.recv_type("attack_result").await;
    let seen = b.recv_type("session_event").await;
    assert_eq!(seen["action"], "attack");
    srv.stop().await;
}
