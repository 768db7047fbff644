//! Test fixtures: a store on either backend, its cleanup, and raw SQL
//! helpers for checking what was written.

use std::path::PathBuf;

use protocol::event::{Event, EventKind};
use store::Db;

/// A store under test and what it needs to be reopened and cleaned up.
pub(crate) struct Fixture {
    pub(crate) db: Db,
    kind: Kind,
}

enum Kind {
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres(PgDatabase),
}

impl Fixture {
    /// A fresh SQLite file in a temp dir.
    pub(crate) async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geogame.db");
        let db = Db::open_sqlite(&path).await.unwrap();
        Fixture {
            db,
            kind: Kind::Sqlite { _dir: dir, path },
        }
    }

    /// A fresh PostgreSQL database, or `None` when the server is unreachable
    /// outside CI (in CI, an unreachable server fails the test).
    pub(crate) async fn postgres() -> Option<Fixture> {
        let admin_url = std::env::var("GEOGAME_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let admin = match sqlx::PgPool::connect(&admin_url).await {
            Ok(pool) => pool,
            Err(e) => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("postgres unreachable at {admin_url} in CI: {e}");
                }
                eprintln!("skipping: postgres unreachable at {admin_url}: {e}");
                return None;
            }
        };
        let name = format!("geogame_store_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let guard = PgDatabase {
            url: database_url(&admin_url, &name),
            admin_url,
            name,
        };
        let db = Db::connect_postgres(&guard.url).await.unwrap();
        Some(Fixture {
            db,
            kind: Kind::Postgres(guard),
        })
    }

    /// Closes the store and opens the same database again, as a restart
    /// would.
    pub(crate) async fn reopen(&mut self) {
        self.db.close().await;
        self.db = match &self.kind {
            Kind::Sqlite { path, .. } => Db::open_sqlite(path).await.unwrap(),
            Kind::Postgres(g) => Db::connect_postgres(&g.url).await.unwrap(),
        };
    }

    /// The database URL, for PostgreSQL fixtures.
    pub(crate) fn pg_url(&self) -> Option<&str> {
        match &self.kind {
            Kind::Postgres(g) => Some(&g.url),
            Kind::Sqlite { .. } => None,
        }
    }

    /// Runs a raw scalar query, such as a `COUNT(*)`.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        match &self.db {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Runs a raw statement.
    pub(crate) async fn exec(&self, sql: &str) {
        match &self.db {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        }
    }
}

/// `admin_url` with its database name replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}{query}")
}

/// Drops its test database when the test ends, even by panic.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // The test's runtime may be shutting down, so the drop runs on its
        // own thread with its own runtime.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&sql).execute(&admin).await;
                    admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A test event with a fresh id.
pub(crate) fn event(kind: EventKind, at_ms: i64) -> Event {
    Event::new(
        uuid::Uuid::new_v4().to_string(),
        at_ms,
        kind,
        "srv-test".to_string(),
    )
}
