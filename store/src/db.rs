//! Opening the database: the [`Db`] handle, pool settings per backend,
//! migrations, and the internal macros that run one statement on either
//! pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::StoreError;

/// The SQLite migrations, embedded at compile time.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// The PostgreSQL migrations, embedded at compile time.
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A handle on geogame's database. Cloning is cheap: clones share the pool.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded deployment: one SQLite file in WAL mode.
    Sqlite(SqliteDb),
    /// The scaled-out deployment: a shared PostgreSQL server.
    Postgres(sqlx::PgPool),
}

/// An SQLite database behind two pools: readers, and a single writer.
///
/// SQLite lets one connection write at a time. Writers on several
/// connections wait for each other in SQLite's busy handler, which sleeps
/// in steps of up to 100 ms, so a catch queued behind another write could
/// take hundreds of milliseconds. With one writer connection, writes queue
/// in the pool instead and start the moment the previous one commits; in
/// WAL mode readers never wait for it.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    reader: sqlx::SqlitePool,
    writer: sqlx::SqlitePool,
}

impl SqliteDb {
    /// The pool for reads.
    pub fn reader(&self) -> &sqlx::SqlitePool {
        &self.reader
    }

    /// The single-connection pool every write goes through.
    pub fn writer(&self) -> &sqlx::SqlitePool {
        &self.writer
    }
}

/// Pool settings for SQLite.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// Reader connections. Writes go through one more, dedicated
    /// connection, as SQLite has one writer at a time anyway.
    pub max_connections: u32,
    /// How long a connection waits for another writer's lock before the
    /// statement fails with `unavailable`.
    pub busy_timeout: Duration,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// Page cache per connection, KiB. Bulk event inserts touch many index
    /// pages per batch; SQLite's default of 2 MiB makes them re-read pages.
    pub cache_kib: u32,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            cache_kib: 16 * 1024,
        }
    }
}

/// Pool settings for PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long a caller waits for a connection (including connecting)
    /// before getting `unavailable`. Short, so that requests fail fast
    /// while the server is down.
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl Db {
    /// Opens (creating it and its folder if missing) the SQLite database at
    /// `path` with default settings, and applies the migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Db, StoreError> {
        Db::open_sqlite_with(path, &SqliteConfig::default()).await
    }

    /// Opens the SQLite database at `path` with `config`, and applies the
    /// migrations.
    ///
    /// Durability: WAL journal with `synchronous=FULL`, so that a commit
    /// (a catch acknowledged to a player) survives a power cut, not only a
    /// process crash.
    pub async fn open_sqlite_with(path: &Path, config: &SqliteConfig) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(config.busy_timeout)
            .foreign_keys(true)
            // A negative cache_size is in KiB rather than pages.
            .pragma("cache_size", format!("-{}", config.cache_kib));
        // The writer opens first so that it creates the file and applies the
        // migrations before any reader looks.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options.clone())
            .await?;
        SQLITE_MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        tracing::info!(path = %path.display(), "sqlite store open");
        Ok(Db::Sqlite(SqliteDb { reader, writer }))
    }

    /// Connects to PostgreSQL at `url` with default settings, and applies
    /// the migrations.
    pub async fn connect_postgres(url: &str) -> Result<Db, StoreError> {
        Db::connect_postgres_with(url, &PgConfig::default()).await
    }

    /// Connects to PostgreSQL at `url` with `config`, and applies the
    /// migrations. Migrations hold an advisory lock, so several servers may
    /// start at once against one database. An unreachable server gives
    /// [`StoreError::Unavailable`] after `config.acquire_timeout`.
    ///
    /// The pool reconnects by itself: a connection is checked before it is
    /// handed out, and dead ones are replaced, so the store recovers when
    /// the server comes back.
    pub async fn connect_postgres_with(url: &str, config: &PgConfig) -> Result<Db, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Query(format!("invalid database url: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .idle_timeout(config.idle_timeout)
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        PG_MIGRATOR.run(&pool).await?;
        tracing::info!("postgres store connected");
        Ok(Db::Postgres(pool))
    }

    /// The backend's name: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to come back. Later
    /// calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        match self {
            Db::Sqlite(s) => {
                s.reader.close().await;
                s.writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// The current time in unix seconds.
pub(crate) fn now_s() -> i64 {
    now_ms() / 1000
}

/// The current time in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Clamps a caller's row limit: a negative LIMIT means "no limit" to SQLite
/// and is an error to PostgreSQL, so both get zero rows instead.
pub(crate) fn clamp_limit(limit: i64) -> i64 {
    limit.max(0)
}
