//! Movement plausibility: refuses teleports, forgives GPS noise.
//!
//! A fix is impossible when the distance from the last accepted fix is
//! more than `max_speed * dt` plus a fixed allowance for GPS jitter plus
//! both fixes' reported accuracy (capped, so a client cannot claim
//! kilometres of inaccuracy to teleport).

use std::time::Duration;

use tokio::time::Instant;

/// The largest accuracy, in m, that widens the allowance.
const MAX_ACCURACY_CREDIT_M: f64 = 100.0;

/// One player's movement history and penalty state.
#[derive(Debug, Clone)]
pub(crate) struct MovementGuard {
    max_speed_mps: f64,
    jitter_m: f64,
    cooldown: Duration,
    last: Option<Fix>,
    blocked_until: Option<Instant>,
}

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
    /// Impossible movement; actions are refused for the cooldown.
    TooFast,
}

impl MovementGuard {
    pub(crate) fn new(max_speed_mps: f64, jitter_m: f64, cooldown: Duration) -> Self {
        MovementGuard {
            max_speed_mps,
            jitter_m,
            cooldown,
            last: None,
            blocked_until: None,
        }
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
                    Verdict::TooFast
                } else {
                    Verdict::Ok
                }
            }
        };
        if verdict == Verdict::TooFast {
            self.blocked_until = Some(now + self.cooldown);
        }
        self.last = Some(Fix {
            lat,
            lon,
            accuracy,
            at: now,
        });
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guard() -> MovementGuard {
        MovementGuard::new(70.0, 50.0, Duration::from_secs(30))
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
        assert_eq!(g.observe(48.5, -122.0, Some(5.0), t1), Verdict::TooFast);
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
            Verdict::TooFast
        );
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
