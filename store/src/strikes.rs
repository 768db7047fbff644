//! Strikes against players: what the game server's ladder counts (see
//! `game-server/src/strikes.rs`). A strike is written by the server for
//! repeated impossible movement or by an operator; lifting one keeps the
//! row but takes it out of the count.

use std::collections::HashMap;

use crate::db::Db;
use crate::error::StoreError;
use crate::world::AuditEntry;

/// One strike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrikeRow {
    /// Its id.
    pub id: i64,
    /// The player.
    pub player_id: String,
    /// When, unix ms.
    pub at_ms: i64,
    /// Why, for the player and the operators.
    pub reason: String,
    /// Who: `server` or an operator's name.
    pub actor: String,
    /// When it was lifted, if it was.
    pub lifted_at_ms: Option<i64>,
}

type Tuple = (i64, String, i64, String, String, Option<i64>);

fn row((id, player_id, at_ms, reason, actor, lifted_at_ms): Tuple) -> StrikeRow {
    StrikeRow {
        id,
        player_id,
        at_ms,
        reason,
        actor,
        lifted_at_ms,
    }
}

const INSERT: &str = "INSERT INTO strikes (player_id, at_ms, reason, actor) VALUES ($1, $2, $3, $4) \
     RETURNING id";
const SELECT: &str = "SELECT id, player_id, at_ms, reason, actor, lifted_at_ms FROM strikes \
     WHERE player_id = $1 ORDER BY at_ms, id";
/// The strikes and, as a row with id 0 (strike ids start at 1), the
/// erasure tombstone: one round trip for a `hello`.
const SQLITE_SELECT_WITH_ERASURE: &str = "SELECT id, player_id, at_ms, reason, actor, lifted_at_ms \
     FROM strikes WHERE player_id IN (SELECT value FROM json_each($1)) \
     UNION ALL SELECT 0, player_id, at_ms, 'erased', 'erasure', NULL \
     FROM erased_players WHERE player_id IN (SELECT value FROM json_each($1))";
const PG_SELECT_WITH_ERASURE: &str = "SELECT id, player_id, at_ms, reason, actor, lifted_at_ms \
     FROM strikes WHERE player_id = ANY($1::text[]) \
     UNION ALL SELECT 0, player_id, at_ms, 'erased', 'erasure', NULL \
     FROM erased_players WHERE player_id = ANY($1::text[])";
const LIFT: &str = "UPDATE strikes SET lifted_at_ms = $3 \
     WHERE id = $1 AND player_id = $2 AND lifted_at_ms IS NULL";

impl Db {
    /// Records a strike against `player_id`, with `audit` in the same
    /// transaction when an operator issued it; returns its id.
    pub async fn add_strike(
        &self,
        player_id: &str,
        at_ms: i64,
        reason: &str,
        actor: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<i64, StoreError> {
        write_tx!(self, tx => {
            let (id,): (i64,) = sqlx::query_as(INSERT)
                .bind(player_id)
                .bind(at_ms)
                .bind(reason)
                .bind(actor)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(a) = audit {
                write_audit!(&mut *tx, a);
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Every strike of `player_id`, lifted ones included, oldest first.
    pub async fn strikes(&self, player_id: &str) -> Result<Vec<StrikeRow>, StoreError> {
        let rows: Vec<Tuple> =
            on_pool!(self, pool => sqlx::query_as(SELECT).bind(player_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// Every strike of `player_id` (any order), and whether the player was
    /// erased, in one query.
    pub async fn standing_facts(
        &self,
        player_id: &str,
    ) -> Result<(Vec<StrikeRow>, bool), StoreError> {
        let mut facts = self.standing_facts_of(&[player_id.to_owned()]).await?;
        Ok(facts.pop().unwrap_or_default())
    }

    /// [`Db::standing_facts`] of each of `players`, in order, in one query.
    pub async fn standing_facts_of(
        &self,
        players: &[String],
    ) -> Result<Vec<(Vec<StrikeRow>, bool)>, StoreError> {
        let rows: Vec<Tuple> = match self {
            Db::Sqlite(s) => {
                sqlx::query_as(SQLITE_SELECT_WITH_ERASURE)
                    .bind(crate::db::json_list(players)?)
                    .fetch_all(s.reader())
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(PG_SELECT_WITH_ERASURE)
                    .bind(players)
                    .fetch_all(pool)
                    .await?
            }
        };
        let mut by_player: HashMap<String, (Vec<StrikeRow>, bool)> = HashMap::new();
        for r in rows {
            let entry = by_player.entry(r.1.clone()).or_default();
            if r.0 == 0 {
                entry.1 = true;
            } else {
                entry.0.push(row(r));
            }
        }
        Ok(players
            .iter()
            .map(|p| by_player.get(p).cloned().unwrap_or_default())
            .collect())
    }

    /// Lifts strike `id` of `player_id` at `at_ms`, writing `audit`;
    /// false when there is no such standing strike.
    pub async fn lift_strike(
        &self,
        player_id: &str,
        id: i64,
        at_ms: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        write_tx!(self, tx => {
            let n = sqlx::query(LIFT)
                .bind(id)
                .bind(player_id)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                write_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}
