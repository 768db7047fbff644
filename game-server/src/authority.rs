//! The `spawner` service's whole run: the world's authority when scaled
//! out. It holds the world's POIs and zones (no players, and it places no
//! creatures), serves `/v1/admin/*` with `/healthz` and `/metrics`, applies
//! operator writes one at a time (`admin.rs`), stores each with its audit
//! row, and announces it on Redis. Game servers started with
//! `--follow-spawner` serve no operator routes and reload what it
//! announces; zones expire on every server at their `expires_at`, the
//! spawner's included.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use service_kit::Tasks;
use tokio_util::sync::CancellationToken;

use crate::app::{AppError, build};
use crate::config::ServerConfig;
use crate::flags::StackFlags;
use crate::standalone::{Listening, join, listen, wind_down};

/// Flags of the `spawner` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "spawner",
    version,
    about = "The geogame spawner: the world's authority when scaled out (the operator API, \
             zones, POIs, their audit log), followed by every game server"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8084")]
    pub listen: SocketAddr,
    /// Storage, Redis, secrets and the world (as the game servers have
    /// them; `--world` imports POIs when the database has none).
    #[command(flatten)]
    pub stack: StackFlags,
    /// Flags every listener shares (`--cors-origin`, TLS).
    #[command(flatten)]
    pub http: service_kit::HttpFlags,
}

/// The id the spawner's world announcements carry.
pub const SPAWNER_ID: &str = "spawner";

/// Serves the spawner until `shutdown`. `on_bound` hears the bound address
/// (port 0 works).
pub async fn run(
    args: Args,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), AppError> {
    if args.stack.redis_url.as_deref().is_none_or(str::is_empty) {
        tracing::warn!(
            "no --redis-url: the spawner's changes reach no game server (use `geogame up` for one process)"
        );
    }
    let Listening {
        cors,
        tls,
        listener,
        addr,
    } = listen(&args.http, args.listen).await?;
    let server = ServerConfig {
        server_id: SPAWNER_ID.into(),
        ..ServerConfig::default()
    };
    let mut opts = args.stack.options(server, None)?;
    opts.placement = false;
    let drain = opts.server.drain_timeout;
    let app = build(opts, shutdown.clone(), None).await?;
    let router = cors.apply(router(&app.server));
    tracing::info!(%addr, "spawner listening");
    on_bound(addr);

    let tasks = Tasks::new();
    // The tick expires zones; the follower hears changes written by game
    // servers that still serve operator routes themselves.
    tasks.spawn(join(app.server.spawn_tick()));
    tasks.spawn(join(app.server.spawn_sync()));
    tasks.spawn(app.pipeline.run(shutdown.clone()));
    let served = service_kit::serve_with(listener, router, shutdown.clone(), drain, tls).await;
    shutdown.cancel();
    wind_down(tasks, &app.db, served).await
}

/// The spawner's routes: the operator API, health and metrics; no play,
/// sign-in or pages.
fn router(server: &crate::server::GameServer) -> Router {
    Router::new()
        .route("/healthz", get(crate::http::healthz))
        .route("/metrics", get(service_kit::telemetry::metrics_handler))
        .merge(server.admin_router())
}
