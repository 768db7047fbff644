//! Honest foot traffic through a crash: a player who walks up to the
//! sponsored café and spins there is one visit, and still exactly one
//! after the process is SIGKILLed right after the spin's acknowledgement
//! and started again on the same data dir (the visit and the spin went
//! through the SQL outbox; the report counts one player at one POI per
//! clock hour).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN: &str = "visits-admin";
const STARBUCKS: &str = "sammamish-highlands-starbucks";
const AT: (f64, f64) = (47.61598, -122.03412);
const CORNER: &str = "highlands-coffee-corner";
const CORNER_AT: (f64, f64) = (47.61628, -122.0326);

fn addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// POI `id`'s row of the POI report.
async fn poi_row(base: &str, id: &str) -> Value {
    let rows = common::get_json(&format!("{base}/v1/reports/pois"), ADMIN).await;
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["poi_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} row in {rows}"))
}

/// Polls the report until POI `id` has at least `want` visits (the relay
/// and the analytics writer are asynchronous), then returns its row.
async fn settled_row(base: &str, id: &str, want: i64) -> Value {
    let started = std::time::Instant::now();
    loop {
        let row = poi_row(base, id).await;
        if row["visits"].as_i64().unwrap() >= want || started.elapsed() > Duration::from_secs(15) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hour_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
}

/// A player walks up to `at`: a fix 45 m south (outside the 40 m visit
/// radius, inside the GPS jitter allowance), then one at the door a second
/// later; returns once the second `nearby` is in.
async fn walk_up(ws: &mut common::Ws, at: (f64, f64)) {
    for (seq, lat) in [(1, at.0 - 0.000405), (2, at.0)] {
        if seq == 2 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        common::send(
            ws,
            json!({"type":"location","seq":seq,"lat":lat,"lon":at.1}),
        )
        .await;
        common::recv_type(ws, "nearby").await;
    }
}

/// Whether `visits` is one visit per clock hour the test spanned.
fn one_per_hour(visits: &Value, first_hour: u64) -> bool {
    let hours = hour_now() - first_hour + 1;
    let v = visits.as_u64().unwrap();
    v == 1 || (hours == 2 && v == 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_counts_once_even_after_a_sigkill_right_after_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--admin-token", ADMIN];
    let first_hour = hour_now();

    let mut up = common::spawn_up(dir.path(), &flags);
    let play_url = |base: &str| format!("{}/v1/play", base.replace("http://", "ws://"));
    // One player walks up to the Starbucks and spins there.
    let spinner = common::guest(addr(&up.base), "spinner-phone").await;
    let spinner = spinner["token"].as_str().unwrap().to_owned();
    let mut a = common::open(&play_url(&up.base), &spinner).await;
    walk_up(&mut a, AT).await;
    common::send(&mut a, json!({"type":"spin","seq":3,"poi_id":STARBUCKS})).await;
    let spun = common::recv_type(&mut a, "spin_result").await;
    assert_eq!(spun["outcome"], "ok", "{spun}");
    // Another walks up to the coffee corner and does nothing else; the
    // moment its reply is in: SIGKILL, no drain, no flush.
    let walker = common::guest(addr(&up.base), "walker-phone").await;
    let mut b = common::open(&play_url(&up.base), walker["token"].as_str().unwrap()).await;
    walk_up(&mut b, CORNER_AT).await;
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    drop((a, b, up));

    let up = common::spawn_up(dir.path(), &flags);
    let starbucks = settled_row(&up.base, STARBUCKS, 1).await;
    let corner = settled_row(&up.base, CORNER, 1).await;
    // Time for a second copy to arrive, if the relay were to send one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(starbucks, poi_row(&up.base, STARBUCKS).await, "settled");
    assert_eq!(corner, poi_row(&up.base, CORNER).await, "settled");
    assert!(
        one_per_hour(&starbucks["visits"], first_hour),
        "walking up and spinning is one visit after the crash: {starbucks}"
    );
    assert_eq!(starbucks["unique_players"], 1, "{starbucks}");
    assert!(
        one_per_hour(&corner["visits"], first_hour),
        "a walk-up answered just before the crash is not lost: {corner}"
    );
    assert_eq!(corner["unique_players"], 1, "{corner}");

    // The spinner back after the restart, spinning again in the same hour
    // (on cooldown): still the one visit.
    let mut a = common::open(&play_url(&up.base), &spinner).await;
    common::send(
        &mut a,
        json!({"type":"location","seq":1,"lat":AT.0,"lon":AT.1}),
    )
    .await;
    common::recv_type(&mut a, "nearby").await;
    common::send(&mut a, json!({"type":"spin","seq":2,"poi_id":STARBUCKS})).await;
    let again = common::recv_type(&mut a, "spin_result").await;
    assert_eq!(again["outcome"], "cooldown", "{again}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let row = poi_row(&up.base, STARBUCKS).await;
    assert!(one_per_hour(&row["visits"], first_hour), "{row}");
    assert_eq!(row["unique_players"], 1, "{row}");
}
