//! `geogame admin erase-player` and `revoke-operator` against a running
//! `geogame up`, through the real command: the reports' counts stay, the
//! erased player's socket and tokens stop, the device signs in as a new
//! player, and a revoked operator's token stops at once.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const ADMIN: &str = "privacy-admin";
const STARBUCKS: &str = "sammamish-highlands-starbucks";
const AT: (f64, f64) = (47.61598, -122.03412);

/// Runs `geogame admin --url base --admin-token ADMIN <args>`: success,
/// stdout and stderr.
async fn admin(base: &str, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args(["admin", "--url", base, "--admin-token", ADMIN])
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn status(url: String, token: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A player who walks to the Starbucks and spins there; their id, token
/// and open socket.
async fn spinner(up: &common::Up, device: &str) -> (String, String, common::Ws) {
    let me = common::guest(up.addr, device).await;
    let token = me["token"].as_str().unwrap().to_owned();
    let mut ws = common::open(&format!("ws://{}/v1/play", up.addr), &token).await;
    common::send(
        &mut ws,
        json!({"type":"location","seq":1,"lat":AT.0,"lon":AT.1}),
    )
    .await;
    common::recv_type(&mut ws, "nearby").await;
    common::send(&mut ws, json!({"type":"spin","seq":2,"poi_id":STARBUCKS})).await;
    let spun = common::recv_type(&mut ws, "spin_result").await;
    assert_eq!(spun["outcome"], "ok", "{spun}");
    (me["player_id"].as_str().unwrap().to_owned(), token, ws)
}

/// The summary and the Starbucks row, once the summary counts `players`
/// players and the row `players` visits (events reach SQL asynchronously,
/// spins through the outbox).
async fn settled(base: &str, players: i64) -> (Value, Value) {
    let started = std::time::Instant::now();
    loop {
        let summary = common::get_json(&format!("{base}/v1/reports/summary"), ADMIN).await;
        let rows = common::get_json(&format!("{base}/v1/reports/pois"), ADMIN).await;
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["poi_id"] == STARBUCKS)
            .cloned()
            .unwrap();
        let count = |v: &Value, key: &str| v[key].as_i64().unwrap();
        if (count(&summary, "players") >= players && count(&row, "visits") >= players)
            || started.elapsed() > Duration::from_secs(15)
        {
            return (summary, row);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads until the socket closes; the last error frame and the close code.
async fn until_closed(ws: &mut common::Ws) -> (Value, Option<u16>) {
    let mut error = Value::Null;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed within 10 s");
        match m {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "error" {
                    error = v;
                }
            }
            Some(Ok(Message::Close(f))) => return (error, f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (error, None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_player_is_gone_and_the_reports_still_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &["--admin-token", ADMIN]).await;
    let base = format!("http://{}", up.addr);
    let (gone, gone_token, mut gone_ws) = spinner(&up, "phone-to-erase").await;
    let (_stays, _, _stays_ws) = spinner(&up, "phone-that-stays").await;
    let (before, row_before) = settled(&base, 2).await;
    assert_eq!(before["players"], 2, "{before}");
    assert!(row_before["visits"].as_i64().unwrap() >= 2, "{row_before}");

    let (ok, out, err) = admin(&base, &["erase-player", &gone]).await;
    assert!(ok, "{err}");
    let erased: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(erased["player_id"], gone.as_str());
    assert!(erased["rows_deleted"].as_u64().unwrap() >= 1, "{erased}");
    assert!(
        erased["events_pseudonymised"].as_u64().unwrap() >= 2,
        "{erased}"
    );

    // Their socket is told and closed with 4003.
    let (error, code) = until_closed(&mut gone_ws).await;
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert!(error["message"].as_str().unwrap().contains("erased"));
    assert_eq!(code, Some(4003));

    // The counts stay what they were, with nothing naming the player: in
    // particular the closed socket's end leaves no event with the old id
    // (which would make three players). The close handshake and the
    // event's way into SQL take up to a second or so; 3 s is generous.
    drop(gone_ws);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (after, row_after) = settled(&base, 2).await;
    for key in ["players", "sessions", "spins", "visits"] {
        assert_eq!(after[key], before[key], "{key}: {before} then {after}");
    }
    for key in ["visits", "unique_players"] {
        assert_eq!(row_after[key], row_before[key], "{key}");
    }

    // Their old token no longer plays; the phone signs in as someone new.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/play", up.addr))
        .await
        .unwrap();
    common::send(&mut ws, json!({"type":"hello","token":gone_token})).await;
    let (error, code) = until_closed(&mut ws).await;
    assert_eq!(error["code"], "unauthorized", "{error}");
    assert_eq!(code, Some(4003));
    let again = common::guest(up.addr, "phone-to-erase").await;
    assert_ne!(again["player_id"], gone.as_str());

    // A second erasure finds nothing; both facts are in the audit log.
    let (ok, _, err) = admin(&base, &["erase-player", &gone]).await;
    assert!(!ok);
    assert!(err.contains("no such player"), "{err}");
    let audit = common::get_json(&format!("{base}/v1/admin/audit"), ADMIN).await;
    let erasures: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "player.erase")
        .collect();
    assert_eq!(erasures.len(), 1, "{audit}");
    assert_eq!(erasures[0]["actor"], "admin");
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_operator_token_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &["--admin-token", ADMIN]).await;
    let base = format!("http://{}", up.addr);
    let (ok, token, err) = admin(&base, &["add-operator", "ann", "--role", "analyst"]).await;
    assert!(ok, "{err}");
    let token = token.trim().to_owned();
    let summary = format!("{base}/v1/reports/summary");
    assert_eq!(status(summary.clone(), &token).await, 200);

    let (ok, out, err) = admin(&base, &["revoke-operator", "ann"]).await;
    assert!(ok, "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(status(summary.clone(), &token).await, 401);
    let (_, list, _) = admin(&base, &["list-operators"]).await;
    assert!(!list.contains("ann"), "{list}");

    let (ok, _, err) = admin(&base, &["revoke-operator", "ann"]).await;
    assert!(!ok);
    assert!(err.contains("no such operator"), "{err}");
    let (ok, _, err) = admin(&base, &["revoke-operator", "admin"]).await;
    assert!(!ok);
    assert!(err.contains("--admin-token"), "{err}");
    let audit = common::get_json(&format!("{base}/v1/admin/audit"), ADMIN).await;
    let revokes = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "operator.revoke" && a["target"] == "ann")
        .count();
    assert_eq!(revokes, 1, "{audit}");
    up.stop().await;
}
