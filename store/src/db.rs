//! Opening the database: the [`Db`] handle, pool settings per backend,
//! migrations, and the internal macros that run one statement on either
//! pool.

use std::path::{Path, PathBuf};
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

/// Where a database URL points: the one parser every binary uses, so that
/// `--database-url` means the same thing to each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `sqlite://PATH`, `sqlite:PATH`, or a bare file path.
    Sqlite(PathBuf),
}

impl DbUrl {
    /// Reads a database URL. An empty one, or an unknown scheme
    /// (`mysql://…`), is refused rather than taken for a file name.
    pub fn parse(url: &str) -> Result<DbUrl, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err(StoreError::Query("the database url is empty".into()));
        }
        if path.contains("://") {
            return Err(StoreError::Query(format!(
                "unsupported database url {:?}: use postgres://, sqlite:PATH or a file path",
                redact(url)
            )));
        }
        Ok(DbUrl::Sqlite(PathBuf::from(path)))
    }
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..s + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl Db {
    /// Opens the database a URL names (see [`DbUrl::parse`]): PostgreSQL
    /// for `postgres://`, else SQLite at the path.
    pub async fn open(url: &str) -> Result<Db, StoreError> {
        match DbUrl::parse(url)? {
            DbUrl::Postgres(u) => Db::connect_postgres(&u).await,
            DbUrl::Sqlite(path) => Db::open_sqlite(&path).await,
        }
    }

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

/// `items` as one JSON array: SQLite has no array binds, so a batch is
/// bound as one text and `json_each` turns it back into rows.
pub(crate) fn json_list<T: ?Sized + serde::Serialize>(items: &T) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Query(format!("encoding a batch: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parser_reads_every_form_of_database_url() {
        // Regression: three parsers disagreed, and the matchmaker took
        // `sqlite://PATH` for a PostgreSQL URL.
        let sqlite = |p: &str| DbUrl::Sqlite(PathBuf::from(p));
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/g.db").unwrap(),
            sqlite("/tmp/g.db")
        );
        assert_eq!(DbUrl::parse("sqlite://g.db").unwrap(), sqlite("g.db"));
        assert_eq!(
            DbUrl::parse("sqlite:/tmp/g.db").unwrap(),
            sqlite("/tmp/g.db")
        );
        assert_eq!(DbUrl::parse("data/g.db").unwrap(), sqlite("data/g.db"));
        for pg in ["postgres://u@h/db", "postgresql://u:p@h:5432/db"] {
            assert_eq!(DbUrl::parse(pg).unwrap(), DbUrl::Postgres(pg.into()));
        }
        assert!(DbUrl::parse("").is_err());
        assert!(DbUrl::parse("sqlite:").is_err());
        let e = DbUrl::parse("mysql://root:hunter2@h/db").unwrap_err();
        assert!(e.to_string().contains("unsupported"), "{e}");
        assert!(
            !e.to_string().contains("hunter2"),
            "the password is not echoed: {e}"
        );
    }

    #[test]
    fn redact_drops_the_password_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("redis://:pw@h"), "redis://@h");
    }

    #[tokio::test]
    async fn open_by_url_opens_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        let db = Db::open(&url).await.unwrap();
        assert_eq!(db.backend(), "sqlite");
        db.ping().await.unwrap();
    }
}
