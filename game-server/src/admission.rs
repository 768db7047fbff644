//! Admission: how much arrival work (sign-ins, password hashes, socket
//! hellos) one server takes on at once, and the answer to the rest.
//!
//! A storm of arrivals (an event starting, a server restarting behind the
//! balancer) must not slow the players already playing. Two signals shed
//! arrivals at once, with a retryable answer (HTTP 503 with `Retry-After`,
//! or close 1013), rather than queue them inside the server where they
//! would make every reply wait behind them:
//!
//! - **limits** on sign-ins and hellos in flight, which bound the memory
//!   and the queued work a storm can pile up;
//! - **runtime lag**: a probe task measures how late the runtime runs a
//!   short timer, which is how long any woken task (a player's reply)
//!   waits for a worker. While that lag is above `--shed-lag-ms`, the
//!   server is saturated and takes no new arrivals: their work would come
//!   out of the playing players' latency.
//!
//! Clients retry after a jittered wait, which spreads the storm out over
//! the seconds the server can absorb it in. Password hashing (Argon2id,
//! tens of milliseconds of CPU each) also runs on at most half the cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use protocol::ErrorCode;
use protocol::play::ServerMessage;
use service_kit::ApiError;

/// What a shed client is told to wait, in seconds.
pub(crate) const RETRY_AFTER_S: u64 = 1;

/// The `error` a shed `hello` gets before its close 1013.
pub(crate) fn shed_hello() -> ServerMessage {
    let msg = format!("too many players arriving at once; try again in {RETRY_AFTER_S} s");
    ServerMessage::error(None, ErrorCode::Unavailable, msg)
}

/// How often the lag probe measures.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// The limits of one server.
#[derive(Debug)]
pub(crate) struct Admission {
    sign_ins: Semaphore,
    max_sign_ins: usize,
    hellos: Semaphore,
    hashing: Semaphore,
    lag: Lag,
}

impl Admission {
    /// Limits of `sign_ins` and `hellos` at once, shedding while the
    /// runtime lags more than `shed_lag` (zero: never); password hashes on
    /// half the cores (at least one).
    pub(crate) fn new(sign_ins: usize, hellos: usize, shed_lag: Duration) -> Admission {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Admission {
            sign_ins: Semaphore::new(sign_ins),
            max_sign_ins: sign_ins,
            hellos: Semaphore::new(hellos),
            hashing: Semaphore::new((cores / 2).max(1)),
            lag: Lag::new(shed_lag),
        }
    }

    /// Starts the runtime lag probe, until `stop`.
    pub(crate) fn start_probe(&self, stop: CancellationToken) {
        if !self.lag.limit.is_zero() {
            tokio::spawn(self.lag.clone().probe(stop));
        }
    }

    /// A slot for one sign-in, held until it is answered; none left, or a
    /// saturated runtime, is a 503 with `Retry-After`.
    pub(crate) fn sign_in(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        let slot = if self.lag.saturated() {
            None
        } else {
            self.sign_ins.try_acquire().ok()
        };
        slot.ok_or_else(|| {
            metrics::counter!("geogame_shed_total", "what" => "sign_in").increment(1);
            ApiError::busy(
                "too many sign-ins at once; retry in a moment",
                RETRY_AFTER_S,
            )
        })
    }

    /// A slot for one socket's arrival, or none when too many are arriving
    /// or the runtime is saturated (the socket is then closed with 1013).
    pub(crate) fn hello(&self) -> Option<SemaphorePermit<'_>> {
        let slot = if self.lag.saturated() {
            None
        } else {
            self.hellos.try_acquire().ok()
        };
        if slot.is_none() {
            metrics::counter!("geogame_shed_total", "what" => "hello").increment(1);
        }
        slot
    }

    /// Sign-ins being worked on now.
    pub(crate) fn sign_ins_in_flight(&self) -> usize {
        self.max_sign_ins - self.sign_ins.available_permits()
    }

    /// Waits for a turn to hash a password. Waiting is bounded by the
    /// sign-in slots: only that many can be queued here.
    pub(crate) async fn hashing(&self) -> SemaphorePermit<'_> {
        self.hashing
            .acquire()
            .await
            .expect("the hashing semaphore is never closed")
    }
}

