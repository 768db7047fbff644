//! What the game servers of one world tell each other over pub/sub, so
//! that each applies another's changes: operator changes to zones and
//! POIs (reload them from SQL) and caught creatures (take them out).

use serde::{Deserialize, Serialize};

/// One announcement: who made a change, and what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldMessage {
    /// The id of the game server that made the change; a server ignores
    /// its own.
    pub origin: String,
    /// The change.
    #[serde(flatten)]
    pub change: WorldChange,
}

/// A change to the shared world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum WorldChange {
    /// The stored zones changed.
    Zones,
    /// The stored POIs changed.
    Pois,
    /// A creature was caught and is gone from every world.
    Taken {
        /// The creature.
        creature_id: String,
    },
    /// A player said `hello` on the origin server: any other server
    /// holding a socket of theirs closes it with 4001 (`replaced`).
    Claimed {
        /// The player.
        player_id: String,
    },
    /// A player's strikes changed: the server holding their socket applies
    /// the new standing (a suspension closes it).
    Standing {
        /// The player.
        player_id: String,
    },
}

/// A player's last accepted position and penalty, in wall-clock time, as
/// game servers share it (on Redis) so that movement is judged per player
/// across reconnects and servers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Latitude of the last accepted fix.
    pub lat: f64,
    /// Longitude of the last accepted fix.
    pub lon: f64,
    /// Its reported accuracy in m, as credited.
    pub accuracy: f64,
    /// When it was taken, unix ms.
    pub at_ms: i64,
    /// Until when actions are refused for impossible movement, unix ms.
    pub blocked_until_ms: Option<i64>,
}

impl Track {
    /// The track as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a track; anything else is an error.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl WorldMessage {
    /// The message as JSON text.
    pub fn encode(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message; anything else is an error, not a guess.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_a_stable_shape() {
        let m = WorldMessage {
            origin: "gs-1".into(),
            change: WorldChange::Taken {
                creature_id: "c 1".into(),
            },
        };
        assert_eq!(
            m.encode(),
            r#"{"origin":"gs-1","change":"taken","creature_id":"c 1"}"#
        );
        assert_eq!(WorldMessage::decode(&m.encode()).unwrap(), m);
        let z = WorldMessage {
            origin: "gs-2".into(),
            change: WorldChange::Zones,
        };
        assert_eq!(z.encode(), r#"{"origin":"gs-2","change":"zones"}"#);
        assert_eq!(WorldMessage::decode(&z.encode()).unwrap(), z);
    }

    #[test]
    fn text_that_is_not_a_message_is_refused() {
        // The old space-separated text, an unknown change and a taken
        // without its creature all fail to decode.
        for bad in [
            "gs-1 taken c-1",
            r#"{"origin":"gs-1","change":"weather"}"#,
            r#"{"origin":"gs-1","change":"taken"}"#,
            r#"{"change":"zones"}"#,
        ] {
            assert!(WorldMessage::decode(bad).is_err(), "{bad}");
        }
    }
}
