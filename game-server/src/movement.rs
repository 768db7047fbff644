//! Movement plausibility: refuses teleports, forgives GPS noise.
//!
//! A fix is impossible when the distance from the last accepted fix is
//! more than `max_speed * dt` plus a fixed allowance for GPS jitter plus
//! both fixes' reported accuracy (capped, so a client cannot claim
//! kilometres of inaccuracy to teleport).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::sync::Track;
use tokio::time::Instant;

/// The largest accuracy, in m, that widens the allowance.
const MAX_ACCURACY_CREDIT_M: f64 = 100.0;

/// How long actions are refused after an impossible jump, by how far it
/// went: the farther the jump, the longer the wait, as players of Pokemon
/// Go know it. Each entry is (jumps of at least this many metres, this
/// cooldown), sorted by distance; a jump shorter than every entry gets the
/// first.
#[derive(Debug, Clone, PartialEq)]
pub struct CooldownTable(Arc<[(f64, Duration)]>);

impl CooldownTable {
    /// A table from `(metres, cooldown)` entries, in any order; none of
    /// them: no cooldown at all.
    pub fn new(mut entries: Vec<(f64, Duration)>) -> Self {
        entries.retain(|(m, _)| m.is_finite() && *m >= 0.0);
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        CooldownTable(entries.into())
    }

    /// The same cooldown for every jump.
    pub fn flat(cooldown: Duration) -> Self {
        CooldownTable::new(vec![(0.0, cooldown)])
    }

    /// The cooldown for an impossible jump of `metres`.
    pub fn for_jump(&self, metres: f64) -> Duration {
        self.0
            .iter()
            .rev()
            .find(|(m, _)| metres >= *m)
            .or_else(|| self.0.first())
            .map_or(Duration::ZERO, |(_, d)| *d)
    }
}

impl Default for CooldownTable {
    /// From 30 s for a short hop up to 2 h past 1,500 km.
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        CooldownTable::new(vec![
            (0.0, Duration::from_secs(30)),
            (1_000.0, min(1)),
            (5_000.0, min(2)),
            (10_000.0, min(6)),
            (25_000.0, min(11)),
            (65_000.0, min(22)),
            (100_000.0, min(35)),
            (250_000.0, min(45)),
            (500_000.0, min(60)),
            (1_000_000.0, min(90)),
            (1_500_000.0, min(120)),
        ])
    }
}

/// One player's movement history and penalty state.
#[derive(Debug, Clone)]
pub(crate) struct MovementGuard {
    max_speed_mps: f64,
    jitter_m: f64,
    cooldowns: CooldownTable,
    last: Option<Fix>,
    blocked_until: Option<Instant>,
    /// Speed over the last leg of at least [`SPEED_LEG`], m/s.
    speed_mps: f64,
    /// Rare creatures are hidden from the player until then (unix ms): a
    /// strike's warning.
    hide_rare_until_ms: i64,
    /// Where that leg started.
    leg_start: Option<Fix>,
}

/// The shortest stretch of time a speed is measured over: over shorter
/// legs, GPS jitter alone would read as speed.
const SPEED_LEG: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Fix {
    lat: f64,
    lon: f64,
    accuracy: f64,
    at: Instant,
}

/// What the guard made of a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Plausible movement.
    Ok,
    /// Impossible movement; actions are refused for `cooldown`.
    TooFast {
        /// How long, from the table by the jump's distance.
        cooldown: Duration,
    },
}

impl MovementGuard {
    pub(crate) fn new(max_speed_mps: f64, jitter_m: f64, cooldowns: CooldownTable) -> Self {
        MovementGuard {
            max_speed_mps,
            jitter_m,
            cooldowns,
            last: None,
            blocked_until: None,
            speed_mps: 0.0,
            leg_start: None,
            hide_rare_until_ms: 0,
        }
    }

