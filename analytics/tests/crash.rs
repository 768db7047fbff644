//! Crash tests of the scaled-out deployment: the `analytics` binary and a
//! producer's outbox relay are SIGKILLed mid-stream and restarted, and
//! every event still lands in PostgreSQL exactly once. Also the binary's
//! `--help` and start-up messages.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use analytics::{AnalyticsConfig, Consumer, Pipeline};
use common::*;
use protocol::event::EventKind;
use tokio_util::sync::CancellationToken;

/// Starts the `analytics` binary and waits for its "serving" line.
fn start_binary(key: &str, db_url: &str, consumer: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_analytics"))
        .args([
            "--redis-url",
            &redis_url(),
            "--database-url",
            db_url,
            "--listen",
            "127.0.0.1:0",
            "--consumer",
            consumer,
            "--stream-key",
            key,
            "--batch-max",
            "100",
            "--claim-idle-ms",
            "500",
        ])
        .env("RUST_LOG", "warn")
        .env("GEOGAME_ADMIN_TOKEN", "crash-admin")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("http://"), "unexpected first line {line:?}");
    (child, url)
}

#[tokio::test]
async fn sigkilled_service_restarts_and_stores_every_event_once() {
    if !services_up("sigkilled_service_restarts_and_stores_every_event_once").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("kill9");
    let mut conn = redis_conn().await;
    let events = locations(30_000);
    xadd_all(&mut conn, &key, &events).await;

    for round in 0..2 {
        // Round 0 restarts under the same name (own pending entries are
        // re-read); round 1 under a new one (they are claimed).
        let (mut child, _) = start_binary(&key, &pg.url, "svc-a");
        let target = 5_000 * (round + 1);
        let seen = wait_for_count(&db, target, Duration::from_secs(60)).await;
        child.kill().unwrap(); // SIGKILL, mid-stream
        child.wait().unwrap();
        assert!(
            seen >= target && seen < 30_000,
            "round {round}: killed at {seen}"
        );
    }
    let (mut child, url) = start_binary(&key, &pg.url, "svc-b");
    assert_eq!(
        wait_for_count(&db, 30_000, Duration::from_secs(60)).await,
        30_000
    );
    // The restarted service serves the reports over the same rows.
    let summary: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/v1/reports/summary"))
        .bearer_auth("crash-admin")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["events"], 30_000);
    // Everything is acknowledged eventually, including what svc-a held.
    let mut left = -1;
    for _ in 0..100 {
        left = pending(&mut conn, &key, "analytics").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(left, 0);
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    cleanup(&key).await;
}

/// Env vars for the producer crash child.
const CHILD_PG: &str = "ANALYTICS_TEST_PRODUCER_CHILD_PG";
const CHILD_KEY: &str = "ANALYTICS_TEST_PRODUCER_CHILD_KEY";

#[tokio::test]
#[ignore = "helper: run as a child process by outbox_relay_to_redis_survives_sigkill"]
async fn producer_child_relays_forever() {
    let url = std::env::var(CHILD_PG).expect("run by the crash test");
    let key = std::env::var(CHILD_KEY).expect("run by the crash test");
    let db = store::Db::connect_postgres(&url).await.unwrap();
    let cfg = AnalyticsConfig {
        outbox_batch: 10,
        outbox_interval: Duration::from_millis(5),
        ..test_cfg(&key, "-")
    };
    let (_sink, pipeline) = Pipeline::redis_producer(&redis_url(), db, cfg)
        .await
        .unwrap();
    pipeline.run(CancellationToken::new()).await;
}

#[tokio::test]
async fn outbox_relay_to_redis_survives_sigkill() {
    if !services_up("outbox_relay_to_redis_survives_sigkill").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("relay");
    // Acknowledged catches sit in the outbox, written with the game state.
    let mut catches = Vec::new();
    for i in 0..1_000 {
        let mut e = ev(EventKind::Catch, DAY0_MS + i);
        e.outcome = Some("caught".into());
        e.player_id = Some("p".into());
        let c = store::CaughtCreature {
            player_id: "p".into(),
            creature_id: format!("c{i}"),
            species: "sparkit".into(),
            rarity: "common".into(),
            poi_id: None,
            lat: 0.0,
            lon: 0.0,
            caught_at: 0,
        };
        assert!(db.record_catch(&c, std::slice::from_ref(&e)).await.unwrap());
        catches.push(e);
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "producer_child_relays_forever",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_PG, &pg.url)
        .env(CHILD_KEY, &key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = redis_conn().await;
    for _ in 0..3_000 {
        let len: i64 = redis::cmd("XLEN")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if len > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL mid-relay
    child.wait().unwrap();
    let relayed: i64 = redis::cmd("XLEN")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        relayed > 0 && relayed < 1_000,
        "killed after {relayed} entries"
    );

    // Restart the producer side and run a consumer: every catch once.
    let shutdown = CancellationToken::new();
    let (_sink, producer) = Pipeline::redis_producer(&redis_url(), db.clone(), test_cfg(&key, "-"))
        .await
        .unwrap();
    let p = tokio::spawn(producer.run(shutdown.clone()));
    let c = tokio::spawn(
        Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1"))
            .unwrap()
            .run(shutdown.clone()),
    );
    assert_eq!(
        wait_for_count(&db, 1_000, Duration::from_secs(30)).await,
        1_000
    );
    shutdown.cancel();
    p.await.unwrap();
    c.await.unwrap().unwrap();
    assert_eq!(stored_ids(&db).await, ids_of(&catches));
    assert!(db.outbox_batch(10).await.unwrap().is_empty());
    let s = analytics::summary(&db, analytics::Range::ALL)
        .await
        .unwrap();
    assert_eq!(s.catches, 1_000);
    cleanup(&key).await;
}

#[test]
fn binary_answers_help_and_explains_missing_backends() {
    let help = Command::new(env!("CARGO_BIN_EXE_analytics"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--redis-url", "--database-url", "--listen", "--consumer"] {
        assert!(text.contains(flag), "help lacks {flag}: {text}");
    }

    let missing = Command::new(env!("CARGO_BIN_EXE_analytics"))
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("--redis-url"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("a.db").display());
    let unreachable = Command::new(env!("CARGO_BIN_EXE_analytics"))
        .args(["--redis-url", "redis://127.0.0.1:1", "--database-url", &db])
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    let err = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        err.contains("cannot reach redis at redis://127.0.0.1:1"),
        "{err}"
    );
}
