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
    Up(Box<UpArgs>),
    /// Operator tasks against a running server (POI and zone files).
    Admin(AdminArgs),
}

/// Flags of `geogame up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Lobby wait before a raid that is not full starts, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub lobby_wait_s: f64,
    /// Days raw location events are kept before they are deleted (in
    /// batches); the other events stay.
    #[arg(long, value_name = "DAYS", default_value_t = analytics::retention::DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub location_retention: u32,
    /// The game server's flags, the same as `game-server` takes. With no
    /// `--world`, the shipped demo world around 228th Ave, Sammamish WA is
    /// stored when the database has no POIs.
    #[command(flatten)]
    pub game: game_server::flags::GameFlags,
    /// Flags every listener shares (`--cors-origin`).
    #[command(flatten)]
    pub http: service_kit::HttpFlags,
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
    /// Create an operator account (or give it a new role and token) and
    /// print its bearer token, the only time it is shown.
    AddOperator {
        /// The person's name, as the audit log will show it.
        name: String,
        /// `operator` (changes zones and POIs), `analyst` (reads every
        /// report) or `sponsor:SPONSOR` (reads the rows of that sponsor's POIs).
        #[arg(long)]
        role: String,
    },
    /// List the operator accounts and their roles.
    ListOperators,
    /// Delete an operator account; its token stops working at once.
    RevokeOperator {
        /// The account's name.
        name: String,
    },
    /// Erase a player's personal data: sign-in, account, collection,
    /// strikes, and the coordinates of their analytics events (kept under
    /// a pseudonym, so the reports' counts stay right). Their tokens stop
    /// working and their sockets are closed.
    ErasePlayer {
        /// The player id.
        player_id: String,
    },
}
