//! Following the other game servers of a deployment: the subscription to
//! their `WorldMessage`s, applied to this server's world within a second,
//! with a full reload of zones, POIs and catches from SQL after every
//! (re)subscription, so a message lost while Redis was away cannot leave
//! the world stale.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::play::DespawnReason;
use protocol::sync::{WorldChange, WorldMessage};

use crate::clock::now_ms;
use crate::state::GameState;
use crate::sync::{RedisSync, WorldSync};

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
    let mut backoff = service_kit::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    while !state.shutdown.is_cancelled() {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff.reset();
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
        if !backoff.wait(&state.shutdown).await {
            return;
        }
    }
}

async fn apply(state: &GameState, own: &str, text: &str) {
    let msg = match WorldMessage::decode(text) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(error = %e, "not a world sync message");
            return;
        }
    };
    if msg.origin == own {
        return;
    }
    match msg.change {
        WorldChange::Zones => reload_zones(state).await,
        WorldChange::Pois => reload_pois(state).await,
        WorldChange::Claimed { player_id } => {
            if state.presence.taken_elsewhere(&player_id) {
                metrics::counter!("geogame_sockets_replaced_total").increment(1);
            }
        }
        WorldChange::Standing { player_id } => {
            if state.presence.existing_guard(&player_id).is_some() {
                crate::arrival::apply_standing_here(state, &player_id).await;
            }
        }
        WorldChange::Taken { creature_id } => {
            if let Some(c) = state.world.take_creature(&creature_id) {
                crate::tick::gone(state, &[c], DespawnReason::Caught, false);
            }
        }
    }
}

async fn reload(state: &GameState) {
    reload_zones(state).await;
    reload_pois(state).await;
    drop_caught(state).await;
}

/// Takes out of the world every creature the catches table says is caught
/// (and tells whoever sees one): placement replayed at a restart, or a
/// catch announced while Redis was away, would otherwise leave it shown.
pub(crate) async fn drop_caught(state: &GameState) {
    let ids = state.world.creature_ids();
    match state.db.caught_among(&ids).await {
        Ok(caught) => {
            let removed = state.world.take_creatures(&caught);
            if !removed.is_empty() {
                tracing::info!(count = removed.len(), "dropped creatures caught already");
            }
            crate::tick::gone(state, &removed, DespawnReason::Caught, false);
        }
        Err(e) => tracing::warn!(error = %e, "reading which creatures are caught failed"),
    }
}

async fn reload_zones(state: &GameState) {
    match crate::world::load_zones(&state.db).await {
        Ok(zones) => {
            let removed = state
                .world
                .change_zones(now_ms(), |w, now| w.replace_zones(zones, now));
            crate::tick::gone(state, &removed, DespawnReason::Excluded, true);
        }
        Err(e) => tracing::warn!(error = %e, "reloading zones failed"),
    }
}

async fn reload_pois(state: &GameState) {
    match crate::world::load_pois(&state.db).await {
        Ok(pois) => state.world.upsert_pois(pois).await,
        Err(e) => tracing::warn!(error = %e, "reloading pois failed"),
    }
}
