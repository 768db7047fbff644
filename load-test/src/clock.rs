//! Precise send times on top of tokio's 1 ms timer wheel.
//!
//! Tokio rounds every deadline up to the next whole millisecond counted from
//! the moment the runtime was built, and an idle runtime may oversleep by up
//! to another millisecond. Left alone, sends go out 0 to 2 ms late (about
//! 1 ms on average), which would add a millisecond to every latency sample
//! and blur a comparison with a sub-millisecond echo server.
//!
//! Two fixes, used when the caller built the runtime and knows when:
//! - [`TimerGrid`] snaps scheduled send times down onto tokio's millisecond
//!   boundaries, so the rounding adds nothing;
//! - a kicker thread wakes the runtime's I/O driver just after every
//!   boundary (a byte through a socket pair), so due timers fire within
//!   tens of microseconds instead of at the end of an oversleep.
//!
//! Whatever remains is measured as send lag and reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// One tick of tokio's timer wheel.
const TICK: Duration = Duration::from_millis(1);

/// A 1 ms grid aligned with the runtime's timer ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerGrid {
    /// A grid point at or just before a tokio tick boundary.
    origin: Instant,
    /// How long after a grid point the kicker fires (past the real boundary).
    kick_after: Duration,
}

impl TimerGrid {
    /// The grid of a runtime built between `before` and `after` (instants
    /// taken right around `Builder::build`). Returns None when the build took
    /// so long that the tick phase is unknown.
    pub fn around_runtime_build(
        before: std::time::Instant,
        after: std::time::Instant,
    ) -> Option<TimerGrid> {
        let took = after.saturating_duration_since(before);
        // The tick origin lies between the two instants; within a tick of
        // each other, snapping to `before` never lands past a boundary.
        if took >= TICK - Duration::from_micros(50) {
            return None;
        }
        Some(TimerGrid {
            origin: Instant::from_std(before),
            kick_after: took + Duration::from_micros(20),
        })
    }

    /// Snaps `t` down to the grid point at or before it.
    pub fn align(&self, t: Instant) -> Instant {
        let since = t.saturating_duration_since(self.origin);
        let ticks = since.as_nanos() / TICK.as_nanos();
        self.origin
            + Duration::from_nanos(u64::try_from(ticks * TICK.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Snaps `t` onto `grid` when there is one.
pub(crate) fn align(grid: Option<&TimerGrid>, t: Instant) -> Instant {
    grid.map_or(t, |g| g.align(t))
}

/// Stops the kicker when dropped.
#[derive(Debug)]
pub(crate) struct Kicker {
    stop: Arc<AtomicBool>,
    /// Kick this many nanoseconds after each grid point.
    phase_ns: Arc<AtomicU64>,
}

impl Kicker {
    /// Finds the earliest kick phase that still lands after tokio's tick
    /// boundary, by probing: a timer due at a grid point fires no earlier
    /// than the boundary, so every observed lag is a safe phase, and
    /// kicking earlier than the boundary shows up as a lag of about a
    /// millisecond. Takes a few tens of milliseconds; run it while idle.
    pub(crate) async fn tune(&self, grid: &TimerGrid) -> Duration {
        let mut hi = Duration::from_nanos(self.phase_ns.load(Ordering::Relaxed));
        let mut lo = Duration::ZERO;
        for _ in 0..PROBES {
            if hi.saturating_sub(lo) < Duration::from_micros(10) {
                break;
            }
            let y = (lo + hi) / 2;
            self.set_phase(y);
            // Two ticks for the kicker thread to pick up the new phase.
            let due = grid.align(Instant::now() + TICK * 3);
            tokio::time::sleep_until(due).await;
            let lag = Instant::now().saturating_duration_since(due);
            if lag < hi {
                hi = lag;
            } else {
                lo = y;
            }
        }
        self.set_phase(hi);
        hi
    }

    fn set_phase(&self, phase: Duration) {
        let ns = u64::try_from(phase.as_nanos())
            .unwrap_or(u64::MAX)
            .min(MAX_PHASE_NS);
        self.phase_ns.store(ns, Ordering::Relaxed);
    }
}

/// The latest kick phase, just short of the next grid point.
const MAX_PHASE_NS: u64 = 990_000;

/// Probes of [`Kicker::tune`].
const PROBES: usize = 12;

impl Drop for Kicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the kicker for `grid`; must run inside the runtime. Returns None
/// where it cannot work (no Unix sockets, or the socket pair failed).
pub(crate) fn start_kicker(grid: TimerGrid) -> Option<Kicker> {
    #[cfg(unix)]
    {
        use std::io::Write;

        let (mut tx, rx) = std::os::unix::net::UnixStream::pair().ok()?;
        tx.set_nonblocking(true).ok()?;
        rx.set_nonblocking(true).ok()?;
        let rx = tokio::net::UnixStream::from_std(rx).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_thread = Arc::clone(&stop);
        let phase_ns = Arc::new(AtomicU64::new(
            u64::try_from(grid.kick_after.as_nanos()).unwrap_or(0),
        ));
        let phase_thread = Arc::clone(&phase_ns);
        let reader_stop = Arc::clone(&stop);
        // The reader only drains the bytes; the point is that their arrival
        // wakes the I/O driver, which then fires the due timers.
        tokio::spawn(async move {
            let mut buf = [0u8; 256];
            while !reader_stop.load(Ordering::Relaxed) {
                if rx.readable().await.is_err() {
                    return;
                }
                loop {
                    match rx.try_read(&mut buf) {
                        Ok(0) => return,
                        Ok(_) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => return,
                    }
                }
            }
        });
        let spawned = std::thread::Builder::new()
            .name("load-test-kicker".into())
            .spawn(move || {
                while !stop_thread.load(Ordering::Relaxed) {
                    let phase = Duration::from_nanos(phase_thread.load(Ordering::Relaxed));
                    let origin = grid.origin.into_std() + phase;
                    let now = std::time::Instant::now();
                    let since = now.saturating_duration_since(origin);
                    let next = origin
                        + Duration::from_millis(
                            u64::try_from(since.as_millis()).unwrap_or(u64::MAX - 1) + 1,
                        );
                    std::thread::sleep(next.saturating_duration_since(now));
                    match tx.write(&[1]) {
                        Ok(_) => {}
                        // A full pipe means the reader is behind; the driver is awake anyway.
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            });
        spawned.ok()?;
        Some(Kicker { stop, phase_ns })
    }
    #[cfg(not(unix))]
    {
        let _ = grid;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_snaps_down_to_whole_milliseconds() {
        let before = std::time::Instant::now();
        let grid =
            TimerGrid::around_runtime_build(before, before + Duration::from_micros(10)).unwrap();
        let o = Instant::from_std(before);
        assert_eq!(
            grid.align(o + Duration::from_micros(2_999)),
            o + Duration::from_millis(2)
        );
        assert_eq!(
            grid.align(o + Duration::from_millis(5)),
            o + Duration::from_millis(5)
        );
        assert_eq!(grid.align(o), o);
        assert!(
            TimerGrid::around_runtime_build(before, before + Duration::from_millis(1)).is_none()
        );
    }
}
