//! The analytics library's error type.

/// Why an analytics operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// Redis refused or dropped a command, or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The SQL store failed (report queries are mapped here too, through
    /// the store's sqlx error classifier).
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The configuration cannot work (for instance an empty stream key).
    #[error("invalid config: {0}")]
    Config(String),
}

impl From<sqlx::Error> for AnalyticsError {
    fn from(e: sqlx::Error) -> Self {
        AnalyticsError::Store(store::StoreError::from(e))
    }
}

impl AnalyticsError {
    /// True when the failure is a backend being unreachable, so a retry
    /// later may succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            AnalyticsError::Redis(e) => {
                e.is_io_error() || e.is_connection_dropped() || e.is_timeout()
            }
            AnalyticsError::Store(e) => e.is_unavailable(),
            AnalyticsError::Config(_) => false,
        }
    }
}
