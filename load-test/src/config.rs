//! Command-line configuration in two phases: raw clap flags ([`Cli`]), then
//! a validated [`Config`] with clear errors.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::geo::Region;
use crate::walker::WorldPoi;

mod validate;

pub use validate::{ConfigError, load_world, parse_region, parse_url};

/// Raw command line of the `load-test` binary.
#[derive(Debug, Parser)]
#[command(
    name = "load-test",
    version,
    about = "Open-loop latency load test for geogame: realistic walkers, HdrHistogram percentiles, JSON report and SVG plot",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// A helper mode instead of a load test.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The load test's flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Helper modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a bare tokio-tungstenite echo server, to compare the game server
    /// with the transport alone (`load-test --target echo --url ws://ADDR`).
    EchoServer {
        /// Address to listen on (port 0 picks a free one; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:9001")]
        listen: String,
    },
}

/// What the generator talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// A geogame server: guest auth, `/v1/play` and `/v1/lobby`.
    Game,
    /// A bare WebSocket echo server: location frames only, no auth.
    Echo,
}

/// Raw flags of a load-test run, as typed.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the target (http:// or https://HOST:PORT; ws:// or
    /// wss://HOST:PORT for an echo server).
    #[arg(long)]
    pub url: Option<String>,
    /// A CA certificate (PEM) to trust for an https:// target, beside the
    /// system's roots (a staging server's private CA); repeatable.
    #[arg(long = "ca-cert")]
    pub ca_certs: Vec<PathBuf>,
    /// Number of simulated players.
    #[arg(long, required = true)]
    pub players: Option<usize>,
    /// Messages per player per second on `/v1/play` (open loop).
    #[arg(long, required = true)]
    pub rate: Option<f64>,
    /// Length of the run in seconds, ramp included.
    #[arg(long, required = true)]
    pub duration: Option<f64>,
    /// Seconds over which players join (spread evenly).
    #[arg(long, default_value_t = 0.0)]
    pub ramp: f64,
    /// Write the JSON report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write an SVG plot of the latencies here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Exit 1 when the location p99 exceeds this many milliseconds.
    #[arg(long)]
    pub slo_p99_ms: Option<f64>,
    /// Seed for walkers and action choices (runs with one seed walk the same routes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Region players roam in, as LAT,LON,RADIUS_M (default: the Sammamish demo world).
    #[arg(long, value_name = "LAT,LON,RADIUS_M", allow_hyphen_values = true)]
    pub region: Option<String>,
    /// GeoJSON FeatureCollection of the target world's POIs (Points with
    /// properties.id), e.g. geogame/demo/world.geojson: walkers start near
    /// them and know where they are.
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Share of scheduled messages that are catches when a creature is in range.
    #[arg(long, default_value_t = 0.1)]
    pub catch_share: f64,
    /// Share of scheduled messages that are spins when a POI is in range.
    #[arg(long, default_value_t = 0.05)]
    pub spin_share: f64,
    /// Share of players that also open `/v1/lobby` and queue for raids.
    #[arg(long, default_value_t = 0.05)]
    pub lobby_share: f64,
    /// Share of players who move like cyclists (about 5 m/s).
    #[arg(long, default_value_t = 0.15)]
    pub cycle_share: f64,
    /// Share of players who move like drivers (about 12 m/s).
    #[arg(long, default_value_t = 0.05)]
    pub drive_share: f64,
    /// Share of players whose play socket drops once mid-run (no close
    /// frame, as a phone losing its network) and who resume with the same
    /// token; the report gains a `resume` section.
    #[arg(long, default_value_t = 0.0)]
    pub drop_share: f64,
    /// Share of players held back from the ramp who all sign in and
    /// connect at once, a third of the way through the time after the
    /// ramp; the report gains a `storm` section.
    #[arg(long, default_value_t = 0.0)]
    pub storm: f64,
    /// Share of the other players whose sockets all drop at the storm
    /// moment and who reconnect at once with their tokens.
    #[arg(long, default_value_t = 0.0)]
    pub reconnect_storm: f64,
    /// Seconds from the start at which the storm hits (default: a third
    /// of the way through the time after the ramp). Given alone, with no
    /// storm share, every player is a bystander: the run records the
    /// windows before and after that moment, to watch a storm that
    /// another generator process makes.
    #[arg(long)]
    pub storm_at: Option<f64>,
    /// Most unanswered requests per player; further scheduled sends are skipped and counted.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
    /// Seconds after which an unanswered request counts as a timeout.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Seconds allowed for auth, WebSocket handshake and welcome.
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Most players connecting at the same time.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// What the URL points at.
    #[arg(long, value_enum, default_value_t = TargetKind::Game)]
    pub target: TargetKind,
    /// Start a bare echo server in-process and drive it instead of --url, to
    /// measure the generator's own ceiling and overhead.
    #[arg(long)]
    pub calibrate: bool,
    /// Worker threads of the generator (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 5.0)]
    pub progress_interval: f64,
    /// Prefix of guest device ids (default: derived from the start time, so runs get fresh players).
    #[arg(long)]
    pub device_prefix: Option<String>,
    /// Recorder shards (more shards, less lock contention).
    #[arg(long, default_value_t = 8)]
    pub stats_shards: usize,
    /// WebSocket read buffer per connection, in bytes.
    #[arg(long, default_value_t = 4096)]
    pub ws_read_buffer: usize,
    /// Use plain tokio timers (sends up to ~2 ms late) instead of aligning
    /// sends to the timer grid with a 1 kHz driver kicker.
    #[arg(long)]
    pub coarse_timer: bool,
}

