//! Internal macros that run the same statements on either backend.
//!
//! The body is written once and compiled once per backend, so queries,
//! binds and row decoding are shared while the pool types stay concrete.

/// Runs `$body`, which only reads, with `$pool` bound to the
/// [`crate::Db`]'s pool (SQLite: the reader pool).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite(s) => {
                let $pool = s.reader();
                $body
            }
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body`, which writes outside a transaction of its own, with
/// `$pool` bound to the [`crate::Db`]'s pool (SQLite: the single writer).
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite(s) => {
                let $pool = s.writer();
                $body
            }
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$tx` bound to a fresh write transaction, which the
/// body must commit; dropping it rolls back.
///
/// On SQLite the transaction runs on the single writer connection and
/// starts with `BEGIN IMMEDIATE`, which takes the write lock up front
/// (waiting under `busy_timeout` only for another process, such as
/// `geogame admin`). A deferred `BEGIN` would take it only at the first
/// write, and in WAL mode a reader that upgrades after another writer
/// committed fails with `SQLITE_BUSY` at once instead of waiting.
macro_rules! write_tx {
    ($db:expr, $tx:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite(s) => {
                #[allow(unused_mut)]
                let mut $tx = s.writer().begin_with("BEGIN IMMEDIATE").await?;
                $body
            }
            $crate::Db::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}

/// Executes the audit insert for `$a` (an `AuditEntry`) on `$exec`, in the
/// transaction of the change it records.
macro_rules! write_audit {
    ($exec:expr, $a:expr) => {
        sqlx::query($crate::world::INSERT_AUDIT)
            .bind($a.at)
            .bind($a.actor.as_str())
            .bind($a.action.as_str())
            .bind($a.target.as_str())
            .bind($a.detail.as_str())
            .execute($exec)
            .await?
    };
}
