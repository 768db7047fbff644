//! The reports are exact after a scripted day of play, on SQLite and on
//! PostgreSQL, through the real HTTP router; errors use the contract shape.

mod common;

use std::net::SocketAddr;

use common::{DAY0_MS, PgTestDb, ev, services_up};
use protocol::event::{Event, EventKind};
use serde_json::{Value, json};
use store::Db;

const H: i64 = 3_600_000;

fn with(mut e: Event, f: impl FnOnce(&mut Event)) -> Event {
    f(&mut e);
    e
}

fn player(kind: EventKind, at: i64, p: &str) -> Event {
    with(ev(kind, at), |e| e.player_id = Some(p.into()))
}

fn spawn(species: &str, poi: Option<&str>, at: i64) -> Event {
    with(ev(EventKind::Spawn, at), |e| {
        e.species = Some(species.into());
        e.poi_id = poi.map(str::to_owned);
    })
}

fn catch(p: &str, species: &str, poi: Option<&str>, outcome: &str, at: i64) -> Event {
    with(player(EventKind::Catch, at, p), |e| {
        e.species = Some(species.into());
        e.poi_id = poi.map(str::to_owned);
        e.outcome = Some(outcome.into());
    })
}

fn at_poi(kind: EventKind, p: &str, poi: &str, outcome: Option<&str>, at: i64) -> Event {
    with(player(kind, at, p), |e| {
        e.poi_id = Some(poi.into());
        e.outcome = outcome.map(str::to_owned);
    })
}

fn loc(p: &str, lat: f64, lon: f64, at: i64) -> Event {
    with(player(EventKind::Location, at, p), |e| {
        e.lat = Some(lat);
        e.lon = Some(lon);
    })
}

fn session_end(p: &str, secs: f64, at: i64) -> Event {
    with(player(EventKind::SessionEnd, at, p), |e| {
        e.value = Some(secs)
    })
}

/// Day 1 (2026-11-22): alice, bob and carol play around two POIs. Day 2:
/// dave plays alone. The expected numbers in the tests below are counted
/// by hand from this script.
fn script() -> (Vec<Event>, Vec<Event>) {
    let t = DAY0_MS + 10 * H; // 10:00 UTC on day 1
    let mut day1 = vec![
        player(EventKind::SessionStart, t, "alice"),
        player(EventKind::SessionStart, t + 1, "alice"),
        player(EventKind::SessionStart, t + 2, "bob"),
        player(EventKind::SessionStart, t + 3, "carol"),
        session_end("alice", 30.0, t + 4),
        session_end("alice", 400.0, t + 5),
        session_end("bob", 4000.0, t + 6),
    ];
    day1.extend((0..5).map(|i| spawn("sparkit", Some("poi-a"), t + 10 + i)));
    day1.extend((0..3).map(|i| spawn("mossling", Some("poi-b"), t + 20 + i)));
    day1.extend((0..2).map(|i| spawn("glimmer", None, t + 30 + i)));
    day1.extend([
        catch("alice", "sparkit", Some("poi-a"), "caught", t + 40),
        catch("alice", "sparkit", Some("poi-a"), "caught", t + 41),
        catch("bob", "sparkit", Some("poi-a"), "fled", t + 42),
        catch("carol", "mossling", Some("poi-b"), "caught", t + H + 1),
        catch("carol", "mossling", Some("poi-b"), "too_far", t + H + 2),
        at_poi(EventKind::Visit, "alice", "poi-a", None, t + 50),
        at_poi(EventKind::Visit, "bob", "poi-a", None, t + 51),
        at_poi(EventKind::Visit, "carol", "poi-a", None, t + 52),
        at_poi(EventKind::Spin, "alice", "poi-a", Some("ok"), t + 53),
        at_poi(EventKind::Spin, "alice", "poi-a", Some("cooldown"), t + 54),
        // A spin from too far away is not foot traffic.
        at_poi(EventKind::Spin, "bob", "poi-a", Some("too_far"), t + 55),
        at_poi(EventKind::Visit, "carol", "poi-b", None, t + 56),
        // Carol is back at the café in the next clock hour: a second visit.
        at_poi(EventKind::Visit, "carol", "poi-a", None, t + H + 10),
        at_poi(EventKind::Visit, "carol", "poi-a", None, t + H + 11),
        loc("alice", 48.8566, 2.3522, t + 60),
        loc("alice", 48.8566, 2.3522, t + 61),
        loc("alice", 48.8561, 2.3519, t + 62),
        loc("alice", 48.8564, 2.3524, t + 63),
        loc("bob", 48.8712, 2.3303, t + 64),
        loc("bob", 48.8709, 2.3298, t + 65),
        with(player(EventKind::MatchFormed, t + 70, "alice"), |e| {
            e.session_id = Some("s1".into());
            e.outcome = Some("raid".into());
        }),
    ]);
    let t2 = DAY0_MS + 25 * H; // 01:00 UTC on day 2
    let day2 = vec![
        player(EventKind::SessionStart, t2, "dave"),
        loc("dave", 48.8566, 2.3522, t2 + 1),
        catch("dave", "glimmer", None, "caught", t2 + 2),
    ];
    (day1, day2)
}

