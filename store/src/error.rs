//! The store's error type, and how sqlx errors map onto it.
//!
//! Callers mostly care about one question: is the database unreachable (so
//! the request should fail fast with `unavailable` and be retried later),
//! or did this particular request fail? [`StoreError::is_unavailable`]
//! answers it.

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now: connect or I/O failure,
    /// pool timeout, closed pool, or a server that is shutting down.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint refused the write (for instance a duplicate
    /// zone id); nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The schema migrations could not be applied.
    #[error("migration failed: {0}")]
    Migrate(String),
    /// The statement failed for another reason (bad SQL, bad config).
    #[error("query failed: {0}")]
    Query(String),
    /// Stored data could not be decoded (wrong type, bad JSON, a damaged
    /// database file).
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the database is unreachable, so that a retry later may
    /// succeed and callers should answer `unavailable`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Migrate(m) => StoreError::from(*m),
            E::Database(db) => {
                let text = db.to_string();
                classify_database(db.as_ref(), text)
            }
            e @ (E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed) => {
                StoreError::Unavailable(e.to_string())
            }
            e @ (E::Decode(_)
            | E::ColumnDecode { .. }
            | E::ColumnNotFound(_)
            | E::ColumnIndexOutOfBounds { .. }
            | E::TypeNotFound { .. }) => StoreError::Corrupt(e.to_string()),
            e => StoreError::Query(e.to_string()),
        }
    }
}

impl From<MigrateError> for StoreError {
    fn from(e: MigrateError) -> Self {
        match e {
            // A migration that failed because the server went away is an
            // availability problem, not a broken migration.
            MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => {
                match StoreError::from(inner) {
                    StoreError::Unavailable(m) => StoreError::Unavailable(m),
                    other => StoreError::Migrate(other.to_string()),
                }
            }
            other => StoreError::Migrate(other.to_string()),
        }
    }
}

/// Sorts a server-reported error by its backend's error code.
fn classify_database(db: &dyn DatabaseError, text: String) -> StoreError {
    if matches!(db.kind(), ErrorKind::UniqueViolation) {
        return StoreError::Conflict(text);
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // Class 08 is connection exceptions; 57P01..57P03 are admin and
        // crash shutdowns and "cannot connect now" during startup; 53300 is
        // too many connections. All clear up once the server is back.
        if code.starts_with("08") || matches!(code.as_str(), "57P01" | "57P02" | "57P03" | "53300")
        {
            return StoreError::Unavailable(text);
        }
        if code.starts_with("XX") {
            return StoreError::Corrupt(text);
        }
        return StoreError::Query(text);
    }
    // SQLite reports its extended result code; the primary code is the low
    // byte. BUSY, LOCKED, IOERR, FULL and CANTOPEN mean the file cannot be
    // used right now; CORRUPT and NOTADB mean it is damaged.
    match code.parse::<i32>().map(|c| c & 0xff) {
        Ok(5 | 6 | 10 | 13 | 14) => StoreError::Unavailable(text),
        Ok(11 | 26) => StoreError::Corrupt(text),
        _ => StoreError::Query(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_errors_are_unavailable() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolClosed).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(io)).is_unavailable());
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_unavailable());
    }

    #[test]
    fn decode_errors_are_corrupt() {
        let e = StoreError::from(sqlx::Error::ColumnNotFound("x".into()));
        assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    }

    #[test]
    fn display_is_lowercase() {
        let e = StoreError::Unavailable("pool timed out".into());
        assert_eq!(e.to_string(), "database unavailable: pool timed out");
    }
}
