//! Matchmaking rules, timings and bounds, with the contract's defaults.

use std::time::Duration;

use crate::MatchError;

/// Every rule, timing and bound of the matchmaker.
///
/// `Default` gives the contract's values: raids of 2 to 20 players within
/// 300 m of the POI, a 30 s lobby wait, and so on.
#[derive(Debug, Clone)]
pub struct MatchConfig {
    /// Fewest players a raid starts with.
    pub raid_min: usize,
    /// Most players in one raid; a lobby that reaches it starts at once.
    pub raid_max: usize,
    /// How far from the POI, in metres, a raid ticket is accepted.
    pub raid_radius_m: f64,
    /// How long a raid lobby waits, from its oldest ticket, before it
    /// starts with fewer than `raid_max` players.
    pub lobby_wait: Duration,
    /// How long a ticket stays open before it expires.
    pub ticket_ttl: Duration,
    /// Level gap allowed between two pvp players who have just queued.
    pub pvp_base_gap: u32,
    /// How many levels the allowed pvp gap widens per second of waiting.
    pub pvp_gap_per_s: f64,
    /// The widest pvp level gap ever allowed.
    pub pvp_max_gap: u32,
    /// Level assumed for a ticket that gives none.
    pub default_level: u32,
    /// Interval of the matching loop.
    pub tick: Duration,
    /// Lifetime of a session token, in seconds.
    pub session_token_ttl_s: i64,
    /// Longest a session may run before its players are released even if
    /// the game server never ends it.
    pub session_max: Duration,
    /// A game server whose last heartbeat is older than this is dead.
    pub heartbeat_ttl: Duration,
    /// How long an assignment counts against a server's room, until the
    /// server's own reported load includes the session.
    pub reservation_ttl: Duration,
    /// Most open tickets the whole queue holds.
    pub max_open_tickets: usize,
    /// Time a new socket has to send `hello`.
    pub hello_timeout: Duration,
    /// Frames queued to one socket before it counts as not reading and is
    /// disconnected.
    pub socket_buffer: usize,
    /// Longest a write to one socket may block.
    pub write_timeout: Duration,
    /// Largest accepted text frame, in bytes (the contract's 16 KiB).
    pub max_frame_bytes: usize,
    /// Sustained client frames per second per socket.
    pub rate_per_s: f64,
    /// Burst of client frames per socket.
    pub rate_burst: f64,
    /// Frames refused after `rate_limited` before the socket is closed.
    pub flood_strikes: u32,
    /// Timeout of any single Redis call (connect or response).
    pub redis_timeout: Duration,
    /// How long the matching lease of one process lasts on Redis.
    pub lease_ttl: Duration,
    /// Approximate length bound of the Redis event stream.
    pub event_stream_maxlen: usize,
    /// Events read from the Redis stream per call.
    pub event_batch: usize,
    /// How often running sessions are swept for expiry.
    pub session_sweep: Duration,
    /// Deadline for closing sockets on shutdown.
    pub shutdown_grace: Duration,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            raid_min: 2,
            raid_max: 20,
            raid_radius_m: 300.0,
            lobby_wait: Duration::from_secs(30),
            ticket_ttl: Duration::from_secs(120),
            pvp_base_gap: 2,
            pvp_gap_per_s: 0.5,
            pvp_max_gap: 30,
            default_level: 1,
            tick: Duration::from_millis(100),
            session_token_ttl_s: 120,
            session_max: Duration::from_secs(30 * 60),
            heartbeat_ttl: Duration::from_secs(15),
            reservation_ttl: Duration::from_secs(10),
            max_open_tickets: 1_000_000,
            hello_timeout: Duration::from_secs(10),
            socket_buffer: 64,
            write_timeout: Duration::from_secs(5),
            max_frame_bytes: protocol::MAX_FRAME_BYTES,
            rate_per_s: 10.0,
            rate_burst: 20.0,
            flood_strikes: 20,
            redis_timeout: Duration::from_millis(500),
            lease_ttl: Duration::from_secs(2),
            event_stream_maxlen: 100_000,
            event_batch: 512,
            session_sweep: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl MatchConfig {
    /// Checks that the values make sense together.
    pub fn validate(&self) -> Result<(), MatchError> {
        let bad = |m: &str| Err(MatchError::Config(m.to_owned()));
        if self.raid_min < 1 || self.raid_max < self.raid_min {
            return bad("need 1 <= raid_min <= raid_max");
        }
        if !(self.raid_radius_m.is_finite() && self.raid_radius_m > 0.0) {
            return bad("raid_radius_m must be a positive number");
        }
        if !(self.pvp_gap_per_s.is_finite() && self.pvp_gap_per_s >= 0.0) {
            return bad("pvp_gap_per_s must be a finite number >= 0");
        }
        if self.tick.is_zero() || self.lease_ttl <= self.tick {
            return bad("tick must be positive and shorter than lease_ttl");
        }
        if self.socket_buffer == 0 || self.event_batch == 0 || self.max_open_tickets == 0 {
            return bad("buffer sizes must be positive");
        }
        if !(self.rate_per_s > 0.0 && self.rate_burst >= 1.0) {
            return bad("rate_per_s must be > 0 and rate_burst >= 1");
        }
        if self.session_token_ttl_s <= 0 {
            return bad("session_token_ttl_s must be positive");
        }
        Ok(())
    }

    /// The widest level gap a pvp ticket accepts after waiting `waited_ms`.
    pub fn pvp_gap(&self, waited_ms: i64) -> u32 {
        let waited_s = waited_ms.max(0) as f64 / 1000.0;
        let widened = f64::from(self.pvp_base_gap) + self.pvp_gap_per_s * waited_s;
        // The cast saturates, and the min keeps it within the configured cap.
        (widened.floor() as u32).min(self.pvp_max_gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let c = MatchConfig::default();
        c.validate().unwrap();
        assert_eq!((c.raid_min, c.raid_max), (2, 20));
        assert_eq!(c.raid_radius_m, 300.0);
        assert_eq!(c.lobby_wait, Duration::from_secs(30));
    }

    #[test]
    fn pvp_gap_widens_with_waiting_and_is_capped() {
        let c = MatchConfig::default();
        assert_eq!(c.pvp_gap(0), 2);
        assert_eq!(c.pvp_gap(10_000), 7);
        assert_eq!(c.pvp_gap(10_000_000), c.pvp_max_gap);
        assert_eq!(c.pvp_gap(-5), 2);
    }

    #[test]
    fn validate_refuses_inverted_raid_bounds() {
        let c = MatchConfig {
            raid_min: 5,
            raid_max: 4,
            ..MatchConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
