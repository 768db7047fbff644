//! Wire types for geogame's public protocol, version 1.
//!
//! This crate is the only place that knows the JSON shape of what crosses
//! the wire: the `/v1/play` socket ([`play`]), the `/v1/lobby` socket
//! ([`lobby`]), the small HTTP bodies ([`http`]), the operator API
//! ([`admin`]), the analytics reports ([`reports`]), the game-server
//! registry ([`registry`]), what game servers tell each other ([`sync`]),
//! and a borrowed [`peek`] at replies for load generators. It does no I/O.
//!
//! Decoding is strict: an unknown `type`, a missing field, or a number out
//! of range gives a typed [`DecodeError`] that servers turn into an
//! `invalid_message` error frame. Unknown extra fields are ignored so that
//! newer clients can talk to older servers.

pub mod admin;
mod decode;
mod encode;
mod error;
pub mod event;
pub mod http;
pub mod lobby;
pub mod peek;
pub mod play;
pub mod registry;
pub mod reports;
pub mod sync;
pub mod token;

pub use error::{DecodeError, DecodeErrorKind, ErrorCode};

/// The protocol version this crate speaks, sent in every `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest text frame a client may send, in bytes (16 KiB).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// The longest id or token string accepted in any message.
pub const MAX_ID_LEN: usize = 4096;

/// The WebSocket close codes both sockets (`/v1/play`, `/v1/lobby`) use,
/// as the contract lists them; one table, so the two cannot drift.
pub mod close {
    /// The server is shutting down (or the client left).
    pub const GOING_AWAY: u16 = 1001;
    /// A WebSocket protocol violation (unmasked or reserved frames, RSV
    /// bits, bad fragments), as RFC 6455 section 7.1.7 asks.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A binary frame: only text frames carry the protocol.
    pub const UNSUPPORTED: u16 = 1003;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// Authentication failed, no hello in time, or a flood.
    pub const POLICY: u16 = 1008;
    /// A message over [`crate::MAX_FRAME_BYTES`].
    pub const TOO_BIG: u16 = 1009;
    /// The server is too busy to take the player now (too many arriving
    /// at once); the client retries after a short, jittered wait.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The player opened a newer socket elsewhere.
    pub const REPLACED: u16 = 4001;
    /// An operator erased the player's data: the token names nobody now.
    pub const ERASED: u16 = 4003;
}
