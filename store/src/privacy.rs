//! Privacy: erasing a player's personal data, and expiring raw locations.
//!
//! Erasure keeps the reports' counts right: the player's analytics events
//! stay, under a pseudonym that is the same for all of them (so distinct
//! players and visits count as before) and with their coordinates removed
//! (so the heatmap, which is made of locations, forgets theirs).

use crate::db::Db;
use crate::error::StoreError;
use crate::world::AuditEntry;

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erasure {
    /// Rows of the player's own data deleted: device sign-in, account,
    /// refresh tokens, collection, inventory, spins and strikes.
    pub rows_deleted: u64,
    /// Analytics events moved to the pseudonym, coordinates removed.
    pub events_pseudonymised: u64,
}

impl Erasure {
    /// Whether anything of the player was found.
    pub fn found(&self) -> bool {
        self.rows_deleted + self.events_pseudonymised > 0
    }
}

const DELETES: [&str; 7] = [
    "DELETE FROM players WHERE player_id = $1",
    "DELETE FROM accounts WHERE player_id = $1",
    "DELETE FROM refresh_tokens WHERE player_id = $1",
    "DELETE FROM catches WHERE player_id = $1",
    "DELETE FROM inventory WHERE player_id = $1",
    "DELETE FROM spins WHERE player_id = $1",
    "DELETE FROM strikes WHERE player_id = $1",
];
const PSEUDONYMISE: &str =
    "UPDATE events SET player_id = $2, lat = NULL, lon = NULL WHERE player_id = $1";
const TOMBSTONE: &str = "INSERT INTO erased_players (player_id, at_ms) VALUES ($1, $2) \
     ON CONFLICT (player_id) DO NOTHING";
const EXPIRE_LOCATIONS: &str = "DELETE FROM events WHERE event_id IN \
     (SELECT event_id FROM events WHERE kind = 'location' AND at_ms < $1 LIMIT $2)";

impl Db {
    /// Erases `player_id`'s personal data in one transaction, with `audit`:
    /// deletes their own rows, moves their analytics events to `pseudonym`
    /// without coordinates, and leaves a tombstone so that tokens minted
    /// before refuse to play. When nothing of the player is found, nothing
    /// is written (no tombstone, no audit row): erasing twice finds
    /// nothing the second time.
    pub async fn erase_player(
        &self,
        player_id: &str,
        pseudonym: &str,
        at_ms: i64,
        audit: &AuditEntry,
    ) -> Result<Erasure, StoreError> {
        write_tx!(self, tx => {
            let mut e = Erasure::default();
            for sql in DELETES {
                e.rows_deleted += sqlx::query(sql)
                    .bind(player_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            e.events_pseudonymised = sqlx::query(PSEUDONYMISE)
                .bind(player_id)
                .bind(pseudonym)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if !e.found() {
                return Ok(e);
            }
            sqlx::query(TOMBSTONE)
                .bind(player_id)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(e)
        })
    }

    /// Moves `player_id`'s analytics events to `pseudonym` without
    /// coordinates, again: the late pass for events that were still on
    /// their way (the outbox, the stream) when the player was erased.
    pub async fn pseudonymise_events(
        &self,
        player_id: &str,
        pseudonym: &str,
    ) -> Result<u64, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(PSEUDONYMISE)
            .bind(player_id)
            .bind(pseudonym)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n)
    }

    /// Deletes at most `limit` raw `location` events older than
    /// `before_ms` (one short transaction, so ingest waits little);
    /// returns how many went. Call again until it returns less than
    /// `limit`.
    pub async fn expire_locations(&self, before_ms: i64, limit: i64) -> Result<u64, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(EXPIRE_LOCATIONS)
            .bind(before_ms)
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n)
    }
}
