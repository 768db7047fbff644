//! Building a game server from its parts and loading the world from SQL.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::state::{GameDeps, GameState};

/// A game server: its routes and its background tick.
#[derive(Debug, Clone)]
pub struct GameServer {
    state: Arc<GameState>,
}

impl GameServer {
    /// Builds the server. `shutdown` ends every socket and the tick.
    pub fn new(cfg: ServerConfig, deps: GameDeps, shutdown: CancellationToken) -> Self {
        // Install the recorder before the first metric is touched.
        let _ = service_kit::telemetry::prometheus();
        GameServer {
            state: GameState::new(cfg, deps, shutdown),
        }
    }

    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        self.state.config()
    }

    /// The shared state (for embedding and tests).
    pub fn state(&self) -> &Arc<GameState> {
        &self.state
    }

    /// Public routes: `/healthz`, `/metrics`, `/v1/auth/guest`, `/v1/play`.
    pub fn public_router(&self) -> Router {
        crate::http::router(self.state.clone())
    }

    /// Operator routes under `/v1/admin`, guarded by the admin token.
    pub fn admin_router(&self) -> Router {
        crate::admin::router(self.state.clone())
    }

    /// Public and operator routes on one router.
    pub fn router(&self) -> Router {
        self.public_router().merge(self.admin_router())
    }

    /// Starts listening for other game servers' world changes (a no-op
    /// for a lone server).
    pub fn spawn_sync(&self) -> JoinHandle<()> {
        tokio::spawn(crate::follow::run(self.state.clone()))
    }

    /// Starts the world tick.
    pub fn spawn_tick(&self) -> JoinHandle<()> {
        tokio::spawn(crate::tick::run(self.state.clone()))
    }

    /// Replays the world's ticks over the last `span`, so players find a
    /// populated map at once instead of an empty one. Spawns are logged.
    pub fn warm_up(&self, span: Duration) {
        let step = self.state.cfg.tick.as_millis().max(1) as i64;
        let now = crate::clock::now_ms();
        let mut t = now - span.as_millis() as i64;
        while t < now {
            crate::tick::tick_at(&self.state, t);
            t += step;
        }
    }

    /// Takes out of the world the creatures already caught (after a
    /// warm-up, which replays placement without knowing of catches).
    pub async fn drop_caught(&self) {
        crate::follow::drop_caught(&self.state).await;
    }

    /// Runs one world tick now (tests use this to avoid waiting).
    pub fn tick_now(&self) {
        crate::tick::tick(&self.state);
    }

    /// Keeps this server registered with the matchmaker's registry: a
    /// heartbeat with the current load every `every`, and deregistration
    /// at shutdown.
    pub fn spawn_heartbeat(
        &self,
        registry: matchmaker::Registry,
        every: Duration,
    ) -> JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = state.shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        let info = matchmaker::ServerInfo {
                            id: state.cfg.server_id.clone(),
                            ws_url: state.cfg.public_ws_url.clone(),
                            capacity: state.cfg.session_capacity,
                            load: state.session_count() as u32,
                            socket_capacity: u32::try_from(state.cfg.capacity).unwrap_or(u32::MAX),
                            sockets: u32::try_from(state.connections()).unwrap_or(u32::MAX),
                        };
                        if let Err(e) = registry.heartbeat(&info).await {
                            tracing::warn!(error = %e, "registry heartbeat failed");
                        }
                    }
                }
            }
            if let Err(e) = registry.deregister(&state.cfg.server_id).await {
                tracing::warn!(error = %e, "registry deregistration failed");
            }
        })
    }

    /// Waits until every play socket has closed, or `deadline` passes.
    /// Returns whether all closed.
    pub async fn drained(&self, deadline: Duration) -> bool {
        self.state.conns.drain(deadline).await
    }
}
