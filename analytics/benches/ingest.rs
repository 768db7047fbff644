//! Analytics ingest benchmark, printed as a table: events/s into
//! PostgreSQL through `insert_events` next to a plain COPY of the same
//! rows, events/s into SQLite, and end-to-end lag from `emit` to the SQL
//! commit (embedded, and through Redis). Run with
//! `cargo bench -p analytics --bench ingest`; needs the Redis and
//! PostgreSQL of GEOGAME_TEST_REDIS_URL / GEOGAME_TEST_DATABASE_URL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics::{AnalyticsConfig, Consumer, LAG_METRIC, Pipeline};
use protocol::event::{Event, EventKind};
use sqlx::Connection;
use store::Db;
use tokio_util::sync::CancellationToken;

/// Captures the lag histogram's samples so each run gets exact percentiles.
#[derive(Default)]
struct LagRecorder(Arc<Mutex<Vec<f64>>>);
struct Samples(Arc<Mutex<Vec<f64>>>);
impl metrics::HistogramFn for Samples {
    fn record(&self, v: f64) {
        if let Ok(mut s) = self.0.lock() {
            s.push(v);
        }
    }
}
impl metrics::Recorder for LagRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        if key.name() == LAG_METRIC {
            metrics::Histogram::from_arc(Arc::new(Samples(Arc::clone(&self.0))))
        } else {
            metrics::Histogram::noop()
        }
    }
}

/// The `events` seed that gives random (UUIDv4) ids.
const RANDOM_IDS: u64 = 99;

/// Events per second emitted during the lag measurements.
const LAG_RATE: u64 = 5_000;

/// A fresh SQLite store on the store's schema (its migration 0002 dropped
/// the two write-heavy indexes this bench first showed the cost of).
async fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::open_sqlite(&dir.path().join("bench.db")).await.unwrap()
}

fn env_or(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.into())
}

/// `n` events shaped like game traffic: mostly location samples, some
/// spawns and catches, every optional column that a report reads filled.
fn events(n: usize, seed: u64) -> Vec<Event> {
    let kinds = [
        EventKind::Location,
        EventKind::Location,
        EventKind::Location,
        EventKind::Spawn,
        EventKind::Catch,
        EventKind::Latency,
    ];
    (0..n)
        .map(|i| {
            // Like the game server: time-ordered UUIDv7 ids, unless the
            // seed asks for random ones (to show what they would cost).
            let id = if seed == RANDOM_IDS {
                uuid::Uuid::new_v4()
            } else {
                uuid::Uuid::now_v7()
            };
            let mut e = Event::new(
                id.to_string(),
                analytics::now_ms(),
                kinds[i % kinds.len()],
                "bench-server-1".into(),
            );
            e.player_id = Some(format!("player-{}", i % 10_000));
            e.session_id = Some(format!("sess-{}", i % 20_000));
            e.species = Some(["sparkit", "mossling", "glimmer"][i % 3].into());
            e.poi_id = Some(format!("poi-{}", i % 500));
            e.lat = Some(48.8 + (i % 1000) as f64 * 1e-4);
            e.lon = Some(2.3 + (i % 777) as f64 * 1e-4);
            e.outcome = Some("caught".into());
            e.value = Some((i % 300) as f64);
            e
        })
        .collect()
}

async fn fresh_pg(admin: &str) -> (String, String, Db) {
    let name = format!("geogame_bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(admin).await.expect("postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let db = Db::connect_postgres(&url).await.unwrap();
    (name, url, db)
}

async fn drop_pg(admin: &str, name: &str) {
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await;
}

fn copy_text(batch: &[Event]) -> Vec<u8> {
    use std::fmt::Write as _;
    let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "\\N".into());
    let f = |o: Option<f64>| o.map_or_else(|| "\\N".into(), |v| v.to_string());
    let mut out = String::with_capacity(batch.len() * 200);
    for e in batch {
        let rarity = e.rarity.map_or("\\N", |r| r.as_str());
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.event_id,
            e.v,
            e.at_ms,
            e.kind.as_str(),
            e.server_id,
            s(&e.player_id),
            s(&e.session_id),
            s(&e.creature_id),
            s(&e.species),
            rarity,
            s(&e.poi_id),
            f(e.lat),
            f(e.lon),
            s(&e.outcome),
            f(e.value)
        );
    }
    out.into_bytes()
}

async fn pg_insert_events(db: &Db, rows: &[Event], batch: usize) -> f64 {
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        db.insert_events(chunk).await.unwrap();
    }
    rows.len() as f64 / t.elapsed().as_secs_f64()
}

