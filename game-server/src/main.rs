//! `game-server`: one game server on its own (scale-out deployment).

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use game_server::app::{AppOptions, build, parse_world};
use game_server::{ServerConfig, serve};
use tokio_util::sync::CancellationToken;

/// A geogame game server: /v1/play, guest auth and the operator API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: std::net::SocketAddr,
    /// This server's id (unique among game servers).
    #[arg(long, default_value = "gs-1")]
    server_id: String,
    /// The ws:// URL players reach this server at.
    #[arg(long)]
    public_url: Option<String>,
    /// Players this server takes.
    #[arg(long, default_value_t = 20_000)]
    capacity: u32,
    /// Data dir for SQLite and generated secrets.
    #[arg(long, default_value = "./geogame-data")]
    data_dir: std::path::PathBuf,
    /// PostgreSQL URL (shared storage for many game servers).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Redis URL: event stream and the matchmaker's registry.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Token secret shared by every server (>= 32 bytes).
    #[arg(long, env = "GEOGAME_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Operator bearer token.
    #[arg(long, env = "GEOGAME_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// POIs (GeoJSON) stored when the database has none.
    #[arg(long)]
    world: Option<std::path::PathBuf>,
    /// Placement seed; every server of one world must use the same.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let f = Flags::parse();
    let seed_pois = match &f.world {
        Some(p) => parse_world(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => Vec::new(),
    };
    let server = ServerConfig {
        server_id: f.server_id.clone(),
        public_ws_url: f
            .public_url
            .clone()
            .unwrap_or_else(|| format!("ws://{}/v1/play", f.listen)),
        capacity: f.capacity,
        ..ServerConfig::default()
    };
    let opts = AppOptions {
        data_dir: f.data_dir,
        database_url: f.database_url,
        redis_url: f.redis_url.clone(),
        token_secret: f.token_secret,
        admin_token: f.admin_token,
        seed: f.seed,
        spawn_config: None,
        seed_pois,
        server,
        analytics: Default::default(),
        sync_channel: "geogame:world".into(),
    };
    let shutdown = CancellationToken::new();
    let app = build(opts, shutdown.clone(), None).await?;
    let listener = tokio::net::TcpListener::bind(f.listen)
        .await
        .with_context(|| format!("binding {}", f.listen))?;
    println!(
        "game-server {} listening on http://{}",
        f.server_id,
        listener.local_addr()?
    );
    let tasks = vec![
        app.server.spawn_tick(),
        app.server.spawn_sync(),
        tokio::spawn(app.pipeline.run(shutdown.clone())),
    ];
    if let Some(url) = &f.redis_url {
        let registry = matchmaker::Registry::redis(
            url,
            matchmaker::standalone::DEFAULT_REDIS_PREFIX,
            &Default::default(),
        )
        .await
        .context("registry")?;
        app.server.spawn_heartbeat(registry, Duration::from_secs(2));
    }
    // SIGINT or SIGTERM: sockets close with 1001, buffers flush.
    matchmaker::standalone::cancel_on_signal(shutdown.clone());
    serve(
        listener,
        app.server.router(),
        shutdown,
        Duration::from_secs(8),
    )
    .await?;
    app.server.drained(Duration::from_secs(8)).await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Ok(())
}
