//! The strike ladder over real sockets: a teleport earns a strike (a
//! warning that hides rare creatures), a second suspends the player (their
//! socket closes with an error saying why, and `hello` is refused), a
//! third bans; operators list, issue and lift strikes, audited.

mod common;

use std::time::Duration;

use common::{ADMIN, Client, TestServer, config, guest, start};
use serde_json::{Value, json};

async fn admin(
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", srv.http()))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn strikes(srv: &TestServer, player: &str) -> Value {
    let (s, v) = admin(
        srv,
        reqwest::Method::GET,
        &format!("/v1/admin/players/{player}/strikes"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// An operator's strike on `player` with `reason`: the status and body.
async fn issue(srv: &TestServer, player: &str, reason: &str) -> (u16, Value) {
    admin(
        srv,
        reqwest::Method::POST,
        &format!("/v1/admin/players/{player}/strikes"),
        Some(json!({ "reason": reason })),
    )
    .await
}

async fn hello(srv: &TestServer, token: &str) -> (Client, Value) {
    let mut c = Client::connect(srv.addr).await;
    c.send(json!({"type": "hello", "token": token})).await;
    let first = c.recv().await;
    (c, first)
}

#[tokio::test]
async fn a_teleport_warns_a_second_strike_suspends_a_third_bans_and_lifting_steps_back() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let (player, token) = guest(&srv.http(), "ladder").await;
    let (mut c, w) = hello(&srv, &token).await;
    assert_eq!(w["type"], "welcome");
    c.locate(1, 0.0).await;

    // A 100 km jump in a second: too_fast, and the server's strike.
    const FAR: f64 = 100_000.0;
    c.send(json!({"type":"location","seq":2,"lat":common::HOME.0 + FAR / 111_195.0,"lon":common::HOME.1,"accuracy":5.0})).await;
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], "too_fast");
    assert!(
        e["message"].as_str().unwrap().contains("2100 s"),
        "35 min for 100 km: {e}"
    );
    let mut view = strikes(&srv, &player).await;
    for _ in 0..50 {
        if view["strikes"].as_array().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        view = strikes(&srv, &player).await;
    }
    assert_eq!(view["standing"], "warned", "{view}");
    assert_eq!(view["strikes"][0]["actor"], "server");
    let first = view["strikes"][0]["id"].as_i64().unwrap();

    // The warning hides rare creatures, not common ones.
    srv.place("rare-1", FAR + 20.0, spawner::Rarity::Rare);
    srv.place("common-1", FAR + 25.0, spawner::Rarity::Common);
    // The server applies the warning just after it stores the strike (the
    // listing above may see the row a moment before), so look a few times.
    let mut seen = common::creature_ids(&c.locate(3, FAR + 5.0).await);
    for seq in 100..140 {
        if !seen.contains(&"rare-1".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = common::creature_ids(&c.locate(seq, FAR + 5.0 + (seq % 2) as f64).await);
    }
    assert!(
        seen.contains(&"common-1".to_owned()) && !seen.contains(&"rare-1".to_owned()),
        "{seen:?}"
    );
    // Lifted: rare creatures show again.
    let (s, _) = admin(
        &srv,
        reqwest::Method::DELETE,
        &format!("/v1/admin/players/{player}/strikes/{first}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert!(common::creature_ids(&c.locate(4, FAR + 6.0).await).contains(&"rare-1".to_owned()));
    let (s, _) = admin(
        &srv,
        reqwest::Method::DELETE,
        &format!("/v1/admin/players/{player}/strikes/{first}"),
        None,
    )
    .await;
    assert_eq!(s, 404, "already lifted");

    // Two operator strikes: a suspension. The socket is told why and closed.
    for reason in ["spoofing reported", "spoofing again"] {
        let (s, v) = issue(&srv, &player, reason).await;
        assert_eq!(s, 201, "{v}");
    }
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], "suspended", "{e}");
    assert!(e["message"].as_str().unwrap().contains("suspended"));
    assert_eq!(c.closed().await, 1008);
    let (mut again, refused) = hello(&srv, &token).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("suspended")),
        "{refused}"
    );
    assert_eq!(again.closed().await, 1008);

    // A third: banned.
    let (_, v) = issue(&srv, &player, "third time").await;
    assert_eq!(v["standing"], "banned");
    let (_, refused) = hello(&srv, &token).await;
    assert!(
        refused["message"].as_str().unwrap().contains("banned"),
        "{refused}"
    );

    // Lifting two of them lets the player back in, warned.
    let view = strikes(&srv, &player).await;
    let standing: Vec<i64> = view["strikes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("lifted_at").is_none())
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(standing.len(), 3);
    for id in &standing[1..] {
        let (s, _) = admin(
            &srv,
            reqwest::Method::DELETE,
            &format!("/v1/admin/players/{player}/strikes/{id}"),
            None,
        )
        .await;
        assert_eq!(s, 204);
    }
    assert_eq!(strikes(&srv, &player).await["standing"], "warned");
    let (_, w) = hello(&srv, &token).await;
    assert_eq!(w["type"], "welcome");

    // Every operator step is in the audit log under the operator's name.
    let (_, audit) = admin(&srv, reqwest::Method::GET, "/v1/admin/audit", None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "strike.issue").count(), 3);
    assert_eq!(actions.iter().filter(|a| **a == "strike.lift").count(), 3);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"] != "server")
    );
    let (s, _) = issue(&srv, &player, "").await;
    assert_eq!(s, 400);
    srv.stop().await;
}

/// Scaled out: an operator's strikes on one server suspend the player's
/// socket on the other (a `Standing` world message on Redis), and the
/// suspension, stored in the shared PostgreSQL, refuses a `hello` on both.
#[tokio::test]
async fn across_two_servers_a_suspension_closes_the_socket_on_the_other_server() {
    let Some(pair) = common::pair("strikes_across").await else {
        return;
    };
    let (a, b) = (&pair.a, &pair.b);
    let (player, token) = guest(&a.http(), "far-player").await;
    let (mut on_a, w) = hello(a, &token).await;
    assert_eq!(w["type"], "welcome");
    on_a.locate(1, 0.0).await;
    for n in 0..2 {
        let (s, v) = issue(b, &player, &format!("spoofing report {n}")).await;
        assert_eq!(s, 201, "{v}");
    }
    let e = on_a.recv_type("error").await;
    assert_eq!(e["code"], "suspended", "{e}");
    assert_eq!(on_a.closed().await, 1008, "server a closed its socket");
    for srv in [a, b] {
        let (_, first) = hello(srv, &token).await;
        assert_eq!(first["code"], "suspended", "{first}");
    }
    pair.stop().await;
}
