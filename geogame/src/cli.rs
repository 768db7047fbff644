//! Command-line flags of the `geogame` binary (raw, as clap parses them).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// geogame: a backend for location-based, real-time multiplayer games.
#[derive(Debug, Parser)]
#[command(name = "geogame", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process on one listener.
    Up(UpArgs),
    /// Operator tasks against a running server (POI and zone files).
    Admin(AdminArgs),
}

/// Flags of `geogame up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve `/v1/admin/*` only on this separate address (e.g. loopback),
    /// not on the main listener.
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Directory for SQLite, the token secret and the admin token.
    #[arg(long, default_value = "./geogame-data")]
    pub data_dir: PathBuf,
    /// Operator bearer token; generated into <data-dir>/admin-token when unset.
    #[arg(long, env = "GEOGAME_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Token signing secret (at least 32 bytes); generated into
    /// <data-dir>/token-secret when unset.
    #[arg(long, env = "GEOGAME_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Redis URL: use Redis for the event stream and the matchmaker.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// PostgreSQL URL: use PostgreSQL instead of SQLite.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// POIs (GeoJSON) stored when the database has none; defaults to the
    /// shipped demo world around 228th Ave, Sammamish WA.
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Species and placement config (JSON).
    #[arg(long)]
    pub spawn_config: Option<PathBuf>,
    /// Placement seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// The URL players reach this server at, when it differs from the
    /// listener (behind a proxy).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Sustained messages per second allowed per play socket.
    #[arg(long, default_value_t = 20.0)]
    pub rate_limit: f64,
    /// Lobby wait before a raid that is not full starts, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub lobby_wait_s: f64,
}

/// Flags of `geogame admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the running server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Admin token; read from <data-dir>/admin-token when unset.
    #[arg(long, env = "GEOGAME_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Where to find the generated admin token.
    #[arg(long, default_value = "./geogame-data")]
    pub data_dir: PathBuf,
    /// The task.
    #[command(subcommand)]
    pub task: AdminTask,
}

/// Operator tasks.
#[derive(Debug, Subcommand)]
pub enum AdminTask {
    /// Add or update POIs from a GeoJSON file (Feature or FeatureCollection of Points).
    ImportPois {
        /// The GeoJSON file.
        file: PathBuf,
    },
    /// Print all POIs as a GeoJSON FeatureCollection.
    ExportPois,
    /// Replace ALL exclusion zones with those in a GeoJSON FeatureCollection,
    /// atomically: all valid, or nothing changes.
    ImportZones {
        /// The GeoJSON file.
        file: PathBuf,
    },
    /// Print all exclusion zones as a GeoJSON FeatureCollection.
    ExportZones,
}
