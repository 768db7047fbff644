//! Players: each device id maps to one stable player id, created on first
//! sight. Sign-ins are looked up and written in batches (see
//! [`crate::Arrivals`]): a few statements and one sync to disk for many.

use std::collections::HashMap;

use crate::db::{Db, json_list, now_s};
use crate::error::StoreError;

// SQLite has no array binds: a JSON array is one bind however long the
// batch, and `json_each` turns it back into rows.
const SQLITE_SELECT_PLAYERS: &str = "SELECT device_id, player_id FROM players \
     WHERE device_id IN (SELECT value FROM json_each($1))";
// `WHERE true` tells SQLite's parser that `ON CONFLICT` is the upsert
// clause, not part of the SELECT's join.
const SQLITE_INSERT_PLAYERS: &str = "INSERT INTO players (device_id, player_id, created_at) \
     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), $2 \
     FROM json_each($1) WHERE true ON CONFLICT (device_id) DO NOTHING";
const PG_SELECT_PLAYERS: &str =
    "SELECT device_id, player_id FROM players WHERE device_id = ANY($1::text[])";
const PG_INSERT_PLAYERS: &str = "INSERT INTO players (device_id, player_id, created_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) ON CONFLICT (device_id) DO NOTHING";

/// A fresh player id: `p_` and a v4 UUID in hex.
fn new_player_id() -> String {
    format!("p_{}", uuid::Uuid::new_v4().simple())
}

impl Db {
    /// The player id of `device_id`, created (`p_<uuid>`) on first sight.
    ///
    /// Concurrent first calls for one device agree: each tries to insert its
    /// own fresh id, the primary key lets exactly one in, and all of them
    /// then read back the winner.
    pub async fn player_for_device(&self, device_id: &str) -> Result<String, StoreError> {
        let mut ids = self.players_for_devices(&[device_id.to_owned()]).await?;
        ids.pop()
            .ok_or_else(|| StoreError::Corrupt("no player id came back".into()))
    }

    /// The player ids of `devices`, in order, creating the missing ones.
    /// One read finds the known devices; when some are new, one write
    /// inserts them and a second read (inside the write on SQLite) takes
    /// back the winners. A device named twice gets one id, as does a device
    /// that another server creates at the same moment: inserts that lose
    /// to an existing row are skipped.
    pub async fn players_for_devices(&self, devices: &[String]) -> Result<Vec<String>, StoreError> {
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: HashMap<String, String> = self.known_players(devices).await?;
        let mut missing: Vec<String> = devices
            .iter()
            .filter(|d| !ids.contains_key(*d))
            .cloned()
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let fresh: Vec<String> = missing.iter().map(|_| new_player_id()).collect();
            let now = now_s();
            let rows: Vec<(String, String)> = match self {
                Db::Sqlite(s) => {
                    let pairs: Vec<(&String, &String)> = missing.iter().zip(&fresh).collect();
                    let mut tx = s.writer().begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query(SQLITE_INSERT_PLAYERS)
                        .bind(json_list(&pairs)?)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let rows = sqlx::query_as(SQLITE_SELECT_PLAYERS)
                        .bind(json_list(&missing)?)
                        .fetch_all(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    rows
                }
                Db::Postgres(pool) => {
                    // One statement, committed on its own: durable when it
                    // returns. The read then sees every winner, ours or not.
                    sqlx::query(PG_INSERT_PLAYERS)
                        .bind(&missing)
                        .bind(&fresh)
                        .bind(vec![now; missing.len()])
                        .execute(pool)
                        .await?;
                    sqlx::query_as(PG_SELECT_PLAYERS)
                        .bind(&missing)
                        .fetch_all(pool)
                        .await?
                }
            };
            tracing::debug!(new = missing.len(), "new players");
            ids.extend(rows);
        }
        devices
            .iter()
            .map(|d| {
                ids.get(d)
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt("no player row for a device".into()))
            })
            .collect()
    }

    /// The player ids of those of `devices` seen before, by one read.
    async fn known_players(
        &self,
        devices: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = match self {
            Db::Sqlite(s) => {
                sqlx::query_as(SQLITE_SELECT_PLAYERS)
                    .bind(json_list(devices)?)
                    .fetch_all(s.reader())
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PG_SELECT_PLAYERS)
                    .bind(devices)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows.into_iter().collect())
    }
}