    /// The speed over the latest leg of at least two seconds, m/s.
    pub(crate) fn speed_mps(&self) -> f64 {
        self.speed_mps
    }

    /// Checks a new fix at `now` and makes it the reference for the next.
    ///
    /// The new fix becomes the reference even when it is impossible, so a
    /// player who really did travel (a flight) is only penalised once.
    pub(crate) fn observe(
        &mut self,
        lat: f64,
        lon: f64,
        accuracy: Option<f64>,
        now: Instant,
    ) -> Verdict {
        let accuracy = accuracy.unwrap_or(0.0).min(MAX_ACCURACY_CREDIT_M);
        let verdict = match self.last {
            None => Verdict::Ok,
            Some(prev) => {
                let dt = now.saturating_duration_since(prev.at).as_secs_f64();
                let dist = spawner::haversine_m(prev.lat, prev.lon, lat, lon);
                let allowed = self.max_speed_mps * dt + self.jitter_m + prev.accuracy + accuracy;
                if dist > allowed {
                    Verdict::TooFast {
                        cooldown: self.cooldowns.for_jump(dist),
                    }
                } else {
                    Verdict::Ok
                }
            }
        };
        let fix = Fix {
            lat,
            lon,
            accuracy,
            at: now,
        };
        if let Verdict::TooFast { cooldown } = verdict {
            // A second jump inside a penalty never shortens it.
            let until = now + cooldown;
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
            // A teleport is no speed: measure afresh from here.
            self.leg_start = Some(fix);
            self.speed_mps = 0.0;
        } else {
            match self.leg_start {
                Some(start) if now.saturating_duration_since(start.at) >= SPEED_LEG => {
                    let secs = now.saturating_duration_since(start.at).as_secs_f64();
                    self.speed_mps = spawner::haversine_m(start.lat, start.lon, lat, lon) / secs;
                    self.leg_start = Some(fix);
                }
                Some(_) => {}
                None => self.leg_start = Some(fix),
            }
        }
        self.last = Some(fix);
        verdict
    }

    /// Whether actions are refused at `now` because of recent impossible
    /// movement.
    pub(crate) fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|t| now < t)
    }

    /// The last accepted position.
    pub(crate) fn position(&self) -> Option<(f64, f64)> {
        self.last.map(|f| (f.lat, f.lon))
    }

    /// The state in wall-clock time, `now` being `now_ms`; none before
    /// the first fix.
    pub(crate) fn track(&self, now: Instant, now_ms: i64) -> Option<Track> {
        let ago = |t: Instant| now.saturating_duration_since(t).as_millis() as i64;
        let ahead = |t: Instant| t.saturating_duration_since(now).as_millis() as i64;
        self.last.map(|f| Track {
            lat: f.lat,
            lon: f.lon,
            accuracy: f.accuracy,
            at_ms: now_ms - ago(f.at),
            blocked_until_ms: self.blocked_until.map(|b| now_ms + ahead(b)),
        })
    }

    /// Takes over a track another server (or an earlier process) kept,
    /// when it is newer than this guard's own: the next fix is judged from
    /// it, and its penalty still runs.
    pub(crate) fn adopt(&mut self, t: Track, now: Instant, now_ms: i64) {
        let at = |ms: i64| {
            let d = Duration::from_millis(now_ms.abs_diff(ms));
            if ms <= now_ms {
                now.checked_sub(d).unwrap_or(now)
            } else {
                now + d
            }
        };
        if self.last.is_none_or(|f| at(t.at_ms) > f.at) {
            self.last = Some(Fix {
                lat: t.lat,
                lon: t.lon,
                accuracy: t.accuracy.clamp(0.0, MAX_ACCURACY_CREDIT_M),
                at: at(t.at_ms),
            });
        }
        if let Some(b) = t.blocked_until_ms.map(at)
            && self.blocked_until.is_none_or(|mine| b > mine)
        {
            self.blocked_until = Some(b);
        }
    }
}

