//! `geogame up`: every service in one process on one listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use game_server::GameState;
use game_server::app::{AppOptions, build};
use game_server::standalone::HEARTBEAT;
use matchmaker::{Backend, Lobby, MatchConfig, PoiDirectory, Registry};
use service_kit::serve;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::UpArgs;

/// The demo world shipped in the repo: POIs around 228th Ave, Sammamish WA.
pub const DEMO_WORLD: &str = include_str!("../demo/world.geojson");

/// Validated settings of `geogame up`.
#[derive(Debug)]
pub struct UpConfig {
    listen: SocketAddr,
    admin_listen: Option<SocketAddr>,
    options: AppOptions,
    lobby: MatchConfig,
    redis_url: Option<String>,
    cors: service_kit::Cors,
    tls: Option<service_kit::tls::TlsFiles>,
    retention: analytics::retention::Retention,
}

impl UpConfig {
    /// Whether the listener serves HTTPS and wss://.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Checks the raw flags and resolves defaults.
    pub fn from_args(args: UpArgs) -> anyhow::Result<Self> {
        if !(args.lobby_wait_s.is_finite() && args.lobby_wait_s >= 0.0) {
            bail!("--lobby-wait-s must be a number >= 0");
        }
        let options = args.game.options(args.listen, "gs-1", Some(DEMO_WORLD))?;
        let cors = args.http.cors().map_err(anyhow::Error::msg)?;
        let tls = args.http.tls().map_err(anyhow::Error::msg)?;
        let mut options = options;
        if tls.is_some() && args.game.public_url.is_none() {
            options.server.public_ws_url =
                options.server.public_ws_url.replacen("ws://", "wss://", 1);
        }
        let lobby = MatchConfig {
            lobby_wait: Duration::from_secs_f64(args.lobby_wait_s),
            ..MatchConfig::default()
        };
        Ok(UpConfig {
            listen: args.listen,
            admin_listen: args.game.admin_listen,
            redis_url: options.redis_url.clone(),
            lobby,
            options,
            cors,
            tls,
            retention: analytics::retention::Retention::days(args.location_retention),
        })
    }
}

/// Looks POIs up in the game server's live world.
struct WorldPois(OnceLock<Arc<GameState>>);

impl PoiDirectory for WorldPois {
    fn locate(&self, poi_id: &str) -> Option<(f64, f64)> {
        self.0.get()?.locate_poi(poi_id)
    }
}

/// Runs everything until `shutdown` fires. Binds first, so the caller
/// learns the address (port 0 works) through `on_bound`.
pub async fn run(
    cfg: UpConfig,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr, &str, Option<PathBuf>),
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let mut options = cfg.options;
    if options.server.public_ws_url.contains(":0/") {
        let ws = if cfg.tls.is_some() { "wss" } else { "ws" };
        options.server.public_ws_url = format!("{ws}://{addr}/v1/play");
    }

    // The lobby and the game server refer to each other: the lobby asks
    // the world where POIs are, and the game server tells the lobby when a
    // session ends. Both links are set once both exist.
    let lobby_cell: Arc<OnceLock<Lobby>> = Arc::new(OnceLock::new());
    let release = matchmaker::SessionRelease::in_process(lobby_cell.clone());
    let on_end: game_server::SessionEndHook = Arc::new(move |sid: &str| release.end_soon(sid));
    let options_prefix = options.redis_prefix.clone();
    let app = build(options, shutdown.clone(), Some(on_end)).await?;
    let pois = Arc::new(WorldPois(OnceLock::new()));
    let _ = pois.0.set(app.server.state().clone());

    let (backend, registry) = match &cfg.redis_url {
        Some(url) => (
            Backend::Redis {
                url: url.clone(),
                prefix: options_prefix.clone(),
            },
            Registry::redis(url, &options_prefix, &cfg.lobby)
                .await
                .context("connecting the registry to Redis")?,
        ),
        None => (Backend::Memory, Registry::memory(&cfg.lobby)),
    };
    let on_match = matchmaker::outbox_log(app.db.clone(), "lobby-1".into());
    let lobby = Lobby::new(
        cfg.lobby.clone(),
        backend,
        registry.clone(),
        app.key.clone(),
        pois,
        on_match,
        "lobby-1".into(),
    )
    .await
    .context("starting the lobby")?;
    let _ = lobby_cell.set(lobby.clone());

    let mut router =
        app.server
            .public_router()
            .merge(lobby.router())
            .merge(analytics::reports_router(
                app.db.clone(),
                analytics::access::Access::new(app.db.clone(), Some(&app.admin_token)),
            ));
    let admin_listener = match cfg.admin_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding {a}"))?,
        ),
        None => {
            router = router.merge(app.server.admin_router());
            None
        }
    };
    let router = cfg.cors.apply(router);
    on_bound(addr, &app.admin_token, app.admin_token_file.clone());

    let tick = app.server.spawn_tick();
    let sync = app.server.spawn_sync();
    let beat = app.server.spawn_heartbeat(registry, HEARTBEAT);
    let lobby_task = tokio::spawn({
        let lobby = lobby.clone();
        let s = shutdown.clone();
        async move { lobby.run(s).await }
    });
    let pipeline = tokio::spawn(app.pipeline.run(shutdown.clone()));
    let retention = tokio::spawn(analytics::retention::run(
        app.db.clone(),
        cfg.retention,
        shutdown.clone(),
    ));
    let admin_task = admin_listener.map(|l| {
        tokio::spawn(serve(
            l,
            app.server.admin_router(),
            shutdown.clone(),
            Duration::from_secs(2),
        ))
    });

    let drain = app.server.config().drain_timeout;
    service_kit::serve_with(listener, router, shutdown.clone(), drain, cfg.tls.clone())
        .await
        .context("serving")?;
    // Sockets close with 1001 on the same signal; wait for them, then for
    // the background tasks, which flush what they buffered.
    if !app.server.drained(drain).await {
        tracing::warn!("some sockets did not close before the deadline");
    }
    for t in [tick, sync, beat, lobby_task, retention] {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    if let Some(t) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), pipeline).await;
    app.db.close().await;
    Ok(())
}
