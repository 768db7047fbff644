//! Storms: many players arriving in the same second, mid-run.
//!
//! `--storm SHARE` holds that share of the players back from the ramp and
//! connects them all at once (sign-in, handshake, `hello`) at the storm
//! moment; `--reconnect-storm SHARE` drops that share's play sockets at the
//! same moment and has them come back with their tokens, as after a game
//! server restarts behind a balancer. The run then reports the arrivals'
//! sign-in rate and connect time, and the `location` latency of the
//! players who were already playing (the bystanders) in equal windows
//! before and after the storm began: what a storm costs everyone else.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::Config;
use crate::error::LoadTestError;
use crate::report::Percentiles;

/// The longest window compared before and after the storm.
const MAX_WINDOW: Duration = Duration::from_secs(10);

/// Salts of the per-player choices (see [`crate::player::unit_hash`]).
const STORM_SALT: u64 = 0x5707_A41E;
const RECONNECT_SALT: u64 = 0x5707_4EC0;

/// When the storm hits, as an offset from the run's start: `--storm-at`,
/// else a third of the way through the time after the ramp, so there is a
/// steady stretch before it to compare with.
pub(crate) fn storm_offset(cfg: &Config) -> Duration {
    cfg.storm_at
        .unwrap_or(cfg.ramp + cfg.duration.saturating_sub(cfg.ramp) / 3)
}

/// The length of each compared window: up to [`MAX_WINDOW`], never
/// reaching back into the ramp nor past the end.
pub(crate) fn window(cfg: &Config) -> Duration {
    let at = storm_offset(cfg);
    at.saturating_sub(cfg.ramp)
        .min(cfg.duration.saturating_sub(at))
        .min(MAX_WINDOW)
}

/// Whether the run records a storm: it makes one, or watches one.
pub(crate) fn watched(cfg: &Config) -> bool {
    cfg.mix.storm_share > 0.0 || cfg.mix.reconnect_storm_share > 0.0 || cfg.storm_at.is_some()
}

/// Whether player `idx` arrives in the storm instead of the ramp.
pub(crate) fn arrives_in_storm(cfg: &Config, idx: usize) -> bool {
    let share = cfg.mix.storm_share;
    share > 0.0 && crate::player::unit_hash(cfg.seed ^ STORM_SALT, idx as u64) < share
}

/// Whether player `idx` (not a storm arrival) drops and reconnects in the
/// reconnect storm.
pub(crate) fn reconnects_in_storm(cfg: &Config, idx: usize) -> bool {
    let share = cfg.mix.reconnect_storm_share;
    share > 0.0
        && !arrives_in_storm(cfg, idx)
        && crate::player::unit_hash(cfg.seed ^ RECONNECT_SALT, idx as u64) < share
}

/// The recorder of one run's storm.
pub struct Storm {
    /// The storm moment.
    at: Instant,
    window: Duration,
    inner: Mutex<StormTotals>,
}

impl std::fmt::Debug for Storm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storm").finish_non_exhaustive()
    }
}

/// What [`Storm`] counted.
#[derive(Debug, Clone)]
pub struct StormTotals {
    /// Storm players who came in (new arrivals and reconnects).
    pub arrived: u64,
    /// Storm players who could not.
    pub failed: u64,
    /// From the storm moment to each arrival's `welcome` (microseconds).
    pub connect: Histogram<u64>,
    /// When the last arrival got its `welcome`, after the storm moment.
    pub last_arrival: Duration,
    /// Bystanders' `location` latency in the window before the storm.
    pub before: Histogram<u64>,
    /// Bystanders' `location` latency in the window from the storm on.
    pub during: Histogram<u64>,
}

fn histogram(high_us: u64) -> Result<Histogram<u64>, LoadTestError> {
    Histogram::new_with_bounds(1, high_us.max(2), 3)
        .map_err(|e| LoadTestError::Histogram(e.to_string()))
}

fn lock(m: &Mutex<StormTotals>) -> std::sync::MutexGuard<'_, StormTotals> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Storm {
    /// A recorder for a storm at `at`; times above `high_us` are clamped.
    pub fn new(at: Instant, window: Duration, high_us: u64) -> Result<Storm, LoadTestError> {
        Ok(Storm {
            at,
            window,
            inner: Mutex::new(StormTotals {
                arrived: 0,
                failed: 0,
                connect: histogram(high_us)?,
                last_arrival: Duration::ZERO,
                before: histogram(high_us)?,
                during: histogram(high_us)?,
            }),
        })
    }

    /// The storm moment.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// A storm player got its `welcome` at `now`.
    pub fn arrived(&self, now: Instant) {
        let since = now.saturating_duration_since(self.at);
        let mut t = lock(&self.inner);
        t.arrived += 1;
        t.connect
            .saturating_record(since.as_micros().try_into().unwrap_or(u64::MAX));
        t.last_arrival = t.last_arrival.max(since);
    }

    /// A storm player gave up.
    pub fn failed(&self) {
        lock(&self.inner).failed += 1;
    }

    /// A bystander's `location` reply, `us` after its send scheduled at
    /// `since`; kept when `since` falls in one of the two windows.
    pub fn bystander(&self, since: Instant, us: u64) {
        let in_before = since < self.at && since + self.window >= self.at;
        let in_during = since >= self.at && since < self.at + self.window;
        if in_before || in_during {
            let mut t = lock(&self.inner);
            let h = if in_before {
                &mut t.before
            } else {
                &mut t.during
            };
            h.saturating_record(us);
        }
    }

    /// A copy of the counts so far.
    pub fn totals(&self) -> StormTotals {
        lock(&self.inner).clone()
    }
}