async fn pg_copy(url: &str, rows: &[Event], batch: usize) -> f64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut copy = conn
            .copy_in_raw("COPY events (event_id, v, at_ms, kind, server_id, player_id, session_id, creature_id, species, rarity, poi_id, lat, lon, outcome, value) FROM STDIN")
            .await
            .unwrap();
        copy.send(copy_text(chunk)).await.unwrap();
        copy.finish().await.unwrap();
    }
    rows.len() as f64 / t.elapsed().as_secs_f64()
}

/// The alternative for the store: COPY each batch into a temporary staging
/// table, then `INSERT .. SELECT .. ON CONFLICT DO NOTHING`, in one
/// transaction (idempotent like `insert_events`).
async fn pg_copy_staging(url: &str, rows: &[Event], batch: usize) -> f64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("CREATE TEMP TABLE events_stage (LIKE events) ON COMMIT DELETE ROWS")
        .execute(&mut conn)
        .await
        .unwrap();
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut tx = conn.begin().await.unwrap();
        let mut copy = tx
            .copy_in_raw("COPY events_stage (event_id, v, at_ms, kind, server_id, player_id, session_id, creature_id, species, rarity, poi_id, lat, lon, outcome, value) FROM STDIN")
            .await
            .unwrap();
        copy.send(copy_text(chunk)).await.unwrap();
        copy.finish().await.unwrap();
        sqlx::query(
            "INSERT INTO events SELECT * FROM events_stage ON CONFLICT (event_id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    rows.len() as f64 / t.elapsed().as_secs_f64()
}

fn pct(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[rank] * 1000.0
}

