//! Messages of the `/v1/lobby` socket, between a player's app and the
//! matchmaker.

use serde::{Deserialize, Serialize};

use crate::{DecodeError, ErrorCode, decode, encode};

/// What kind of match a ticket asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A group fight against a boss at a POI.
    Raid,
    /// One player against another of close level.
    Pvp,
}

impl Mode {
    /// The mode as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Raid => "raid",
            Mode::Pvp => "pvp",
        }
    }
}

/// A validated `queue` request.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRequest {
    /// Request sequence number, echoed in the reply.
    pub seq: Option<u64>,
    /// Raid or pvp.
    pub mode: Mode,
    /// The raid POI; required for raids.
    pub poi_id: Option<String>,
    /// Latitude of the player, within [-90, 90].
    pub lat: f64,
    /// Longitude of the player, within [-180, 180].
    pub lon: f64,
    /// Player level, when given.
    pub level: Option<u32>,
    /// Friends queueing with the sender (player ids).
    pub party: Vec<String>,
}

/// A message from a player's app to the matchmaker.
#[derive(Debug, Clone, PartialEq)]
pub enum LobbyClientMessage {
    /// The first frame: authenticates the socket.
    Hello {
        /// The token from `POST /v1/auth/guest`.
        token: String,
    },
    /// Join the queue.
    Queue(QueueRequest),
    /// Leave the queue.
    Cancel {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
        /// The ticket to cancel.
        ticket_id: String,
    },
    /// Application-level keepalive; answered with `pong`.
    Ping {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
}

impl LobbyClientMessage {
    /// Decodes one text frame strictly.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode::decode_lobby(text)
    }

    /// The request's `seq`, when it has one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            LobbyClientMessage::Hello { .. } => None,
            LobbyClientMessage::Queue(q) => q.seq,
            LobbyClientMessage::Cancel { seq, .. } | LobbyClientMessage::Ping { seq } => *seq,
        }
    }

    /// Encodes the message as a client would send it.
    pub fn encode(&self) -> String {
        encode::encode_lobby_client(self)
    }
}

/// A message from the matchmaker to a player's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LobbyServerMessage {
    /// The answer to a good `hello`.
    Welcome {
        /// The authenticated player.
        player_id: String,
        /// Which matchmaker holds the socket.
        server_id: String,
        /// [`crate::PROTOCOL_VERSION`].
        protocol: u32,
    },
    /// The ticket is in the queue.
    Queued {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The new ticket.
        ticket_id: String,
    },
    /// The ticket left the queue.
    Cancelled {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The cancelled ticket.
        ticket_id: String,
    },
    /// A session formed.
    MatchFound {
        /// The ticket that matched.
        ticket_id: String,
        /// The new session.
        session_id: String,
        /// Every player in the session.
        players: Vec<String>,
        /// WebSocket URL of the game server that hosts the session.
        server: String,
        /// Token for `join_session` on that server.
        session_token: String,
    },
    /// The ticket ran out of time.
    Expired {
        /// The expired ticket.
        ticket_id: String,
    },
    /// The answer to `ping`.
    Pong {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
    },
    /// A request failed.
    Error {
        /// Echo of the request's `seq`, when it could be read.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable reason.
        message: String,
    },
}

impl LobbyServerMessage {
    /// Encodes the message as one JSON text frame.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"encode failed: {e}"}}"#)
        })
    }

    /// Decodes a server frame (used by clients and tests).
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// An `error` frame.
    pub fn error(seq: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        LobbyServerMessage::Error {
            seq,
            code,
            message: message.into(),
        }
    }
}