/// The runtime's scheduling lag, as the probe last measured it.
#[derive(Debug, Clone)]
struct Lag {
    /// Smoothed lag, microseconds.
    smoothed_us: Arc<AtomicU64>,
    /// Above this the runtime counts as saturated; zero never does.
    limit: Duration,
}

impl Lag {
    fn new(limit: Duration) -> Lag {
        Lag {
            smoothed_us: Arc::new(AtomicU64::new(0)),
            limit,
        }
    }

    fn smoothed(&self) -> Duration {
        Duration::from_micros(self.smoothed_us.load(Ordering::Relaxed))
    }

    fn saturated(&self) -> bool {
        !self.limit.is_zero() && self.smoothed() > self.limit
    }

    /// Folds one measurement in: halfway up at each rise (a storm, whose
    /// probes come back hundreds of milliseconds late, is seen within two
    /// probes, while one stall alone does not shed), and a quarter of the
    /// way down at each fall (so the server reopens once it has been calm
    /// for a few probes, not between two bursts).
    fn record(&self, late: Duration) {
        let late = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let old = self.smoothed_us.load(Ordering::Relaxed);
        let new = if late >= old {
            old + (late - old) / 2
        } else {
            old - (old - late) / 4
        };
        self.smoothed_us.store(new, Ordering::Relaxed);
        metrics::gauge!("geogame_runtime_lag_seconds").set(new as f64 / 1e6);
    }

    /// Sleeps [`PROBE_EVERY`] again and again, recording how late each
    /// wake-up came.
    async fn probe(self, stop: CancellationToken) {
        loop {
            let asleep = Instant::now();
            tokio::select! {
                () = tokio::time::sleep(PROBE_EVERY) => {}
                () = stop.cancelled() => return,
            }
            // Timers fire on a 1 ms grid: a millisecond late is on time.
            let late = asleep
                .elapsed()
                .saturating_sub(PROBE_EVERY + Duration::from_millis(1));
            self.record(late);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arrivals_beyond_the_limits_are_shed_until_a_slot_frees() {
        let a = Admission::new(2, 1, Duration::ZERO);
        let one = a.sign_in().unwrap();
        let _two = a.sign_in().unwrap();
        assert_eq!(a.sign_ins_in_flight(), 2);
        let shed = a.sign_in().unwrap_err();
        assert_eq!(shed.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        drop(one);
        assert!(a.sign_in().is_ok(), "a freed slot is taken again");

        let hello = a.hello().unwrap();
        assert!(a.hello().is_none());
        drop(hello);
        assert!(a.hello().is_some());
    }

    #[test]
    fn lag_rises_fast_and_falls_gradually() {
        let lag = Lag::new(Duration::from_millis(50));
        lag.record(Duration::from_millis(2));
        assert!(!lag.saturated());
        lag.record(Duration::from_millis(99));
        assert_eq!(lag.smoothed(), Duration::from_millis(50));
        assert!(!lag.saturated(), "one stall alone does not shed");
        lag.record(Duration::from_millis(150));
        assert!(lag.saturated(), "a second late probe does");
        lag.record(Duration::ZERO);
        assert_eq!(lag.smoothed(), Duration::from_millis(75));
        for _ in 0..10 {
            lag.record(Duration::ZERO);
        }
        assert!(!lag.saturated(), "{:?}", lag.smoothed());
        assert!(!Lag::new(Duration::ZERO).saturated());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_blocked_runtime_sheds_arrivals_until_it_recovers() {
        let a = Admission::new(100, 100, Duration::from_millis(50));
        let stop = CancellationToken::new();
        a.start_probe(stop.clone());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(a.hello().is_some(), "an idle runtime admits");
        // Hold the only worker thread, twice, as a saturated server does.
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(300));
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        assert!(
            a.lag.smoothed() >= Duration::from_millis(100),
            "{:?}",
            a.lag.smoothed()
        );
        assert!(a.hello().is_none());
        assert!(a.sign_in().is_err());
        // Calm again: the lag decays and arrivals are admitted.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(a.hello().is_some(), "lag {:?}", a.lag.smoothed());
        stop.cancel();
    }
}