/// Emits `rate` events/s for `secs` into `sink` and returns the lag samples
/// recorded by the writer (embedded) or the consumer (Redis).
async fn paced(
    sink: &analytics::EventSink,
    lag: &Arc<Mutex<Vec<f64>>>,
    rate: u64,
    secs: u64,
    db: &Db,
) -> (Vec<f64>, u64) {
    // Let the writer record the lag of what it committed before, then
    // start from an empty sample set.
    tokio::time::sleep(Duration::from_millis(500)).await;
    lag.lock().unwrap().clear();
    let start = db.count_events().await.unwrap();
    let tick = Duration::from_millis(10);
    let per_tick = rate / 100;
    let mut interval = tokio::time::interval(tick);
    let mut sent = 0u64;
    for _ in 0..secs * 100 {
        interval.tick().await;
        // Fresh v7 ids, stamped now: `at_ms` is the emit time.
        for e in events(per_tick as usize, 0) {
            sink.emit(e);
        }
        sent += per_tick;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.count_events().await.unwrap() - start < (sent - sink.dropped()) as i64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    (lag.lock().unwrap().clone(), sent)
}

#[tokio::main]
async fn main() {
    let rec = LagRecorder::default();
    let lag = Arc::clone(&rec.0);
    metrics::set_global_recorder(rec).expect("recorder");
    let admin = env_or(
        "GEOGAME_TEST_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let redis_url = env_or("GEOGAME_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    let n_pg: usize = env_or("BENCH_PG_ROWS", "200000").parse().unwrap();
    let n_lite: usize = env_or("BENCH_SQLITE_ROWS", "500000").parse().unwrap();
    let batch = AnalyticsConfig::default().batch_max;

    println!("analytics ingest benchmark, batch {batch}");
    println!("{:<52} {:>14}", "case", "result");

    // PostgreSQL: the same rows, alternating, into identical fresh databases.
    let rows = events(n_pg, 1);
    for round in 1..=2 {
        let (a, _, db_a) = fresh_pg(&admin).await;
        let (b, url_b, db_b) = fresh_pg(&admin).await;
        let ins = pg_insert_events(&db_a, &rows, batch).await;
        let (e, url_e, db_e) = fresh_pg(&admin).await;
        let staged = pg_copy_staging(&url_e, &rows, batch).await;
        db_e.close().await;
        drop_pg(&admin, &e).await;
        let (d, _, db_d) = fresh_pg(&admin).await;
        let ins_big = pg_insert_events(&db_d, &rows, 10_000).await;
        db_d.close().await;
        drop_pg(&admin, &d).await;
        let copy_b = pg_copy(&url_b, &rows, batch).await;
        db_b.close().await;
        drop_pg(&admin, &b).await;
        let (c, url_c, db_c) = fresh_pg(&admin).await;
        let copy_all = pg_copy(&url_c, &rows, rows.len()).await;
        db_a.close().await;
        db_c.close().await;
        drop_pg(&admin, &a).await;
        drop_pg(&admin, &c).await;
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("[{round}] pg insert_events (UNNEST), {n_pg} rows"),
            ins
        );
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("[{round}] pg COPY->staging->INSERT ON CONFLICT, {batch}"),
            staged
        );
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("[{round}] pg insert_events, batches of 10000"),
            ins_big
        );
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("[{round}] pg COPY text, same batches of {batch}"),
            copy_b
        );
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("[{round}] pg COPY text, one COPY of {n_pg}"),
            copy_all
        );
        println!(
            "{:<52} {:>11.2} x / {:.2} x",
            format!("[{round}] insert_events / COPY (batched / single)"),
            ins / copy_b,
            ins / copy_all
        );
    }

    // SQLite: insert_events in batches on the store's schema, then the
    // embedded pipeline end to end and its lag at a steady rate.
    {
        let n = n_lite / 5;
        let rows = events(n, RANDOM_IDS);
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(&dir).await;
        let t = Instant::now();
        for chunk in rows.chunks(batch) {
            db.insert_events(chunk).await.unwrap();
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("sqlite insert_events, {n} rows, random v4 ids"),
            rate
        );
    }
    {
        let label = "store schema";
        let rows = events(n_lite, 2);
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(&dir).await;
        let t = Instant::now();
        for chunk in rows.chunks(batch) {
            db.insert_events(chunk).await.unwrap();
        }
        let lite = n_lite as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("sqlite insert_events, {n_lite} rows, {label}"),
            lite
        );
        let rows = events(n_lite, 4);
        let t = Instant::now();
        for chunk in rows.chunks(10_000) {
            db.insert_events(chunk).await.unwrap();
        }
        let big = n_lite as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<52} {:>10.0} ev/s",
            format!("sqlite insert_events, batches of 10000, {label}"),
            big
        );

        let dir2 = tempfile::tempdir().unwrap();
        let db2 = sqlite(&dir2).await;
        let cfg = AnalyticsConfig {
            queue_capacity: 1 << 20,
            ..AnalyticsConfig::default()
        };
        let (sink, pipeline) = Pipeline::embedded(db2.clone(), cfg);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(pipeline.run(shutdown.clone()));
        let rows = events(n_lite, 3);
        lag.lock().unwrap().clear();
        let t = Instant::now();
        for e in rows {
            sink.emit(e);
        }
        // The writer records one lag sample per committed event, which is
        // a cheaper completion signal than polling COUNT(*).
        while lag.lock().unwrap().len() < n_lite - sink.dropped() as usize {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let pipe = n_lite as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<52} {:>10.0} ev/s (dropped {})",
            format!("sqlite pipeline emit->commit, {label}"),
            pipe,
            sink.dropped()
        );
        let (mut s, sent) = paced(&sink, &lag, LAG_RATE, 5, &db2).await;
        println!(
            "{:<52} p50 {:.1} ms p99 {:.1} ms max {:.1} ms (n {}, sent {sent})",
            format!("lag emit->row, embedded, {LAG_RATE} ev/s, {label}"),
            pct(&mut s, 0.5),
            pct(&mut s, 0.99),
            pct(&mut s, 1.0),
            s.len()
        );
        shutdown.cancel();
        task.await.unwrap();
    }

    let (name, _, pg) = fresh_pg(&admin).await;
    let key = format!("geogame:bench:{}", uuid::Uuid::new_v4().simple());
    let cfg = AnalyticsConfig {
        stream_key: key.clone(),
        consumer: "bench".into(),
        ..AnalyticsConfig::default()
    };
    let shutdown = CancellationToken::new();
    let (sink, producer) = Pipeline::redis_producer(&redis_url, pg.clone(), cfg.clone())
        .await
        .expect("redis");
    let p = tokio::spawn(producer.run(shutdown.clone()));
    let c = tokio::spawn(
        Consumer::new(&redis_url, pg.clone(), cfg)
            .unwrap()
            .run(shutdown.clone()),
    );
    let (mut s, sent) = paced(&sink, &lag, LAG_RATE, 5, &pg).await;
    println!(
        "{:<52} p50 {:.1} ms p99 {:.1} ms max {:.1} ms (n {}, sent {sent})",
        format!("lag emit->row, redis+postgres, {LAG_RATE} ev/s"),
        pct(&mut s, 0.5),
        pct(&mut s, 0.99),
        pct(&mut s, 1.0),
        s.len()
    );
    shutdown.cancel();
    p.await.unwrap();
    let _ = c.await.unwrap();
    pg.close().await;
    drop_pg(&admin, &name).await;
    let mut conn = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}
