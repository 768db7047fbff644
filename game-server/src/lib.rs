//! geogame's game server: the `/v1/play` WebSocket, guest auth, the
//! operator API, health and metrics.
//!
//! Layout:
//! - [`config`]: settings with the contract's defaults; [`flags`]: the
//!   command-line flags every game-server binary shares.
//! - [`standalone`]: the `game-server` binary's run.
//! - [`authority`]: the `spawner` binary's run (the world's authority).
//! - `http`: public routes (`/healthz`, `/metrics`, `/v1/auth/guest`,
//!   `/v1/play`).
//! - `web`: the player's web client (`/`), the operator console
//!   (`/console`), the JS SDK and `/v1/client-config`, from `clients/`.
//! - `upgrade`: the play socket's WebSocket handshake and transport
//!   settings; a connection's task is `conn::serve` over tokio-tungstenite.
//! - `admin`: `/v1/admin/*` behind the admin bearer token.
//! - `conn`: one socket's life: `hello`, then the play loop with frame
//!   limits, rate limit, idle and write timeouts, and graceful close.
//! - `play`: dispatch, catch, spin and collection; `nearby`: the
//!   `location` → `nearby` path.
//! - `session`: shared raid encounters joined with a lobby session token;
//!   the I/O around `encounter`, the raid rules as a pure state machine.
//! - `hub`: bounded per-connection push queues and despawn fan-out.
//! - `movement`: the per-player movement guard.
//! - `tick`: the world tick (placement, despawn timers, session timeouts).
//! - [`telemetry`]: the play loop's metric handles.
//! - [`secrets`]: signing key and admin token kept in the data dir.
//!
//! The server is a library: [`GameServer`] builds the routes and the
//! background tick from [`GameDeps`], and `service_kit::serve` runs them
//! until a shutdown token fires, so tests and the `geogame` binary drive it the
//! same way.

mod accounts;
mod admin;
mod admission;
pub mod app;
mod arrival;
mod audit;
pub mod authority;
mod clock;
pub mod config;
mod conn;
mod encounter;
mod erasure;
mod events;
pub mod flags;
mod follow;
mod http;
mod hub;
mod movement;
mod nearby;
mod play;
mod player;
mod presence;
pub mod secrets;
mod server;
mod session;
pub mod standalone;
mod state;
mod strikes;
mod sync;
pub mod telemetry;
mod tick;
mod upgrade;
mod web;
mod wire;
mod world;

pub use config::ServerConfig;
pub use movement::CooldownTable;
pub use server::GameServer;
pub use state::{GameDeps, GameState, SessionEndHook};
pub use strikes::StrikeLadder;
pub use sync::WorldSync;
pub use world::{LoadError, load_world};
