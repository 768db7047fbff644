//! The scaled-out outbox: acknowledged events stay in the outbox until the
//! SQL sink has stored them, so the stream losing its entries (a Redis
//! restart while analytics lags) loses nothing.

mod common;

use std::time::Duration;

use analytics::{AnalyticsConfig, Consumer, Pipeline};
use common::*;
use protocol::event::EventKind;
use tokio_util::sync::CancellationToken;

async fn stream_len(key: &str) -> i64 {
    redis::cmd("XLEN")
        .arg(key)
        .query_async(&mut redis_conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn acknowledged_events_outlive_a_stream_that_lost_them() {
    if !services_up("acknowledged_events_outlive_a_stream_that_lost_them").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("outbox_lost");
    let shutdown = CancellationToken::new();
    let cfg = AnalyticsConfig {
        outbox_interval: Duration::from_millis(20),
        outbox_linger: Duration::from_millis(500),
        ..test_cfg(&key, "-")
    };

    // Twenty acknowledged spins, written to the outbox as a spin is.
    let spins: Vec<_> = (0..20)
        .map(|i| {
            let mut e = ev(EventKind::Spin, DAY0_MS + i);
            e.player_id = Some(format!("p{i}"));
            e
        })
        .collect();
    db.enqueue_events(&spins).await.unwrap();
    let (_sink, producer) = Pipeline::redis_producer(&redis_url(), db.clone(), cfg.clone())
        .await
        .unwrap();
    let producer_task = tokio::spawn(producer.run(shutdown.clone()));
    let started = std::time::Instant::now();
    while stream_len(&key).await < 20 {
        assert!(started.elapsed() < Duration::from_secs(10), "never relayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Redis loses the stream before any consumer read it.
    cleanup(&key).await;
    assert_eq!(
        db.outbox_batch(100).await.unwrap().len(),
        20,
        "sent rows left the outbox before the sink stored them"
    );

    // They are sent again once they have lingered, and the sink, which
    // shares the database, stores them and empties the outbox.
    let consumer = Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1")).unwrap();
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));
    assert_eq!(wait_for_count(&db, 20, Duration::from_secs(15)).await, 20);
    assert_eq!(stored_ids(&db).await, ids_of(&spins));
    let started = std::time::Instant::now();
    while !db.outbox_batch(100).await.unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the sink left its rows in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Resent at most once per linger, stored once.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(db.count_events().await.unwrap(), 20);
    shutdown.cancel();
    producer_task.await.unwrap();
    consumer_task.await.unwrap().unwrap();
    cleanup(&key).await;
}
