//! Client-side encoding of `/v1/play` and `/v1/lobby` requests.
//!
//! The client message enums have no serde derive because decoding is done
//! by hand (see `decode`). Encoding streams each message straight into the
//! output buffer through a borrowed wrapper, with `type` first and `seq`
//! second so the frames read the way the protocol documentation shows
//! them, and without building an intermediate `serde_json::Value`.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::lobby::LobbyClientMessage;
use crate::play::ClientMessage;

/// Writes `key: value` only when the value is present.
fn opt<M: SerializeMap, T: Serialize>(m: &mut M, key: &str, v: &Option<T>) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

struct PlayFrame<'a>(&'a ClientMessage);

impl Serialize for PlayFrame<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let msg = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", msg.kind())?;
        opt(&mut m, "seq", &msg.seq())?;
        match msg {
            ClientMessage::Hello { token } => m.serialize_entry("token", token)?,
            ClientMessage::Location(l) => {
                m.serialize_entry("lat", &l.lat)?;
                m.serialize_entry("lon", &l.lon)?;
                opt(&mut m, "heading", &l.heading)?;
                opt(&mut m, "speed", &l.speed)?;
                opt(&mut m, "accuracy", &l.accuracy)?;
            }
            ClientMessage::Catch { creature_id, .. } => {
                m.serialize_entry("creature_id", creature_id)?;
            }
            ClientMessage::Spin { poi_id, .. } => m.serialize_entry("poi_id", poi_id)?,
            ClientMessage::JoinSession { session_token, .. } => {
                m.serialize_entry("session_token", session_token)?;
            }
            ClientMessage::Collection { .. }
            | ClientMessage::Attack { .. }
            | ClientMessage::RaidCatch { .. }
            | ClientMessage::LeaveSession { .. }
            | ClientMessage::Ping { .. }
            | ClientMessage::Passenger { .. } => {}
        }
        m.end()
    }
}

struct LobbyFrame<'a>(&'a LobbyClientMessage);

impl Serialize for LobbyFrame<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            LobbyClientMessage::Hello { token } => {
                m.serialize_entry("type", "hello")?;
                m.serialize_entry("token", token)?;
            }
            LobbyClientMessage::Queue(q) => {
                m.serialize_entry("type", "queue")?;
                opt(&mut m, "seq", &q.seq)?;
                m.serialize_entry("mode", q.mode.as_str())?;
                opt(&mut m, "poi_id", &q.poi_id)?;
                m.serialize_entry("lat", &q.lat)?;
                m.serialize_entry("lon", &q.lon)?;
                opt(&mut m, "level", &q.level)?;
                if !q.party.is_empty() {
                    m.serialize_entry("party", &q.party)?;
                }
            }
            LobbyClientMessage::Cancel { seq, ticket_id } => {
                m.serialize_entry("type", "cancel")?;
                opt(&mut m, "seq", seq)?;
                m.serialize_entry("ticket_id", ticket_id)?;
            }
            LobbyClientMessage::Ping { seq } => {
                m.serialize_entry("type", "ping")?;
                opt(&mut m, "seq", seq)?;
            }
        }
        m.end()
    }
}

/// Encodes a `/v1/play` request as one JSON text frame.
pub(crate) fn encode_play_client(msg: &ClientMessage) -> String {
    // Writing strings and numbers into a `Vec` cannot fail; a non-finite
    // float is written as `null` by serde_json rather than failing.
    serde_json::to_string(&PlayFrame(msg)).unwrap_or_default()
}

/// Encodes a `/v1/lobby` request as one JSON text frame.
pub(crate) fn encode_lobby_client(msg: &LobbyClientMessage) -> String {
    serde_json::to_string(&LobbyFrame(msg)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lobby::{Mode, QueueRequest};
    use crate::play::LocationUpdate;

    #[test]
    fn location_frame_puts_type_then_seq_and_skips_absent_options() {
        let msg = ClientMessage::Location(LocationUpdate {
            seq: Some(12),
            lat: 47.6,
            lon: -122.03,
            heading: None,
            speed: Some(1.5),
            accuracy: None,
        });
        assert_eq!(
            encode_play_client(&msg),
            r#"{"type":"location","seq":12,"lat":47.6,"lon":-122.03,"speed":1.5}"#
        );
    }

    #[test]
    fn hello_frame_has_no_seq() {
        let msg = ClientMessage::Hello { token: "t".into() };
        assert_eq!(encode_play_client(&msg), r#"{"type":"hello","token":"t"}"#);
    }

    #[test]
    fn queue_frame_omits_empty_party_and_absent_level() {
        let msg = LobbyClientMessage::Queue(QueueRequest {
            seq: None,
            mode: Mode::Pvp,
            poi_id: None,
            lat: 1.0,
            lon: 2.0,
            level: None,
            party: vec![],
        });
        assert_eq!(
            encode_lobby_client(&msg),
            r#"{"type":"queue","mode":"pvp","lat":1.0,"lon":2.0}"#
        );
    }
}
