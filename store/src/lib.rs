//! geogame's SQL persistence layer: one code path over SQLite and PostgreSQL.
//!
//! [`Db`] holds either SQLite (the embedded `geogame up` deployment: a
//! reader pool and a single writer connection) or a PostgreSQL pool (the
//! scaled-out one). Every method runs
//! the same SQL on both where the dialects agree (both accept `$1`
//! placeholders, `ON CONFLICT` upserts and `RETURNING`), and keeps two
//! statements only where they do not (bulk inserts, array binds).
//!
//! Layout:
//! - `db`: [`Db`], opening, connecting, migrations, health;
//! - `error`: [`StoreError`] and the mapping from sqlx errors;
//! - `players`: device to player ids;
//! - `arrivals`: [`Arrivals`], sign-ins and standing reads in batches
//!   (group commit);
//! - `game`: catches, spins and collections;
//! - `world`: points of interest, exclusion zones and the audit log;
//! - `events`: the transactional outbox and the analytics `events` table.
//!
//! Each backend has its own migrations folder (`migrations/sqlite`,
//! `migrations/postgres`), run when the database is opened. No query is
//! checked at compile time, so building needs no database.

#[macro_use]
mod macros;

mod accounts;
mod arrivals;
mod db;
mod error;
mod events;
mod game;
mod operators;
mod players;
mod privacy;
mod strikes;
mod world;

pub use accounts::AccountTaken;
pub use arrivals::Arrivals;
pub use db::{Db, DbUrl, PgConfig, SqliteConfig, SqliteDb, redact};
pub use error::StoreError;
pub use game::CaughtCreature;
pub use operators::{Operator, Role, token_hash};
pub use privacy::Erasure;
pub use strikes::StrikeRow;
pub use world::{AuditEntry, PoiRow, ZoneRow};

#[cfg(feature = "testing")]
pub mod testing;
