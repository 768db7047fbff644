//! Test support shared by the workspace's integration tests (feature
//! `testing`): a throwaway PostgreSQL database per test, a redis-server of
//! a test's own ([`ThrowawayRedis`]), and the rule that a missing service
//! fails the test under `CI=true` instead of skipping.

mod redis;

pub use redis::ThrowawayRedis;

/// The admin URL tests create their databases from.
pub fn pg_admin_url() -> String {
    std::env::var("GEOGAME_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis URL tests use (each test picks its own key prefix).
pub fn redis_url() -> String {
    std::env::var("GEOGAME_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Decides what a test does when a service it needs is missing: under
/// `CI=true` it fails with `why`; elsewhere it prints `why` and the test
/// returns early (the caller checks the result).
pub fn service_missing(why: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("required service missing in CI: {why}");
    }
    eprintln!("skipping: {why}");
    true
}

/// A PostgreSQL database created for one test and dropped when this value
/// is dropped, even by a panic.
#[derive(Debug)]
pub struct TempPostgres {
    name: String,
    url: String,
    admin_url: String,
}

impl TempPostgres {
    /// Creates a fresh, empty database whose name starts with `label`.
    /// `None` when PostgreSQL is unreachable outside CI.
    pub async fn create(label: &str) -> Option<TempPostgres> {
        let admin_url = pg_admin_url();
        let admin = match sqlx::PgPool::connect(&admin_url).await {
            Ok(p) => p,
            Err(e) => {
                service_missing(&format!("postgres at {admin_url}: {e}"));
                return None;
            }
        };
        let name = format!("{label}_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
        {
            panic!("creating test database {name}: {e}");
        }
        admin.close().await;
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b.to_owned(), format!("?{q}")),
            None => (admin_url.clone(), String::new()),
        };
        let server = base
            .rsplit_once('/')
            .map(|(s, _)| s.to_owned())
            .unwrap_or(base);
        Some(TempPostgres {
            url: format!("{server}/{name}{query}"),
            name,
            admin_url,
        })
    }

    /// The URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one statement on the admin database (e.g. to terminate the test
    /// database's connections).
    pub async fn admin(&self, sql: &str) -> Result<(), sqlx::Error> {
        let admin = sqlx::PgPool::connect(&self.admin_url).await?;
        sqlx::query(sql).execute(&admin).await?;
        admin.close().await;
        Ok(())
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // The test's runtime may be shutting down, so the drop runs on its
        // own thread with its own runtime.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
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
