//! Abuse that must not hold up the players already playing, against the
//! real binary (its own runtime, one worker per core): each case runs while
//! a bystander sends a location every 50 ms, and the slowest of its replies
//! must stay under a second (loose enough for a debug build on a busy
//! 2-core machine; the stalls these guard against were 1.4 to 2.4 s).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ADMIN: &str = "abuse-admin";
const HOME: (f64, f64) = (47.61598, -122.03412);

/// A bystander at the demo Starbucks, with a reply already in.
async fn bystander(base: &str) -> common::Ws {
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let me = common::guest(addr, "bystander").await;
    let url = format!("{}/v1/play", base.replace("http://", "ws://"));
    let mut ws = common::open(&url, me["token"].as_str().unwrap()).await;
    locate(&mut ws, 1).await;
    ws
}

async fn locate(ws: &mut common::Ws, seq: u64) {
    // A metre of jitter either way.
    let lat = HOME.0 + (seq % 2) as f64 * 0.000_009;
    common::send(
        ws,
        json!({"type":"location","seq":seq,"lat":lat,"lon":HOME.1}),
    )
    .await;
    let r = common::recv_type(ws, "nearby").await;
    assert_eq!(r["seq"], seq);
}

/// Keeps the bystander sending while `work` runs; the slowest reply and
/// how many there were.
async fn slowest_reply_during<T: Send + 'static>(
    ws: &mut common::Ws,
    work: tokio::task::JoinHandle<T>,
) -> (T, Duration, u64) {
    let mut worst = Duration::ZERO;
    let mut seq = 2;
    loop {
        let t = Instant::now();
        locate(ws, seq).await;
        worst = worst.max(t.elapsed());
        seq += 1;
        if work.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (work.await.unwrap(), worst, seq - 2)
}

/// A zone of `n` vertices, a star about 600 m across, 3 km north of the
/// bystander; with `fold` one vertex is pulled across the middle, so the
/// ring crosses itself.
fn star_zone(n: usize, fold: bool) -> Value {
    let (lat0, lon0) = (HOME.0 + 0.027, HOME.1);
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let r = if i % 2 == 0 { 0.003 } else { 0.002 };
            [lon0 + r * a.cos(), lat0 + r * a.sin()]
        })
        .collect();
    if fold {
        ring[n / 4] = [lon0 - 0.0029, lat0];
    }
    ring.push(ring[0]);
    json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
           "properties": {"name": "huge", "reason": "abuse test"}})
}

async fn post_zone(base: String, zone: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/admin/zones"))
        .bearer_auth(ADMIN)
        .json(&zone)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_zone_uploads_at_once_do_not_hold_up_a_players_replies() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::spawn_up(dir.path(), &["--admin-token", ADMIN]);
    let mut ws = bystander(&up.base).await;
    let base = up.base.clone();
    let uploads = tokio::spawn(async move {
        tokio::join!(
            post_zone(base.clone(), star_zone(9_999, false)),
            post_zone(base.clone(), star_zone(9_999, false)),
            post_zone(base, star_zone(9_999, true)),
        )
    });
    let ((a, b, bad), worst, replies) = slowest_reply_during(&mut ws, uploads).await;
    eprintln!("uploads: slowest of {replies} replies {worst:?}");
    assert_eq!(a.0, 201, "{}", a.1);
    assert_eq!(b.0, 201, "{}", b.1);
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(
        bad.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("self-intersecting"),
        "{}",
        bad.1
    );
    assert!(
        worst < Duration::from_secs(1),
        "slowest of {replies} replies during the uploads: {worst:?}"
    );
    // Listing them (10,000 positions each), four at once, does not either.
    let base = up.base.clone();
    let lists = tokio::spawn(async move {
        let get = || async {
            reqwest::Client::new()
                .get(format!("{base}/v1/admin/zones"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        };
        let (z, _, _, _) = tokio::join!(get(), get(), get(), get());
        z
    });
    let (zones, worst, replies) = slowest_reply_during(&mut ws, lists).await;
    eprintln!("listings: slowest of {replies} replies {worst:?}");
    assert_eq!(zones["features"].as_array().unwrap().len(), 2);
    assert!(
        worst < Duration::from_secs(1),
        "slowest of {replies} replies during the listings: {worst:?}"
    );
}
