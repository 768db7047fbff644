//! Runs one load test: starts the players, samples the recorder once a
//! second for progress and the time series, and builds the report.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::clock::{self, TimerGrid};
use crate::config::{Config, Target};
use crate::conn::Endpoints;
use crate::error::LoadTestError;
use crate::player::{self, Shared};
use crate::procinfo;
use crate::report::{GeneratorReport, Percentiles, Report, RunFacts, SeriesPoint};
use crate::stats::{QuickCounts, Stats};
use tokio_rustls::rustls::ClientConfig;

/// Longest resume time the report's histogram holds (2 min).
const RESUME_MAX_US: u64 = 120_000_000;

/// Which part of the run a progress line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Players are still joining.
    Ramp,
    /// Everyone sends on schedule.
    Run,
    /// Sending stopped; waiting for the last replies.
    Drain,
}

/// A once-a-second view of the run, for progress lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// The phase.
    pub phase: Phase,
    /// Players asked for.
    pub players: usize,
    /// Running totals.
    pub totals: QuickCounts,
    /// Location latencies of the last second.
    pub last_second: Percentiles,
}

impl Progress {
    /// A one-line rendering, without a line ending.
    pub fn line(&self) -> String {
        let phase = match self.phase {
            Phase::Ramp => "ramp ",
            Phase::Run => "run  ",
            Phase::Drain => "drain",
        };
        let t = &self.totals;
        let l = &self.last_second;
        format!(
            "[{:>7.1}s {phase}] players {}/{}  sent {}  recv {}  err {}  timeouts {} | last 1s: {} loc replies, p50 {:.2} p99 {:.2} max {:.2} ms",
            self.elapsed_s,
            t.connected,
            self.players,
            t.sent,
            t.received,
            t.errors,
            t.timeouts,
            l.count,
            l.p50,
            l.p99,
            l.max
        )
    }
}

/// How much slack the histograms keep above the longest possible wait.
const HISTOGRAM_HEADROOM: Duration = Duration::from_secs(120);
/// Lead time between spawning the players and the start of the schedule,
/// so spawning 10,000 tasks does not eat into the first second.
const START_LEAD: Duration = Duration::from_millis(200);

/// Runs the load test described by `cfg`. `on_progress` is called once a
/// second; `shutdown` (e.g. Ctrl-C) ends sending early, after which the run
/// drains and reports as usual.
pub async fn run(
    cfg: Config,
    shutdown: impl Future<Output = ()>,
    on_progress: impl FnMut(&Progress),
) -> Result<Report, LoadTestError> {
    run_on_grid(cfg, None, shutdown, on_progress).await
}

