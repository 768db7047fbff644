//! The library's error type.

use std::path::PathBuf;

/// Why a load test could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadTestError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// A histogram could not be created or merged.
    #[error("histogram: {0}")]
    Histogram(String),
    /// The echo server could not bind or accept.
    #[error("echo server on {addr}: {source}")]
    Echo {
        /// The address asked for.
        addr: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    /// The TLS settings for an `https://` target could not be built.
    #[error("tls: {0}")]
    Tls(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
    /// No player could connect to the target.
    #[error("no player could connect to {url} ({reasons})")]
    NoConnection {
        /// The target.
        url: String,
        /// Failure reasons with counts.
        reasons: String,
    },
    /// A report or plot file could not be written.
    #[error("writing {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
