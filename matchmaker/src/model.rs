//! The matchmaker's own records: tickets, sessions, match results and the
//! events that carry pushes to whichever process holds a player's socket.
//!
//! These are storage records (kept in memory or as JSON in Redis), not
//! wire types: only `protocol` knows what clients see.

use std::time::{SystemTime, UNIX_EPOCH};

use protocol::lobby::Mode;
use serde::{Deserialize, Serialize};

/// One open ticket: a player (and their party) waiting for a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ticket {
    /// Ticket id, handed to the client in `queued`.
    pub(crate) id: String,
    /// The player who queued.
    pub(crate) owner: String,
    /// Friends covered by this ticket (never contains the owner).
    pub(crate) party: Vec<String>,
    /// Raid or pvp.
    pub(crate) mode: Mode,
    /// The raid (or pvp) POI, if any.
    pub(crate) poi_id: Option<String>,
    /// Level used for pvp pairing.
    pub(crate) level: u32,
    /// When the ticket was queued, unix ms.
    pub(crate) created_ms: i64,
    /// When the ticket expires, unix ms.
    pub(crate) expires_ms: i64,
}

impl Ticket {
    /// How many players the ticket brings.
    pub(crate) fn size(&self) -> usize {
        self.party.len() + 1
    }

    /// Owner first, then the party.
    pub(crate) fn members(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.owner).chain(self.party.iter())
    }
}

/// A running session, as the matchmaker tracks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionRec {
    /// Session id.
    pub(crate) id: String,
    /// Every player in the session.
    pub(crate) players: Vec<String>,
    /// The game server hosting it.
    pub(crate) server_id: String,
    /// When the session is forcibly over, unix ms.
    pub(crate) expires_ms: i64,
}

/// A formed session, reported to the `on_match` callback.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchRecord {
    /// The new session's id.
    pub session_id: String,
    /// Raid or pvp.
    pub mode: Mode,
    /// The raid POI, if any.
    pub poi_id: Option<String>,
    /// Every player, ticket by ticket (each owner followed by their party).
    pub players: Vec<String>,
    /// The game server the session was assigned to.
    pub server_id: String,
    /// When the session formed, unix ms.
    pub formed_at_ms: i64,
    /// How long each player waited, in ms, in the order of `players`.
    pub waited_ms: Vec<i64>,
}

/// One ticket's part of a match: its id and the players to tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TicketPart {
    pub(crate) ticket_id: String,
    pub(crate) members: Vec<String>,
}

/// Something to push to players' sockets, on whichever process holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum HubEvent {
    /// A session formed.
    Matched {
        session_id: String,
        players: Vec<String>,
        server_url: String,
        session_token: String,
        tickets: Vec<TicketPart>,
    },
    /// A ticket ran out of time.
    Expired { ticket: TicketPart },
}

/// Current wall-clock time in unix milliseconds.
///
/// Wall time, not a monotonic clock, because several processes compare
/// ticket times through Redis.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Great-circle distance in metres (haversine on a spherical earth).
pub(crate) fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().clamp(0.0, 1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_one_millidegree_of_latitude_is_about_111_m() {
        let d = distance_m(48.0, 11.0, 48.001, 11.0);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        assert_eq!(distance_m(10.0, 20.0, 10.0, 20.0), 0.0);
    }

    #[test]
    fn ticket_members_are_owner_then_party() {
        let t = Ticket {
            id: "t".into(),
            owner: "a".into(),
            party: vec!["b".into()],
            mode: Mode::Raid,
            poi_id: Some("p1".into()),
            level: 1,
            created_ms: 0,
            expires_ms: 1,
        };
        assert_eq!(t.size(), 2);
        assert_eq!(t.members().cloned().collect::<Vec<_>>(), ["a", "b"]);
    }
}
