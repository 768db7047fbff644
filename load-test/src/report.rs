//! The run report: JSON for machines, a summary table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::{Config, Target};
use crate::error::LoadTestError;
use crate::stats::{Kind, Totals};

/// Quantiles sampled into each kind's `distribution`, for the plot.
const DISTRIBUTION_QUANTILES: [f64; 24] = [
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.997, 0.999,
    0.9995, 0.9997, 0.9999, 0.99995, 0.99999, 0.999999, 1.0,
];

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Summarises a histogram of microseconds; all zero when empty.
    pub fn from_micros(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Latency and counts of one message kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindReport {
    /// Latency samples: replies plus timeouts (at the time waited).
    pub count: u64,
    /// Median latency, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Largest latency, ms.
    pub max: f64,
    /// Mean latency, ms.
    pub mean: f64,
    /// Requests sent.
    pub sent: u64,
    /// Successful replies.
    pub received: u64,
    /// Error replies.
    pub errors: u64,
    /// Requests without a reply within the timeout.
    pub timeouts: u64,
    /// Scheduled slots skipped at the in-flight limit.
    pub skipped: u64,
    /// Requests still legitimately open at the end (lobby tickets).
    pub pending: u64,
    /// Error replies by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// `[quantile, ms]` pairs of the latency distribution.
    pub distribution: Vec<[f64; 2]>,
}

/// The latency of every kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyByKind {
    /// `location` to `nearby`.
    pub location: KindReport,
    /// `catch` to `catch_result`.
    pub catch: KindReport,
    /// `spin` to `spin_result`.
    pub spin: KindReport,
    /// `queue` to `queued`.
    pub queue: KindReport,
    /// `queue` to `match_found`.
    #[serde(rename = "match")]
    pub match_: KindReport,
}

impl LatencyByKind {
    /// The report of one kind.
    pub fn get(&self, kind: Kind) -> &KindReport {
        match kind {
            Kind::Location => &self.location,
            Kind::Catch => &self.catch,
            Kind::Spin => &self.spin,
            Kind::Queue => &self.queue,
            Kind::Match => &self.match_,
        }
    }

    fn get_mut(&mut self, kind: Kind) -> &mut KindReport {
        match kind {
            Kind::Location => &mut self.location,
            Kind::Catch => &mut self.catch,
            Kind::Spin => &mut self.spin,
            Kind::Queue => &mut self.queue,
            Kind::Match => &mut self.match_,
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Seconds since the start, at the end of the interval.
    pub t_s: f64,
    /// Players connected at that time.
    pub connected: u64,
    /// Requests sent in the interval.
    pub sent: u64,
    /// Replies received in the interval.
    pub received: u64,
    /// Errors (replies, timeouts, failed connections) in the interval.
    pub errors: u64,
    /// Location latencies recorded in the interval.
    pub location: Percentiles,
}

/// What the generator itself cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// How late sends went out against their schedule.
    pub send_lag_ms: Percentiles,
    /// CPU time used by the process during the run, in seconds.
    pub cpu_s: Option<f64>,
    /// `cpu_s` divided by the wall time: cores kept busy.
    pub cpu_cores: Option<f64>,
    /// Resident memory before players connected.
    pub rss_start_bytes: Option<u64>,
    /// Peak resident memory.
    pub rss_peak_bytes: Option<u64>,
    /// (peak - start) / connected players.
    pub rss_per_player_bytes: Option<u64>,
    /// Worker threads of the generator runtime.
    pub worker_threads: usize,
    /// Host 1-minute load average when the run started.
    pub host_load_start: Option<f64>,
    /// Host 1-minute load average when the run ended.
    pub host_load_end: Option<f64>,
    /// Replies that came after their request was counted as a timeout.
    pub late_replies: u64,
    /// Caveats of the numbers above.
    pub note: String,
}

/// The outcome of the SLO check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    /// The objective: location p99 at most this many ms.
    pub p99_ms: f64,
    /// The measured location p99.
    pub actual_p99_ms: f64,
    /// Whether the objective was met.
    pub met: bool,
}

/// Throughput over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Requests sent per second of `duration_s`.
    pub sent_per_s: f64,
    /// Replies received per second of `duration_s`.
    pub received_per_s: f64,
}

