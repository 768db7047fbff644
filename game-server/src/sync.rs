//! World sync between game servers that share one database: operator
//! changes and caught creatures are announced on Redis pub/sub, so every
//! server applies a new zone within a second and hides a creature that
//! another server's player caught.
//!
//! Messages are short text lines, `<origin> zones`, `<origin> pois` and
//! `<origin> taken <creature id>`; a server ignores its own. After every
//! (re)subscription a server reloads zones and POIs from SQL, so a message
//! lost while Redis was away cannot leave its world stale.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::play::DespawnReason;
use redis::aio::ConnectionManager;

use crate::state::GameState;

/// How game servers hear about each other's world changes.
#[derive(Clone)]
pub enum WorldSync {
    /// One game server: nothing to tell anyone.
    Local,
    /// Several game servers sharing Redis.
    Redis(Box<RedisSync>),
}

/// The Redis side of [`WorldSync`].
#[derive(Clone)]
pub struct RedisSync {
    /// Publishing connection (reconnects by itself).
    con: ConnectionManager,
    /// Subscribing client.
    client: redis::Client,
    /// The pub/sub channel.
    channel: String,
    /// This server's id, so it can skip its own messages.
    origin: String,
}

impl std::fmt::Debug for WorldSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorldSync::Local => f.write_str("WorldSync::Local"),
            WorldSync::Redis(r) => write!(f, "WorldSync::Redis({})", r.channel),
        }
    }
}

/// A change worth telling other servers about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Zones,
    Pois,
    Taken(String),
}

impl WorldSync {
    /// Connects to Redis for syncing on `channel` as `origin`.
    pub async fn redis(url: &str, channel: &str, origin: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let con = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(WorldSync::Redis(Box::new(RedisSync {
            con,
            client,
            channel: channel.to_owned(),
            origin: origin.to_owned(),
        })))
    }

    /// Announces a change, without waiting. A lost announcement is
    /// repaired by the reload that follows every resubscription.
    pub(crate) fn announce(&self, change: Change) {
        let WorldSync::Redis(r) = self else { return };
        let origin = &r.origin;
        let text = match &change {
            Change::Zones => format!("{origin} zones"),
            Change::Pois => format!("{origin} pois"),
            Change::Taken(id) => format!("{origin} taken {id}"),
        };
        let mut con = r.con.clone();
        let channel = r.channel.clone();
        tokio::spawn(async move {
            let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(text)
                .query_async(&mut con)
                .await;
            if let Err(e) = r {
                metrics::counter!("geogame_sync_publish_errors_total").increment(1);
                tracing::warn!(error = %e, "world sync announcement lost");
            }
        });
    }
}

/// Listens for other servers' changes until shutdown, resubscribing with
/// backoff whenever Redis goes away.
pub(crate) async fn run(state: Arc<GameState>) {
    let WorldSync::Redis(r) = state.sync.clone() else {
        return;
    };
    let RedisSync {
        client,
        channel,
        origin,
        ..
    } = *r;
    let mut backoff = Duration::from_millis(100);
    while !state.shutdown.is_cancelled() {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    reload(&state).await;
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            _ = state.shutdown.cancelled() => return,
                            m = messages.next() => match m {
                                Some(m) => {
                                    let text: String = m.get_payload().unwrap_or_default();
                                    apply(&state, &origin, &text).await;
                                }
                                None => break,
                            }
                        }
                    }
                    tracing::warn!("world sync subscription lost; resubscribing");
                }
                Err(e) => tracing::warn!(error = %e, "world sync subscribe failed"),
            },
            Err(e) => tracing::warn!(error = %e, "world sync cannot reach redis"),
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn apply(state: &GameState, own: &str, text: &str) {
    let mut parts = text.splitn(3, ' ');
    let (Some(origin), Some(kind)) = (parts.next(), parts.next()) else {
        return;
    };
    if origin == own {
        return;
    }
    match (kind, parts.next()) {
        ("zones", _) => reload_zones(state).await,
        ("pois", _) => reload_pois(state).await,
        ("taken", Some(id)) => {
            if state.world_write().take_creature(id).is_some() {
                state.hub.despawn(id, DespawnReason::Caught);
            }
        }
        _ => tracing::debug!(text, "unknown world sync message"),
    }
}

async fn reload(state: &GameState) {
    reload_zones(state).await;
    reload_pois(state).await;
}

async fn reload_zones(state: &GameState) {
    match crate::server::load_zones(&state.db).await {
        Ok(zones) => crate::admin::apply_zones(state, |w, now| w.replace_zones(zones, now)),
        Err(e) => tracing::warn!(error = %e, "reloading zones failed"),
    }
}

async fn reload_pois(state: &GameState) {
    match state.db.list_pois().await {
        Ok(rows) => {
            let pois = rows.into_iter().map(crate::server::poi_from_row).collect();
            state.world_write().upsert_pois(pois);
        }
        Err(e) => tracing::warn!(error = %e, "reloading pois failed"),
    }
}
