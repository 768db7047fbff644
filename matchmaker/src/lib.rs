//! The geogame matchmaker: the `/v1/lobby` socket, raid and pvp tickets,
//! and sessions assigned to live game servers.
//!
//! Layout:
//! - `rules`: the matching rules as pure
//!   functions; raid lobbies per POI, pvp pairing with a widening gap.
//! - `engine`: [`Lobby`], which accepts and cancels tickets and runs the
//!   tick that expires, matches, assigns and commits sessions.
//! - `backend`: where state lives, [`Backend::Memory`] or
//!   [`Backend::Redis`]; one enum, same atomic operations, so the engine
//!   has one code path. On Redis every state change is a Lua script, one
//!   process at a time holds the matching lease, and match results go out
//!   on a Redis stream that every process reads to reach its own sockets.
//! - `matchlog`: each formed match as `match_formed` events in the store's
//!   outbox, the same in both deployments.
//! - `release`: [`SessionRelease`], how a game server ends a session so
//!   its players can queue again, in process or on Redis.
//! - `registry`: [`Registry`] of live game servers (heartbeats, room).
//! - `socket` and `hub`: the WebSocket handler and the sockets by player.
//! - `standalone`: flags and wiring of the `matchmaker` binary.
//!
//! Architecture invariants: a ticket is matched at most once and never
//! lost while open (it leaves the queue only by match, cancel or expiry,
//! each an atomic step); a player holds at most one open ticket or one
//! running session; a party is never split.
//!
//! Behaviour the contract leaves open: tickets opened on a socket are
//! cancelled when that socket closes; only the owner may cancel a ticket
//! (others get `not_found`); a pvp ticket has no party; a pvp ticket with
//! a `poi_id` is matched only with others at that POI and must be within
//! the raid radius of it.

mod backend;
mod config;
mod engine;
mod error;
mod hub;
mod matchlog;
mod model;
mod pois;
mod redis_util;
mod registry;
mod release;
mod rules;
mod runner;
mod socket;
pub mod standalone;

pub use backend::Backend;
pub use config::MatchConfig;
pub use engine::{Lobby, OnMatch, TickReport};
pub use error::MatchError;
pub use matchlog::{match_events, outbox_log};
pub use model::MatchRecord;
pub use pois::{PoiDirectory, PoiTable};
pub use registry::{MemoryRegistry, RedisRegistry, Registry, ServerInfo, ServerRoom};
pub use release::SessionRelease;
