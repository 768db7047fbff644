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

async fn serve(db: Db) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, analytics::reports_router(db))
            .await
            .unwrap();
    });
    addr
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn ok(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn check_reports(db: Db) {
    let (n1, n2) = seed(&db).await;
    let addr = serve(db).await;

    let s = ok(addr, "/v1/reports/summary").await;
    assert_eq!(s["players"], 4, "alice, bob, carol, dave");
    assert_eq!(s["sessions"], 5);
    assert_eq!(s["spawns"], 10);
    assert_eq!(s["catches"], 4, "3 caught on day 1, 1 on day 2");
    assert_eq!(s["catch_attempts"], 6);
    assert_eq!(s["spins"], 3);
    assert_eq!(s["visits"], 4);
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
            // 3 visits + the ok and cooldown spins; the too_far spin is not counted.
            {"poi_id": "poi-a", "name": "Cafe Alpha", "sponsor": "Alpha Coffee", "visits": 5, "catches": 2},
            {"poi_id": "poi-b", "name": "Park Bench", "sponsor": null, "visits": 1, "catches": 1},
            {"poi_id": "poi-c", "name": "Museum", "sponsor": "City", "visits": 0, "catches": 0},
        ])
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
    let h10 = DAY0_MS / 1000 + 10 * 3600;
    assert_eq!(
        cph,
        json!([
            {"hour": h10, "attempts": 3, "caught": 2},
            {"hour": h10 + 3600, "attempts": 2, "caught": 1},
            {"hour": h10 + 15 * 3600, "attempts": 1, "caught": 1},
        ])
    );

    let heat = ok(addr, "/v1/reports/heatmap").await;
    assert_eq!(
        heat,
        json!([
            {"lat": 48.86, "lon": 2.35, "events": 5, "players": 2},
            {"lat": 48.87, "lon": 2.33, "events": 2, "players": 1},
        ])
    );
    let heat_day1 = ok(
        addr,
        &format!("/v1/reports/heatmap?{day1}&kind=location&limit=1"),
    )
    .await;
    assert_eq!(
        heat_day1,
        json!([{"lat": 48.86, "lon": 2.35, "events": 4, "players": 1}])
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
