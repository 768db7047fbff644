//! Wall-clock time as the game stores it: unix milliseconds and seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix time in seconds.
pub(crate) fn now_s() -> i64 {
    now_ms() / 1000
}
