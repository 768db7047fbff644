//! One connected player's game state: who they are, how they move, what
//! they were last shown, and what they did recently. The play and session
//! handlers change it; the connection only owns it.

use std::collections::HashMap;
use std::time::Duration;

use compact_str::CompactString;
use tokio::time::Instant;

use crate::hub::ConnId;
use crate::movement::SharedGuard;

/// Creatures a player is remembered to have scared off. A fled creature
/// stays hidden from that player until it expires; past this many the
/// oldest are forgotten, so a socket's memory cannot grow for its whole
/// life however many throws it makes.
pub(crate) const MAX_FLED: usize = 64;

/// Per-connection play state.
#[derive(Debug)]
pub(crate) struct Player {
    pub(crate) id: ConnId,
    pub(crate) player_id: String,
    /// The player's guard, shared with any other socket of theirs here.
    pub(crate) movement: SharedGuard,
    /// The creatures of the latest `nearby`, sorted by id (see
    /// `play::rewatch`).
    pub(crate) shown: Vec<CompactString>,
    /// Creatures that fled from this player, with when they expire (unix
    /// ms), oldest first; at most [`MAX_FLED`].
    fled: Vec<(CompactString, i64)>,
    pub(crate) visits: HashMap<String, Instant>,
    pub(crate) session: Option<String>,
    /// When this player's location was last logged to analytics.
    location_logged: Option<Instant>,
    /// When this player's track was last shared with other servers.
    track_shared: Option<Instant>,
    /// The player confirmed being a passenger; cleared when they slow
    /// below the passenger speed.
    pub(crate) passenger: bool,
    /// The speed the client last reported, m/s.
    pub(crate) reported_speed: f64,
    /// Rare and rarer creatures are left out of `nearby` (a strike's
    /// warning is running).
    pub(crate) hide_rare: bool,
}

/// How often a moving player's track goes to the other servers (Redis):
/// a server taking the player over judges them from a fix at most this
/// old, which widens the allowance by at most the top speed times this.
pub(crate) const TRACK_SHARE_EVERY: Duration = Duration::from_secs(5);

impl Player {
    pub(crate) fn new(id: ConnId, player_id: String, movement: SharedGuard) -> Self {
        Player {
            id,
            player_id,
            movement,
            shown: Vec::new(),
            fled: Vec::new(),
            visits: HashMap::new(),
            session: None,
            location_logged: None,
            track_shared: None,
            passenger: false,
            reported_speed: 0.0,
            hide_rare: false,
        }
    }

    /// How fast the player is going: the faster of the measured and the
    /// reported speed, m/s.
    pub(crate) fn speed_mps(&self) -> f64 {
        self.movement.speed_mps().max(self.reported_speed)
    }

    /// Whether the track is to be shared now: at most once per
    /// [`TRACK_SHARE_EVERY`], or at once when `force` (a penalty began).
    pub(crate) fn track_share_due(&mut self, now: Instant, force: bool) -> bool {
        let due = force
            || self
                .track_shared
                .is_none_or(|t| now.saturating_duration_since(t) >= TRACK_SHARE_EVERY);
        if due {
            self.track_shared = Some(now);
        }
        due
    }

    /// Whether this player's location is to be logged to analytics now,
    /// at most once per `every`; if so, notes that it was.
    pub(crate) fn location_log_due(&mut self, now: Instant, every: Duration) -> bool {
        let due = self
            .location_logged
            .is_none_or(|t| now.saturating_duration_since(t) >= every);
        if due {
            self.location_logged = Some(now);
        }
        due
    }

    /// Notes that creature `id`, which expires at `expires_at_ms`, fled
    /// from this player at `now_ms`. Expired entries are dropped first.
    pub(crate) fn fled_from(&mut self, id: &str, expires_at_ms: i64, now_ms: i64) {
        self.fled.retain(|(_, exp)| *exp > now_ms);
        if self.fled.len() >= MAX_FLED {
            self.fled.remove(0);
        }
        self.fled.push((CompactString::from(id), expires_at_ms));
    }

    /// Whether creature `id` fled from this player (and has not expired).
    pub(crate) fn has_fled(&self, id: &str) -> bool {
        !self.fled.is_empty() && self.fled.iter().any(|(f, _)| f == id)
    }

    /// How many fled creatures are remembered.
    #[cfg(test)]
    pub(crate) fn fled_len(&self) -> usize {
        self.fled.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn player() -> Player {
        Player::new(
            0,
            "p".into(),
            SharedGuard::new(crate::movement::MovementGuard::new(
                70.0,
                50.0,
                crate::movement::CooldownTable::flat(Duration::from_secs(30)),
            )),
        )
    }

    #[test]
    fn a_location_is_logged_at_most_once_per_interval() {
        let every = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut c = player();
        assert!(c.location_log_due(t0, every), "the first update is logged");
        // A client sending 100 updates a second still logs one.
        for i in 1..1000 {
            assert!(!c.location_log_due(t0 + Duration::from_millis(i * 10 - 1), every));
        }
        assert!(c.location_log_due(t0 + every, every));
        assert!(!c.location_log_due(t0 + every + Duration::from_secs(1), every));
        // Zero logs every update.
        let mut all = player();
        assert!((0..5).all(|_| all.location_log_due(t0, Duration::ZERO)));
    }

    #[test]
    fn the_fled_set_is_bounded_for_the_life_of_a_socket() {
        // Regression: `fled_from` was a set that grew with every flee for
        // the socket's whole life.
        let mut p = player();
        for i in 0..10_000 {
            p.fled_from(&format!("c-{i}"), i64::MAX, 0);
        }
        assert_eq!(p.fled_len(), MAX_FLED);
        assert!(p.has_fled("c-9999"), "the newest is remembered");
        assert!(!p.has_fled("c-0"), "the oldest were forgotten");
    }

    #[test]
    fn a_fled_creature_is_forgotten_once_it_expires() {
        let mut p = player();
        p.fled_from("c-1", 1_000, 0);
        p.fled_from("c-2", 5_000, 0);
        assert!(p.has_fled("c-1") && p.has_fled("c-2"));
        p.fled_from("c-3", 9_000, 2_000);
        assert!(!p.has_fled("c-1"), "expired at 1 s, pruned at 2 s");
        assert!(p.has_fled("c-2") && p.has_fled("c-3"));
        assert_eq!(p.fled_len(), 2);
    }
}
