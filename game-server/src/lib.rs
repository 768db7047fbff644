//! geogame's game server: the `/v1/play` WebSocket, guest auth, the
//! operator API, health and metrics.
//!
//! Layout:
//! - [`config`]: settings with the contract's defaults.
//! - `http`: public routes (`/healthz`, `/metrics`, `/v1/auth/guest`,
//!   `/v1/play`) and the shared JSON error shape.
//! - `upgrade`: the play socket's WebSocket handshake and transport
//!   settings; a connection's task is `conn::serve` over tokio-tungstenite.
//! - `admin`: `/v1/admin/*` behind the admin bearer token.
//! - `conn`: one socket's life: `hello`, then the play loop with frame
//!   limits, rate limit, idle and write timeouts, and graceful close.
//! - `play`: location, catch, spin and collection handlers.
//! - `session`: shared raid encounters joined with a lobby session token.
//! - `hub`: bounded per-connection push queues and despawn fan-out.
//! - `movement`, `ratelimit`: per-player guards.
//! - `tick`: the world tick (placement, despawn timers, session timeouts).
//! - [`telemetry`]: the Prometheus recorder.
//! - [`secrets`]: signing key and admin token kept in the data dir.
//!
//! The server is a library: [`GameServer`] builds the routes and the
//! background tick from [`GameDeps`], and [`serve`] runs them until a
//! shutdown token fires, so tests and the `geogame` binary drive it the
//! same way.

mod admin;
pub mod app;
pub mod config;
mod conn;
mod http;
mod hub;
mod movement;
mod play;
mod ratelimit;
pub mod secrets;
mod server;
mod session;
mod state;
mod sync;
pub mod telemetry;
mod tick;
mod upgrade;
mod wire;

pub use config::ServerConfig;
pub use http::{ApiError, json_response};
pub use server::{GameServer, LoadError, load_world, serve};
pub use state::{GameDeps, GameState, SessionEndHook};
pub use sync::WorldSync;

/// The wire rarity of a stored rarity name; unknown names read as common.
pub(crate) fn parse_rarity(s: &str) -> protocol::play::Rarity {
    use protocol::play::Rarity as W;
    match s {
        "uncommon" => W::Uncommon,
        "rare" => W::Rare,
        "epic" => W::Epic,
        "legendary" => W::Legendary,
        _ => W::Common,
    }
}
