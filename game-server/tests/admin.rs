//! End-to-end tests of the operator API: zones, POIs, audit.

mod common;

use std::time::Duration;

use common::{ADMIN, Client, HOME, TestServer, config, start};
use serde_json::{Value, json};

async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (start(config(), dir.path()).await, dir)
}

/// A square zone of `half_m` metres around a point north of HOME.
fn square(north_m: f64, half_m: f64, name: &str) -> Value {
    let lat = HOME.0 + north_m / 111_195.0;
    let d = half_m / 111_195.0;
    let (lo, la) = (HOME.1, lat);
    json!({"type":"Feature","properties":{"name":name,"reason":"private home"},
        "geometry":{"type":"Polygon","coordinates":[[[lo-d,la-d],[lo+d,la-d],[lo+d,la+d],[lo-d,la+d],[lo-d,la-d]]]}})
}

async fn admin(
    method: reqwest::Method,
    url: String,
    body: Option<String>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn zones(srv: &TestServer) -> Vec<Value> {
    let (s, v) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/zones", srv.http()),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["type"], "FeatureCollection");
    v["features"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_admin_route_needs_the_token() {
    let (srv, _d) = server().await;
    let base = srv.http();
    for (m, path) in [
        ("GET", "/v1/admin/zones"),
        ("POST", "/v1/admin/zones"),
        ("DELETE", "/v1/admin/zones/x"),
        ("GET", "/v1/admin/audit"),
        ("GET", "/v1/admin/pois"),
        ("POST", "/v1/admin/pois"),
        ("GET", "/v1/admin/operators"),
        ("POST", "/v1/admin/operators"),
    ] {
        for token in [None, Some("wrong")] {
            let (s, v) = admin(
                m.parse().unwrap(),
                format!("{base}{path}"),
                Some("{}".into()),
                token,
            )
            .await;
            assert_eq!(s, 401, "{m} {path}");
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_new_zone_despawns_creatures_inside_within_a_second() {
    let (srv, _d) = server().await;
    srv.place("inside", 300.0, spawner::Rarity::Common);
    srv.place("outside", 420.0, spawner::Rarity::Common);
    let (mut p, _) = Client::player(&srv, "witness").await;
    let v = p.locate(1, 360.0).await;
    assert_eq!(v["creatures"].as_array().unwrap().len(), 2);
    let started = tokio::time::Instant::now();
    let (s, stored) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", srv.http()),
        Some(square(300.0, 30.0, "Garden").to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201, "{stored}");
    let id = stored["properties"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stored["properties"]["name"], "Garden");
    assert_eq!(stored["properties"]["reason"], "private home");
    let d = p.recv_type("despawn").await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        d,
        json!({"type":"despawn","creature_id":"inside","reason":"excluded"})
    );
    let v = p.locate(2, 360.0).await;
    let ids: Vec<&str> = v["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["outside"]);
    // Ticks never place a creature inside it again.
    for _ in 0..30 {
        srv.server.tick_now();
    }
    let listed = zones(&srv).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["properties"]["id"], id.as_str());
    srv.stop().await;
}

#[tokio::test]
async fn invalid_zones_are_refused_with_400_and_change_nothing() {
    let (srv, _d) = server().await;
    let ok = square(0.0, 10.0, "Keep");
    let (s, _) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", srv.http()),
        Some(ok.to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201);
    let before = zones(&srv).await;
    let poly = |coords: Value| {
        json!({"type":"Feature","properties":{"name":"n","reason":"r"},"geometry":{"type":"Polygon","coordinates":coords}}).to_string()
    };
    let bad = [
        "{oops".to_owned(),
        json!({"type":"Feature","properties":{"name":"n","reason":"r"},"geometry":{"type":"Point","coordinates":[0,0]}}).to_string(),
        poly(json!([[[0,0],[1,0],[1,1],[0,1]]])),
        poly(json!([[[0,0],[1,0],[0,0]]])),
        poly(json!([[[0,0],[200,0],[200,1],[0,0]]])),
        poly(json!([[[0,0],[0,95],[1,1],[0,0]]])),
        poly(json!([[[0,0],[1,1],[1,0],[0,1],[0,0]]])),
        json!({"type":"FeatureCollection","features":[]}).to_string(),
        {
            let mut z = square(0.0, 10.0, "Expired");
            z["properties"]["expires_at"] = json!(1_000);
            z.to_string()
        },
    ];
    for body in bad {
        let (s, v) = admin(
            reqwest::Method::POST,
            format!("{}/v1/admin/zones", srv.http()),
            Some(body.clone()),
            Some(ADMIN),
        )
        .await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(v["error"]["code"], "bad_request");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(zones(&srv).await, before);
    srv.stop().await;
}

#[tokio::test]
async fn delete_restores_and_unknown_is_404_and_audit_is_newest_first() {
    let (srv, _d) = server().await;
    let (_, z) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", srv.http()),
        Some(square(0.0, 10.0, "Temp").to_string()),
        Some(ADMIN),
    )
    .await;
    let id = z["properties"]["id"].as_str().unwrap();
    let (s, _) = admin(
        reqwest::Method::DELETE,
        format!("{}/v1/admin/zones/{id}", srv.http()),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = admin(
        reqwest::Method::DELETE,
        format!("{}/v1/admin/zones/{id}", srv.http()),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "not_found");
    assert!(zones(&srv).await.is_empty());
    let (s, audit) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/audit", srv.http()),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(&actions[..2], ["zone.delete", "zone.create"]);
    let first = &audit[0];
    for k in ["at", "actor", "action", "target", "detail"] {
        assert!(first.get(k).is_some(), "audit entry has {k}");
    }
    assert_eq!(first["target"], id);
    srv.stop().await;
}

#[tokio::test]
async fn pois_and_zones_survive_a_restart_and_zoned_pois_are_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(config(), dir.path()).await;
    let poi = json!({"type":"Feature","geometry":{"type":"Point","coordinates":[HOME.1, HOME.0 + 0.0001]},"properties":{"id":"kiosk","name":"Kiosk","weight":2.0,"sponsor":"Acme"}});
    let (s, v) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/pois", srv.http()),
        Some(poi.to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = admin(reqwest::Method::POST, format!("{}/v1/admin/pois", srv.http()), Some(json!({"type":"Feature","geometry":{"type":"Point","coordinates":[0,0]},"properties":{"name":"x","weight":-1}}).to_string()), Some(ADMIN)).await;
    assert_eq!(s, 400, "negative weight refused");
    // A zone over the cafe hides it from nearby.
    let (s, _) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", srv.http()),
        Some(square(33.0, 5.0, "Cafe closed").to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201);
    srv.stop().await;

    let srv = start(config(), dir.path()).await;
    let (_, pois) = admin(
        reqwest::Method::GET,
        format!("{}/v1/admin/pois", srv.http()),
        None,
        Some(ADMIN),
    )
    .await;
    let ids: Vec<&str> = pois["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"kiosk") && ids.contains(&"cafe"), "{ids:?}");
    assert_eq!(zones(&srv).await.len(), 1);
    let (mut p, _) = Client::player(&srv, "tourist").await;
    let v = p.locate(1, 0.0).await;
    let seen: Vec<&str> = v["pois"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(seen.contains(&"kiosk"));
    assert!(
        !seen.contains(&"cafe"),
        "the zoned cafe is hidden: {seen:?}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn bulk_import_replaces_all_zones_atomically_or_changes_nothing() {
    let (srv, _d) = server().await;
    let url = format!("{}/v1/admin/zones", srv.http());
    let (s, _) = admin(
        reqwest::Method::POST,
        url.clone(),
        Some(square(0.0, 10.0, "Old").to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201);
    // One bad feature (a bow-tie) spoils the whole collection.
    let bowtie = json!({"type":"Feature","properties":{"name":"Bad","reason":"r"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}});
    let mixed =
        json!({"type":"FeatureCollection","features":[square(100.0, 10.0, "New A"), bowtie]});
    let (s, v) = admin(
        reqwest::Method::PUT,
        url.clone(),
        Some(mixed.to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let names: Vec<String> = zones(&srv)
        .await
        .iter()
        .map(|z| z["properties"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Old"]);
    // A valid collection replaces everything at once.
    let good = json!({"type":"FeatureCollection","features":[square(100.0, 10.0, "New A"), square(200.0, 10.0, "New B")]});
    let (s, v) = admin(
        reqwest::Method::PUT,
        url,
        Some(good.to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mut names: Vec<String> = zones(&srv)
        .await
        .iter()
        .map(|z| z["properties"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["New A", "New B"]);
    srv.stop().await;
}

#[tokio::test]
async fn zones_with_a_buffer_and_an_expiry_round_trip_and_the_buffer_excludes() {
    let (srv, _d) = server().await;
    // 30 m from the centre: 20 m outside the square, inside its 25 m buffer.
    srv.place("edge", 30.0, spawner::Rarity::Common);
    srv.place("beyond", 60.0, spawner::Rarity::Common);
    let (mut p, _) = Client::player(&srv, "fence-watcher").await;
    assert_eq!(
        p.locate(1, 0.0).await["creatures"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let mut z = square(0.0, 10.0, "Fenced");
    z["properties"]["buffer_m"] = json!(25.0);
    z["properties"]["expires_at"] = json!(common::now_ms() / 1000 + 3600);
    let (s, v) = admin(
        reqwest::Method::POST,
        format!("{}/v1/admin/zones", srv.http()),
        Some(z.to_string()),
        Some(ADMIN),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["properties"]["buffer_m"], 25.0);
    assert_eq!(
        p.recv_type("despawn").await,
        json!({"type":"despawn","creature_id":"edge","reason":"excluded"})
    );
    let ids: Vec<String> = p.locate(2, 0.0).await["creatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["beyond"]);
    srv.stop().await;
}

/// Operator accounts: the admin creates named accounts with roles; an
/// operator's changes are audited under their name; analysts and sponsors
/// may not change the world; a replaced token stops working.
#[tokio::test]
async fn operator_accounts_act_under_their_name_and_only_operators_change_the_world() {
    let (srv, _d) = server().await;
    let base = srv.http();
    let post = |path: &str, body: Value, token: Option<String>| {
        let url = format!("{base}{path}");
        async move {
            admin(
                reqwest::Method::POST,
                url,
                Some(body.to_string()),
                token.as_deref(),
            )
            .await
        }
    };
    let admin_token = Some(ADMIN.to_owned());
    let (s, alice) = post(
        "/v1/admin/operators",
        json!({"name":"alice","role":"operator"}),
        admin_token.clone(),
    )
    .await;
    assert_eq!(s, 201, "{alice}");
    assert_eq!(alice["role"], "operator");
    let alice = alice["token"].as_str().unwrap().to_owned();
    let (_, bob) = post(
        "/v1/admin/operators",
        json!({"name":"bob","role":"analyst"}),
        admin_token.clone(),
    )
    .await;
    let bob = bob["token"].as_str().unwrap().to_owned();

    // Alice draws a zone: the audit log names her.
    let (s, _) = post(
        "/v1/admin/zones",
        square(0.0, 20.0, "alice's zone"),
        Some(alice.clone()),
    )
    .await;
    assert_eq!(s, 201);
    let (_, audit) = admin(
        reqwest::Method::GET,
        format!("{base}/v1/admin/audit"),
        None,
        Some(&alice),
    )
    .await;
    assert_eq!(audit[0]["action"], "zone.create");
    assert_eq!(audit[0]["actor"], "alice");
    // The admin token acts as `admin`, whatever header a client adds.
    let (_, audit_ops) = admin(
        reqwest::Method::GET,
        format!("{base}/v1/admin/operators"),
        None,
        Some(ADMIN),
    )
    .await;
    assert_eq!(
        audit_ops,
        json!([{"name":"alice","role":"operator"},{"name":"bob","role":"analyst"}])
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "operator.put" && a["actor"] == "admin")
    );

    // An analyst may not change anything, nor create accounts.
    let (s, e) = post(
        "/v1/admin/zones",
        square(50.0, 20.0, "no"),
        Some(bob.clone()),
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = post(
        "/v1/admin/operators",
        json!({"name":"eve","role":"operator"}),
        Some(bob.clone()),
    )
    .await;
    assert_eq!(s, 403);
    // Bad roles and names are refused.
    for body in [
        json!({"name":"x","role":"root"}),
        json!({"name":"","role":"analyst"}),
        json!({"name":"admin","role":"analyst"}),
    ] {
        let (s, _) = post("/v1/admin/operators", body.clone(), admin_token.clone()).await;
        assert_eq!(s, 400, "{body}");
    }
    // A new token for alice: the old one stops working.
    let (_, again) = post(
        "/v1/admin/operators",
        json!({"name":"alice","role":"operator"}),
        admin_token.clone(),
    )
    .await;
    assert_ne!(again["token"], alice.as_str());
    let (s, _) = admin(
        reqwest::Method::GET,
        format!("{base}/v1/admin/zones"),
        None,
        Some(&alice),
    )
    .await;
    assert_eq!(s, 401);
    srv.stop().await;
}
