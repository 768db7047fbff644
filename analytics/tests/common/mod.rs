//! Helpers shared by the analytics integration tests: service URLs, fresh
//! PostgreSQL databases, unique stream keys and event builders.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use analytics::AnalyticsConfig;
use protocol::event::{Event, EventKind};
use sqlx::Connection;
use store::Db;
use store::testing::TempPostgres;

/// 2026-11-22T00:00:00Z in unix milliseconds.
pub const DAY0_MS: i64 = 1_795_305_600_000;

pub use store::testing::{pg_admin_url, redis_url};

/// Whether Redis and PostgreSQL answer. In CI a missing service fails the
/// test; elsewhere the test prints why and returns early.
pub async fn services_up(test: &str) -> bool {
    let redis_ok = async {
        let c = redis::Client::open(redis_url()).ok()?;
        let mut conn =
            tokio::time::timeout(Duration::from_secs(2), c.get_multiplexed_async_connection())
                .await
                .ok()?
                .ok()?;
        redis::cmd("PING").query_async::<()>(&mut conn).await.ok()
    }
    .await
    .is_some();
    let pg_ok = tokio::time::timeout(
        Duration::from_secs(3),
        sqlx::PgConnection::connect(&pg_admin_url()),
    )
    .await
    .map(|r| r.is_ok())
    .unwrap_or(false);
    if redis_ok && pg_ok {
        return true;
    }
    let why = format!("{test}: redis up: {redis_ok}, postgres up: {pg_ok}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("services missing in CI: {why}");
    }
    eprintln!("skipping {why}");
    false
}

/// A PostgreSQL database created for one test and dropped at the end
/// (by the store's shared `TempPostgres`).
pub struct PgTestDb {
    pub name: String,
    pub url: String,
    guard: TempPostgres,
}

impl PgTestDb {
    /// Callers check `services_up` first, so PostgreSQL answers here.
    pub async fn create() -> PgTestDb {
        let guard = TempPostgres::create("geogame_analytics")
            .await
            .expect("postgres is up");
        PgTestDb {
            name: guard.name().to_owned(),
            url: guard.url().to_owned(),
            guard,
        }
    }

    pub async fn db(&self) -> Db {
        Db::connect_postgres(&self.url).await.unwrap()
    }

    /// Runs `sql` on the admin database (for ALTER DATABASE and friends).
    pub async fn admin(&self, sql: &str) {
        self.guard.admin(sql).await.unwrap();
    }

    /// Makes the database refuse connections and drops the open ones.
    pub async fn make_unavailable(&self) {
        self.admin(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ))
        .await;
        self.admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .await;
    }

    pub async fn make_available(&self) {
        self.admin(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .await;
    }
}

/// A stream key no other test uses.
pub fn stream_key(test: &str) -> String {
    format!("geogame:test:{test}:{}", uuid::Uuid::new_v4().simple())
}

pub async fn redis_conn() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// An event with a fresh id.
pub fn ev(kind: EventKind, at_ms: i64) -> Event {
    Event::new(
        uuid::Uuid::new_v4().to_string(),
        at_ms,
        kind,
        "test-server".into(),
    )
}

/// `n` location events with distinct ids.
pub fn locations(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut e = ev(EventKind::Location, DAY0_MS + i as i64);
            e.player_id = Some(format!("p{}", i % 50));
            e.lat = Some(48.85 + (i % 10) as f64 * 0.001);
            e.lon = Some(2.35);
            e
        })
        .collect()
}

/// XADDs `events` to `key` the way producers do (field `e`, JSON).
pub async fn xadd_all(conn: &mut redis::aio::MultiplexedConnection, key: &str, events: &[Event]) {
    for chunk in events.chunks(1000) {
        let mut p = redis::pipe();
        for e in chunk {
            p.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg(analytics::EVENT_FIELD)
                .arg(e.encode())
                .ignore();
        }
        p.query_async::<()>(conn).await.unwrap();
    }
}

/// Entries pending in `group` of `key`.
pub async fn pending(conn: &mut redis::aio::MultiplexedConnection, key: &str, group: &str) -> i64 {
    let v: redis::Value = redis::cmd("XPENDING")
        .arg(key)
        .arg(group)
        .query_async(conn)
        .await
        .unwrap();
    match v {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n,
            other => panic!("unexpected XPENDING reply {other:?}"),
        },
        other => panic!("unexpected XPENDING reply {other:?}"),
    }
}

/// Polls `db` until it holds `n` events or `timeout` passes; returns the
/// last count.
pub async fn wait_for_count(db: &Db, n: i64, timeout: Duration) -> i64 {
    let start = Instant::now();
    loop {
        let c = db.count_events().await.unwrap_or(-1);
        if c >= n || start.elapsed() > timeout {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The event ids stored in `db`, sorted.
pub async fn stored_ids(db: &Db) -> Vec<String> {
    let mut ids: Vec<String> = match db {
        Db::Sqlite(s) => sqlx::query_scalar("SELECT event_id FROM events")
            .fetch_all(s.reader())
            .await
            .unwrap(),
        Db::Postgres(p) => sqlx::query_scalar("SELECT event_id FROM events")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    ids.sort();
    ids
}

/// The ids of `events`, sorted.
pub fn ids_of(events: &[Event]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids
}

/// A consumer/producer config for tests: unique key, short timeouts.
pub fn test_cfg(key: &str, consumer: &str) -> AnalyticsConfig {
    AnalyticsConfig {
        stream_key: key.into(),
        consumer: consumer.into(),
        block: Duration::from_millis(200),
        retry_min: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        ..AnalyticsConfig::default()
    }
}

/// Deletes a test stream.
pub async fn cleanup(key: &str) {
    let _: () = redis::cmd("DEL")
        .arg(key)
        .query_async(&mut redis_conn().await)
        .await
        .unwrap();
}
