//! `geogame up` as a user runs it: the real binary on port 0, the demo
//! world, guest auth, a play socket at the demo location, the lobby, and a
//! graceful SIGTERM.

use std::process::Command;
use std::time::Duration;

mod common;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn recv(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Message {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("frame within 10 s")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return m,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

fn text(m: Message) -> Value {
    match m {
        Message::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn up_serves_the_demo_world_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = common::spawn_up(dir.path(), &[]);
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    assert!(
        up.token_line.contains(token.trim()),
        "prints the generated admin token: {}",
        up.token_line
    );
    assert!(
        up.token_line.contains("admin-token"),
        "and where it is stored"
    );

    let health = reqwest::get(format!("{}/healthz", up.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let auth: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth/guest", up.base))
        .json(&json!({"device_id": "demo-phone"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Standing at the sponsored Starbucks on 228th Ave, there is already
    // something to catch.
    let ws_url = up.base.replace("http://", "ws://");
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}/v1/play"))
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"type":"hello","token":auth["token"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(text(recv(&mut ws).await)["type"], "welcome");
    ws.send(Message::Text(
        json!({"type":"location","seq":1,"lat":47.61598,"lon":-122.03412})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let nearby = text(recv(&mut ws).await);
    assert_eq!(nearby["type"], "nearby");
    assert!(
        !nearby["creatures"].as_array().unwrap().is_empty(),
        "the demo world is populated: {nearby}"
    );
    let pois = nearby["pois"].as_array().unwrap();
    assert!(pois.iter().any(|p| p["sponsor"] == "Starbucks"), "{pois:?}");

    // The lobby and the reports share the listener.
    let (mut lobby, _) = tokio_tungstenite::connect_async(format!("{ws_url}/v1/lobby"))
        .await
        .unwrap();
    lobby
        .send(Message::Text(
            json!({"type":"hello","token":auth["token"]})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    assert_eq!(text(recv(&mut lobby).await)["type"], "welcome");
    // Reports need a bearer token: 401 without, 200 with the admin token.
    let url = format!("{}/v1/reports/summary", up.base);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 401);
    let summary = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(summary.status(), 200);

    // SIGTERM: the play socket gets 1001 and the process exits 0 in time.
    let pid = up.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let code = loop {
        match recv(&mut ws).await {
            Message::Close(Some(f)) => break u16::from(f.code),
            Message::Close(None) => panic!("close without a code"),
            _ => continue,
        }
    };
    assert_eq!(code, 1001);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = up.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "exits within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn every_binary_answers_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_geogame"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("up") && text.contains("admin"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args(["up", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--redis-url"));
}

#[test]
fn bad_flags_are_refused_with_a_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args(["up", "--listen", "127.0.0.1:0", "--rate-limit=-3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate-limit"));
}
