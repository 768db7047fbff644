//! Integration tests of the matchmaker: a real lobby on 127.0.0.1:0 driven
//! by real WebSocket clients, in memory and on Redis. One binary, one
//! module per concern.

mod bad_input;
mod common;
mod pvp;
mod raid;
mod redis_restart;
mod redis_shared;
mod registry;
mod tickets;
