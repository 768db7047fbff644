//! The scaled-out path against the real Redis and PostgreSQL: producer to
//! stream to consumer to SQL, exactly once per event id through
//! duplicates, a database outage, dead consumers and stream trimming.

mod common;

use std::time::Duration;

use analytics::{AnalyticsConfig, Consumer, Pipeline};
use common::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn produced_events_land_exactly_once_in_postgres() {
    if !services_up("produced_events_land_exactly_once_in_postgres").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("produce");
    let shutdown = CancellationToken::new();

    let (sink, producer) = Pipeline::redis_producer(&redis_url(), db.clone(), test_cfg(&key, "-"))
        .await
        .unwrap();
    let producer_task = tokio::spawn(producer.run(shutdown.clone()));
    let consumer = Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1")).unwrap();
    let stats = consumer.stats();
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));

    let events = locations(5_000);
    for e in &events {
        sink.emit(e.clone());
    }
    assert_eq!(
        wait_for_count(&db, 5_000, Duration::from_secs(30)).await,
        5_000
    );
    shutdown.cancel();
    producer_task.await.unwrap();
    consumer_task.await.unwrap().unwrap();

    assert_eq!(sink.dropped(), 0);
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    let mut conn = redis_conn().await;
    assert_eq!(pending(&mut conn, &key, "analytics").await, 0);
    assert_eq!(
        stats.acked.load(std::sync::atomic::Ordering::Relaxed),
        5_000
    );
    cleanup(&key).await;
}

#[tokio::test]
async fn entries_delivered_twice_are_stored_once() {
    if !services_up("entries_delivered_twice_are_stored_once").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("dup");
    let mut conn = redis_conn().await;
    let events = locations(1_000);
    xadd_all(&mut conn, &key, &events).await;
    xadd_all(&mut conn, &key, &events).await;

    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1")).unwrap();
    let stats = consumer.stats();
    let task = tokio::spawn(consumer.run(shutdown.clone()));
    // Wait until every one of the 2,000 entries was acknowledged.
    for _ in 0..500 {
        if stats.acked.load(std::sync::atomic::Ordering::Relaxed) == 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        stats.acked.load(std::sync::atomic::Ordering::Relaxed),
        2_000
    );
    assert_eq!(db.count_events().await.unwrap(), 1_000);
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    cleanup(&key).await;
}

#[tokio::test]
async fn two_consumers_share_the_load_without_duplicates() {
    if !services_up("two_consumers_share_the_load_without_duplicates").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("share");
    let mut conn = redis_conn().await;
    let events = locations(20_000);
    xadd_all(&mut conn, &key, &events).await;

    let shutdown = CancellationToken::new();
    let mut stats = Vec::new();
    let mut tasks = Vec::new();
    for name in ["c1", "c2"] {
        let c = Consumer::new(
            &redis_url(),
            db.clone(),
            AnalyticsConfig {
                batch_max: 100,
                ..test_cfg(&key, name)
            },
        )
        .unwrap();
        stats.push(c.stats());
        tasks.push(tokio::spawn(c.run(shutdown.clone())));
    }
    assert_eq!(
        wait_for_count(&db, 20_000, Duration::from_secs(60)).await,
        20_000
    );
    // Give the last acknowledgements a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let acked: Vec<u64> = stats
        .iter()
        .map(|s| s.acked.load(std::sync::atomic::Ordering::Relaxed))
        .collect();
    assert!(
        acked.iter().all(|&n| n > 0),
        "both consumers worked: {acked:?}"
    );
    assert_eq!(
        acked.iter().sum::<u64>(),
        20_000,
        "no entry handled twice: {acked:?}"
    );
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    assert_eq!(pending(&mut conn, &key, "analytics").await, 0);
    cleanup(&key).await;
}

