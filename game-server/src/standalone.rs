//! The `game-server` binary's whole run, as a library function: flags in,
//! a served game server out, until the shutdown token fires.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use service_kit::{Tasks, serve};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{AppError, build};
use crate::flags::GameFlags;

/// How often a game server heartbeats into the matchmaker's registry.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// Flags of the `game-server` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "game-server",
    version,
    about = "A geogame game server: /v1/play, guest auth and the operator API"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// This server's id (unique among game servers).
    #[arg(long, default_value = "gs-1")]
    pub server_id: String,
    /// What every game server shares with `geogame up`.
    #[command(flatten)]
    pub game: GameFlags,
    /// Flags every listener shares (`--cors-origin`).
    #[command(flatten)]
    pub http: service_kit::HttpFlags,
}

/// Serves one game server until `shutdown`, then closes its sockets with
/// 1001 and flushes what its background tasks buffered. `on_bound` hears
/// the bound address (port 0 works).
pub async fn run(
    args: Args,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), AppError> {
    let Listening {
        cors,
        tls,
        listener,
        addr,
    } = listen(&args.http, args.listen).await?;
    let mut opts = args.game.options(addr, &args.server_id, None)?;
    if tls.is_some() && args.game.public_url.is_none() {
        opts.server.public_ws_url = opts.server.public_ws_url.replacen("ws://", "wss://", 1);
    }
    // Scaled out, the matchmaker lives elsewhere: this server heartbeats
    // into its registry and ends sessions in its state, both on Redis.
    let (registry, on_end) = match &opts.redis_url {
        Some(url) => {
            let redis = |e: matchmaker::MatchError| AppError::Redis(e.to_string());
            let registry =
                matchmaker::Registry::redis(url, &opts.redis_prefix, &Default::default())
                    .await
                    .map_err(redis)?;
            let release = matchmaker::SessionRelease::redis(url, &opts.redis_prefix)
                .await
                .map_err(redis)?;
            let hook: crate::SessionEndHook = Arc::new(move |sid: &str| release.end_soon(sid));
            (Some(registry), Some(hook))
        }
        None => (None, None),
    };
    let drain = opts.server.drain_timeout;
    let app = build(opts, shutdown.clone(), on_end).await?;
    let admin = match args.game.admin_listen {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let router = match (&admin, args.game.follow_spawner) {
        (_, true) => app
            .server
            .public_router()
            .merge(crate::admin::followed_router()),
        (Some(_), false) => app.server.public_router(),
        (None, false) => app.server.router(),
    };
    let router = cors.apply(router);
    tracing::info!(server = %args.server_id, %addr, "game server listening");
    on_bound(addr);

    let tasks = Tasks::new();
    tasks.spawn(join(app.server.spawn_tick()));
    tasks.spawn(join(app.server.spawn_sync()));
    tasks.spawn(app.pipeline.run(shutdown.clone()));
    if let Some(registry) = registry {
        tasks.spawn(join(app.server.spawn_heartbeat(registry, HEARTBEAT)));
    }
    if let Some(l) = admin {
        let (router, stop) = (app.server.admin_router(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(e) = serve(l, router, stop, Duration::from_secs(2)).await {
                tracing::error!(error = %e, "admin listener failed");
            }
        });
    }
    let served = service_kit::serve_with(listener, router, shutdown.clone(), drain, tls).await;
    // Sockets close with 1001 on the same signal; wait for them, then for
    // the background tasks, which flush what they buffered.
    shutdown.cancel();
    if !app.server.drained(drain).await {
        tracing::warn!("some sockets did not close before the deadline");
    }
    wind_down(tasks, &app.db, served).await
}

/// A bound listener with the HTTP flags it is served with.
pub(crate) struct Listening {
    pub(crate) cors: service_kit::Cors,
    pub(crate) tls: Option<service_kit::tls::TlsFiles>,
    pub(crate) listener: TcpListener,
    pub(crate) addr: SocketAddr,
}

/// Checks the HTTP flags and binds `addr` (port 0 works).
pub(crate) async fn listen(
    http: &service_kit::HttpFlags,
    addr: SocketAddr,
) -> Result<Listening, AppError> {
    let cors = http.cors().map_err(AppError::Config)?;
    let tls = http.tls().map_err(AppError::Config)?;
    let listener = bind(addr).await?;
    let addr = local_addr(&listener)?;
    Ok(Listening {
        cors,
        tls,
        listener,
        addr,
    })
}

/// After serving stopped: waits for the background tasks (which flush
/// what they buffered), closes storage, and reports how serving ended.
pub(crate) async fn wind_down(
    tasks: Tasks,
    db: &store::Db,
    served: std::io::Result<()>,
) -> Result<(), AppError> {
    if !tasks.drain(Duration::from_secs(5)).await {
        tracing::warn!("some background tasks did not stop before the deadline");
    }
    db.close().await;
    served.map_err(|source| AppError::Io {
        what: "serving".into(),
        source,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Io {
            what: format!("binding {addr}"),
            source,
        })
}

fn local_addr(l: &TcpListener) -> Result<SocketAddr, AppError> {
    l.local_addr().map_err(|source| AppError::Io {
        what: "reading the bound address".into(),
        source,
    })
}

/// Waits for a spawned task, so it can sit in a [`Tasks`] set.
pub(crate) async fn join(h: tokio::task::JoinHandle<()>) {
    if let Err(e) = h.await {
        tracing::error!(error = %e, "background task failed");
    }
}
