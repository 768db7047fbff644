//! Password accounts and their one-use refresh tokens.
//!
//! The store keeps what it is given: the caller hashes passwords (Argon2id)
//! and tokens (`token_hash`), so nothing here can leak a secret.

use crate::db::Db;
use crate::error::StoreError;

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (email, player_id, password_hash, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const SELECT_ACCOUNT: &str = "SELECT player_id, password_hash FROM accounts WHERE email = $1";
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, player_id, family, expires_at) \
     VALUES ($1, $2, $3, $4)";
const USE_REFRESH: &str = "UPDATE refresh_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING player_id, family";
const REVOKE_FAMILY: &str = "DELETE FROM refresh_tokens WHERE family = \
     (SELECT family FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL)";
const DELETE_OLD_REFRESH: &str = "DELETE FROM refresh_tokens WHERE expires_at <= $1";

/// Why an account was not created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTaken {
    /// The email already has an account.
    Email,
    /// The player (a guest upgrading) already has an account.
    Player,
}

impl Db {
    /// Creates the account `email` for `player_id` with `password_hash` at
    /// `now_s`; refuses an email or player that has one already.
    pub async fn create_account(
        &self,
        email: &str,
        player_id: &str,
        password_hash: &str,
        now_s: i64,
    ) -> Result<Result<(), AccountTaken>, StoreError> {
        let inserted = on_writer!(self, pool => {
            sqlx::query(INSERT_ACCOUNT)
                .bind(email)
                .bind(player_id)
                .bind(password_hash)
                .bind(now_s)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if inserted == 1 {
            return Ok(Ok(()));
        }
        Ok(Err(if self.account(email).await?.is_some() {
            AccountTaken::Email
        } else {
            AccountTaken::Player
        }))
    }

    /// The player id and password hash of `email`'s account.
    pub async fn account(&self, email: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(SELECT_ACCOUNT).bind(email).fetch_optional(pool).await?
        }))
    }

    /// Keeps a refresh token (by its hash) for `player_id` in `family`
    /// until `expires_at` (unix s), and forgets the ones expired by then.
    pub async fn put_refresh_token(
        &self,
        hash: &str,
        player_id: &str,
        family: &str,
        expires_at: i64,
        now_s: i64,
    ) -> Result<(), StoreError> {
        on_writer!(self, pool => {
            sqlx::query(INSERT_REFRESH)
                .bind(hash)
                .bind(player_id)
                .bind(family)
                .bind(expires_at)
                .execute(pool)
                .await?;
            sqlx::query(DELETE_OLD_REFRESH).bind(now_s).execute(pool).await?;
        });
        Ok(())
    }

    /// Uses up the refresh token with `hash` at `now_s`: its player and
    /// family, or none when it is unknown, expired or already used. Of two
    /// concurrent uses exactly one gets the player. A token used before
    /// and presented again deletes its whole family.
    pub async fn use_refresh_token(
        &self,
        hash: &str,
        now_s: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row: Option<(String, String)> = on_writer!(self, pool => {
            let row: Option<(String, String)> =
                sqlx::query_as(USE_REFRESH).bind(hash).bind(now_s).fetch_optional(pool).await?;
            if row.is_none() {
                let revoked = sqlx::query(REVOKE_FAMILY).bind(hash).execute(pool).await?.rows_affected();
                if revoked > 0 {
                    tracing::warn!(revoked, "a used refresh token came back; its family is revoked");
                }
            }
            row
        });
        Ok(row)
    }
}