#[tokio::test]
async fn entries_stay_pending_while_postgres_is_down_and_land_later() {
    if !services_up("entries_stay_pending_while_postgres_is_down_and_land_later").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("pgdown");
    let mut conn = redis_conn().await;
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1")).unwrap();
    let stats = consumer.stats();
    let task = tokio::spawn(consumer.run(shutdown.clone()));

    let first = locations(500);
    xadd_all(&mut conn, &key, &first).await;
    assert_eq!(wait_for_count(&db, 500, Duration::from_secs(20)).await, 500);

    // The database goes away mid-run: existing sessions are killed and new
    // ones refused.
    pg.make_unavailable().await;
    let second = locations(1_500);
    xadd_all(&mut conn, &key, &second).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let retries = stats.sql_retries.load(std::sync::atomic::Ordering::Relaxed);
    assert!(retries > 0, "the consumer never hit the outage");
    let held = pending(&mut conn, &key, "analytics").await;
    assert!(held > 0, "entries read during the outage stay pending");
    assert_eq!(
        stats.acked.load(std::sync::atomic::Ordering::Relaxed),
        500,
        "nothing is acknowledged while SQL is down"
    );

    pg.make_available().await;
    assert_eq!(
        wait_for_count(&db, 2_000, Duration::from_secs(30)).await,
        2_000
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let mut all = first.clone();
    all.extend(second);
    assert_eq!(stored_ids(&db).await, ids_of(&all));
    assert_eq!(pending(&mut conn, &key, "analytics").await, 0);
    cleanup(&key).await;
}

#[tokio::test]
async fn a_dead_consumers_pending_entries_are_claimed() {
    if !services_up("a_dead_consumers_pending_entries_are_claimed").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("claim");
    let mut conn = redis_conn().await;
    let events = locations(3_000);
    xadd_all(&mut conn, &key, &events).await;
    // "dead" reads everything and then dies without acknowledging.
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("analytics")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("analytics")
        .arg("dead")
        .arg("COUNT")
        .arg(10_000)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending(&mut conn, &key, "analytics").await, 3_000);

    let shutdown = CancellationToken::new();
    let live = Consumer::new(
        &redis_url(),
        db.clone(),
        AnalyticsConfig {
            claim_idle: Duration::from_millis(300),
            claim_interval: Duration::from_millis(100),
            ..test_cfg(&key, "live")
        },
    )
    .unwrap();
    let stats = live.stats();
    let task = tokio::spawn(live.run(shutdown.clone()));
    assert_eq!(
        wait_for_count(&db, 3_000, Duration::from_secs(30)).await,
        3_000
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(
        stats.claimed.load(std::sync::atomic::Ordering::Relaxed),
        3_000
    );
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    assert_eq!(pending(&mut conn, &key, "analytics").await, 0);
    cleanup(&key).await;
}

#[tokio::test]
async fn trimming_removes_acknowledged_entries_only() {
    if !services_up("trimming_removes_acknowledged_entries_only").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("trim");
    let mut conn = redis_conn().await;
    let first = locations(990);
    xadd_all(&mut conn, &key, &first).await;
    let no_claims = |name: &str| AnalyticsConfig {
        claim_idle: Duration::from_secs(3600),
        trim_interval: Some(Duration::from_millis(100)),
        ..test_cfg(&key, name)
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        Consumer::new(&redis_url(), db.clone(), no_claims("live"))
            .unwrap()
            .run(shutdown.clone()),
    );
    assert_eq!(wait_for_count(&db, 990, Duration::from_secs(20)).await, 990);
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    // Ten more entries, taken by a consumer that then dies.
    let last = locations(10);
    xadd_all(&mut conn, &key, &last).await;
    let held: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("analytics")
        .arg("dead")
        .arg("COUNT")
        .arg(100)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(held, redis::Value::Array(_)));
    assert_eq!(pending(&mut conn, &key, "analytics").await, 10);

    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        Consumer::new(&redis_url(), db.clone(), no_claims("live"))
            .unwrap()
            .run(shutdown.clone()),
    );
    let mut len = 1_000;
    for _ in 0..100 {
        len = redis::cmd("XLEN")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if len < 1_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert!(
        (10..1_000).contains(&len),
        "acknowledged entries trimmed: {len} left"
    );
    // The dead consumer's entries are all still there, waiting for a claim.
    let pending_left: redis::Value = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let redis::Value::Array(entries) = pending_left else {
        panic!("bad XRANGE reply")
    };
    let text = format!("{entries:?}");
    for e in &last {
        assert!(
            text.contains(&e.event_id),
            "pending entry {} was trimmed",
            e.event_id
        );
    }
    assert_eq!(pending(&mut conn, &key, "analytics").await, 10);
    cleanup(&key).await;
}

/// A TCP proxy to the real Redis that can cut every connection and refuse
/// new ones, to simulate a Redis outage without touching the shared server.
struct Proxy {
    url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection refused in effect
                }
                let upstream = upstream.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(h.abort_handle());
            }
        });
        Proxy {
            url: format!("redis://{addr}"),
            up,
            conns,
        }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_consumer_rides_out_a_redis_outage() {
    if !services_up("the_consumer_rides_out_a_redis_outage").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("redisdown");
    let proxy = Proxy::start().await;
    let mut conn = redis_conn().await;
    let shutdown = CancellationToken::new();
    let consumer = Consumer::new(&proxy.url, db.clone(), test_cfg(&key, "c1")).unwrap();
    let task = tokio::spawn(consumer.run(shutdown.clone()));

    let first = locations(500);
    xadd_all(&mut conn, &key, &first).await;
    assert_eq!(wait_for_count(&db, 500, Duration::from_secs(20)).await, 500);

    proxy.cut();
    let second = locations(700);
    xadd_all(&mut conn, &key, &second).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(db.count_events().await.unwrap(), 500, "redis unreachable");
    proxy.restore();

    assert_eq!(
        wait_for_count(&db, 1_200, Duration::from_secs(30)).await,
        1_200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let mut all = first;
    all.extend(second);
    assert_eq!(stored_ids(&db).await, ids_of(&all));
    assert_eq!(pending(&mut conn, &key, "analytics").await, 0);
    cleanup(&key).await;
}

#[tokio::test]
async fn the_producer_holds_its_batch_through_a_redis_outage() {
    if !services_up("the_producer_holds_its_batch_through_a_redis_outage").await {
        return;
    }
    let pg = PgTestDb::create().await;
    let db = pg.db().await;
    let key = stream_key("producerdown");
    let proxy = Proxy::start().await;
    let shutdown = CancellationToken::new();
    let (sink, producer) = Pipeline::redis_producer(&proxy.url, db.clone(), test_cfg(&key, "-"))
        .await
        .unwrap();
    let p = tokio::spawn(producer.run(shutdown.clone()));
    let c = tokio::spawn(
        Consumer::new(&redis_url(), db.clone(), test_cfg(&key, "c1"))
            .unwrap()
            .run(shutdown.clone()),
    );

    proxy.cut();
    let events = locations(2_000);
    for e in &events {
        sink.emit(e.clone());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(db.count_events().await.unwrap(), 0, "redis unreachable");
    proxy.restore();

    assert_eq!(
        wait_for_count(&db, 2_000, Duration::from_secs(30)).await,
        2_000
    );
    shutdown.cancel();
    p.await.unwrap();
    c.await.unwrap().unwrap();
    assert_eq!(sink.dropped(), 0, "the queue held them meanwhile");
    assert_eq!(stored_ids(&db).await, ids_of(&events));
    cleanup(&key).await;
}