/// Like [`run`], with the runtime's timer grid known (the caller built the
/// runtime), so sends go out within microseconds of their schedule instead
/// of up to 2 ms late; see [`crate::clock`].
pub async fn run_on_grid(
    cfg: Config,
    grid: Option<TimerGrid>,
    shutdown: impl Future<Output = ()>,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Report, LoadTestError> {
    let endpoints = match &cfg.target {
        Target::Calibrate => {
            let (url, _) = crate::echo::spawn_local().await?;
            Endpoints {
                auth: None,
                play: url,
                lobby: None,
            }
        }
        Target::Echo { ws_url } => Endpoints {
            auth: None,
            play: ws_url.clone(),
            lobby: None,
        },
        Target::Game { http_base, ws_base } => Endpoints {
            auth: Some(format!("{http_base}/v1/auth/guest")),
            play: format!("{ws_base}/v1/play"),
            lobby: (cfg.mix.lobby_share > 0.0).then(|| format!("{ws_base}/v1/lobby")),
        },
    };
    let stats = Stats::new(
        cfg.stats_shards,
        cfg.duration + cfg.timeout * 2 + HISTOGRAM_HEADROOM,
    )?;
    let tls = (endpoints.play.starts_with("wss://"))
        .then(|| crate::conn::tls_config(&cfg.ca_certs))
        .transpose()
        .map_err(LoadTestError::Tls)?;
    let mut http = reqwest::Client::builder()
        .timeout(cfg.connect_timeout)
        .pool_max_idle_per_host(cfg.connect_concurrency);
    if let Some(tls) = &tls {
        http = http.use_preconfigured_tls(ClientConfig::clone(tls));
    }
    let http = http
        .build()
        .map_err(|e| LoadTestError::Http(e.to_string()))?;
    let dialer = crate::conn::Dialer::new(cfg.ws_read_buffer, cfg.connect_timeout, tls);
    let rss_start = procinfo::rss_bytes();
    let load_start = procinfo::load_average();
    let cpu_start = procinfo::cpu_time();
    let wall_start = std::time::Instant::now();
    let _kicker = grid.and_then(clock::start_kicker);
    if let (Some(k), Some(g)) = (&_kicker, &grid) {
        let phase = k.tune(g).await;
        tracing::debug!(?grid, ?phase, "timer grid and kick phase");
    }
    let start = Instant::now() + START_LEAD;
    stats.set_steady_from(start + cfg.ramp);
    let shared = Arc::new(Shared {
        connect_gate: Semaphore::new(cfg.connect_concurrency),
        end: start + cfg.duration,
        start,
        grid,
        unfinished: AtomicUsize::new(cfg.players),
        all_finished: watch::Sender::new(false),
        endpoints,
        dialer,
        http,
        stats,
        resumes: crate::resume::Resumes::new(RESUME_MAX_US)?,
        storm: if crate::storm::watched(&cfg) {
            let at = start + crate::storm::storm_offset(&cfg);
            Some(crate::storm::Storm::new(
                at,
                crate::storm::window(&cfg),
                RESUME_MAX_US,
            )?)
        } else {
            None
        },
        cfg,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut players = JoinSet::new();
    for idx in 0..shared.cfg.players {
        players.spawn(player::run(Arc::clone(&shared), idx, stop_rx.clone()));
    }
    drop(stop_rx);

    // Every player finishes by the end plus its drain; past this something
    // is stuck and the stragglers are cut off rather than hanging the run.
    let cfg = &shared.cfg;
    let hard_deadline = shared.end + cfg.timeout + cfg.connect_timeout + Duration::from_secs(5);
    let mut sampler =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    sampler.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut series = Vec::new();
    let mut last = QuickCounts::default();
    tokio::pin!(shutdown);
    let mut shutdown_done = false;
    loop {
        tokio::select! {
            joined = players.join_next() => match joined {
                Some(Err(e)) if e.is_panic() => tracing::error!(error = %e, "player task panicked"),
                Some(_) => {}
                None => break,
            },
            () = &mut shutdown, if !shutdown_done => {
                shutdown_done = true;
                tracing::info!("shutdown requested: stopping sends and draining");
                let _ = stop_tx.send(true);
            }
            () = tokio::time::sleep_until(hard_deadline) => {
                tracing::warn!(remaining = players.len(), "players still running past the deadline; aborting them");
                players.abort_all();
                while players.join_next().await.is_some() {}
                break;
            }
            _ = sampler.tick() => {
                let point = sample(&shared, start, &mut last)?;
                on_progress(&progress(&shared, &point, last));
                series.push(point);
            }
        }
    }
    let point = sample(&shared, start, &mut last)?;
    if point.sent + point.received + point.errors + point.location.count > 0 {
        series.push(point);
    }
    let totals = shared.stats.totals()?;
    let wall_s = wall_start.elapsed().as_secs_f64();
    let cpu_s = match (cpu_start, procinfo::cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
        _ => None,
    };
    let rss_peak = procinfo::peak_rss_bytes();
    let per_player = match (rss_start, rss_peak) {
        (Some(a), Some(b)) if totals.connected > 0 => Some(b.saturating_sub(a) / totals.connected),
        _ => None,
    };
    let mut note = if cfg.target == Target::Calibrate {
        "cpu and memory include the in-process echo server".to_owned()
    } else {
        "cpu and memory are the generator's alone".to_owned()
    };
    note.push_str(match (grid, &_kicker) {
        (Some(_), Some(_)) => "; sends aligned to the timer grid with a 1 kHz driver kicker",
        (Some(_), None) => "; sends aligned to the timer grid (no kicker)",
        _ => "; coarse tokio timers (sends up to ~2 ms late, included in latency)",
    });
    let facts = RunFacts {
        wall_s,
        resume: Some(shared.resumes.totals()),
        storm: shared.storm.as_ref().map(crate::storm::Storm::totals),
        generator: GeneratorReport {
            cpu_s,
            cpu_cores: cpu_s.map(|c| c / wall_s.max(1e-9)),
            rss_start_bytes: rss_start,
            rss_peak_bytes: rss_peak,
            rss_per_player_bytes: per_player,
            worker_threads: cfg.threads,
            host_load_start: load_start,
            host_load_end: procinfo::load_average(),
            note,
            ..GeneratorReport::default()
        },
    };
    Ok(Report::build(cfg, &totals, series, facts))
}

fn sample(
    shared: &Shared,
    start: Instant,
    last: &mut QuickCounts,
) -> Result<SeriesPoint, LoadTestError> {
    let interval = shared.stats.take_interval()?;
    let now = shared.stats.quick_counts();
    let point = SeriesPoint {
        t_s: Instant::now()
            .saturating_duration_since(start)
            .as_secs_f64(),
        connected: now.connected,
        sent: now.sent - last.sent.min(now.sent),
        received: now.received - last.received.min(now.received),
        errors: now.errors - last.errors.min(now.errors),
        location: Percentiles::from_micros(&interval.location),
    };
    *last = now;
    Ok(point)
}

fn progress(shared: &Shared, point: &SeriesPoint, totals: QuickCounts) -> Progress {
    let cfg = &shared.cfg;
    let elapsed = Duration::from_secs_f64(point.t_s);
    Progress {
        elapsed_s: point.t_s,
        phase: if elapsed < cfg.ramp {
            Phase::Ramp
        } else if elapsed < cfg.duration {
            Phase::Run
        } else {
            Phase::Drain
        },
        players: cfg.players,
        totals,
        last_second: point.location.clone(),
    }
}
