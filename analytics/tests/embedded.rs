//! The embedded pipeline: emitted events reach SQLite in batches and are
//! all flushed at shutdown; a full queue drops and counts without blocking;
//! the outbox is relayed exactly once, even across a SIGKILL.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use analytics::{AnalyticsConfig, Pipeline};
use common::{DAY0_MS, ev, ids_of, locations, stored_ids, wait_for_count};
use protocol::event::{Event, EventKind};
use store::Db;
use tokio_util::sync::CancellationToken;

async fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::open_sqlite(&dir.path().join("geogame.db"))
        .await
        .unwrap()
}

async fn outbox_len(db: &Db) -> i64 {
    match db {
        Db::Sqlite(s) => sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(s.reader())
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

async fn outbox_ids(db: &Db) -> Vec<String> {
    let Db::Sqlite(s) = db else { unreachable!() };
    sqlx::query_scalar("SELECT event_id FROM outbox")
        .fetch_all(s.reader())
        .await
        .unwrap()
}

/// Records `n` catches the way the game server does: the catch and its
/// event in one transaction. Returns the outbox events.
pub async fn record_catches(db: &Db, n: usize) -> Vec<Event> {
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let mut e = ev(EventKind::Catch, DAY0_MS + i as i64);
        e.player_id = Some(format!("p{}", i % 7));
        e.creature_id = Some(format!("c{i}"));
        e.species = Some("sparkit".into());
        e.outcome = Some("caught".into());
        let c = store::CaughtCreature {
            player_id: e.player_id.clone().unwrap(),
            creature_id: format!("c{i}"),
            species: "sparkit".into(),
            rarity: "common".into(),
            poi_id: None,
            lat: 48.85,
            lon: 2.35,
            caught_at: DAY0_MS / 1000,
        };
        assert!(db.record_catch(&c, std::slice::from_ref(&e)).await.unwrap());
        all.push(e);
    }
    all
}

#[tokio::test]
async fn shutdown_flushes_every_queued_event_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    // A long linger keeps events in memory until shutdown forces them out.
    let cfg = AnalyticsConfig {
        batch_interval: Duration::from_secs(60),
        batch_max: 50_000,
        ..AnalyticsConfig::default()
    };
    let (sink, pipeline) = Pipeline::embedded(db.clone(), cfg);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pipeline.run(shutdown.clone()));
    let events = locations(20_000);
    for e in &events {
        sink.emit(e.clone());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(db.count_events().await.unwrap(), 0, "still lingering");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sink.dropped(), 0);
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    // After the pipeline stopped, emitting counts as dropped.
    sink.emit(ev(EventKind::Location, DAY0_MS));
    assert_eq!(sink.dropped(), 1);
}

#[tokio::test]
async fn events_arrive_in_batches_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let cfg = AnalyticsConfig {
        batch_interval: Duration::from_millis(20),
        ..AnalyticsConfig::default()
    };
    let (sink, pipeline) = Pipeline::embedded(db.clone(), cfg);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pipeline.run(shutdown.clone()));
    let events = locations(5_000);
    for e in &events {
        sink.emit(e.clone());
    }
    assert_eq!(
        wait_for_count(&db, 5_000, Duration::from_secs(10)).await,
        5_000
    );
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(stored_ids(&db).await, ids_of(&events));
}

#[tokio::test]
async fn full_queue_drops_and_counts_and_emit_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let cfg = AnalyticsConfig {
        queue_capacity: 64,
        ..AnalyticsConfig::default()
    };
    let (sink, pipeline) = Pipeline::embedded(db.clone(), cfg);
    // Nothing drains the queue yet: if emit could block, this thread would
    // never finish.
    let emitter = sink.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for e in locations(10_000) {
            emitter.emit(e);
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("emit blocked on a full queue");
    assert_eq!(sink.dropped(), 10_000 - 64);

    let shutdown = CancellationToken::new();
    shutdown.cancel();
    pipeline.run(shutdown).await;
    assert_eq!(
        db.count_events().await.unwrap(),
        64,
        "the queued ones are kept"
    );
}

