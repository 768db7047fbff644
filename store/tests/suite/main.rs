//! The store's integration suite: every case runs against SQLite (a file in
//! a temp dir) and PostgreSQL (a fresh database per test).

mod cases_events;
mod cases_game;
mod cases_privacy;
mod cases_world;
mod crash;
mod harness;
mod outage;

use std::time::{Duration, Instant};

/// Generates one `#[tokio::test]` per backend for each named case; a case is
/// `async fn(&mut Fixture)` in one of the `cases_*` modules.
macro_rules! both_backends {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let mut f = crate::harness::Fixture::sqlite().await;
                    crate::$module::$case(&mut f).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(mut f) = crate::harness::Fixture::postgres().await else {
                        return;
                    };
                    crate::$module::$case(&mut f).await;
                }
            )*
        }
    };
}

both_backends!(
    cases_game::device_maps_to_one_player,
    cases_game::concurrent_first_sight_agrees,
    cases_game::a_batch_gives_a_repeated_device_one_id,
    cases_game::sign_ins_are_written_in_batches_and_survive_a_restart,
    cases_game::a_failed_sign_in_batch_answers_every_caller,
    cases_game::catch_is_stored_once,
    cases_game::fifty_concurrent_catches_one_winner,
    cases_game::catch_survives_reopen,
    cases_game::collection_is_oldest_first_with_items,
    cases_game::spin_respects_cooldown,
    cases_game::concurrent_spins_one_grant,
    cases_world::pois_upsert_and_audit,
    cases_world::zone_insert_and_delete,
    cases_world::replace_zones_is_atomic,
    cases_world::audit_is_newest_first,
    cases_events::outbox_batch_and_delete,
    cases_events::insert_events_is_idempotent,
    cases_events::insert_events_stores_every_column,
    cases_events::relay_moves_exactly_once,
    cases_events::corrupt_outbox_row_is_reported,
    cases_events::enqueued_events_reach_the_sink_once,
    cases_events::closed_pool_is_unavailable,
    cases_privacy::erasure_keeps_counts_and_removes_what_names_the_player,
    cases_privacy::old_locations_expire_in_batches,
    cases_privacy::revoked_operator_token_stops_working,
);

#[tokio::test]
async fn unreachable_postgres_is_unavailable_quickly() {
    let started = Instant::now();
    let err = store::Db::connect_postgres("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sqlite_creates_missing_folders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("b").join("game.db");
    let db = store::Db::open_sqlite(&path).await.unwrap();
    assert_eq!(db.backend(), "sqlite");
    db.ping().await.unwrap();
    assert!(path.exists());
    db.close().await;
}

#[tokio::test]
async fn sqlite_connections_are_durable_wal() {
    let f = harness::Fixture::sqlite().await;
    // Check every pooled connection, not only the first one: the four
    // readers and the single writer.
    let store::Db::Sqlite(s) = &f.db else {
        unreachable!()
    };
    assert_eq!(s.writer().options().get_max_connections(), 1);
    let mut held = Vec::new();
    for pool in [s.reader(), s.reader(), s.reader(), s.reader(), s.writer()] {
        let mut conn = pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
        assert!(busy >= 1000, "busy_timeout {busy}");
        held.push(conn);
    }
}

/// Writes queue for the one writer connection instead of fighting over
/// SQLite's lock: many at once all land, none fails as busy, and reads go
/// on while a write transaction is open.
#[tokio::test]
async fn sqlite_writes_queue_for_one_writer() {
    let f = harness::Fixture::sqlite().await;
    let store::Db::Sqlite(s) = &f.db else {
        unreachable!()
    };
    // An open write transaction holds the writer; a read still answers.
    let mut open = s.writer().begin().await.unwrap();
    sqlx::query(
        "INSERT INTO players (device_id, player_id, created_at) VALUES ('held', 'p_held', 0)",
    )
    .execute(&mut *open)
    .await
    .unwrap();
    assert_eq!(
        f.scalar("SELECT COUNT(*) FROM players WHERE device_id = 'held'")
            .await,
        0
    );
    let queued = {
        let db = f.db.clone();
        tokio::spawn(async move { db.player_for_device("queued").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!queued.is_finished(), "a write waits for the writer");
    open.commit().await.unwrap();
    queued.await.unwrap().unwrap();
    let writes = (0..64).map(|i| {
        let db = f.db.clone();
        tokio::spawn(async move { db.player_for_device(&format!("device-{i}")).await })
    });
    for w in writes {
        w.await.unwrap().unwrap();
    }
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 66);
}