/// Drops and resumes (`--drop-share`), see [`crate::resume`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResumeReport {
    /// Players whose socket dropped.
    pub dropped: u64,
    /// Players back with a new socket.
    pub resumed: u64,
    /// Failed resumes by reason.
    pub failures: BTreeMap<String, u64>,
    /// Time from the drop to the new socket's `welcome`.
    pub resume_ms: Percentiles,
    /// Requests in flight at a drop (never answered; not timeouts).
    pub unanswered_at_drop: u64,
    /// Scheduled sends that fell while offline (not sent).
    pub offline_slots: u64,
    /// Players dropped in a raid, and those the server put back into it.
    pub raids_dropped: u64,
    /// See `raids_dropped`.
    pub raids_rejoined: u64,
}

/// The whole JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always `load-test`.
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// What was driven (URL, or the in-process echo server).
    pub target: String,
    /// `game` or `echo`.
    pub target_kind: String,
    /// Players asked for.
    pub players: usize,
    /// Players that completed the handshake.
    pub connected: u64,
    /// Scheduled messages per player per second.
    pub rate_per_player: f64,
    /// Length of the sending phase.
    pub duration_s: f64,
    /// Ramp-up time.
    pub ramp_s: f64,
    /// Seed of all randomness.
    pub seed: u64,
    /// Wall time including connection setup and the final drain.
    pub wall_s: f64,
    /// Requests sent (play requests and lobby queues).
    pub sent: u64,
    /// Successful replies to them.
    pub received: u64,
    /// Error replies + timeouts + failed connections + dropped sockets' requests.
    pub errors: u64,
    /// Requests without a reply within the timeout.
    pub timeouts: u64,
    /// Scheduled slots skipped at the in-flight limit.
    pub skipped: u64,
    /// Players whose socket dropped before the end.
    pub disconnected: u64,
    /// Failed connections by reason.
    pub connect_failures: BTreeMap<String, u64>,
    /// Every error by code (protocol codes, `timeout`, connection reasons).
    pub errors_by_code: BTreeMap<String, u64>,
    /// Rates over `duration_s`.
    pub throughput: Throughput,
    /// Latency per kind.
    pub latency_ms: LatencyByKind,
    /// `location` latency of the requests scheduled after the ramp, when
    /// every player has joined: the steady state at full load. The whole
    /// run, ramp included, is in `latency_ms.location`.
    pub location_after_ramp_ms: Percentiles,
    /// Catch and spin outcomes.
    pub outcomes: BTreeMap<String, BTreeMap<String, u64>>,
    /// The generator's own overhead.
    pub generator: GeneratorReport,
    /// The SLO check, when asked for.
    pub slo: Option<SloReport>,
    /// Per-second time series.
    pub series: Vec<SeriesPoint>,
    /// Drops and resumes, when `--drop-share` asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeReport>,
    /// Busy answers (503 with `Retry-After`, close 1013) that connecting
    /// players waited out and retried.
    #[serde(default)]
    pub shed: u64,
    /// The storm, when `--storm` or `--reconnect-storm` asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storm: Option<crate::storm::StormReport>,
}

/// Facts about the run that are not in the recorder.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// Wall time of the whole run.
    pub wall_s: f64,
    /// Generator overhead figures (send lag is filled in from the totals).
    pub generator: GeneratorReport,
    /// Drops and resumes (reported when `--drop-share` asked for them).
    pub resume: Option<crate::resume::ResumeTotals>,
    /// The storm's counts, when there was one.
    pub storm: Option<crate::storm::StormTotals>,
}

