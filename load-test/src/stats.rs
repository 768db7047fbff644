//! Latency and count recording, sharded so thousands of player tasks can
//! record without fighting over one lock.
//!
//! Every player records into one of a few shards (chosen by its index). A
//! shard holds cumulative HdrHistograms per message kind, a histogram of the
//! generator's own send lag, and an "interval" histogram that the sampler
//! swaps out once per second to build the time series.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::error::LoadTestError;

/// What a latency sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `location` to `nearby` (or to the echoed frame when calibrating).
    Location,
    /// `catch` to `catch_result`.
    Catch,
    /// `spin` to `spin_result`.
    Spin,
    /// Lobby `queue` to `queued`.
    Queue,
    /// Lobby `queue` to the `match_found` push.
    Match,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Location,
        Kind::Catch,
        Kind::Spin,
        Kind::Queue,
        Kind::Match,
    ];

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Location => "location",
            Kind::Catch => "catch",
            Kind::Spin => "spin",
            Kind::Queue => "queue",
            Kind::Match => "match",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters for one message kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Requests sent.
    pub sent: u64,
    /// Successful replies matched to a request.
    pub received: u64,
    /// Error replies matched to a request (and, for `match`, expired tickets).
    pub errors: u64,
    /// Requests that got no reply within the timeout or before the end.
    pub timeouts: u64,
    /// Scheduled sends skipped because the in-flight limit was reached.
    pub skipped: u64,
    /// Requests still legitimately waiting at the end (lobby tickets).
    pub pending: u64,
}

