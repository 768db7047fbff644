//! Logging set-up: `tracing` to stderr, `info` by default.

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset or unusable.
pub const DEFAULT_FILTER: &str = "info";

/// The filter `RUST_LOG` asks for, or [`DEFAULT_FILTER`].
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the process's subscriber: structured lines on stderr, so that
/// stdout stays for what a binary prints on purpose (its URL, a token).
/// A second call (tests that start several services) changes nothing.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_level_is_info() {
        // Regression: `game-server` once logged only errors by default while
        // the README promised `info`. With RUST_LOG unset the filter must
        // let `info` through.
        if std::env::var_os("RUST_LOG").is_none() {
            assert_eq!(filter().to_string(), "info");
        }
        assert_eq!(EnvFilter::new(DEFAULT_FILTER).to_string(), "info");
    }
}
