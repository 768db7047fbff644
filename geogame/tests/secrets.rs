//! No secret reaches a log line: the real binary at `RUST_LOG=debug` goes
//! through every path that handles one (passwords, player and refresh
//! tokens, operator tokens, the admin token, the token-signing secret),
//! the refusals included, and its whole log is searched for each.

mod common;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const ADMIN: &str = "adm_secret_0123456789abcdef0123456789";
const PASSWORD: &str = "correct horse battery staple 42";
const WRONG: &str = "wrong horse battery staple 43";

async fn call(
    method: &str,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut req = c.request(method.parse().unwrap(), url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The status of a bodiless request with a bearer token.
async fn status(method: &str, url: &str, bearer: &str) -> u16 {
    call(method, url.to_owned(), Some(bearer), None).await.0
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_appears_in_any_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("geogame.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut up = common::spawn_up_logging(
        &dir.path().join("data"),
        &["--admin-token", ADMIN],
        "debug",
        log.into(),
    );
    let base = up.base.clone();
    let mut secrets = vec![ADMIN.to_owned(), PASSWORD.to_owned(), WRONG.to_owned()];

    // Accounts: register, a wrong and a right login, a refresh, a reuse.
    let body = json!({"email": "secret@example.com", "password": PASSWORD});
    let (s, reg) = call(
        "POST",
        format!("{base}/v1/auth/register"),
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, 200, "{reg}");
    let bad = json!({"email": "secret@example.com", "password": WRONG});
    assert_eq!(
        call("POST", format!("{base}/v1/auth/login"), None, Some(bad))
            .await
            .0,
        401
    );
    let (s, login) = call("POST", format!("{base}/v1/auth/login"), None, Some(body)).await;
    assert_eq!(s, 200, "{login}");
    let refresh = json!({"refresh_token": text(&login, "refresh_token")});
    let (s, renewed) = call(
        "POST",
        format!("{base}/v1/auth/refresh"),
        None,
        Some(refresh.clone()),
    )
    .await;
    assert_eq!(s, 200, "{renewed}");
    assert_eq!(
        call(
            "POST",
            format!("{base}/v1/auth/refresh"),
            None,
            Some(refresh)
        )
        .await
        .0,
        401
    );
    for v in [&reg, &login, &renewed] {
        secrets.push(text(v, "token"));
        secrets.push(text(v, "refresh_token"));
    }

    // A guest, its socket, and a hello with a forged token.
    let guest = common::guest(
        up.base.trim_start_matches("http://").parse().unwrap(),
        "secret-phone",
    )
    .await;
    let token = text(&guest, "token");
    secrets.push(token.clone());
    let ws_url = format!("{}/v1/play", base.replace("http://", "ws://"));
    let mut ws = common::open(&ws_url, &token).await;
    common::send(&mut ws, json!({"type": "ping", "seq": 1})).await;
    common::recv_type(&mut ws, "pong").await;
    let forged = format!("{token}x");
    secrets.push(forged.clone());
    let (mut bad_ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    common::send(&mut bad_ws, json!({"type": "hello", "token": forged})).await;
    while let Some(Ok(m)) = futures_util::StreamExt::next(&mut bad_ws).await {
        if matches!(m, Message::Close(_)) {
            break;
        }
    }

    // An operator account, its use, a wrong bearer, and a revocation.
    let (s, op) = call(
        "POST",
        format!("{base}/v1/admin/operators"),
        Some(ADMIN),
        Some(json!({"name": "ana", "role": "analyst"})),
    )
    .await;
    assert_eq!(s, 201, "{op}");
    let op_token = text(&op, "token");
    secrets.push(op_token.clone());
    let species = format!("{base}/v1/reports/species");
    assert_eq!(status("GET", &species, &op_token).await, 200);
    let wrong_bearer = "adm_guess_ffffffffffffffffffffffffffff";
    secrets.push(wrong_bearer.to_owned());
    let zones = format!("{base}/v1/admin/zones");
    assert_eq!(status("GET", &zones, wrong_bearer).await, 401);
    let ana = format!("{base}/v1/admin/operators/ana");
    assert_eq!(status("DELETE", &ana, ADMIN).await, 204);
    assert_eq!(status("GET", &species, &op_token).await, 401);

    // The signing secret the server generated.
    let signing = std::fs::read_to_string(dir.path().join("data/token-secret")).unwrap();
    secrets.push(signing.trim().to_owned());

    drop(ws);
    // SIGTERM: a graceful stop flushes the log.
    let pid = up.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    up.child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().count();
    assert!(
        lines >= 10,
        "a debug log has lines to search ({lines}):\n{log}"
    );
    for secret in &secrets {
        assert!(secret.len() >= 16, "{secret:?} is a real secret");
        // Any 16-character piece of one, so a truncated copy is caught too.
        for piece in secret.as_bytes().windows(16).step_by(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            if let Some(line) = log.lines().find(|l| l.contains(piece)) {
                panic!("a secret ({piece:?} of {secret:?}) is in the log: {line}");
            }
        }
    }
    eprintln!("{lines} log lines, {} secrets, none found", secrets.len());
}
