//! The load tester's storms against the real server (`geogame up` in this
//! process): a share of the players arrive all at once mid-run and another
//! share drop and reconnect at the same moment, through a server whose
//! admission limits are tiny, so that it sheds most of the storm with 503
//! and close 1013. The generator waits the shed answers out with jittered
//! backoff: every player ends up connected and nobody fails.

mod common;

use std::time::Duration;

use load_test::config::{Target, parse_url};

const PLAYERS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shed_storm_is_retried_until_everyone_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(
        dir.path(),
        &[
            "--max-pending-sign-ins",
            "1",
            "--max-pending-hellos",
            "1",
            "--shed-lag-ms",
            "50",
        ],
    )
    .await;
    let (http_base, ws_base) = parse_url(&format!("http://{}", up.addr)).unwrap();
    let mut cfg = load_test::Config::new(
        Target::Game { http_base, ws_base },
        PLAYERS,
        2.0,
        Duration::from_secs(13),
    );
    cfg.ramp = Duration::from_secs(1);
    cfg.seed = 9;
    cfg.device_prefix = "stormer".into();
    cfg.mix.lobby_share = 0.0;
    cfg.mix.storm_share = 0.5;
    cfg.mix.reconnect_storm_share = 0.5;
    cfg.connect_timeout = Duration::from_secs(20);
    let report = load_test::run(cfg, std::future::pending(), |_| {})
        .await
        .unwrap();
    eprintln!("{}", report.summary_table());

    assert_eq!(
        report.connected, PLAYERS as u64,
        "{:?}",
        report.connect_failures
    );
    assert!(
        report.connect_failures.is_empty(),
        "{:?}",
        report.connect_failures
    );
    let storm = report.storm.as_ref().expect("a storm section");
    assert!(storm.new_players >= 20, "{storm:?}");
    assert!(storm.reconnecting_players >= 8, "{storm:?}");
    assert_eq!(
        storm.arrived,
        storm.new_players + storm.reconnecting_players,
        "{storm:?}"
    );
    assert_eq!(storm.failed, 0, "{storm:?}");
    assert!(storm.connect_ms.count == storm.arrived, "{storm:?}");
    assert!(storm.bystanders_before_ms.count > 0, "{storm:?}");
    assert!(storm.bystanders_during_ms.count > 0, "{storm:?}");
    assert!(
        report.shed > 0,
        "with room for one arrival at a time, the storm is shed and retried"
    );
    // Honoured Retry-After: nobody shed came back within a second, so the
    // slowest arrival took at least that.
    assert!(storm.all_in_s >= 1.0, "{storm:?}");
    up.stop().await;
}
