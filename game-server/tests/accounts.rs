//! Password accounts over real HTTP: register, login, refresh, a guest's
//! upgrade, and the refusals (wrong password, lockout, reuse, bad input).

mod common;

use common::{Client, config, guest, start};
use serde_json::{Value, json};

async fn post(base: &str, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(&body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn hello_ok(srv: &common::TestServer, token: &str, player: &str) {
    let mut c = Client::connect(srv.addr).await;
    c.send(json!({"type": "hello", "token": token})).await;
    let w = c.recv().await;
    assert_eq!(
        (w["type"].as_str(), w["player_id"].as_str()),
        (Some("welcome"), Some(player)),
        "{w}"
    );
}

#[tokio::test]
async fn register_login_and_a_refresh_that_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let base = srv.http();
    let creds = json!({"email": "Ann@Example.com", "password": "correct horse"});

    let (s, reg) = post(&base, "/v1/auth/register", creds.clone(), None).await;
    assert_eq!(s, 200, "{reg}");
    for k in ["player_id", "token", "expires_at", "refresh_token"] {
        assert!(reg.get(k).is_some(), "register reply has {k}");
    }
    let player = reg["player_id"].as_str().unwrap();
    hello_ok(&srv, reg["token"].as_str().unwrap(), player).await;

    // The same email, in any case, is taken.
    let (s, e) = post(
        &base,
        "/v1/auth/register",
        json!({"email": "ann@example.COM", "password": "another one!"}),
        None,
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("conflict")));

    let (s, login) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": "correct horse"}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(login["player_id"], player);
    let (s, e) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": "wrong horse!"}),
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, _) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "nobody@example.com", "password": "correct horse"}),
        None,
    )
    .await;
    assert_eq!(s, 401);

    // A refresh token works once.
    let rt = login["refresh_token"].clone();
    let (s, fresh) = post(
        &base,
        "/v1/auth/refresh",
        json!({"refresh_token": rt}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(fresh["player_id"], player);
    assert_ne!(fresh["refresh_token"], rt);
    hello_ok(&srv, fresh["token"].as_str().unwrap(), player).await;
    let (s, _) = post(
        &base,
        "/v1/auth/refresh",
        json!({"refresh_token": rt}),
        None,
    )
    .await;
    assert_eq!(s, 401, "a used refresh token is refused");
    let (s, _) = post(
        &base,
        "/v1/auth/refresh",
        json!({"refresh_token": fresh["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(
        s, 401,
        "the reuse revoked the family: the token it was traded for is dead too"
    );
    // A new login starts a new family, unaffected.
    let (_, again) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": "correct horse"}),
        None,
    )
    .await;
    let (s, _) = post(
        &base,
        "/v1/auth/refresh",
        json!({"refresh_token": again["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Bad bodies are 400 with a reason.
    for (path, body) in [
        (
            "/v1/auth/register",
            json!({"email": "ann2@example.com", "password": "short"}),
        ),
        (
            "/v1/auth/register",
            json!({"email": "not-an-email", "password": "long enough pw"}),
        ),
        ("/v1/auth/login", json!({"email": "ann@example.com"})),
        ("/v1/auth/refresh", json!({})),
    ] {
        let (s, e) = post(&base, path, body.clone(), None).await;
        assert_eq!(s, 400, "{path} {body}");
        assert_eq!(e["error"]["code"], "bad_request");
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_guest_who_registers_keeps_their_player_id() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let base = srv.http();
    let (guest_id, guest_token) = guest(&base, "phone-9").await;
    let (s, reg) = post(
        &base,
        "/v1/auth/register",
        json!({"email": "g@example.com", "password": "guest upgrade"}),
        Some(&guest_token),
    )
    .await;
    assert_eq!(s, 200, "{reg}");
    assert_eq!(reg["player_id"], guest_id.as_str());
    let (_, login) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "g@example.com", "password": "guest upgrade"}),
        None,
    )
    .await;
    assert_eq!(login["player_id"], guest_id.as_str());
    // One account per player; a forged bearer is refused.
    let (s, _) = post(
        &base,
        "/v1/auth/register",
        json!({"email": "g2@example.com", "password": "guest upgrade"}),
        Some(&guest_token),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = post(
        &base,
        "/v1/auth/register",
        json!({"email": "g3@example.com", "password": "guest upgrade"}),
        Some("forged"),
    )
    .await;
    assert_eq!(s, 401);
    srv.stop().await;
}

#[tokio::test]
async fn five_failures_within_a_minute_lock_that_email_with_429() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let base = srv.http();
    for email in ["lock@example.com", "other@example.com"] {
        let (s, _) = post(
            &base,
            "/v1/auth/register",
            json!({"email": email, "password": "the right one"}),
            None,
        )
        .await;
        assert_eq!(s, 200);
    }
    for _ in 0..5 {
        let (s, _) = post(
            &base,
            "/v1/auth/login",
            json!({"email": "lock@example.com", "password": "a wrong one"}),
            None,
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, e) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "LOCK@example.com", "password": "the right one"}),
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "locked even with the right password"
    );
    let (s, _) = post(
        &base,
        "/v1/auth/login",
        json!({"email": "other@example.com", "password": "the right one"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "another email is not locked");
    srv.stop().await;
}

/// A wrong-password login for `email`, as if through a balancer that
/// forwarded `forwarded_for`; the status.
async fn login_from(base: &str, email: &str, forwarded_for: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": "not the password"}));
    if let Some(f) = forwarded_for {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn one_address_gets_a_few_password_sign_ins_a_minute_whatever_emails_it_tries() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.sign_ins_per_address = 3;
    let srv = start(cfg, dir.path()).await;
    let base = srv.http();
    // A spray over many emails: the per-email lockout never trips, the
    // per-address limit does, and a forged X-Forwarded-For is not believed
    // from a peer that is no trusted proxy.
    for i in 0..3 {
        assert_eq!(
            login_from(&base, &format!("u{i}@example.com"), None).await,
            401
        );
    }
    let (s, e) = post(
        &base,
        "/v1/auth/register",
        json!({"email": "new@example.com", "password": "long enough pw"}),
        None,
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{e}"
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("address"),
        "{e}"
    );
    assert_eq!(
        login_from(&base, "u9@example.com", Some("198.51.100.9")).await,
        429
    );
    srv.stop().await;

    // Behind a trusted balancer, each forwarded client has its own budget.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.sign_ins_per_address = 3;
    cfg.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let srv = start(cfg, dir.path()).await;
    let base = srv.http();
    for i in 0..3 {
        let s = login_from(&base, &format!("a{i}@example.com"), Some("203.0.113.1")).await;
        assert_eq!(s, 401);
    }
    assert_eq!(
        login_from(&base, "a3@example.com", Some("203.0.113.1")).await,
        429
    );
    assert_eq!(
        login_from(&base, "b@example.com", Some("203.0.113.2")).await,
        401,
        "another client behind the same balancer is not limited"
    );
    srv.stop().await;
}
