//! `geogame up`: every service in one process on one listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use game_server::app::{AppOptions, build};
use game_server::{GameState, ServerConfig, serve};
use matchmaker::{Backend, Lobby, MatchConfig, PoiDirectory, Registry};
use protocol::event::{Event, EventKind};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::UpArgs;

/// The demo world shipped in the repo: POIs around 228th Ave, Sammamish WA.
pub const DEMO_WORLD: &str = include_str!("../demo/world.geojson");

/// How often the game server heartbeats into the lobby's registry.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Validated settings of `geogame up`.
#[derive(Debug)]
pub struct UpConfig {
    listen: SocketAddr,
    admin_listen: Option<SocketAddr>,
    options: AppOptions,
    lobby: MatchConfig,
    redis_url: Option<String>,
}

impl UpConfig {
    /// Checks the raw flags and resolves defaults.
    pub fn from_args(args: UpArgs) -> anyhow::Result<Self> {
        if !(args.rate_limit.is_finite() && args.rate_limit > 0.0) {
            bail!("--rate-limit must be a positive number");
        }
        if !(args.lobby_wait_s.is_finite() && args.lobby_wait_s >= 0.0) {
            bail!("--lobby-wait-s must be a number >= 0");
        }
        let world_text = match &args.world {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
            }
            None => DEMO_WORLD.to_owned(),
        };
        let seed_pois = game_server::app::parse_world(&world_text)?;
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("ws://{}/v1/play", args.listen));
        let server = ServerConfig {
            public_ws_url: public_url,
            rate_per_s: args.rate_limit,
            rate_burst: (args.rate_limit * 2.0).max(10.0),
            ..ServerConfig::default()
        };
        let lobby = MatchConfig {
            lobby_wait: Duration::from_secs_f64(args.lobby_wait_s),
            ..MatchConfig::default()
        };
        Ok(UpConfig {
            listen: args.listen,
            admin_listen: args.admin_listen,
            redis_url: args.redis_url.clone(),
            lobby,
            options: AppOptions {
                data_dir: args.data_dir,
                database_url: args.database_url,
                redis_url: args.redis_url,
                token_secret: args.token_secret,
                admin_token: args.admin_token,
                seed: args.seed,
                spawn_config: args.spawn_config,
                seed_pois,
                server,
                analytics: analytics::AnalyticsConfig::default(),
                sync_channel: "geogame:world".into(),
            },
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
        options.server.public_ws_url = format!("ws://{addr}/v1/play");
    }

    // The lobby and the game server refer to each other: the lobby asks
    // the world where POIs are, and the game server tells the lobby when a
    // session ends. Both links are set once both exist.
    let lobby_cell: Arc<OnceLock<Lobby>> = Arc::new(OnceLock::new());
    let hook_cell = lobby_cell.clone();
    let on_end: game_server::SessionEndHook = Arc::new(move |sid: &str| {
        if let Some(lobby) = hook_cell.get() {
            let lobby = lobby.clone();
            let sid = sid.to_owned();
            tokio::spawn(async move {
                if let Err(e) = lobby.end_session(&sid).await {
                    tracing::warn!(error = %e, session = %sid, "lobby not told that a session ended");
                }
            });
        }
    });
    let app = build(options, shutdown.clone(), Some(on_end)).await?;
    let pois = Arc::new(WorldPois(OnceLock::new()));
    let _ = pois.0.set(app.server.state().clone());

    let (backend, registry) = match &cfg.redis_url {
        Some(url) => (
            Backend::Redis {
                url: url.clone(),
                prefix: matchmaker::standalone::DEFAULT_REDIS_PREFIX.into(),
            },
            Registry::redis(
                url,
                matchmaker::standalone::DEFAULT_REDIS_PREFIX,
                &cfg.lobby,
            )
            .await
            .context("connecting the registry to Redis")?,
        ),
        None => (Backend::Memory, Registry::memory(&cfg.lobby)),
    };
    let state = app.server.state().clone();
    let on_match: Arc<dyn Fn(&matchmaker::MatchRecord) + Send + Sync> = Arc::new(move |m| {
        // One event per player, so activity reports count every member.
        for player in &m.players {
            let mut ev = Event::new(
                uuid::Uuid::now_v7().to_string(),
                m.formed_at_ms,
                EventKind::MatchFormed,
                "lobby-1".into(),
            );
            ev.player_id = Some(player.clone());
            ev.session_id = Some(m.session_id.clone());
            ev.poi_id = m.poi_id.clone();
            ev.outcome = Some(m.mode.as_str().into());
            state.events().emit(ev);
        }
    });
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

    let mut router = app
        .server
        .public_router()
        .merge(lobby.router())
        .merge(analytics::reports_router(app.db.clone()));
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
    let admin_task = admin_listener.map(|l| {
        tokio::spawn(serve(
            l,
            app.server.admin_router(),
            shutdown.clone(),
            Duration::from_secs(2),
        ))
    });

    let drain = app.server.config().drain_timeout;
    serve(listener, router, shutdown.clone(), drain)
        .await
        .context("serving")?;
    // Sockets close with 1001 on the same signal; wait for them, then for
    // the background tasks, which flush what they buffered.
    if !app.server.drained(drain).await {
        tracing::warn!("some sockets did not close before the deadline");
    }
    for t in [tick, sync, beat, lobby_task] {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    if let Some(t) = admin_task {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), pipeline).await;
    app.db.close().await;
    Ok(())
}