/// One player's guard, shared by every socket the player opens on this
/// server: movement is judged per player, not per socket, so a new socket
/// starts from the last accepted position.
#[derive(Debug, Clone)]
pub(crate) struct SharedGuard(Arc<Mutex<MovementGuard>>);

impl SharedGuard {
    pub(crate) fn new(guard: MovementGuard) -> Self {
        SharedGuard(Arc::new(Mutex::new(guard)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MovementGuard> {
        // The guard holds plain numbers: a panic elsewhere cannot leave it
        // half-updated, so a poisoned lock is still good.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// See [`MovementGuard::observe`].
    pub(crate) fn observe(
        &self,
        lat: f64,
        lon: f64,
        accuracy: Option<f64>,
        now: Instant,
    ) -> Verdict {
        self.lock().observe(lat, lon, accuracy, now)
    }

    /// See [`MovementGuard::blocked`].
    pub(crate) fn blocked(&self, now: Instant) -> bool {
        self.lock().blocked(now)
    }

    /// Hides rare creatures from the player until `until_ms` (0: show).
    pub(crate) fn hide_rare_until(&self, until_ms: i64) {
        self.lock().hide_rare_until_ms = until_ms;
    }

    /// Whether rare creatures are hidden at `now_ms`.
    pub(crate) fn hides_rare(&self, now_ms: i64) -> bool {
        now_ms < self.lock().hide_rare_until_ms
    }

    /// See [`MovementGuard::speed_mps`].
    pub(crate) fn speed_mps(&self) -> f64 {
        self.lock().speed_mps()
    }

    /// See [`MovementGuard::position`].
    pub(crate) fn position(&self) -> Option<(f64, f64)> {
        self.lock().position()
    }

    /// See [`MovementGuard::track`].
    pub(crate) fn track(&self, now: Instant, now_ms: i64) -> Option<Track> {
        self.lock().track(now, now_ms)
    }

    /// See [`MovementGuard::adopt`].
    pub(crate) fn adopt(&self, t: Track, now: Instant, now_ms: i64) {
        self.lock().adopt(t, now, now_ms);
    }

    /// Whether a socket other than the registry's own holds this guard.
    pub(crate) fn in_use(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guard() -> MovementGuard {
        MovementGuard::new(70.0, 50.0, CooldownTable::flat(Duration::from_secs(30)))
    }

    /// Moves `d` metres on a bearing from a point (flat-earth step, fine
    /// for the short legs here).
    fn step(lat: f64, lon: f64, bearing_deg: f64, d: f64) -> (f64, f64) {
        let b = bearing_deg.to_radians();
        let dlat = d * b.cos() / 111_320.0;
        let dlon = d * b.sin() / (111_320.0 * lat.to_radians().cos());
        (lat + dlat, lon + dlon)
    }

    #[test]
    fn a_100_km_jump_in_a_second_is_too_fast_and_blocks_actions() {
        let mut g = guard();
        let t0 = Instant::now();
        assert_eq!(g.observe(47.6, -122.0, Some(5.0), t0), Verdict::Ok);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            g.observe(48.5, -122.0, Some(5.0), t1),
            Verdict::TooFast {
                cooldown: Duration::from_secs(30)
            }
        );
        assert!(g.blocked(t1 + Duration::from_secs(29)));
        assert!(!g.blocked(t1 + Duration::from_secs(31)));
    }

    #[test]
    fn huge_claimed_accuracy_does_not_excuse_a_teleport() {
        let mut g = guard();
        let t0 = Instant::now();
        g.observe(47.6, -122.0, Some(100_000.0), t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            g.observe(47.7, -122.0, Some(100_000.0), t1),
            Verdict::TooFast {
                cooldown: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn a_track_carries_position_and_penalty_to_a_fresh_guard() {
        // The old socket (or server) saw a jump; the new one starts from
        // its track and still refuses actions and the next teleport.
        let mut old = guard();
        let t0 = Instant::now();
        old.observe(47.6, -122.0, Some(5.0), t0);
        old.observe(48.5, -122.0, Some(5.0), t0 + Duration::from_secs(1));
        let now = t0 + Duration::from_secs(2);
        let now_ms = 1_800_000_000_000;
        let track = old.track(now, now_ms).unwrap();
        assert_eq!(track.at_ms, now_ms - 1_000);
        assert_eq!(track.blocked_until_ms, Some(now_ms + 29_000));

        let mut fresh = guard();
        fresh.adopt(track, now, now_ms);
        assert!(fresh.blocked(now + Duration::from_secs(28)));
        assert!(!fresh.blocked(now + Duration::from_secs(30)));
        assert_eq!(fresh.position(), Some((48.5, -122.0)));
        // Back to the first spot a second later: still a 100 km jump.
        assert_eq!(
            fresh.observe(47.6, -122.0, Some(5.0), now + Duration::from_secs(1)),
            Verdict::TooFast {
                cooldown: Duration::from_secs(30)
            }
        );
        // An older track never rolls a guard back.
        let mut newer = guard();
        newer.observe(10.0, 10.0, None, now);
        newer.adopt(track, now, now_ms);
        assert_eq!(newer.position(), Some((10.0, 10.0)));
    }

    #[test]
    fn the_farther_the_jump_the_longer_the_wait() {
        let table = CooldownTable::default();
        assert_eq!(table.for_jump(300.0), Duration::from_secs(30));
        assert_eq!(table.for_jump(7_000.0), Duration::from_secs(120));
        assert_eq!(table.for_jump(100_000.0), Duration::from_secs(35 * 60));
        assert_eq!(table.for_jump(9_000_000.0), Duration::from_secs(2 * 3600));
        // Sydney to London in a second waits longer than a hop across town.
        let mut g = MovementGuard::new(70.0, 50.0, CooldownTable::default());
        let t0 = Instant::now();
        g.observe(47.6, -122.0, None, t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            g.observe(48.5, -122.0, None, t1),
            Verdict::TooFast {
                cooldown: Duration::from_secs(35 * 60)
            },
            "about 100 km"
        );
        assert!(g.blocked(t1 + Duration::from_secs(34 * 60)));
        assert!(!g.blocked(t1 + Duration::from_secs(36 * 60)));
        // A short hop inside the long penalty does not shorten it.
        let t2 = t1 + Duration::from_secs(1);
        g.observe(48.51, -122.0, None, t2);
        assert!(g.blocked(t1 + Duration::from_secs(34 * 60)));
        assert_eq!(CooldownTable::new(vec![]).for_jump(1e6), Duration::ZERO);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        /// Realistic walking, cycling and driving with GPS jitter is never
        /// flagged.
        #[test]
        fn realistic_movement_is_never_flagged(
            speed in prop_oneof![0.5f64..2.0, 3.0f64..8.0, 8.0f64..40.0],
            start_lat in -60.0f64..60.0,
            start_lon in -170.0f64..170.0,
            legs in proptest::collection::vec((0.0f64..360.0, 1u64..10, 0.0f64..25.0, 3.0f64..30.0), 1..60),
        ) {
            let mut g = guard();
            let mut t = Instant::now();
            let (mut lat, mut lon) = (start_lat, start_lon);
            g.observe(lat, lon, Some(10.0), t);
            for (bearing, secs, jitter, acc) in legs {
                let (nlat, nlon) = step(lat, lon, bearing, speed * secs as f64);
                lat = nlat;
                lon = nlon;
                // GPS noise within the reported accuracy, in a random direction.
                let (jlat, jlon) = step(lat, lon, (bearing * 7.0) % 360.0, jitter.min(acc));
                t += Duration::from_secs(secs);
                prop_assert_eq!(g.observe(jlat, jlon, Some(acc), t), Verdict::Ok);
            }
        }
    }
}
