//! Test fixtures: a store on either backend, its cleanup, and raw SQL
//! helpers for checking what was written.

use std::path::PathBuf;

use protocol::event::{Event, EventKind};
use store::Db;
use store::testing::TempPostgres;

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
    Postgres(TempPostgres),
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
        let guard = TempPostgres::create("geogame_store").await?;
        let db = Db::connect_postgres(guard.url()).await.unwrap();
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
            Kind::Postgres(g) => Db::connect_postgres(g.url()).await.unwrap(),
        };
    }

    /// The database URL, for PostgreSQL fixtures.
    pub(crate) fn pg_url(&self) -> Option<&str> {
        match &self.kind {
            Kind::Postgres(g) => Some(g.url()),
            Kind::Sqlite { .. } => None,
        }
    }

    /// Runs a raw scalar query, such as a `COUNT(*)`.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        match &self.db {
            Db::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.reader()).await.unwrap(),
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Runs a raw statement.
    pub(crate) async fn exec(&self, sql: &str) {
        match &self.db {
            Db::Sqlite(s) => sqlx::query(sql)
                .execute(s.writer())
                .await
                .map(|_| ())
                .unwrap(),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        }
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
