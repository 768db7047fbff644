//! Game state: catches, spins, inventories and a player's collection.
//!
//! Every mutation writes its outbox events in the same transaction, so an
//! acknowledged catch or spin and its analytics events stand or fall
//! together.

use std::collections::BTreeMap;

use protocol::event::Event;

use crate::db::{Db, now_ms};
use crate::error::StoreError;

/// A caught creature, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CaughtCreature {
    /// The catcher.
    pub player_id: String,
    /// The creature; each is caught at most once.
    pub creature_id: String,
    /// Its species.
    pub species: String,
    /// Its rarity, as on the wire (`"common"`, ...).
    pub rarity: String,
    /// The POI it spawned at, if any.
    pub poi_id: Option<String>,
    /// Where it was caught.
    pub lat: f64,
    /// Where it was caught.
    pub lon: f64,
    /// When it was caught, unix seconds.
    pub caught_at: i64,
}

const INSERT_CATCH: &str = "INSERT INTO catches \
     (creature_id, player_id, species, rarity, poi_id, lat, lon, caught_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (creature_id) DO NOTHING";

/// Outbox rows are keyed by event id, so a retried write stores each event
/// once.
pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox (event_id, payload, created_ms) \
     VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING";

const SELECT_CATCHES: &str = "SELECT player_id, creature_id, species, rarity, poi_id, lat, lon, \
     caught_at FROM catches WHERE player_id = $1 ORDER BY caught_at, creature_id";

const SELECT_ITEMS: &str = "SELECT item, count FROM inventory WHERE player_id = $1 ORDER BY item";

/// Claims the spin: inserts the first spin, or moves an old one forward
/// only when the cooldown has passed. No row changes otherwise.
const CLAIM_SPIN: &str = "INSERT INTO spins (player_id, poi_id, last_at) VALUES ($1, $2, $3) \
     ON CONFLICT (player_id, poi_id) DO UPDATE SET last_at = excluded.last_at \
     WHERE spins.last_at + $4 <= excluded.last_at";

const ADD_ITEM: &str = "INSERT INTO inventory (player_id, item, count) VALUES ($1, $2, $3) \
     ON CONFLICT (player_id, item) DO UPDATE SET count = inventory.count + excluded.count";

type CatchTuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    f64,
    f64,
    i64,
);

/// Writes `outbox` into the outbox table through `$tx`.
macro_rules! write_outbox {
    ($tx:ident, $events:expr) => {{
        let created_ms = now_ms();
        for event in $events {
            sqlx::query(INSERT_OUTBOX)
                .bind(event.event_id.as_str())
                .bind(event.encode())
                .bind(created_ms)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl Db {
    /// Stores a catch and its outbox events in one transaction.
    ///
    /// Returns `Ok(true)` when stored, `Ok(false)` when the creature was
    /// already caught (by anyone, on any server sharing the database); in
    /// that case nothing is written. When this returns `Ok(true)` the catch
    /// is durable.
    pub async fn record_catch(
        &self,
        c: &CaughtCreature,
        outbox: &[Event],
    ) -> Result<bool, StoreError> {
        write_tx!(self, tx => {
            let inserted = sqlx::query(INSERT_CATCH)
                .bind(c.creature_id.as_str())
                .bind(c.player_id.as_str())
                .bind(c.species.as_str())
                .bind(c.rarity.as_str())
                .bind(c.poi_id.as_deref())
                .bind(c.lat)
                .bind(c.lon)
                .bind(c.caught_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            write_outbox!(tx, outbox);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Which of `creature_ids` have been caught (by anyone), in one query
    /// by primary key: a world rebuilt by replaying placement (a restart's
    /// warm-up, a reload after Redis was away) drops these.
    pub async fn caught_among(&self, creature_ids: &[String]) -> Result<Vec<String>, StoreError> {
        if creature_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<(String,)> = match self {
            Db::Sqlite(s) => {
                sqlx::query_as(
                    "SELECT creature_id FROM catches \
                     WHERE creature_id IN (SELECT value FROM json_each($1))",
                )
                .bind(crate::db::json_list(creature_ids)?)
                .fetch_all(s.reader())
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT creature_id FROM catches WHERE creature_id = ANY($1::text[])",
                )
                .bind(creature_ids)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// A player's caught creatures, oldest first, and item counts.
    pub async fn collection(
        &self,
        player_id: &str,
    ) -> Result<(Vec<CaughtCreature>, BTreeMap<String, u64>), StoreError> {
        let (catches, items): (Vec<CatchTuple>, Vec<(String, i64)>) = on_pool!(self, pool => {
            let catches = sqlx::query_as(SELECT_CATCHES).bind(player_id).fetch_all(pool).await?;
            let items = sqlx::query_as(SELECT_ITEMS).bind(player_id).fetch_all(pool).await?;
            (catches, items)
        });
        let creatures = catches
            .into_iter()
            .map(
                |(player_id, creature_id, species, rarity, poi_id, lat, lon, caught_at)| {
                    CaughtCreature {
                        player_id,
                        creature_id,
                        species,
                        rarity,
                        poi_id,
                        lat,
                        lon,
                        caught_at,
                    }
                },
            )
            .collect();
        let mut counts = BTreeMap::new();
        for (item, count) in items {
            let count = u64::try_from(count).map_err(|_| {
                StoreError::Corrupt(format!("negative count {count} of item {item}"))
            })?;
            counts.insert(item, count);
        }
        Ok((creatures, counts))
    }

    /// Spins a POI, atomically: if the player's last spin of `poi_id` is at
    /// least `cooldown_s` before `now_s` (or there is none), records the
    /// spin at `now_s`, adds `items` to the inventory, writes `outbox`, and
    /// returns `true`. Otherwise returns `false` and changes nothing.
    pub async fn try_spin(
        &self,
        player_id: &str,
        poi_id: &str,
        now_s: i64,
        cooldown_s: i64,
        items: &BTreeMap<String, u32>,
        outbox: &[Event],
    ) -> Result<bool, StoreError> {
        write_tx!(self, tx => {
            let claimed = sqlx::query(CLAIM_SPIN)
                .bind(player_id)
                .bind(poi_id)
                .bind(now_s)
                .bind(cooldown_s)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            // BTreeMap order gives every transaction the same lock order
            // over inventory rows, so concurrent spins cannot deadlock.
            for (item, &count) in items.iter().filter(|(_, c)| **c > 0) {
                sqlx::query(ADD_ITEM)
                    .bind(player_id)
                    .bind(item.as_str())
                    .bind(i64::from(count))
                    .execute(&mut *tx)
                    .await?;
            }
            write_outbox!(tx, outbox);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Writes `events` into the outbox in one transaction, for a change
    /// whose own state lives elsewhere (a match the lobby formed on Redis).
    /// The relay then carries them to analytics like any other outbox
    /// event. Idempotent by event id, so a retried call stores each once.
    pub async fn enqueue_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        write_tx!(self, tx => {
            write_outbox!(tx, events);
            tx.commit().await?;
            Ok(())
        })
    }
}
