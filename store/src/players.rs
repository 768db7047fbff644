//! Players: each device id maps to one stable player id.

use crate::db::{Db, now_s};
use crate::error::StoreError;

const SELECT_PLAYER: &str = "SELECT player_id FROM players WHERE device_id = $1";
const INSERT_PLAYER: &str = "INSERT INTO players (device_id, player_id, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (device_id) DO NOTHING";

impl Db {
    /// The player id of `device_id`, created (`p_<uuid>`) on first sight.
    ///
    /// Concurrent first calls for one device agree: each tries to insert its
    /// own fresh id, the primary key lets exactly one in, and all of them
    /// then read back the winner.
    pub async fn player_for_device(&self, device_id: &str) -> Result<String, StoreError> {
        // The common case is a known device: one read, no write.
        let known: Option<(String,)> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_PLAYER)
                .bind(device_id)
                .fetch_optional(pool)
                .await?
        });
        if let Some((player_id,)) = known {
            return Ok(player_id);
        }
        on_writer!(self, pool => {
            let fresh = format!("p_{}", uuid::Uuid::new_v4().simple());
            let inserted = sqlx::query(INSERT_PLAYER)
                .bind(device_id)
                .bind(&fresh)
                .bind(now_s())
                .execute(pool)
                .await?
                .rows_affected();
            if inserted == 1 {
                tracing::debug!(player_id = %fresh, "new player");
                return Ok(fresh);
            }
            let (player_id,): (String,) = sqlx::query_as(SELECT_PLAYER)
                .bind(device_id)
                .fetch_one(pool)
                .await?;
            Ok(player_id)
        })
    }
}
