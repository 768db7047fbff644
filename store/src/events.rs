//! The transactional outbox and the analytics `events` table.
//!
//! Game mutations write their events into `outbox` in the same transaction
//! as the state they describe. A relay later moves them on (to Redis, or
//! straight into `events` when embedded) and deletes them. `events` is
//! keyed by `event_id`, so replaying a batch after a crash stores nothing
//! twice: the relay is at-least-once, and the sink makes it exactly-once.

use std::sync::OnceLock;

use protocol::event::Event;
use sqlx::{PgConnection, SqliteConnection};

use crate::db::{Db, clamp_limit};
use crate::error::StoreError;

const SELECT_OUTBOX: &str = "SELECT id, payload FROM outbox ORDER BY id LIMIT $1";
/// Rows the stream relay has not sent yet, or sent before `$2` and still
/// here (the stream lost them before the sink stored them).
const SELECT_OUTBOX_DUE: &str = "SELECT id, payload FROM outbox \
     WHERE relayed_ms IS NULL OR relayed_ms < $2 ORDER BY id LIMIT $1";
const COUNT_EVENTS: &str = "SELECT COUNT(*) FROM events";

const EVENT_COLUMNS: &str = "event_id, v, at_ms, kind, server_id, player_id, session_id, \
     creature_id, species, rarity, poi_id, lat, lon, outcome, value";
/// Binds per event row on SQLite.
const EVENT_BINDS: usize = 15;
/// Rows per multi-row INSERT on SQLite: 15,000 binds, under the bundled
/// SQLite's limit of 32,766 variables per statement.
const SQLITE_CHUNK_ROWS: usize = 1000;

const PG_INSERT_EVENTS: &str = "INSERT INTO events (event_id, v, at_ms, kind, server_id, \
     player_id, session_id, creature_id, species, rarity, poi_id, lat, lon, outcome, value) \
     SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
     $12::float8[], $13::float8[], $14::text[], $15::float8[]) \
     ON CONFLICT (event_id) DO NOTHING";

/// The per-backend statements of the event path, implemented on each
/// backend's connection so that shared code (in a transaction or not) can
/// call them alike.
trait EventSql {
    /// Inserts `events`, skipping ids already stored; returns the rows
    /// actually inserted.
    async fn insert_events(&mut self, events: &[Event]) -> Result<u64, sqlx::Error>;
    /// Deletes the outbox rows `ids`; returns the rows deleted.
    async fn delete_outbox(&mut self, ids: &[i64]) -> Result<u64, sqlx::Error>;
    /// Deletes the outbox rows of these events (now in `events`).
    async fn settle_outbox(&mut self, event_ids: &[&str]) -> Result<u64, sqlx::Error>;
    /// Marks the outbox rows `ids` as sent to the stream at `at_ms`.
    async fn mark_relayed(&mut self, ids: &[i64], at_ms: i64) -> Result<u64, sqlx::Error>;
}

/// A list as one JSON text for SQLite's `json_each` (it has no array
/// binds): one statement with one bind, whatever the number of items.
fn json_bind<T: serde::Serialize + ?Sized>(items: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(items).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The multi-row insert statement for `rows` events on SQLite.
fn sqlite_insert_sql(rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; EVENT_BINDS].join(", "));
    let values = vec![tuple.as_str(); rows].join(", ");
    format!(
        "INSERT INTO events ({EVENT_COLUMNS}) VALUES {values} ON CONFLICT (event_id) DO NOTHING"
    )
}

impl EventSql for SqliteConnection {
    async fn insert_events(&mut self, events: &[Event]) -> Result<u64, sqlx::Error> {
        static FULL_CHUNK: OnceLock<String> = OnceLock::new();
        let mut inserted = 0;
        for chunk in events.chunks(SQLITE_CHUNK_ROWS) {
            let tail;
            let sql: &str = if chunk.len() == SQLITE_CHUNK_ROWS {
                FULL_CHUNK.get_or_init(|| sqlite_insert_sql(SQLITE_CHUNK_ROWS))
            } else {
                tail = sqlite_insert_sql(chunk.len());
                &tail
            };
            // Only full chunks repeat, so only they are worth caching as
            // prepared statements.
            let mut query = sqlx::query(sql).persistent(chunk.len() == SQLITE_CHUNK_ROWS);
            for e in chunk {
                query = query
                    .bind(e.event_id.as_str())
                    .bind(i32::from(e.v))
                    .bind(e.at_ms)
                    .bind(e.kind.as_str())
                    .bind(e.server_id.as_str())
                    .bind(e.player_id.as_deref())
                    .bind(e.session_id.as_deref())
                    .bind(e.creature_id.as_deref())
                    .bind(e.species.as_deref())
                    .bind(e.rarity.map(|r| r.as_str()))
                    .bind(e.poi_id.as_deref())
                    .bind(e.lat)
                    .bind(e.lon)
                    .bind(e.outcome.as_deref())
                    .bind(e.value);
            }
            inserted += query.execute(&mut *self).await?.rows_affected();
        }
        Ok(inserted)
    }