async fn seed(db: &Db) -> (usize, usize) {
    let audit = store::AuditEntry {
        at: DAY0_MS,
        actor: "test".into(),
        action: "poi.upsert".into(),
        target: "pois".into(),
        detail: String::new(),
    };
    let poi = |id: &str, name: &str, sponsor: Option<&str>| store::PoiRow {
        id: id.into(),
        name: name.into(),
        lat: 48.85,
        lon: 2.35,
        weight: 1.0,
        sponsor: sponsor.map(str::to_owned),
    };
    db.upsert_pois(
        &[
            poi("poi-a", "Cafe Alpha", Some("Alpha Coffee")),
            poi("poi-b", "Park Bench", None),
            poi("poi-c", "Museum", Some("City")),
        ],
        &audit,
    )
    .await
    .unwrap();
    let (day1, day2) = script();
    db.insert_events(&day1).await.unwrap();
    db.insert_events(&day2).await.unwrap();
    (day1.len(), day2.len())
}

const ADMIN: &str = "reports-admin";

async fn serve(db: Db) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let access = analytics::access::Access::new(db.clone(), Some(ADMIN));
    tokio::spawn(async move {
        axum::serve(listener, analytics::reports_router(db, access))
            .await
            .unwrap();
    });
    addr
}

async fn get_as(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    get_as(addr, path, Some(ADMIN)).await
}

/// Creates an operator account straight in the store; returns its token.
async fn account(db: &Db, name: &str, role: &str) -> String {
    let token = format!("tok-{name}-{}", uuid::Uuid::new_v4().simple());
    let audit = store::AuditEntry {
        at: DAY0_MS,
        actor: "test".into(),
        action: "operator.put".into(),
        target: name.into(),
        detail: role.into(),
    };
    let role = store::Role::parse(role).unwrap();
    db.put_operator(name, &role, &store::token_hash(&token), &audit)
        .await
        .unwrap();
    token
}