impl Report {
    /// Builds the report from the merged recorder state.
    pub fn build(
        cfg: &Config,
        totals: &Totals,
        series: Vec<SeriesPoint>,
        facts: RunFacts,
    ) -> Report {
        let mut latency = LatencyByKind::default();
        let mut errors_by_code: BTreeMap<String, u64> = BTreeMap::new();
        let (mut sent, mut received, mut timeouts, mut skipped) = (0, 0, 0, 0);
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let h = &totals.latency[i];
            let c = totals.counts[i];
            let p = Percentiles::from_micros(h);
            let k = latency.get_mut(kind);
            *k = KindReport {
                count: p.count,
                p50: p.p50,
                p90: p.p90,
                p99: p.p99,
                p999: p.p999,
                max: p.max,
                mean: p.mean,
                sent: c.sent,
                received: c.received,
                errors: c.errors,
                timeouts: c.timeouts,
                skipped: c.skipped,
                pending: c.pending,
                errors_by_code: BTreeMap::new(),
                distribution: if h.is_empty() {
                    Vec::new()
                } else {
                    DISTRIBUTION_QUANTILES
                        .iter()
                        .map(|&q| [q, h.value_at_quantile(q) as f64 / 1000.0])
                        .collect()
                },
            };
            for &(ek, code, n) in &totals.errors {
                if ek == Some(kind) {
                    *k.errors_by_code.entry(code.to_owned()).or_default() += n;
                }
            }
            if c.timeouts > 0 {
                k.errors_by_code.insert("timeout".to_owned(), c.timeouts);
            }
            if kind != Kind::Match {
                sent += c.sent;
                received += c.received;
            }
            timeouts += c.timeouts;
            skipped += c.skipped;
        }
        for &(_, code, n) in &totals.errors {
            *errors_by_code.entry(code.to_owned()).or_default() += n;
        }
        if timeouts > 0 {
            *errors_by_code.entry("timeout".to_owned()).or_default() += timeouts;
        }
        let mut connect_failures = BTreeMap::new();
        for &(reason, n) in &totals.connect_failures {
            connect_failures.insert(reason.to_owned(), n);
            *errors_by_code
                .entry(format!("connect:{reason}"))
                .or_default() += n;
        }
        let resume = facts.resume.as_ref().filter(|_| cfg.mix.drop_share > 0.0);
        for &(reason, n) in resume.iter().flat_map(|r| &r.failures) {
            *errors_by_code
                .entry(format!("resume:{reason}"))
                .or_default() += n;
        }
        let resume = resume.map(|r| ResumeReport {
            dropped: r.dropped,
            resumed: r.resumed,
            failures: r.failures.iter().map(|&(k, n)| (k.to_owned(), n)).collect(),
            resume_ms: Percentiles::from_micros(&r.time),
            unanswered_at_drop: r.unanswered,
            offline_slots: r.offline_slots,
            raids_dropped: r.raids_dropped,
            raids_rejoined: r.raids_rejoined,
        });
        let errors = errors_by_code.values().sum();
        let mut outcomes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for &(kind, outcome, n) in &totals.outcomes {
            outcomes
                .entry(kind.name().to_owned())
                .or_default()
                .insert(outcome.to_owned(), n);
        }
        let duration_s = cfg.duration.as_secs_f64();
        let mut generator = facts.generator;
        generator.send_lag_ms = Percentiles::from_micros(&totals.send_lag);
        generator.late_replies = totals.late_replies;
        let slo = cfg.slo_p99_ms.map(|objective| SloReport {
            p99_ms: objective,
            actual_p99_ms: latency.location.p99,
            // No location sample at all cannot count as meeting the objective.
            met: latency.location.count > 0 && latency.location.p99 <= objective,
        });
        Report {
            tool: "load-test".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            target: cfg.target_label(),
            target_kind: match cfg.target {
                Target::Game { .. } => "game",
                Target::Echo { .. } | Target::Calibrate => "echo",
            }
            .to_owned(),
            players: cfg.players,
            connected: totals.connected,
            rate_per_player: cfg.rate,
            duration_s,
            ramp_s: cfg.ramp.as_secs_f64(),
            seed: cfg.seed,
            wall_s: facts.wall_s,
            sent,
            received,
            errors,
            timeouts,
            skipped,
            disconnected: totals.disconnected,
            connect_failures,
            errors_by_code,
            throughput: Throughput {
                sent_per_s: sent as f64 / duration_s,
                received_per_s: received as f64 / duration_s,
            },
            latency_ms: latency,
            location_after_ramp_ms: Percentiles::from_micros(&totals.steady_location),
            outcomes,
            generator,
            slo,
            series,
            resume,
            shed: totals.shed,
            storm: facts
                .storm
                .as_ref()
                .map(|t| crate::storm::StormReport::build(cfg, t)),
        }
    }

    /// Whether the SLO (if any) was missed.
    pub fn slo_missed(&self) -> bool {
        self.slo.as_ref().is_some_and(|s| !s.met)
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), LoadTestError> {
        let write_err = |reason: String| LoadTestError::Write {
            path: path.to_owned(),
            reason,
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| write_err(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| write_err(e.to_string()))
    }

    /// The human summary: totals, a table per kind, errors, overhead, SLO.
    pub fn summary_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "load-test: {} players x {}/s for {} s (ramp {} s) against {} [seed {}]",
            self.players,
            self.rate_per_player,
            self.duration_s,
            self.ramp_s,
            self.target,
            self.seed
        );
        let _ = writeln!(
            s,
            "connected {}/{}  sent {}  received {}  errors {}  timeouts {}  skipped {}  ({:.0} sent/s, {:.0} received/s)",
            self.connected,
            self.players,
            self.sent,
            self.received,
            self.errors,
            self.timeouts,
            self.skipped,
            self.throughput.sent_per_s,
            self.throughput.received_per_s
        );
        let _ = writeln!(
            s,
            "{:<9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  errors",
            "latency", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "sent"
        );
        for kind in Kind::ALL {
            let k = self.latency_ms.get(kind);
            let errs = if k.errors_by_code.is_empty() {
                "-".to_owned()
            } else {
                k.errors_by_code
                    .iter()
                    .map(|(c, n)| format!("{c}={n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                s,
                "{:<9} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9}  {}",
                kind.name(),
                k.count,
                k.p50,
                k.p90,
                k.p99,
                k.p999,
                k.max,
                k.sent,
                errs
            );
        }
        let steady = &self.location_after_ramp_ms;
        let _ = writeln!(
            s,
            "{:<9} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  (location after the ramp)",
            "  steady", steady.count, steady.p50, steady.p90, steady.p99, steady.p999, steady.max,
        );
        if !self.errors_by_code.is_empty() {
            let all: Vec<String> = self
                .errors_by_code
                .iter()
                .map(|(c, n)| format!("{c}={n}"))
                .collect();
            let _ = writeln!(s, "errors by code: {}", all.join(" "));
        }
        for (kind, outcomes) in &self.outcomes {
            let all: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}={n}")).collect();
            let _ = writeln!(s, "{kind} outcomes: {}", all.join(" "));
        }
        let g = &self.generator;
        let mut overhead = format!(
            "generator: send lag p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
            g.send_lag_ms.p50, g.send_lag_ms.p99, g.send_lag_ms.max
        );
        if let (Some(cpu), Some(cores)) = (g.cpu_s, g.cpu_cores) {
            let _ = write!(overhead, "; cpu {cpu:.2} s ({cores:.2} cores)");
        }
        if let Some(peak) = g.rss_peak_bytes {
            let _ = write!(overhead, "; rss peak {:.1} MiB", peak as f64 / 1048576.0);
        }
        if let Some(per) = g.rss_per_player_bytes {
            let _ = write!(overhead, " ({:.1} KiB/player)", per as f64 / 1024.0);
        }
        let _ = write!(overhead, "; {} threads", g.worker_threads);
        if let (Some(a), Some(b)) = (g.host_load_start, g.host_load_end) {
            let _ = write!(overhead, "; host load {a:.2} -> {b:.2}");
        }
        let _ = writeln!(s, "{overhead}");
        if let Some(r) = &self.resume {
            let _ = writeln!(
                s,
                "resume: {} dropped, {} back in p50 {:.1} ms p99 {:.1} ms max {:.1} ms; {} unanswered at the drop; raids {}/{} rejoined",
                r.dropped,
                r.resumed,
                r.resume_ms.p50,
                r.resume_ms.p99,
                r.resume_ms.max,
                r.unanswered_at_drop,
                r.raids_rejoined,
                r.raids_dropped
            );
        }
        if self.shed > 0 {
            let _ = writeln!(s, "shed: {} busy answers waited out and retried", self.shed);
        }
        if let Some(storm) = &self.storm {
            let _ = writeln!(s, "{}", storm.line());
        }
        if let Some(slo) = &self.slo {
            let _ = writeln!(
                s,
                "SLO location p99 <= {} ms: {} (p99 {:.2} ms)",
                slo.p99_ms,
                if slo.met { "met" } else { "MISSED" },
                slo.actual_p99_ms
            );
        }
        s
    }
}
