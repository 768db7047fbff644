//! `load-test`: an open-loop latency load generator for geogame.
//!
//! Layout:
//! - [`config`]: raw clap flags, then a validated [`Config`].
//! - [`walker`] and [`geo`]: simulated players' movement (routes between
//!   POIs at walking, cycling or driving speed with smooth GPS jitter).
//! - `player` (private): one task per player; sends on a fixed schedule,
//!   matches replies by `seq`, measures from the *scheduled* send time so a
//!   stalled server cannot hide (no coordinated omission). `conn` opens the
//!   sockets (guest auth, handshake, `hello`), `lobby` queues for raids.
//! - [`resume`]: a share of players drop their socket once and resume.
//! - [`stats`]: sharded HdrHistogram recording.
//! - [`runner`]: starts players, samples once a second, builds the report.
//! - [`report`] and [`plot`]: JSON report, summary table, SVG plot.
//! - [`clock`]: send times aligned with tokio's timer ticks.
//! - [`echo`]: a bare tokio-tungstenite echo server for calibration.
//! - [`app`]: the command-line program behind `main.rs`.

pub mod app;
pub mod clock;
pub mod config;
mod conn;
pub mod echo;
pub mod error;
pub mod geo;
mod lobby;
mod player;
pub mod plot;
pub mod procinfo;
pub mod report;
pub mod resume;
pub mod runner;
pub mod stats;
pub mod storm;
pub mod walker;

pub use config::{Cli, Config, Mix, Target};
pub use error::LoadTestError;
pub use report::Report;
pub use runner::{Progress, run, run_on_grid};
