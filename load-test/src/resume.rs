//! Drop and resume: a share of the players lose their play socket once in
//! the middle of the run, as a phone does in a tunnel, and come back with
//! the same token. The run counts the drops, the resumes and their time
//! (from the drop to the `welcome` of the new socket), the requests left
//! unanswered by the drop, the slots not sent while offline, and the raids
//! the server put the player back into (`session_joined` pushed).

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::config::Config;
use crate::error::LoadTestError;

/// The recorder of drops and resumes, shared by the players of a run.
pub struct Resumes {
    inner: Mutex<ResumeTotals>,
}

/// What [`Resumes`] counted.
#[derive(Debug, Clone)]
pub struct ResumeTotals {
    /// Time from a drop to the new socket's `welcome` (microseconds).
    pub time: Histogram<u64>,
    /// Players whose socket was dropped.
    pub dropped: u64,
    /// Players back with a new socket.
    pub resumed: u64,
    /// Resumes that failed, by reason.
    pub failures: Vec<(&'static str, u64)>,
    /// Requests in flight when their socket dropped (never answered).
    pub unanswered: u64,
    /// Scheduled sends that fell while the player was offline (not sent).
    pub offline_slots: u64,
    /// Players dropped in a raid whom the server put back into it.
    pub raids_rejoined: u64,
    /// Players dropped in a raid.
    pub raids_dropped: u64,
}

impl std::fmt::Debug for Resumes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resumes").finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<ResumeTotals>) -> std::sync::MutexGuard<'_, ResumeTotals> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Resumes {
    /// An empty recorder; times above `high_us` are clamped to it.
    pub fn new(high_us: u64) -> Result<Resumes, LoadTestError> {
        let time = Histogram::new_with_bounds(1, high_us.max(2), 3)
            .map_err(|e| LoadTestError::Histogram(e.to_string()))?;
        Ok(Resumes {
            inner: Mutex::new(ResumeTotals {
                time,
                dropped: 0,
                resumed: 0,
                failures: Vec::new(),
                unanswered: 0,
                offline_slots: 0,
                raids_rejoined: 0,
                raids_dropped: 0,
            }),
        })
    }

    /// A socket dropped with `unanswered` requests in flight.
    pub fn dropped(&self, unanswered: u64, in_raid: bool) {
        let mut t = lock(&self.inner);
        t.dropped += 1;
        t.unanswered += unanswered;
        t.raids_dropped += u64::from(in_raid);
    }

    /// A player is back, `took` after its drop.
    pub fn resumed(&self, took: Duration) {
        let mut t = lock(&self.inner);
        t.resumed += 1;
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        t.time.saturating_record(us);
    }

    /// A player could not come back.
    pub fn failed(&self, reason: &'static str) {
        let mut t = lock(&self.inner);
        match t.failures.iter_mut().find(|(r, _)| *r == reason) {
            Some(entry) => entry.1 += 1,
            None => t.failures.push((reason, 1)),
        }
    }

    /// `n` scheduled sends fell in a player's time offline.
    pub fn offline_slots(&self, n: u64) {
        lock(&self.inner).offline_slots += n;
    }

    /// The server put a dropped raider back into their raid.
    pub fn raid_rejoined(&self) {
        lock(&self.inner).raids_rejoined += 1;
    }

    /// A copy of the counts so far.
    pub fn totals(&self) -> ResumeTotals {
        lock(&self.inner).clone()
    }
}

/// When player `idx` drops, as an offset from the run's start, if it is one
/// of the `drop_share` that do: at a time spread over the part of the run
/// after the ramp, early enough that the resume and a good stretch of play
/// after it fall inside the run.
pub(crate) fn drop_offset(cfg: &Config, idx: usize) -> Option<Duration> {
    let share = cfg.mix.drop_share;
    if share <= 0.0 || crate::player::unit_hash(cfg.seed ^ 0xD40B, idx as u64) >= share {
        return None;
    }
    let after_ramp = cfg.duration.saturating_sub(cfg.ramp);
    let at = crate::player::unit_hash(cfg.seed ^ 0x2E5E, idx as u64);
    // Between 20% and 60% of the time after the ramp.
    Some(cfg.ramp + after_ramp.mul_f64(0.2 + 0.4 * at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Target;

    #[test]
    fn the_chosen_share_drops_once_inside_the_run_after_the_ramp() {
        let mut cfg = Config::new(Target::Calibrate, 1000, 1.0, Duration::from_secs(60));
        cfg.ramp = Duration::from_secs(10);
        assert!((0..1000).all(|i| drop_offset(&cfg, i).is_none()), "share 0");
        cfg.mix.drop_share = 0.25;
        let offsets: Vec<Duration> = (0..1000).filter_map(|i| drop_offset(&cfg, i)).collect();
        assert!((200..300).contains(&offsets.len()), "{}", offsets.len());
        for o in &offsets {
            assert!(
                *o >= Duration::from_secs(20) && *o <= Duration::from_secs(40),
                "{o:?}"
            );
        }
        cfg.mix.drop_share = 1.0;
        assert!((0..1000).all(|i| drop_offset(&cfg, i).is_some()), "share 1");
    }

    #[test]
    fn counts_and_times_add_up() {
        let r = Resumes::new(60_000_000).unwrap();
        r.dropped(3, true);
        r.dropped(0, false);
        r.resumed(Duration::from_millis(12));
        r.failed("tcp_connect");
        r.failed("tcp_connect");
        r.offline_slots(4);
        r.raid_rejoined();
        let t = r.totals();
        assert_eq!((t.dropped, t.resumed, t.unanswered), (2, 1, 3));
        assert_eq!(
            (t.raids_dropped, t.raids_rejoined, t.offline_slots),
            (1, 1, 4)
        );
        assert_eq!(t.failures, vec![("tcp_connect", 2)]);
        assert_eq!(t.time.len(), 1);
        assert!((11_900..12_100).contains(&t.time.max()));
    }
}
