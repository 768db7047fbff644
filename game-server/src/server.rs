//! Building a game server from its parts, loading the world from SQL, and
//! serving until shutdown with a drain deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::{ListenerExt, TapIo};
use spawner::{Poi, World, Zone};
use store::{Db, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::state::{GameDeps, GameState};

/// Why the world could not be loaded from SQL.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database failed.
    #[error("loading the world: {0}")]
    Store(#[from] StoreError),
    /// A stored zone no longer parses.
    #[error("stored zone {id} is invalid: {reason}")]
    BadZone {
        /// The zone's id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Loads the persisted POIs and zones into `world`. When the database has
/// no POIs yet, `seed_pois` are stored first (the shipped demo world).
pub async fn load_world(
    db: &Db,
    world: &mut World,
    seed_pois: &[Poi],
    now_ms: i64,
) -> Result<(), LoadError> {
    let mut rows = db.list_pois().await?;
    if rows.is_empty() && !seed_pois.is_empty() {
        let audit = store::AuditEntry {
            at: now_ms,
            actor: "system".into(),
            action: "poi.seed".into(),
            target: format!("{} pois", seed_pois.len()),
            detail: "demo world".into(),
        };
        let seed: Vec<_> = seed_pois.iter().map(crate::admin::poi_row).collect();
        db.upsert_pois(&seed, &audit).await?;
        rows = db.list_pois().await?;
    }
    world.set_pois(rows.into_iter().map(poi_from_row).collect());
    world.replace_zones(load_zones(db).await?, now_ms);
    Ok(())
}

/// A spawner POI from its SQL row.
pub(crate) fn poi_from_row(r: store::PoiRow) -> Poi {
    Poi {
        id: r.id,
        name: r.name,
        lat: r.lat,
        lon: r.lon,
        weight: r.weight,
        sponsor: r.sponsor,
    }
}

/// Every stored zone, parsed.
pub(crate) async fn load_zones(db: &Db) -> Result<Vec<Zone>, LoadError> {
    let mut zones = Vec::new();
    for row in db.list_zones().await? {
        let v: serde_json::Value =
            serde_json::from_str(&row.geojson).map_err(|e| LoadError::BadZone {
                id: row.id.clone(),
                reason: e.to_string(),
            })?;
        let spec = spawner::parse_zone_feature(&v).map_err(|e| LoadError::BadZone {
            id: row.id.clone(),
            reason: e.to_string(),
        })?;
        zones.push(Zone {
            id: row.id,
            spec,
            created_at: row.created_at,
        });
    }
    Ok(zones)
}

/// A game server: its routes and its background tick.
#[derive(Debug, Clone)]
pub struct GameServer {
    state: Arc<GameState>,
}

impl GameServer {
    /// Builds the server. `shutdown` ends every socket and the tick.
    pub fn new(cfg: ServerConfig, deps: GameDeps, shutdown: CancellationToken) -> Self {
        // Install the recorder before the first metric is touched.
        let _ = crate::telemetry::prometheus();
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
        tokio::spawn(crate::sync::run(self.state.clone()))
    }

    /// Starts the world tick.
    pub fn spawn_tick(&self) -> JoinHandle<()> {
        tokio::spawn(crate::tick::run(self.state.clone()))
    }

    /// Replays the world's ticks over the last `span`, so players find a
    /// populated map at once instead of an empty one. Spawns are logged.
    pub fn warm_up(&self, span: Duration) {
        let step = self.state.cfg.tick.as_millis().max(1) as i64;
        let now = crate::state::now_ms();
        let mut t = now - span.as_millis() as i64;
        while t < now {
            crate::tick::tick_at(&self.state, t);
            t += step;
        }
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
                            load: crate::session::count(&state) as u32,
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
        let until = tokio::time::Instant::now() + deadline;
        while self.state.connections() > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// Turns Nagle's algorithm off on every accepted socket. Replies and pushes
/// are small frames written one at a time; with Nagle on, a frame written
/// while the previous one is still unacknowledged waits for the peer's
/// delayed ACK (about 40 ms on Linux), which happened whenever a push and a
/// reply met.
fn no_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn tune(tcp: &mut TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    }
    listener.tap_io(tune as fn(&mut TcpStream))
}

/// Serves `app` on `listener` until `shutdown` fires, then stops
/// accepting and gives open requests `drain` to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server = axum::serve(no_delay(listener), app)
        .with_graceful_shutdown(async move { signal.cancelled().await });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => r,
        _ = async { shutdown.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("drain deadline passed; closing remaining connections");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = no_delay(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
