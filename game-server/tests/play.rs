//! End-to-end tests of `/v1/play`, guest auth, health and metrics, with a
//! real server on port 0 and real WebSocket clients.

mod common;

use std::time::Duration;

use common::{Client, HOME, TestServer, config, guest, start};
use futures_util::{SinkExt, StreamExt};
use protocol::token::TokenKey;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (start(config(), dir.path()).await, dir)
}

#[tokio::test]
async fn guest_auth_maps_one_device_to_one_player_and_refuses_bad_bodies() {
    let (srv, _d) = server().await;
    let (a, ta) = guest(&srv.http(), "device-a").await;
    let (a2, _) = guest(&srv.http(), "device-a").await;
    let (b, _) = guest(&srv.http(), "device-b").await;
    assert_eq!(a, a2);
    assert_ne!(a, b);
    assert!(!ta.is_empty());
    let client = reqwest::Client::new();
    for body in [
        "not json",
        "{}",
        r#"{"device_id": ""}"#,
        &format!(r#"{{"device_id": "{}"}}"#, "x".repeat(129)),
    ] {
        let r = client
            .post(format!("{}/v1/auth/guest", srv.http()))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "bad_request");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
    srv.stop().await;
}

#[tokio::test]
async fn healthz_and_metrics_with_histogram_buckets() {
    let (srv, _d) = server().await;
    let r = reqwest::get(format!("{}/healthz", srv.http()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (mut c, _) = Client::player(&srv, "metrics").await;
    c.locate(1, 0.0).await;
    let text = reqwest::get(format!("{}/metrics", srv.http()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("geogame_update_to_reply_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("geogame_messages_total"), "{text}");
    srv.stop().await;
}

#[tokio::test]
async fn nearby_lists_creatures_in_radius_sorted_with_distance_and_bearing() {
    let (srv, _d) = server().await;
    srv.place("far", 150.0, spawner::Rarity::Common);
    srv.place("near", 20.0, spawner::Rarity::Rare);
    srv.place("outside", 260.0, spawner::Rarity::Common);
    let (mut c, _) = Client::player(&srv, "viewer").await;
    let v = c.locate(7, 0.0).await;
    let ids: Vec<&str> = v["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["near", "far"]);
    let near = &v["creatures"][0];
    assert_eq!(near["species"], "Testmon");
    assert_eq!(near["rarity"], "rare");
    assert!(
        (near["distance_m"].as_f64().unwrap() - 20.0).abs() < 1.0,
        "{near}"
    );
    let bearing = near["bearing_deg"].as_f64().unwrap();
    assert!(!(1.0..=359.0).contains(&bearing), "due north: {bearing}");
    assert!(near["expires_at"].as_i64().unwrap() > common::now_ms() / 1000);
    let pois: Vec<&str> = v["pois"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        pois,
        ["cafe", "shop"],
        "cafe is 33 m north and shop 55 m south"
    );
    assert_eq!(v["pois"][0]["sponsor"], "Cafe Co");
    assert!(v["pois"][1].get("sponsor").is_none());
    srv.stop().await;
}

#[tokio::test]
async fn bad_messages_get_invalid_message_and_the_socket_stays_open() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "bad").await;
    let cases = [
        "{not json",
        r#"{"type":"teleport","seq":1}"#,
        r#"{"seq":2}"#,
        r#"{"type":"location","seq":3,"lat":91,"lon":0}"#,
        r#"{"type":"location","seq":4,"lat":0,"lon":-181}"#,
        r#"{"type":"location","seq":5,"lat":0,"lon":0,"heading":360}"#,
        r#"{"type":"location","seq":6,"lat":0,"lon":0,"speed":-1}"#,
        r#"{"type":"catch","seq":7}"#,
        "[1,2,3]",
    ];
    for (i, frame) in cases.iter().enumerate() {
        c.send_text(frame).await;
        let v = c.recv().await;
        assert_eq!(v["type"], "error", "{frame}");
        assert_eq!(v["code"], "invalid_message", "{frame}");
        if (2..=7).contains(&i) {
            assert_eq!(v["seq"], i as u64, "seq echoed for {frame}");
        }
    }
    // Still open and serving.
    c.locate(100, 0.0).await;
    srv.stop().await;
}

#[tokio::test]
async fn bad_expired_and_missing_tokens_get_unauthorized_then_1008() {
    let (srv, _d) = server().await;
    let other = TokenKey::new(b"another-secret-another-secret-xx").unwrap();
    let (forged, _) = other.mint_player("p_forged", common::now_ms() / 1000, 60);
    let key = TokenKey::new(common::SECRET.as_bytes()).unwrap();
    let (expired, _) = key.mint_player("p_old", common::now_ms() / 1000 - 3600, 60);
    for hello in [
        json!({"type":"hello","token":"garbage"}),
        json!({"type":"hello","token":forged}),
        json!({"type":"hello","token":expired}),
        json!({"type":"hello"}),
        json!({"type":"location","lat":0,"lon":0}),
    ] {
        let mut c = Client::connect(srv.addr).await;
        c.send(hello.clone()).await;
        let v = c.recv().await;
        assert_eq!(v["code"], "unauthorized", "{hello}");
        assert_eq!(c.closed().await, 1008, "{hello}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn late_hello_closes_with_1008() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        hello_timeout: Duration::from_millis(300),
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let mut c = Client::connect(srv.addr).await;
    let v = c.recv().await;
    assert_eq!(v["code"], "unauthorized");
    assert_eq!(c.closed().await, 1008);
    srv.stop().await;
}

#[tokio::test]
async fn oversized_frame_closes_1009_and_binary_closes_1003() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "big").await;
    let pad = "x".repeat(17 * 1024);
    c.send_text(&format!(r#"{{"type":"ping","seq":1,"pad":"{pad}"}}"#))
        .await;
    assert_eq!(c.closed().await, 1009);
    let (mut c, _) = Client::player(&srv, "bin").await;
    c.ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(c.closed().await, 1003);
    // A frame far beyond the transport limit is refused the same way.
    let (mut c, _) = Client::player(&srv, "huge").await;
    let _ =
        c.ws.send(Message::Text("y".repeat(200 * 1024).into()))
            .await;
    assert_eq!(c.closed().await, 1009);
    srv.stop().await;
}

#[tokio::test]
async fn a_flood_gets_rate_limited_then_1008() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        rate_per_s: 5.0,
        rate_burst: 5.0,
        flood_strikes: 10,
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let (mut c, _) = Client::player(&srv, "flood").await;
    for i in 0..200u64 {
        if c.ws
            .send(Message::Text(
                json!({"type":"ping","seq":i}).to_string().into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut limited = false;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), c.ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["code"] == "rate_limited" {
                    limited = true;
                }
            }
            Some(Ok(Message::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(limited, "rate_limited came before the close");
    assert_eq!(code, 1008);
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        rate_per_s: 1e9,
        rate_burst: 1e9,
        write_timeout: Duration::from_millis(500),
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    for i in 0..40 {
        srv.place(
            &format!("crowd-{i}"),
            1.0 + i as f64,
            spawner::Rarity::Common,
        );
    }
    let (mut c, _) = Client::player(&srv, "deaf").await;
    assert_eq!(srv.server.state().connections(), 1);
    // Requests whose large replies are never read fill the socket buffers.
    let frame = json!({"type":"location","lat":HOME.0,"lon":HOME.1}).to_string();
    let sender = tokio::spawn(async move {
        for _ in 0..200_000 {
            if c.ws
                .send(Message::Text(frame.clone().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        c
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while srv.server.state().connections() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deaf client was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sender.abort();
    srv.stop().await;
}

#[tokio::test]
async fn impossible_movement_gets_too_fast_and_blocks_actions() {
    let (srv, _d) = server().await;
    srv.place("target", 10.0, spawner::Rarity::Common);
    let (mut c, _) = Client::player(&srv, "jumper").await;
    c.locate(1, 0.0).await;
    c.send(json!({"type":"location","seq":2,"lat":HOME.0 + 1.0,"lon":HOME.1}))
        .await;
    let v = c.recv().await;
    assert_eq!(v["code"], "too_fast");
    assert_eq!(v["seq"], 2);
    c.send(json!({"type":"catch","seq":3,"creature_id":"target"}))
        .await;
    let v = c.recv().await;
    assert_eq!(v["code"], "too_fast", "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "bye").await;
    srv.shutdown.cancel();
    let notice = c.recv().await;
    assert_eq!(notice["type"], "shutdown");
    assert_eq!(c.closed().await, 1001);
    srv.stop().await;
}

#[tokio::test]
async fn ping_gets_pong_with_seq() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "pinger").await;
    c.send(json!({"type":"ping","seq":42})).await;
    let v = c.recv().await;
    assert_eq!(v, json!({"type":"pong","seq":42}));
    srv.stop().await;
}

#[tokio::test]
async fn a_full_server_refuses_new_sockets_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        capacity: 2,
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let (_a, _) = Client::player(&srv, "first").await;
    let (_b, _) = Client::player(&srv, "second").await;
    let err = tokio_tungstenite::connect_async(format!("ws://{}/v1/play", srv.addr))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 503),
        other => panic!("expected an HTTP 503, got {other:?}"),
    }
    drop(_a);
    // The slot frees once the first socket is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if tokio_tungstenite::connect_async(format!("ws://{}/v1/play", srv.addr))
            .await
            .is_ok()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_request_that_is_not_a_websocket_handshake_gets_a_json_error() {
    let (srv, _d) = server().await;
    let url = format!("http://{}/v1/play", srv.addr);
    let http = reqwest::Client::new();
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    // Another protocol version is told which one to use.
    let r = http
        .get(&url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "8")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 426);
    assert_eq!(r.headers()["sec-websocket-version"], "13");
    // The server still takes real sockets afterwards.
    let (mut c, _) = Client::player(&srv, "after").await;
    c.send_text(r#"{"type":"ping","seq":5}"#).await;
    assert_eq!(c.recv_type("pong").await["seq"], 5);
    srv.stop().await;
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = game_server::ServerConfig {
        idle_timeout: Duration::from_millis(400),
        ..config()
    };
    let srv = start(cfg, dir.path()).await;
    let (mut c, _) = Client::player(&srv, "sleepy").await;
    assert_eq!(c.closed().await, 1008);
    srv.stop().await;
}

#[tokio::test]
async fn tokens_survive_a_restart_with_the_generated_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        let mut o = common::options(config(), dir.path());
        o.token_secret = None;
        o
    };
    let srv = common::start_with(opts()).await;
    let (pid, token) = guest(&srv.http(), "returning").await;
    srv.stop().await;
    assert!(dir.path().join("token-secret").exists());

    let srv = common::start_with(opts()).await;
    let mut c = Client::connect(srv.addr).await;
    c.send(json!({"type":"hello","token":token})).await;
    let w = c.recv().await;
    assert_eq!(w["type"], "welcome", "{w}");
    assert_eq!(w["player_id"], pid.as_str());
    srv.stop().await;
}

/// Frames that arrive in one write are answered together (one flush): every
/// one still gets its own reply, in order.
#[tokio::test]
async fn frames_sent_in_one_write_each_get_their_reply_in_order() {
    let (srv, _d) = server().await;
    let (mut c, _) = Client::player(&srv, "batcher").await;
    for seq in 1..=40u64 {
        let frame = if seq % 2 == 0 {
            json!({"type":"ping","seq":seq})
        } else {
            json!({"type":"location","seq":seq,"lat":HOME.0,"lon":HOME.1})
        };
        c.ws.feed(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }
    c.ws.flush().await.unwrap();
    for seq in 1..=40u64 {
        let v = c.recv().await;
        assert_eq!(v["seq"], seq, "{v}");
        assert_eq!(v["type"], if seq % 2 == 0 { "pong" } else { "nearby" });
    }
    srv.stop().await;
}
