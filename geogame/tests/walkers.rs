//! The load tester's walkers against the real server (`geogame up` in this
//! process): walking, cycling and driving players with GPS jitter, some in
//! raids, a quarter of them dropping their socket once and resuming. No
//! movement is judged impossible, nobody earns a strike, and every drop
//! comes back.

mod common;

use std::time::Duration;

use load_test::config::{Target, load_world, parse_url};
use serde_json::Value;

const ADMIN: &str = "walkers-admin";
const PLAYERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_walkers_earn_no_strike_and_dropped_players_resume() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &["--admin-token", ADMIN]).await;
    let base = format!("http://{}", up.addr);
    let (http_base, ws_base) = parse_url(&base).unwrap();
    let mut cfg = load_test::Config::new(
        Target::Game { http_base, ws_base },
        PLAYERS,
        2.0,
        Duration::from_secs(20),
    );
    cfg.ramp = Duration::from_secs(2);
    cfg.seed = 5;
    cfg.device_prefix = "walker".into();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/world.geojson");
    cfg.world = load_world(std::path::Path::new(world)).unwrap();
    cfg.mix.drive_share = 0.3;
    cfg.mix.cycle_share = 0.3;
    cfg.mix.lobby_share = 0.2;
    cfg.mix.drop_share = 0.25;
    let report = load_test::run(cfg, std::future::pending(), |_| {})
        .await
        .unwrap();
    eprintln!("{}", report.summary_table());

    assert_eq!(
        report.connected, PLAYERS as u64,
        "{:?}",
        report.connect_failures
    );
    for code in ["too_fast", "passenger_required", "suspended"] {
        assert!(
            !report.errors_by_code.contains_key(code),
            "{code}: {:?}",
            report.errors_by_code
        );
    }
    assert!(
        report.latency_ms.location.count > (PLAYERS * 20) as u64,
        "{:?}",
        report.latency_ms.location
    );
    let resume = report.resume.as_ref().expect("a resume section");
    assert!(resume.dropped >= 4, "{resume:?}");
    assert_eq!(resume.resumed, resume.dropped, "{resume:?}");
    assert!(resume.failures.is_empty(), "{resume:?}");

    // Nobody earned a strike: each player's standing is clear.
    for idx in 0..PLAYERS {
        let me = common::guest(up.addr, &format!("walker-{idx}")).await;
        let id = me["player_id"].as_str().unwrap();
        let url = format!("{base}/v1/admin/players/{id}/strikes");
        let strikes = common::get_json(&url, ADMIN).await;
        assert_eq!(strikes["standing"], "clear", "{strikes}");
        assert_eq!(strikes["strikes"], Value::Array(vec![]), "{strikes}");
    }
    up.stop().await;
}