async fn ok(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn check_reports(db: Db) {
    let (n1, n2) = seed(&db).await;
    let analyst = account(&db, "ann", "analyst").await;
    let sponsor = account(&db, "alpha", "sponsor:Alpha Coffee").await;
    let addr = serve(db.clone()).await;

    // Reports are behind auth: no token or an unknown one is 401.
    for token in [None, Some("not-a-token")] {
        let (status, body) = get_as(addr, "/v1/reports/summary", token).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // An analyst reads everything, a sponsor only its own POIs' rows.
    assert_eq!(
        get_as(addr, "/v1/reports/species", Some(&analyst)).await.0,
        200
    );
    let (status, rows) = get_as(addr, "/v1/reports/pois", Some(&sponsor)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["poi_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["poi-a"], "Alpha Coffee sponsors only the café");
    let (_, hours) = get_as(addr, "/v1/reports/pois/hourly", Some(&sponsor)).await;
    assert!(
        hours
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["poi_id"] == "poi-a"),
        "{hours}"
    );
    assert_eq!(hours.as_array().unwrap().len(), 2);
    for path in [
        "/v1/reports/summary",
        "/v1/reports/species",
        "/v1/reports/heatmap",
    ] {
        let (status, body) = get_as(addr, path, Some(&sponsor)).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(body["error"]["code"], "forbidden");
    }

    let s = ok(addr, "/v1/reports/summary").await;
    assert_eq!(s["players"], 4, "alice, bob, carol, dave");
    assert_eq!(s["sessions"], 5);
    assert_eq!(s["spawns"], 10);
    assert_eq!(s["catches"], 4, "3 caught on day 1, 1 on day 2");
    assert_eq!(s["catch_attempts"], 6);
    assert_eq!(s["spins"], 3);
    // One per player, POI and clock hour: 4 at poi-a, 1 at poi-b.
    assert_eq!(s["visits"], 5);
    assert_eq!(s["matches"], 1);
    assert_eq!(s["events"], (n1 + n2) as i64);

    let day1 = format!("from={}&to={}", DAY0_MS / 1000, DAY0_MS / 1000 + 86_400);
    let s1 = ok(addr, &format!("/v1/reports/summary?{day1}")).await;
    assert_eq!(s1["players"], 3);
    assert_eq!(s1["sessions"], 4);
    assert_eq!(s1["catches"], 3);
    assert_eq!(s1["events"], n1 as i64);

    let species = ok(addr, "/v1/reports/species").await;
    assert_eq!(
        species,
        json!([
            {"species": "glimmer", "spawned": 2, "caught": 1, "attempts": 1},
            {"species": "mossling", "spawned": 3, "caught": 1, "attempts": 2},
            {"species": "sparkit", "spawned": 5, "caught": 2, "attempts": 3},
        ])
    );

    let pois = ok(addr, "/v1/reports/pois").await;
    assert_eq!(
        pois,
        json!([
            // Alice walked up and spun twice at 10:00: one visit. Bob's
            // too_far spin is not foot traffic, his visit is. Carol came at
            // 10:00 and twice at 11:00: two visits.
            {"poi_id": "poi-a", "name": "Cafe Alpha", "sponsor": "Alpha Coffee", "visits": 4, "unique_players": 3, "catches": 2},
            {"poi_id": "poi-b", "name": "Park Bench", "sponsor": null, "visits": 1, "unique_players": 1, "catches": 1},
            {"poi_id": "poi-c", "name": "Museum", "sponsor": "City", "visits": 0, "unique_players": 0, "catches": 0},
        ])
    );
    let h10 = DAY0_MS / 1000 + 10 * 3600;
    assert_eq!(
        ok(addr, "/v1/reports/pois/hourly").await,
        json!([
            {"poi_id": "poi-a", "hour": h10, "visits": 3},
            {"poi_id": "poi-a", "hour": h10 + 3600, "visits": 1},
            {"poi_id": "poi-b", "hour": h10, "visits": 1},
        ])
    );
    assert_eq!(
        ok(addr, "/v1/reports/pois/hourly?poi_id=poi-b").await,
        json!([{"poi_id": "poi-b", "hour": h10, "visits": 1}])
    );
    // Day 2 has no POI activity, yet every POI is listed.
    let day2 = format!("from={}", DAY0_MS / 1000 + 86_400);
    let pois2 = ok(addr, &format!("/v1/reports/pois?{day2}")).await;
    let counts: Vec<(i64, i64)> = pois2
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["visits"].as_i64().unwrap(),
                p["catches"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, vec![(0, 0); 3]);

    let dau = ok(addr, "/v1/reports/daily_active").await;
    assert_eq!(
        dau,
        json!([{"day": "2026-11-22", "players": 3}, {"day": "2026-11-23", "players": 1}])
    );

    let sl = ok(addr, "/v1/reports/session_lengths").await;
    assert_eq!(sl["sessions"], 3);
    assert!((sl["mean_s"].as_f64().unwrap() - 4430.0 / 3.0).abs() < 1e-9);
    assert_eq!(sl["p50_s"], 400.0);
    assert_eq!(sl["p90_s"], 4000.0);
    assert_eq!(sl["p99_s"], 4000.0);
    assert_eq!(sl["max_s"], 4000.0);
    let buckets: Vec<i64> = sl["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .collect();
    assert_eq!(buckets, vec![1, 0, 1, 0, 0, 1, 0, 0]);

    let cph = ok(addr, "/v1/reports/catches_per_hour").await;
    assert_eq!(
        cph,
        json!([
            {"hour": h10, "attempts": 3, "caught": 2},
            {"hour": h10 + 3600, "attempts": 2, "caught": 1},
            {"hour": h10 + 15 * 3600, "attempts": 1, "caught": 1},
        ])
    );

    // Privacy: no cell of the script has 5 distinct players, so the
    // served heatmap shows none of them.
    assert_eq!(ok(addr, "/v1/reports/heatmap").await, json!([]));
    // The cells themselves, with the threshold lowered to 1.
    let cells = |r, kind, limit| {
        let db = db.clone();
        async move {
            serde_json::to_value(analytics::heatmap(&db, r, kind, limit, 1).await.unwrap()).unwrap()
        }
    };
    assert_eq!(
        cells(analytics::Range::ALL, None, 1000).await,
        json!([
            {"lat": 48.86, "lon": 2.35, "events": 5, "players": 2},
            {"lat": 48.87, "lon": 2.33, "events": 2, "players": 1},
        ])
    );
    let day1_range =
        analytics::Range::from_secs(Some(DAY0_MS / 1000), Some(DAY0_MS / 1000 + 86_400));
    assert_eq!(
        cells(day1_range, Some("location"), 1).await,
        json!([{"lat": 48.86, "lon": 2.35, "events": 4, "players": 1}])
    );
    assert_eq!(
        serde_json::to_value(
            analytics::heatmap(&db, analytics::Range::ALL, None, 1000, 2)
                .await
                .unwrap()
        )
        .unwrap(),
        json!([{"lat": 48.86, "lon": 2.35, "events": 5, "players": 2}]),
        "a cell below the threshold is left out"
    );

    // Bad input gets the contract's error body.
    for bad in [
        "/v1/reports/summary?from=yesterday",
        "/v1/reports/pois?from=10&to=5",
        "/v1/reports/heatmap?limit=0",
    ] {
        let (status, body) = get(addr, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 3);
    }
}

#[tokio::test]
async fn reports_are_exact_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("a.db")).await.unwrap();
    check_reports(db).await;
}

#[tokio::test]
async fn reports_are_exact_on_postgres() {
    if !services_up("reports_are_exact_on_postgres").await {
        return;
    }
    let pg = PgTestDb::create().await;
    check_reports(pg.db().await).await;
}

#[tokio::test]
async fn reports_answer_503_when_the_database_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("a.db")).await.unwrap();
    let addr = serve(db.clone()).await;
    assert_eq!(ok(addr, "/v1/reports/summary").await["events"], 0);
    db.close().await;
    for path in [
        "/v1/reports/summary",
        "/v1/reports/pois",
        "/v1/reports/heatmap",
    ] {
        let (status, body) = get(addr, path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"]["code"], "unavailable");
    }
}

#[tokio::test]
async fn duplicates_delivered_twice_are_stored_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("a.db")).await.unwrap();
    let (day1, _) = script();
    assert_eq!(db.insert_events(&day1).await.unwrap(), day1.len() as u64);
    assert_eq!(db.insert_events(&day1).await.unwrap(), 0);
    let s = analytics::summary(&db, analytics::Range::ALL)
        .await
        .unwrap();
    assert_eq!(s.events, day1.len() as i64);
    assert_eq!(s.catches, 3);
}
