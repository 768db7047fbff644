//! The plumbing every geogame binary shares, written once.
//!
//! Each service (`game-server`, `matchmaker`, `spawner`, `analytics`, and
//! `geogame up`, which runs them all) needs the same things around its own
//! logic; before this crate each wrote them again and they drifted.
//!
//! - [`shutdown`]: SIGINT or SIGTERM cancels one token that every task hears.
//! - [`logging`]: `tracing` to stderr at `info` unless `RUST_LOG` says else.
//! - [`telemetry`]: the process's one Prometheus recorder, with real
//!   histogram buckets and a background upkeep.
//! - [`serve`]: an axum router on a listener until shutdown, with Nagle
//!   off, a header-read timeout and a drain deadline; [`Tasks`] for
//!   background tasks with the same.
//! - [`HttpFlags`] and [`Cors`]: `--cors-origin` and `--tls-cert`/`--tls-key`
//!   for every listener; [`tls`]: HTTPS with live certificate renewal.
//! - [`bearer_is`]: a constant-time check of an `Authorization: Bearer` secret.
//! - [`ApiError`]: the contract's `{"error": {"code", "message"}}` shape.
//! - [`Lockout`]: too many failures per key (an email) within a window.
//! - [`Peer`]: a request's client address, through trusted proxies.
//! - [`Backoff`] and [`RateLimiter`]: retry delays and per-socket token
//!   buckets.

mod auth;
mod cors;
mod error;
mod lockout;
pub mod logging;
mod peer;
mod ratelimit;
mod retry;
mod serving;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod wsclose;

pub use auth::{bearer, bearer_is, hex, random_token};
pub use cors::{Cors, HttpFlags};
pub use error::{ApiError, json_response};
pub use lockout::Lockout;
pub use peer::{Peer, parse_trusted_proxy};
pub use ratelimit::{RateDecision, RateLimiter};
pub use retry::Backoff;
pub use serving::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT, Tasks, every, serve, serve_with};
