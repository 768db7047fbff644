//! The all-in-one `geogame` binary's logic: `geogame up` runs the game
//! server, lobby, analytics and operator API in one process on one
//! listener, on SQLite and in-process queues by default, or on Redis and
//! PostgreSQL when their URLs are given; `geogame admin` moves POI and
//! zone files to and from a running server.

pub mod admin_cli;
pub mod cli;
pub mod up;
