//! Assembling a runnable game server from options: storage, secrets, the
//! world, and the analytics pipeline. Shared by the `game-server` and
//! `geogame` binaries.

use std::path::PathBuf;

use analytics::{AnalyticsConfig, Pipeline};
use protocol::token::TokenKey;
use spawner::{Poi, SpawnConfig, World};
use store::Db;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::server::GameServer;
use crate::state::{GameDeps, SessionEndHook};
use crate::world::{LoadError, load_world};

/// How far back the world is simulated at start, so players see
/// creatures at once instead of an empty map.
const WARM_UP: std::time::Duration = std::time::Duration::from_secs(120);

/// Everything needed to start a game server.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Where SQLite and generated secrets live.
    pub data_dir: PathBuf,
    /// PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// Redis for the event stream (scaled-out deployment).
    pub redis_url: Option<String>,
    /// Key prefix of the matchmaker's registry on Redis.
    pub redis_prefix: String,
    /// The token signing secret; generated into the data dir when absent.
    pub token_secret: Option<String>,
    /// The admin token; generated into the data dir when absent.
    pub admin_token: Option<String>,
    /// Placement seed; servers that share a world must share it.
    pub seed: u64,
    /// A species/placement config file (JSON) instead of the defaults.
    pub spawn_config: Option<PathBuf>,
    /// POIs stored when the database has none yet.
    pub seed_pois: Vec<Poi>,
    /// Whether the world places creatures. The spawner service holds the
    /// world without players, so it places none (and logs no spawns).
    pub placement: bool,
    /// Server settings.
    pub server: ServerConfig,
    /// Analytics pipeline settings.
    pub analytics: AnalyticsConfig,
    /// Redis pub/sub channel for world sync between game servers.
    pub sync_channel: String,
}

/// A built game server with what it was built from.
#[derive(Debug)]
pub struct App {
    /// The server.
    pub server: GameServer,
    /// Its storage.
    pub db: Db,
    /// Its token key (shared with the lobby in one process).
    pub key: TokenKey,
    /// The admin token.
    pub admin_token: String,
    /// Where a generated admin token was written, if it was.
    pub admin_token_file: Option<PathBuf>,
    /// The analytics pipeline to run beside the server.
    pub pipeline: Pipeline,
}

/// Why a game server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A file in the data dir could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// Which file.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("opening storage: {0}")]
    Store(#[from] store::StoreError),
    /// The world could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The spawn config is invalid.
    #[error("spawn config: {0}")]
    Config(String),
    /// The token secret is unusable.
    #[error("token secret: {0}")]
    Secret(String),
    /// Redis could not be reached for world sync.
    #[error("world sync over redis: {0}")]
    Redis(String),
    /// The analytics pipeline could not start.
    #[error("analytics: {0}")]
    Analytics(String),
}

/// Opens storage, loads secrets and the world, and builds the server.
pub async fn build(
    opts: AppOptions,
    shutdown: CancellationToken,
    on_session_end: Option<SessionEndHook>,
) -> Result<App, AppError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| AppError::Io { what, source }
    };
    std::fs::create_dir_all(&opts.data_dir).map_err(io("creating the data dir"))?;
    let db = match &opts.database_url {
        Some(url) => Db::open(url).await?,
        None => Db::open_sqlite(&opts.data_dir.join("geogame.db")).await?,
    };
    let secret = match &opts.token_secret {
        Some(s) => s.clone(),
        None => crate::secrets::load_or_create(&opts.data_dir.join("token-secret"), 32)
            .map_err(io("token secret file"))?,
    };
    let key = TokenKey::new(secret.as_bytes()).map_err(|e| AppError::Secret(e.to_string()))?;
    let (admin_token, admin_token_file) = match &opts.admin_token {
        Some(t) => (t.clone(), None),
        None => {
            let path = opts.data_dir.join("admin-token");
            (
                crate::secrets::load_or_create(&path, 24).map_err(io("admin token file"))?,
                Some(path),
            )
        }
    };
    let mut spawn_cfg = match &opts.spawn_config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(io("spawn config file"))?;
            SpawnConfig::from_json_str(&text).map_err(|e| AppError::Config(e.to_string()))?
        }
        None => SpawnConfig::default(),
    };
    if !opts.placement {
        spawn_cfg.species.clear();
    }
    let mut world = World::new(spawn_cfg, opts.seed);
    load_world(&db, &mut world, &opts.seed_pois, now_ms()).await?;
    let (events, pipeline) = match &opts.redis_url {
        Some(url) => Pipeline::redis_producer(url, db.clone(), opts.analytics.clone())
            .await
            .map_err(|e| AppError::Analytics(e.to_string()))?,
        None => Pipeline::embedded(db.clone(), opts.analytics.clone()),
    };
    let sync = match &opts.redis_url {
        Some(url) => crate::sync::WorldSync::redis(url, &opts.sync_channel, &opts.server.server_id)
            .await
            .map_err(|e| AppError::Redis(e.to_string()))?,
        None => crate::sync::WorldSync::Local,
    };
    let deps = GameDeps {
        sync,
        db: db.clone(),
        events,
        key: key.clone(),
        admin_token: admin_token.clone(),
        world,
        on_session_end,
    };
    let server = GameServer::new(opts.server, deps, shutdown);
    server.warm_up(WARM_UP);
    server.drop_caught().await;
    Ok(App {
        server,
        db,
        key,
        admin_token,
        admin_token_file,
        pipeline,
    })
}

/// Parses a GeoJSON Feature or FeatureCollection of POI points.
pub fn parse_world(text: &str) -> Result<Vec<Poi>, AppError> {
    let specs = spawner::parse_pois_json(text.as_bytes())
        .map_err(|e| AppError::Config(format!("world file: {e}")))?;
    Ok(specs.into_iter().map(spawner::PoiSpec::into_poi).collect())
}
