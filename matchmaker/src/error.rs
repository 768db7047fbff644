//! The matchmaker's error type and its mapping onto protocol error codes.

use protocol::ErrorCode;

/// Why a matchmaker operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchError {
    /// A backing service (Redis) is unreachable or too slow; retry later.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// The player is farther from the POI than the raid radius allows.
    #[error("too far from the poi")]
    TooFar,
    /// The request clashes with the player's current state, e.g. an open
    /// ticket or a running session.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The named POI, ticket or session does not exist (or is not the
    /// caller's).
    #[error("not found")]
    NotFound,
    /// The request is well formed but breaks a rule (party too big, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The queue holds as many open tickets as its configured bound.
    #[error("queue is full")]
    QueueFull,
    /// A record read back from the backend could not be decoded.
    #[error("corrupt backend record: {0}")]
    Corrupt(String),
    /// The configuration is not usable.
    #[error("bad config: {0}")]
    Config(String),
}

impl MatchError {
    /// The protocol error code a client sees for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            MatchError::Unavailable(_) | MatchError::QueueFull => ErrorCode::Unavailable,
            MatchError::TooFar => ErrorCode::TooFar,
            MatchError::Conflict(_) => ErrorCode::Conflict,
            MatchError::NotFound => ErrorCode::NotFound,
            MatchError::Invalid(_) => ErrorCode::InvalidMessage,
            MatchError::Corrupt(_) | MatchError::Config(_) => ErrorCode::Internal,
        }
    }
}

impl From<redis::RedisError> for MatchError {
    fn from(e: redis::RedisError) -> Self {
        // Every Redis fault (refused, reset, timed out, script error) is
        // reported as unavailable: the caller cannot fix it, only retry.
        MatchError::Unavailable(format!("redis: {e}"))
    }
}