    async fn delete_outbox(&mut self, ids: &[i64]) -> Result<u64, sqlx::Error> {
        // SQLite has no array binds; one JSON array keeps it one statement
        // with one bind, whatever the number of ids.
        let list = json_bind(ids)?;
        let done = sqlx::query("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each($1))")
            .bind(list)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn settle_outbox(&mut self, event_ids: &[&str]) -> Result<u64, sqlx::Error> {
        let list = json_bind(event_ids)?;
        let done =
            sqlx::query("DELETE FROM outbox WHERE event_id IN (SELECT value FROM json_each($1))")
                .bind(list)
                .execute(&mut *self)
                .await?;
        Ok(done.rows_affected())
    }

    async fn mark_relayed(&mut self, ids: &[i64], at_ms: i64) -> Result<u64, sqlx::Error> {
        let list = json_bind(ids)?;
        let done = sqlx::query(
            "UPDATE outbox SET relayed_ms = $2 WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(list)
        .bind(at_ms)
        .execute(&mut *self)
        .await?;
        Ok(done.rows_affected())
    }
}

impl EventSql for PgConnection {
    async fn insert_events(&mut self, events: &[Event]) -> Result<u64, sqlx::Error> {
        let n = events.len();
        let mut event_id = Vec::with_capacity(n);
        let mut v = Vec::with_capacity(n);
        let mut at_ms = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut server_id = Vec::with_capacity(n);
        let mut player_id = Vec::with_capacity(n);
        let mut session_id = Vec::with_capacity(n);
        let mut creature_id = Vec::with_capacity(n);
        let mut species = Vec::with_capacity(n);
        let mut rarity = Vec::with_capacity(n);
        let mut poi_id = Vec::with_capacity(n);
        let mut lat = Vec::with_capacity(n);
        let mut lon = Vec::with_capacity(n);
        let mut outcome = Vec::with_capacity(n);
        let mut value = Vec::with_capacity(n);
        for e in events {
            event_id.push(e.event_id.as_str());
            v.push(i32::from(e.v));
            at_ms.push(e.at_ms);
            kind.push(e.kind.as_str());
            server_id.push(e.server_id.as_str());
            player_id.push(e.player_id.as_deref());
            session_id.push(e.session_id.as_deref());
            creature_id.push(e.creature_id.as_deref());
            species.push(e.species.as_deref());
            rarity.push(e.rarity.map(|r| r.as_str()));
            poi_id.push(e.poi_id.as_deref());
            lat.push(e.lat);
            lon.push(e.lon);
            outcome.push(e.outcome.as_deref());
            value.push(e.value);
        }
        let done = sqlx::query(PG_INSERT_EVENTS)
            .bind(event_id)
            .bind(v)
            .bind(at_ms)
            .bind(kind)
            .bind(server_id)
            .bind(player_id)
            .bind(session_id)
            .bind(creature_id)
            .bind(species)
            .bind(rarity)
            .bind(poi_id)
            .bind(lat)
            .bind(lon)
            .bind(outcome)
            .bind(value)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_outbox(&mut self, ids: &[i64]) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn settle_outbox(&mut self, event_ids: &[&str]) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM outbox WHERE event_id = ANY($1)")
            .bind(event_ids)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }

    async fn mark_relayed(&mut self, ids: &[i64], at_ms: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("UPDATE outbox SET relayed_ms = $2 WHERE id = ANY($1)")
            .bind(ids)
            .bind(at_ms)
            .execute(&mut *self)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Decodes outbox rows; a payload that is not an event is reported with its
/// row id rather than skipped, because skipping would lose it silently.
fn decode_outbox(rows: Vec<(i64, String)>) -> Result<Vec<(i64, Event)>, StoreError> {
    rows.into_iter()
        .map(|(id, payload)| {
            Event::decode(&payload)
                .map(|e| (id, e))
                .map_err(|e| StoreError::Corrupt(format!("outbox row {id}: {e}")))
        })
        .collect()
}

impl Db {
    /// The oldest `limit` outbox events with their row ids.
    pub async fn outbox_batch(&self, limit: i64) -> Result<Vec<(i64, Event)>, StoreError> {
        let limit = clamp_limit(limit);
        let rows: Vec<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_OUTBOX).bind(limit).fetch_all(pool).await?
        });
        decode_outbox(rows)
    }

    /// The stream relay's next `limit` outbox events: those never sent,
    /// and those sent before `relayed_before_ms` whose events the sink has
    /// not stored yet (the stream lost them: Redis restarted, say).
    pub async fn outbox_due(
        &self,
        limit: i64,
        relayed_before_ms: i64,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let limit = clamp_limit(limit);
        let rows: Vec<(i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_OUTBOX_DUE)
                .bind(limit)
                .bind(relayed_before_ms)
                .fetch_all(pool)
                .await?
        });
        decode_outbox(rows)
    }

    /// Marks the outbox rows `ids` as sent to the stream at `at_ms`; they
    /// stay until the sink stores their events
    /// ([`Db::insert_events_settling_outbox`]).
    pub async fn outbox_mark_relayed(&self, ids: &[i64], at_ms: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        on_writer!(self, pool => {
            let mut conn = pool.acquire().await?;
            conn.mark_relayed(ids, at_ms).await?;
        });
        Ok(())
    }

    /// [`Db::insert_events`], and in the same transaction the deletion of
    /// these events' outbox rows: the sink's write when it shares the
    /// database with the game servers, so an acknowledged event leaves the
    /// outbox only once it is stored for good.
    pub async fn insert_events_settling_outbox(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        write_tx!(self, tx => {
            let inserted = tx.insert_events(events).await?;
            tx.settle_outbox(&ids).await?;
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Deletes the outbox rows `ids` (after they were relayed). Unknown ids
    /// are ignored.
    pub async fn outbox_delete(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        on_writer!(self, pool => {
            let mut conn = pool.acquire().await?;
            conn.delete_outbox(ids).await?;
        });
        Ok(())
    }

    /// Inserts analytics events, skipping event ids already stored, and
    /// returns the rows actually inserted. Idempotent: the same batch twice
    /// stores each event once and returns 0 the second time.
    ///
    /// SQLite: chunked multi-row INSERTs in one transaction. PostgreSQL: one
    /// `INSERT .. SELECT FROM UNNEST(..)` statement per batch.
    pub async fn insert_events(&self, events: &[Event]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        match self {
            Db::Sqlite(s) => {
                let mut tx = s.writer().begin_with("BEGIN IMMEDIATE").await?;
                let inserted = tx.insert_events(events).await?;
                tx.commit().await?;
                Ok(inserted)
            }
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                Ok(conn.insert_events(events).await?)
            }
        }
    }

    /// The embedded relay: in one transaction, moves up to `limit` of the
    /// oldest outbox events into `events` (skipping ids already there) and
    /// deletes them from the outbox. Returns the outbox rows moved; 0 means
    /// the outbox was empty.
    pub async fn relay_outbox_locally(&self, limit: i64) -> Result<u64, StoreError> {
        let limit = clamp_limit(limit);
        write_tx!(self, tx => {
            let rows: Vec<(i64, String)> =
                sqlx::query_as(SELECT_OUTBOX).bind(limit).fetch_all(&mut *tx).await?;
            if rows.is_empty() {
                tx.rollback().await?;
                return Ok(0);
            }
            let (ids, events): (Vec<i64>, Vec<Event>) = decode_outbox(rows)?.into_iter().unzip();
            tx.insert_events(&events).await?;
            let moved = tx.delete_outbox(&ids).await?;
            tx.commit().await?;
            Ok(moved)
        })
    }

    /// The number of stored analytics events.
    pub async fn count_events(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => {
            sqlx::query_as(COUNT_EVENTS).fetch_one(pool).await?
        });
        Ok(n)
    }
}
