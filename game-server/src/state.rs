//! The shared state of one game server and how it is built.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use analytics::EventSink;
use protocol::event::{Event, EventKind};
use protocol::token::TokenKey;
use spawner::World;
use store::Db;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::session::Sessions;

/// Called when a shared session ends, so the matchmaker can release its
/// players.
pub type SessionEndHook = Arc<dyn Fn(&str) + Send + Sync>;

/// What a game server is built from.
pub struct GameDeps {
    /// SQL storage (SQLite or PostgreSQL).
    pub db: Db,
    /// Where analytics events go.
    pub events: EventSink,
    /// Signs and checks player and session tokens.
    pub key: TokenKey,
    /// The operator's bearer token for `/v1/admin/*`.
    pub admin_token: String,
    /// The world, with its POIs and zones already loaded.
    pub world: World,
    /// Tells the matchmaker a session is over.
    pub on_session_end: Option<SessionEndHook>,
    /// How world changes reach the other game servers.
    pub sync: crate::sync::WorldSync,
}

impl std::fmt::Debug for GameDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameDeps").finish_non_exhaustive()
    }
}

/// State shared by every connection and task of one game server.
pub struct GameState {
    pub(crate) cfg: ServerConfig,
    pub(crate) db: Db,
    pub(crate) events: EventSink,
    pub(crate) key: TokenKey,
    pub(crate) admin_token: String,
    /// The world is only ever locked for short, synchronous sections and
    /// never across an `.await`.
    pub(crate) world: RwLock<World>,
    pub(crate) hub: Hub,
    pub(crate) sessions: Sessions,
    pub(crate) shutdown: CancellationToken,
    pub(crate) on_session_end: Option<SessionEndHook>,
    /// One permit per open play socket, so the server never holds more
    /// than `max_connections`.
    pub(crate) sockets: Arc<tokio::sync::Semaphore>,
    pub(crate) sync: crate::sync::WorldSync,
}

impl std::fmt::Debug for GameState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameState")
            .field("server_id", &self.cfg.server_id)
            .finish_non_exhaustive()
    }
}

impl GameState {
    /// Builds the state. `shutdown` stops every socket and task.
    pub fn new(cfg: ServerConfig, deps: GameDeps, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(GameState {
            sockets: Arc::new(tokio::sync::Semaphore::new(cfg.max_connections)),
            cfg,
            db: deps.db,
            events: deps.events,
            key: deps.key,
            admin_token: deps.admin_token,
            world: RwLock::new(deps.world),
            hub: Hub::default(),
            sessions: Sessions::default(),
            shutdown,
            on_session_end: deps.on_session_end,
            sync: deps.sync,
        })
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Players connected right now.
    pub fn connections(&self) -> usize {
        self.hub.connections()
    }

    /// The analytics sink this server logs to.
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Where an active POI is, for the lobby's raid radius check.
    pub fn locate_poi(&self, id: &str) -> Option<(f64, f64)> {
        let w = self.world_read();
        w.poi(id)
            .filter(|_| w.poi_active(id))
            .map(|p| (p.lat, p.lon))
    }

    /// Runs `f` with the world locked for writing (embedding and tests).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.world_write())
    }

    /// Creatures alive in the world right now.
    pub fn creature_count(&self) -> usize {
        self.world_read().creature_count()
    }

    pub(crate) fn world_read(&self) -> std::sync::RwLockReadGuard<'_, World> {
        // A panic while holding the lock leaves the world usable: every
        // mutation is a self-contained call into the spawner.
        self.world.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn world_write(&self) -> std::sync::RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A new analytics event stamped with this server and time.
    pub(crate) fn event(&self, kind: EventKind, player_id: Option<&str>) -> Event {
        let mut e = Event::new(
            uuid::Uuid::now_v7().to_string(),
            now_ms(),
            kind,
            self.cfg.server_id.clone(),
        );
        e.player_id = player_id.map(str::to_owned);
        e
    }

    /// Emits a best-effort event.
    pub(crate) fn emit(&self, e: Event) {
        self.events.emit(e);
    }
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix time in seconds.
pub(crate) fn now_s() -> i64 {
    now_ms() / 1000
}
