//! Wire types for geogame's public protocol, version 1.
//!
//! This crate is the only place that knows the JSON shape of what crosses
//! the wire: the `/v1/play` socket ([`play`]), the `/v1/lobby` socket
//! ([`lobby`]) and the small HTTP bodies ([`http`]). It does no I/O.
//!
//! Decoding is strict: an unknown `type`, a missing field, or a number out
//! of range gives a typed [`DecodeError`] that servers turn into an
//! `invalid_message` error frame. Unknown extra fields are ignored so that
//! newer clients can talk to older servers.

mod decode;
mod encode;
mod error;
pub mod event;
pub mod http;
pub mod lobby;
pub mod play;
pub mod token;

pub use error::{DecodeError, DecodeErrorKind, ErrorCode};

/// The protocol version this crate speaks, sent in every `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest text frame a client may send, in bytes (16 KiB).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// The longest id or token string accepted in any message.
pub const MAX_ID_LEN: usize = 4096;