/// The storm section of the JSON report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StormReport {
    /// Players held back from the ramp to arrive at once (`--storm`).
    pub new_players: u64,
    /// Players dropped and reconnected at once (`--reconnect-storm`).
    pub reconnecting_players: u64,
    /// Seconds from the start of the run to the storm.
    pub at_s: f64,
    /// Storm players who came in, and those who gave up.
    pub arrived: u64,
    /// See `arrived`.
    pub failed: u64,
    /// Arrivals per second: `arrived` over the time to the last of them.
    pub arrivals_per_s: f64,
    /// Seconds from the storm to the last arrival's `welcome`.
    pub all_in_s: f64,
    /// From the storm moment to each arrival's `welcome` (sign-in,
    /// handshake, hello, and any shed-and-retry).
    pub connect_ms: Percentiles,
    /// Length of the two compared windows, seconds.
    pub window_s: f64,
    /// Bystanders' `location` latency in the window before the storm.
    pub bystanders_before_ms: Percentiles,
    /// Bystanders' `location` latency in the window from the storm on.
    pub bystanders_during_ms: Percentiles,
}

impl StormReport {
    /// The report section for `cfg`'s storm from what was counted.
    pub fn build(cfg: &Config, t: &StormTotals) -> StormReport {
        let count = |pick: fn(&Config, usize) -> bool| {
            (0..cfg.players).filter(|&i| pick(cfg, i)).count() as u64
        };
        let all_in = t.last_arrival.as_secs_f64();
        StormReport {
            new_players: count(arrives_in_storm),
            reconnecting_players: count(reconnects_in_storm),
            at_s: storm_offset(cfg).as_secs_f64(),
            arrived: t.arrived,
            failed: t.failed,
            arrivals_per_s: if all_in > 0.0 {
                t.arrived as f64 / all_in
            } else {
                0.0
            },
            all_in_s: all_in,
            connect_ms: Percentiles::from_micros(&t.connect),
            window_s: window(cfg).as_secs_f64(),
            bystanders_before_ms: Percentiles::from_micros(&t.before),
            bystanders_during_ms: Percentiles::from_micros(&t.during),
        }
    }

    /// One line for the text summary.
    pub fn line(&self) -> String {
        format!(
            "storm at {:.0} s: {} new + {} reconnecting; {} in ({} failed), all in {:.2} s ({:.0}/s), connect p50 {:.1} ms p99 {:.1} ms; bystanders' location p99 {:.2} ms before, {:.2} ms during ({:.0} s windows)",
            self.at_s,
            self.new_players,
            self.reconnecting_players,
            self.arrived,
            self.failed,
            self.all_in_s,
            self.arrivals_per_s,
            self.connect_ms.p50,
            self.connect_ms.p99,
            self.bystanders_before_ms.p99,
            self.bystanders_during_ms.p99,
            self.window_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;

    fn cfg() -> Config {
        let mut cfg = Config::new(Target::Calibrate, 1000, 1.0, Duration::from_secs(70));
        cfg.ramp = Duration::from_secs(10);
        cfg
    }

    #[test]
    fn the_storm_falls_after_the_ramp_with_a_window_before_it() {
        let c = cfg();
        assert_eq!(storm_offset(&c), Duration::from_secs(30));
        assert_eq!(window(&c), Duration::from_secs(10));
        assert!(storm_offset(&c) - window(&c) >= c.ramp);
    }

    #[test]
    fn storm_at_moves_the_storm_and_keeps_the_windows_inside_the_run() {
        let mut c = cfg();
        assert!(!watched(&c));
        c.storm_at = Some(Duration::from_secs(15));
        assert!(watched(&c));
        assert_eq!(storm_offset(&c), Duration::from_secs(15));
        assert_eq!(window(&c), Duration::from_secs(5));
        c.storm_at = Some(Duration::from_secs(65));
        assert_eq!(window(&c), Duration::from_secs(5));
    }

    #[test]
    fn the_shares_pick_disjoint_players() {
        let mut c = cfg();
        assert!((0..1000).all(|i| !arrives_in_storm(&c, i) && !reconnects_in_storm(&c, i)));
        c.mix.storm_share = 0.3;
        c.mix.reconnect_storm_share = 0.5;
        let new = (0..1000).filter(|&i| arrives_in_storm(&c, i)).count();
        let back = (0..1000).filter(|&i| reconnects_in_storm(&c, i)).count();
        assert!((250..350).contains(&new), "{new}");
        // Half of the 70% who arrive in the ramp.
        assert!((300..400).contains(&back), "{back}");
        assert!((0..1000).all(|i| !(arrives_in_storm(&c, i) && reconnects_in_storm(&c, i))));
    }

    #[test]
    fn bystander_samples_land_in_their_window() {
        let at = Instant::now() + Duration::from_secs(20);
        let s = Storm::new(at, Duration::from_secs(10), 60_000_000).unwrap();
        s.bystander(at - Duration::from_secs(5), 1_000);
        s.bystander(at - Duration::from_secs(15), 9_000);
        s.bystander(at + Duration::from_secs(1), 2_000);
        s.bystander(at + Duration::from_secs(11), 9_000);
        s.arrived(at + Duration::from_millis(1500));
        s.arrived(at + Duration::from_millis(500));
        let t = s.totals();
        assert_eq!((t.before.len(), t.during.len()), (1, 1));
        assert!((990..1010).contains(&t.before.max()));
        assert!((1990..2010).contains(&t.during.max()));
        assert_eq!(t.arrived, 2);
        assert_eq!(t.last_arrival, Duration::from_millis(1500));
        let r = StormReport::build(&cfg(), &t);
        assert!((r.arrivals_per_s - 2.0 / 1.5).abs() < 1e-9);
    }
}
