//! Decode errors and the error codes of the public protocol.

use serde::{Deserialize, Serialize};

/// The error codes a server may send in an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not a valid message.
    InvalidMessage,
    /// The token was missing, malformed, forged or expired.
    Unauthorized,
    /// The client sends faster than its rate limit allows.
    RateLimited,
    /// The client moved faster than any human or vehicle can.
    TooFast,
    /// The named thing does not exist.
    NotFound,
    /// A backing service (Redis, SQL) is not reachable right now.
    Unavailable,
    /// An unexpected server fault.
    Internal,
    /// The client is too far from the place it named (lobby `queue`).
    TooFar,
    /// The request conflicts with the player's current state, e.g. a
    /// second open ticket or a session the player is not a member of.
    Conflict,
    /// The player moves faster than the passenger speed: a catch or spin
    /// needs a `passenger` confirmation first.
    PassengerRequired,
    /// The player is suspended or banned for repeated impossible movement
    /// (`hello` refused, or the socket closed, with 1008).
    Suspended,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooFast => "too_fast",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::TooFar => "too_far",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PassengerRequired => "passenger_required",
            ErrorCode::Suspended => "suspended",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client frame could not be decoded.
///
/// Every variant maps to the `invalid_message` error code. `seq` is the
/// request's `seq` when it could still be read, so that the error reply
/// can echo it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    /// The `seq` of the offending request, when it was readable.
    pub seq: Option<u64>,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// The specific reason a frame was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// Not JSON, not a JSON object, or a field had the wrong JSON type
    /// (including a number too large for its type, such as `1e400`).
    #[error("malformed json: {0}")]
    Json(String),
    /// The object had no `type` field.
    #[error("missing field `type`")]
    MissingType,
    /// The `type` is not one this endpoint understands.
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    /// A required field was absent.
    #[error("`{ty}` needs field `{field}`")]
    MissingField {
        /// The message type.
        ty: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// A number was non-finite or outside its allowed range.
    #[error("field `{field}` out of range: {reason}")]
    OutOfRange {
        /// The offending field.
        field: &'static str,
        /// The allowed range, in words.
        reason: &'static str,
    },
    /// A string field was empty or too long.
    #[error("field `{field}` must be 1 to {max} bytes long")]
    BadLength {
        /// The offending field.
        field: &'static str,
        /// The maximum length in bytes.
        max: usize,
    },
}

impl DecodeError {
    pub(crate) fn new(seq: Option<u64>, kind: DecodeErrorKind) -> Self {
        DecodeError { seq, kind }
    }

    /// The protocol error code for this fault: always `invalid_message`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidMessage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde_for_every_code() {
        for c in [
            ErrorCode::InvalidMessage,
            ErrorCode::Unauthorized,
            ErrorCode::RateLimited,
            ErrorCode::TooFast,
            ErrorCode::NotFound,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
            ErrorCode::TooFar,
            ErrorCode::Conflict,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            let back: ErrorCode = serde_json::from_value(c.as_str().into()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn every_decode_error_is_invalid_message() {
        let e = DecodeError::new(Some(1), DecodeErrorKind::MissingType);
        assert_eq!(e.code(), ErrorCode::InvalidMessage);
        assert_eq!(e.to_string(), "missing field `type`");
    }
}