#[tokio::test]
async fn outbox_is_relayed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let catches = record_catches(&db, 300).await;
    assert_eq!(outbox_len(&db).await, 300);
    let cfg = AnalyticsConfig {
        outbox_batch: 40,
        outbox_interval: Duration::from_millis(10),
        ..AnalyticsConfig::default()
    };
    for _ in 0..2 {
        // Running the relay twice must not add anything the second time.
        let (_sink, pipeline) = Pipeline::embedded(db.clone(), cfg.clone());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(pipeline.run(shutdown.clone()));
        assert_eq!(wait_for_count(&db, 300, Duration::from_secs(10)).await, 300);
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(outbox_len(&db).await, 0);
        assert_eq!(stored_ids(&db).await, ids_of(&catches));
    }
    let s = analytics::summary(&db, analytics::Range::ALL)
        .await
        .unwrap();
    assert_eq!(s.catches, 300);
}

#[tokio::test]
async fn acknowledged_catches_before_shutdown_are_relayed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    let cfg = AnalyticsConfig {
        outbox_interval: Duration::from_secs(3600),
        ..AnalyticsConfig::default()
    };
    let (_sink, pipeline) = Pipeline::embedded(db.clone(), cfg);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pipeline.run(shutdown.clone()));
    // Let the relay make its first (empty) pass and go to sleep for an hour.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let catches = record_catches(&db, 25).await;
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(stored_ids(&db).await, ids_of(&catches));
    assert_eq!(outbox_len(&db).await, 0);
}

/// Env var naming the SQLite file the crash child relays.
const CHILD_DB: &str = "ANALYTICS_TEST_CRASH_CHILD_DB";

#[tokio::test]
#[ignore = "helper: run as a child process by outbox_survives_sigkill_and_is_relayed_once"]
async fn crash_child_relays_forever() {
    let path = std::env::var(CHILD_DB).expect("run by the crash test");
    let db = Db::open_sqlite(std::path::Path::new(&path)).await.unwrap();
    let cfg = AnalyticsConfig {
        outbox_batch: 10,
        outbox_interval: Duration::from_millis(5),
        ..AnalyticsConfig::default()
    };
    let (_sink, pipeline) = Pipeline::embedded(db, cfg);
    pipeline.run(CancellationToken::new()).await;
}

#[tokio::test]
async fn outbox_survives_sigkill_and_is_relayed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("geogame.db");
    let db = Db::open_sqlite(&path).await.unwrap();
    let catches = record_catches(&db, 1_000).await;
    let all_ids = ids_of(&catches);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_relays_forever",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DB, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as it has relayed something, in the middle of its work.
    let relayed = wait_for_count(&db, 1, Duration::from_secs(30)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(relayed >= 1, "the child relayed nothing");

    // Right after the crash each event is in exactly one of the two tables.
    let mut in_events = stored_ids(&db).await;
    let mut in_outbox = outbox_ids(&db).await;
    assert!(
        in_events.len() < 1_000,
        "the child finished before the kill; nothing was tested"
    );
    in_outbox.sort();
    assert!(
        in_events
            .iter()
            .all(|id| in_outbox.binary_search(id).is_err())
    );
    in_events.extend(in_outbox);
    in_events.sort();
    assert_eq!(in_events, all_ids);

    // Restarted, the relay finishes the job; each catch counts once.
    let (_sink, pipeline) = Pipeline::embedded(db.clone(), AnalyticsConfig::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pipeline.run(shutdown.clone()));
    assert_eq!(
        wait_for_count(&db, 1_000, Duration::from_secs(20)).await,
        1_000
    );
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(stored_ids(&db).await, all_ids);
    assert_eq!(outbox_len(&db).await, 0);
    let s = analytics::summary(&db, analytics::Range::ALL)
        .await
        .unwrap();
    assert_eq!(s.catches, 1_000);
}
