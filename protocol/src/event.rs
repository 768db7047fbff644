//! The analytics event schema (version 1): what game servers and the
//! matchmaker log, and what the analytics service stores.
//!
//! One flat record per event keeps the SQL sink simple: every field that a
//! report filters or groups by is its own column.

use serde::{Deserialize, Serialize};

use crate::play::Rarity;

/// The event schema version written in [`Event::v`].
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A player's socket authenticated.
    SessionStart,
    /// A player's socket closed; `value` is the duration in seconds.
    SessionEnd,
    /// A sampled location update.
    Location,
    /// A creature appeared.
    Spawn,
    /// A creature went away; `outcome` is the despawn reason.
    Despawn,
    /// A catch was tried and resolved; `outcome` is the catch outcome.
    Catch,
    /// A POI was spun; `outcome` is the spin outcome.
    Spin,
    /// A POI was visited (the player came within range); foot traffic.
    Visit,
    /// The matchmaker formed a session; `outcome` is the mode.
    MatchFormed,
    /// Something happened in a shared session; `outcome` is the action.
    SessionAction,
    /// A protocol error was sent; `outcome` is the error code.
    ProtocolError,
    /// A latency sample; `outcome` is the message type, `value` is ms.
    Latency,
}

impl EventKind {
    /// The kind as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session_start",
            EventKind::SessionEnd => "session_end",
            EventKind::Location => "location",
            EventKind::Spawn => "spawn",
            EventKind::Despawn => "despawn",
            EventKind::Catch => "catch",
            EventKind::Spin => "spin",
            EventKind::Visit => "visit",
            EventKind::MatchFormed => "match_formed",
            EventKind::SessionAction => "session_action",
            EventKind::ProtocolError => "protocol_error",
            EventKind::Latency => "latency",
        }
    }
}

/// One analytics event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Schema version, [`EVENT_SCHEMA_VERSION`].
    pub v: u16,
    /// Unique id; the SQL sink stores each id once.
    pub event_id: String,
    /// Server time, unix milliseconds.
    pub at_ms: i64,
    /// What happened.
    pub kind: EventKind,
    /// The process that logged it.
    pub server_id: String,
    /// The acting player.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player_id: Option<String>,
    /// The shared session, for session and match events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The creature involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creature_id: Option<String>,
    /// Its species.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub species: Option<String>,
    /// Its rarity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rarity: Option<Rarity>,
    /// The POI involved (the creature's home POI for spawns and catches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poi_id: Option<String>,
    /// Latitude of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Outcome, reason, mode or code, depending on `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// A number, depending on `kind` (latency ms, duration s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl Event {
    /// A new event of `kind` with every optional field empty.
    pub fn new(event_id: String, at_ms: i64, kind: EventKind, server_id: String) -> Self {
        Event {
            v: EVENT_SCHEMA_VERSION,
            event_id,
            at_ms,
            kind,
            server_id,
            player_id: None,
            session_id: None,
            creature_id: None,
            species: None,
            rarity: None,
            poi_id: None,
            lat: None,
            lon: None,
            outcome: None,
            value: None,
        }
    }

    /// Encodes the event as JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Decodes an event from JSON.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [EventKind; 12] = [
        EventKind::SessionStart,
        EventKind::SessionEnd,
        EventKind::Location,
        EventKind::Spawn,
        EventKind::Despawn,
        EventKind::Catch,
        EventKind::Spin,
        EventKind::Visit,
        EventKind::MatchFormed,
        EventKind::SessionAction,
        EventKind::ProtocolError,
        EventKind::Latency,
    ];

    #[test]
    fn kind_as_str_matches_serde() {
        for k in KINDS {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn empty_optionals_are_left_out() {
        let e = Event::new(
            "e1".into(),
            1_795_000_000_000,
            EventKind::Spawn,
            "gs-1".into(),
        );
        assert_eq!(
            e.encode(),
            r#"{"v":1,"event_id":"e1","at_ms":1795000000000,"kind":"spawn","server_id":"gs-1"}"#
        );
        assert_eq!(Event::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn full_event_round_trips() {
        let mut e = Event::new("e2".into(), 5, EventKind::Catch, "gs-1".into());
        e.player_id = Some("p1".into());
        e.session_id = Some("s1".into());
        e.creature_id = Some("c1".into());
        e.species = Some("sprigling".into());
        e.rarity = Some(Rarity::Rare);
        e.poi_id = Some("poi1".into());
        e.lat = Some(47.6);
        e.lon = Some(-122.03);
        e.outcome = Some("caught".into());
        e.value = Some(1.25);
        let text = e.encode();
        assert_eq!(Event::decode(&text).unwrap(), e);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["rarity"], "rare");
        assert_eq!(v.as_object().unwrap().len(), 15);
    }
}
