//! The shared state of one game server and how it is built.

use std::sync::{Arc, Mutex};

use analytics::EventSink;
use protocol::event::Event;
use protocol::token::TokenKey;
use spawner::World;
use store::Db;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::encounter::Sessions;
use crate::events::Stamp;
use crate::hub::{ConnId, Hub};
use crate::presence::Presence;
use crate::sync::WorldSync;
use crate::world::WorldHandle;

/// The longest a reply waits for its durable events.
const DURABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
    pub sync: WorldSync,
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
    pub(crate) access: analytics::access::Access,
    /// The world; `WorldHandle` alone takes its lock.
    pub(crate) world: WorldHandle,
    pub(crate) hub: Hub,
    pub(crate) presence: Presence,
    pub(crate) login_failures: service_kit::Lockout,
    /// Password sign-ins per client address in the last minute.
    pub(crate) sign_ins_by_address: service_kit::Lockout,
    /// Sign-ins and standing reads, in batches.
    pub(crate) arrivals: store::Arrivals,
    /// How many arrivals are worked on at once.
    pub(crate) admission: crate::admission::Admission,
    /// The raids of this server. The mutex is only held for synchronous
    /// sections, never across an `.await`.
    pub(crate) sessions: Mutex<Sessions<ConnId>>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) on_session_end: Option<SessionEndHook>,
    /// One permit per open play socket, so the server never holds more
    /// than its `capacity`.
    pub(crate) sockets: Arc<tokio::sync::Semaphore>,
    /// The play sockets' tasks, so a drain wakes when the last one ends.
    pub(crate) conns: service_kit::Tasks,
    pub(crate) sync: WorldSync,
    /// Held by one operator write at a time (`admin.rs`).
    pub(crate) admin_writes: tokio::sync::Mutex<()>,
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
        let sign_ins_by_address = service_kit::Lockout::new(
            cfg.sign_ins_per_address,
            std::time::Duration::from_secs(60),
            crate::config::SIGN_IN_TRACKED_ADDRESSES,
        );
        let arrivals = store::Arrivals::start(deps.db.clone());
        let admission = crate::admission::Admission::new(
            cfg.max_pending_sign_ins,
            cfg.max_pending_hellos,
            cfg.shed_lag,
        );
        admission.start_probe(shutdown.clone());
        Arc::new(GameState {
            sockets: Arc::new(tokio::sync::Semaphore::new(cfg.capacity)),
            conns: service_kit::Tasks::new(),
            cfg,
            access: analytics::access::Access::new(deps.db.clone(), Some(&deps.admin_token)),
            db: deps.db,
            events: deps.events,
            key: deps.key,
            world: WorldHandle::new(deps.world),
            hub: Hub::default(),
            presence: Presence::default(),
            login_failures: service_kit::Lockout::new(
                crate::config::LOGIN_MAX_FAILURES,
                crate::config::LOGIN_FAILURE_WINDOW,
                crate::config::LOGIN_TRACKED_EMAILS,
            ),
            sign_ins_by_address,
            arrivals,
            admission,
            sessions: Mutex::default(),
            shutdown,
            on_session_end: deps.on_session_end,
            sync: deps.sync,
            admin_writes: tokio::sync::Mutex::new(()),
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
        self.world.locate_poi(id)
    }

    /// Runs `f` with the world locked for writing (embedding and tests).
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.world.with_write(f)
    }

    /// Sessions known to this server (running or lingering).
    pub(crate) fn session_count(&self) -> usize {
        crate::hub::lock(&self.sessions).count()
    }

    /// Creatures alive in the world right now.
    pub fn creature_count(&self) -> usize {
        self.world.read().creature_count()
    }

    /// Stamps events with this server and the time now.
    pub(crate) fn stamp(&self) -> Stamp<'_> {
        Stamp {
            server_id: &self.cfg.server_id,
            at_ms: now_ms(),
        }
    }

    /// Emits a best-effort event.
    pub(crate) fn emit(&self, e: Event) {
        self.events.emit(e);
    }

    /// Writes events that must count exactly once (foot-traffic visits)
    /// into the SQL outbox before the reply goes out, so a crash after the
    /// reply loses none; the relay carries them on and analytics stores
    /// each event id once. When the store refuses them they go the
    /// best-effort way (the same event ids, so a late commit of the first
    /// try is not a second visit), and the reply waits at most a second.
    pub(crate) async fn record_durable(&self, events: Vec<Event>) {
        let write = self.db.enqueue_events(&events);
        let failed = match tokio::time::timeout(DURABLE_WAIT, write).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the store took over a second".to_owned()),
        };
        if let Some(error) = failed {
            tracing::warn!(%error, "visits not written to the outbox; sent best-effort");
            for ev in events {
                self.events.emit(ev);
            }
        }
    }
}