/// Where the generator connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A geogame server: `http_base` for auth, `ws_base` + `/v1/play`, `/v1/lobby`.
    Game {
        /// `http(s)://host:port[/prefix]`, no trailing slash.
        http_base: String,
        /// `ws(s)://host:port[/prefix]`, no trailing slash.
        ws_base: String,
    },
    /// An echo server at this WebSocket URL.
    Echo {
        /// `ws://host:port[/path]`.
        ws_url: String,
    },
    /// An echo server started in-process for the run.
    Calibrate,
}

/// The mix of actions and movement styles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Share of scheduled messages that are catches (when possible).
    pub catch_share: f64,
    /// Share of scheduled messages that are spins (when possible).
    pub spin_share: f64,
    /// Share of players using the lobby.
    pub lobby_share: f64,
    /// Share of cycling players.
    pub cycle_share: f64,
    /// Share of driving players.
    pub drive_share: f64,
    /// Share of players who drop their socket once and resume.
    pub drop_share: f64,
    /// Share of players who arrive all at once mid-run (`--storm`).
    pub storm_share: f64,
    /// Share of the rest who drop and reconnect at once (`--reconnect-storm`).
    pub reconnect_storm_share: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            catch_share: 0.1,
            spin_share: 0.05,
            lobby_share: 0.05,
            cycle_share: 0.15,
            drive_share: 0.05,
            drop_share: 0.0,
            storm_share: 0.0,
            reconnect_storm_share: 0.0,
        }
    }
}

/// A validated run configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where to connect.
    pub target: Target,
    /// Number of players.
    pub players: usize,
    /// Messages per player per second.
    pub rate: f64,
    /// Run length, ramp included.
    pub duration: Duration,
    /// Time over which players join.
    pub ramp: Duration,
    /// JSON report path.
    pub out: Option<PathBuf>,
    /// SVG plot path.
    pub plot: Option<PathBuf>,
    /// Location p99 objective in milliseconds.
    pub slo_p99_ms: Option<f64>,
    /// Seed of all randomness.
    pub seed: u64,
    /// Where players roam.
    pub region: Region,
    /// POIs of the target world walkers start near (empty: anywhere).
    pub world: Vec<WorldPoi>,
    /// Action and movement mix.
    pub mix: Mix,
    /// Most unanswered requests per player.
    pub max_in_flight: usize,
    /// Reply timeout.
    pub timeout: Duration,
    /// Handshake timeout.
    pub connect_timeout: Duration,
    /// CA certificates trusted for TLS targets, beside the system's.
    pub ca_certs: Vec<PathBuf>,
    /// Most concurrent handshakes.
    pub connect_concurrency: usize,
    /// When the storm hits, from the start (`--storm-at`); None: a third
    /// of the way through the time after the ramp.
    pub storm_at: Option<Duration>,
    /// Generator worker threads.
    pub threads: usize,
    /// Progress line period when not on a terminal.
    pub progress_interval: Duration,
    /// Prefix of guest device ids.
    pub device_prefix: String,
    /// Recorder shards.
    pub stats_shards: usize,
    /// WebSocket read buffer per connection.
    pub ws_read_buffer: usize,
    /// Plain tokio timers instead of the aligned grid and kicker.
    pub coarse_timer: bool,
}

impl Config {
    /// A configuration with defaults for everything but the essentials,
    /// for library users and tests.
    pub fn new(target: Target, players: usize, rate: f64, duration: Duration) -> Config {
        Config {
            target,
            players,
            rate,
            duration,
            ramp: Duration::ZERO,
            out: None,
            plot: None,
            slo_p99_ms: None,
            seed: 1,
            region: Region::DEMO,
            world: Vec::new(),
            mix: Mix::default(),
            max_in_flight: 256,
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            ca_certs: Vec::new(),
            connect_concurrency: 256,
            threads: default_threads(),
            storm_at: None,
            progress_interval: Duration::from_secs(5),
            device_prefix: "loadtest".to_owned(),
            stats_shards: 8,
            ws_read_buffer: 4096,
            coarse_timer: false,
        }
    }

    /// The time between two scheduled sends of one player.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate)
    }

    /// Human-readable name of the target, for reports.
    pub fn target_label(&self) -> String {
        match &self.target {
            Target::Game { http_base, .. } => http_base.clone(),
            Target::Echo { ws_url } => ws_url.clone(),
            Target::Calibrate => "in-process echo server".to_owned(),
        }
    }
}

pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