/// Outcome counts of catches and spins, by outcome name.
pub type OutcomeCounts = Vec<(&'static str, u64)>;

struct Shard {
    latency: Vec<Histogram<u64>>,
    counts: [KindCounts; 5],
    errors: Vec<(Option<Kind>, &'static str, u64)>,
    outcomes: Vec<(Kind, &'static str, u64)>,
    send_lag: Histogram<u64>,
    interval_location: Histogram<u64>,
    steady_location: Histogram<u64>,
    late_replies: u64,
}

/// Shared recorder state for one run.
pub struct Stats {
    shards: Box<[Mutex<Shard>]>,
    /// Requests scheduled from here on also count as steady state.
    steady_from: OnceLock<Instant>,
    high_us: u64,
    connected: AtomicU64,
    disconnected: AtomicU64,
    shed: AtomicU64,
    connect_failures: Mutex<Vec<(&'static str, u64)>>,
}

/// A merged view of everything recorded so far.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Cumulative latency histograms (microseconds), indexed like [`Kind::ALL`].
    pub latency: Vec<Histogram<u64>>,
    /// Counters, indexed like [`Kind::ALL`].
    pub counts: [KindCounts; 5],
    /// Error counts by kind (None: errors no request could be matched to) and code.
    pub errors: Vec<(Option<Kind>, &'static str, u64)>,
    /// Outcome counts by kind and outcome.
    pub outcomes: Vec<(Kind, &'static str, u64)>,
    /// How late sends went out against their schedule (microseconds).
    pub send_lag: Histogram<u64>,
    /// `location` latency of requests scheduled after the ramp, when every
    /// player is connected (microseconds).
    pub steady_location: Histogram<u64>,
    /// Replies that arrived after their request had been counted as a timeout.
    pub late_replies: u64,
    /// Connection failures by reason.
    pub connect_failures: Vec<(&'static str, u64)>,
    /// Players that completed the handshake.
    pub connected: u64,
    /// Players whose socket dropped before the end.
    pub disconnected: u64,
    /// Busy answers (503, close 1013) that a connecting player waited out
    /// and retried.
    pub shed: u64,
}

/// Running totals, as counted by [`Stats::quick_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuickCounts {
    /// Requests sent.
    pub sent: u64,
    /// Successful replies.
    pub received: u64,
    /// Error replies, timeouts and failed connections.
    pub errors: u64,
    /// Timeouts alone.
    pub timeouts: u64,
    /// Players connected.
    pub connected: u64,
}

/// The location latency histogram and counters of one sampling interval.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Location latencies recorded in the interval (microseconds).
    pub location: Histogram<u64>,
}

fn new_histogram(high_us: u64) -> Result<Histogram<u64>, LoadTestError> {
    Histogram::new_with_bounds(1, high_us, 3).map_err(|e| LoadTestError::Histogram(e.to_string()))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn bump<K: PartialEq>(list: &mut Vec<(K, &'static str, u64)>, key: K, code: &'static str) {
    match list.iter_mut().find(|(k, c, _)| *k == key && *c == code) {
        Some(entry) => entry.2 += 1,
        None => list.push((key, code, 1)),
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("shards", &self.shards.len())
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

impl Stats {
    /// Creates the shards; `max_latency` bounds the histograms (longer
    /// samples are clamped to it).
    pub fn new(shards: usize, max_latency: Duration) -> Result<Stats, LoadTestError> {
        let high_us = micros(max_latency).max(1_000_000);
        let mut v = Vec::with_capacity(shards.max(1));
        for _ in 0..shards.max(1) {
            let mut latency = Vec::with_capacity(Kind::ALL.len());
            for _ in Kind::ALL {
                latency.push(new_histogram(high_us)?);
            }
            v.push(Mutex::new(Shard {
                latency,
                counts: [KindCounts::default(); 5],
                errors: Vec::new(),
                outcomes: Vec::new(),
                send_lag: new_histogram(high_us)?,
                interval_location: new_histogram(high_us)?,
                steady_location: new_histogram(high_us)?,
                late_replies: 0,
            }));
        }
        Ok(Stats {
            shards: v.into_boxed_slice(),
            steady_from: OnceLock::new(),
            high_us,
            connected: AtomicU64::new(0),
            disconnected: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            connect_failures: Mutex::new(Vec::new()),
        })
    }

    /// The recorder a player with index `player` uses.
    pub fn recorder(&self, player: usize) -> Recorder<'_> {
        Recorder {
            shard: &self.shards[player % self.shards.len()],
            steady_from: &self.steady_from,
            storm: None,
        }
    }

    /// Counts a busy answer (shed by the server) that will be retried.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the end of the ramp: `location` requests scheduled from `at`
    /// on are also recorded as steady state. Only the first call counts.
    pub fn set_steady_from(&self, at: Instant) {
        let _ = self.steady_from.set(at);
    }

    /// Counts a player that finished its handshake.
    pub fn player_connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a player whose socket dropped before the end of the run.
    pub fn player_disconnected(&self) {
        self.disconnected.fetch_add(1, Ordering::Relaxed);
    }

    /// Players connected so far.
    pub fn connected(&self) -> u64 {
        self.connected.load(Ordering::Relaxed)
    }

    /// Counts a player that could not connect, by reason.
    pub fn connect_failed(&self, reason: &'static str) {
        let mut list = lock(&self.connect_failures);
        match list.iter_mut().find(|(r, _)| *r == reason) {
            Some(entry) => entry.1 += 1,
            None => list.push((reason, 1)),
        }
    }

    /// Cheap running totals for progress lines, without merging histograms.
    pub fn quick_counts(&self) -> QuickCounts {
        let mut q = QuickCounts::default();
        for shard in self.shards.iter() {
            let s = lock(shard);
            for k in Kind::ALL {
                let c = &s.counts[k.index()];
                if k != Kind::Match {
                    q.sent += c.sent;
                    q.received += c.received;
                }
                q.timeouts += c.timeouts;
            }
            q.errors += s.errors.iter().map(|e| e.2).sum::<u64>();
        }
        q.errors += q.timeouts
            + lock(&self.connect_failures)
                .iter()
                .map(|e| e.1)
                .sum::<u64>();
        q.connected = self.connected.load(Ordering::Relaxed);
        q
    }

    /// Swaps out the interval histograms of every shard and merges them.
    pub fn take_interval(&self) -> Result<Interval, LoadTestError> {
        let mut location = new_histogram(self.high_us)?;
        for shard in self.shards.iter() {
            let mut s = lock(shard);
            location
                .add(&s.interval_location)
                .map_err(|e| LoadTestError::Histogram(format!("{e:?}")))?;
            s.interval_location.reset();
        }
        Ok(Interval { location })
    }

    /// Merges every shard into one view.
    pub fn totals(&self) -> Result<Totals, LoadTestError> {
        let mut t = Totals {
            latency: Vec::with_capacity(Kind::ALL.len()),
            counts: [KindCounts::default(); 5],
            errors: Vec::new(),
            outcomes: Vec::new(),
            send_lag: new_histogram(self.high_us)?,
            steady_location: new_histogram(self.high_us)?,
            late_replies: 0,
            connect_failures: lock(&self.connect_failures).clone(),
            connected: self.connected.load(Ordering::Relaxed),
            disconnected: self.disconnected.load(Ordering::Relaxed),
            shed: self.shed.load(Ordering::Relaxed),
        };
        for _ in Kind::ALL {
            t.latency.push(new_histogram(self.high_us)?);
        }
        let add_err = |e: hdrhistogram::AdditionError| LoadTestError::Histogram(format!("{e:?}"));
        for shard in self.shards.iter() {
            let s = lock(shard);
            for k in Kind::ALL {
                let i = k.index();
                t.latency[i].add(&s.latency[i]).map_err(add_err)?;
                let (a, b) = (&mut t.counts[i], &s.counts[i]);
                a.sent += b.sent;
                a.received += b.received;
                a.errors += b.errors;
                a.timeouts += b.timeouts;
                a.skipped += b.skipped;
                a.pending += b.pending;
            }
            t.send_lag.add(&s.send_lag).map_err(add_err)?;
            t.steady_location.add(&s.steady_location).map_err(add_err)?;
            t.late_replies += s.late_replies;
            for &(k, c, n) in &s.errors {
                match t.errors.iter_mut().find(|(k2, c2, _)| *k2 == k && *c2 == c) {
                    Some(e) => e.2 += n,
                    None => t.errors.push((k, c, n)),
                }
            }
            for &(k, c, n) in &s.outcomes {
                match t
                    .outcomes
                    .iter_mut()
                    .find(|(k2, c2, _)| *k2 == k && *c2 == c)
                {
                    Some(e) => e.2 += n,
                    None => t.outcomes.push((k, c, n)),
                }
            }
        }
        t.errors.sort();
        t.outcomes.sort();
        t.connect_failures.sort();
        Ok(t)
    }
}

/// A mutex poisoned by a panicking player task still holds valid counts, so
/// recording carries on with them instead of failing the whole run.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A player's handle on its shard.
#[derive(Clone, Copy)]
pub struct Recorder<'a> {
    shard: &'a Mutex<Shard>,
    steady_from: &'a OnceLock<Instant>,
    /// Set for a bystander of a storm: its `location` samples also go to
    /// the storm's windows.
    storm: Option<&'a crate::storm::Storm>,
}

impl std::fmt::Debug for Recorder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl<'a> Recorder<'a> {
    /// This recorder, also feeding `storm`'s bystander windows.
    pub fn watching(self, storm: &'a crate::storm::Storm) -> Recorder<'a> {
        Recorder {
            storm: Some(storm),
            ..self
        }
    }

    /// Counts a request sent `lag` after its scheduled time.
    pub fn sent(&self, kind: Kind, lag: Duration) {
        let mut s = lock(self.shard);
        s.counts[kind.index()].sent += 1;
        // Lag is recorded in microseconds; zero lag is clamped to 1 us.
        s.send_lag.saturating_record(micros(lag));
    }

    /// Counts a request that is not on the send schedule (lobby tickets).
    pub fn sent_unscheduled(&self, kind: Kind) {
        lock(self.shard).counts[kind.index()].sent += 1;
    }

    /// Records a successful reply at `now` to a request scheduled (or, for
    /// lobby kinds, started) at `since`.
    pub fn reply(&self, kind: Kind, since: Instant, now: Instant) {
        let mut s = lock(self.shard);
        s.counts[kind.index()].received += 1;
        self.sample(&mut s, kind, since, now);
    }

    fn sample(&self, s: &mut Shard, kind: Kind, since: Instant, now: Instant) {
        let us = micros(now.saturating_duration_since(since));
        s.latency[kind.index()].saturating_record(us);
        if kind == Kind::Location {
            s.interval_location.saturating_record(us);
            if self.steady_from.get().is_some_and(|from| since >= *from) {
                s.steady_location.saturating_record(us);
            }
            if let Some(storm) = self.storm {
                storm.bystander(since, us);
            }
        }
    }

    /// Counts an error reply; `kind` is None when it matched no request.
    pub fn error(&self, kind: Option<Kind>, code: &'static str) {
        let mut s = lock(self.shard);
        if let Some(k) = kind {
            s.counts[k.index()].errors += 1;
        }
        bump(&mut s.errors, kind, code);
    }

    /// Counts a request scheduled at `since` that still had no reply at
    /// `now`. The wait is also recorded as a latency sample (a lower bound
    /// of the real one), so a server that never answers cannot look fast.
    pub fn timeout(&self, kind: Kind, since: Instant, now: Instant) {
        let mut s = lock(self.shard);
        s.counts[kind.index()].timeouts += 1;
        self.sample(&mut s, kind, since, now);
    }

    /// Counts a scheduled send skipped at the in-flight limit.
    pub fn skipped(&self, kind: Kind) {
        lock(self.shard).counts[kind.index()].skipped += 1;
    }

    /// Counts a request still legitimately waiting at the end.
    pub fn pending(&self, kind: Kind) {
        lock(self.shard).counts[kind.index()].pending += 1;
    }

    /// Counts an outcome of a catch or spin.
    pub fn outcome(&self, kind: Kind, outcome: &'static str) {
        bump(&mut lock(self.shard).outcomes, kind, outcome);
    }

    /// Counts a reply whose request had already timed out.
    pub fn late_reply(&self) {
        lock(self.shard).late_replies += 1;
    }
}

#[cfg(test)]
mod tests;
