//! Handlers for the play phase: location, catch, spin, collection, and
//! dispatch of session messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::ErrorCode;
use protocol::play::{
    CatchOutcome, ClientMessage, CollectedCreature, DespawnReason, ServerMessage, SpinOutcome,
};
use protocol::sync::WorldChange;
use rand::Rng;
use tokio::time::Instant;

use crate::clock::{now_ms, now_s};
use crate::player::Player;
use crate::state::GameState;

/// What a frame is answered with.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A message to encode.
    Message(ServerMessage),
    /// A frame already encoded: the `nearby` reply, written straight from
    /// the world.
    Text(String),
}

/// Handles one decoded-or-not text frame, received at `now`. Returns the
/// message type (for metrics) and the reply.
pub(crate) async fn handle(
    state: &Arc<GameState>,
    conn: &mut Player,
    text: &str,
    now: Instant,
) -> (&'static str, Reply) {
    let msg = match ClientMessage::decode(text) {
        Ok(m) => m,
        Err(e) => {
            state.emit(
                state
                    .stamp()
                    .refused(&conn.player_id, ErrorCode::InvalidMessage, None),
            );
            return (
                "invalid",
                Reply::Message(ServerMessage::error(e.seq, e.code(), e.to_string())),
            );
        }
    };
    let kind = msg.kind();
    crate::telemetry::count_message(kind);
    // The actions that wait on storage are boxed: their futures are large
    // and rare, and inline they would grow every connection's task by
    // kilobytes for the whole life of the socket.
    let reply = match msg {
        ClientMessage::Hello { .. } => {
            ServerMessage::error(None, ErrorCode::InvalidMessage, "already authenticated")
        }
        ClientMessage::Location(l) => {
            let reply = match crate::nearby::location(state, conn, l, now) {
                Ok((frame, visits)) => {
                    // Rare (once per POI and hour), and then worth a commit.
                    if !visits.is_empty() {
                        Box::pin(state.record_durable(visits)).await;
                    }
                    Reply::Text(frame)
                }
                Err(refused) => Reply::Message(refused),
            };
            return ("location", reply);
        }
        ClientMessage::Catch { seq, creature_id } => {
            Box::pin(catch(state, conn, seq, creature_id)).await
        }
        ClientMessage::Spin { seq, poi_id } => Box::pin(spin(state, conn, seq, poi_id)).await,
        ClientMessage::Collection { seq } => Box::pin(collection(state, conn, seq)).await,
        ClientMessage::Ping { seq } => ServerMessage::Pong { seq },
        ClientMessage::Passenger { seq } => {
            conn.passenger = true;
            ServerMessage::PassengerConfirmed { seq }
        }
        ClientMessage::JoinSession { seq, session_token } => {
            crate::session::join(state, conn, seq, &session_token)
        }
        ClientMessage::Attack { seq } => crate::session::attack(state, conn, seq),
        ClientMessage::RaidCatch { seq } => {
            Box::pin(crate::session::raid_catch(state, conn, seq)).await
        }
        ClientMessage::LeaveSession { seq } => crate::session::leave_request(state, conn, seq),
    };
    (kind, Reply::Message(reply))
}

/// Why a catch or spin may not happen now, if it may not: a `too_fast`
/// penalty is running, or the player moves faster than the passenger speed
/// and has not confirmed being a passenger.
fn refuse_action(state: &GameState, conn: &Player, seq: Option<u64>) -> Option<ServerMessage> {
    if conn.movement.blocked(Instant::now()) {
        return Some(ServerMessage::error(
            seq,
            ErrorCode::TooFast,
            "actions are refused after impossible movement",
        ));
    }
    let speed = conn.speed_mps();
    if speed > state.cfg.passenger_speed_mps && !conn.passenger {
        return Some(ServerMessage::error(
            seq,
            ErrorCode::PassengerRequired,
            format!(
                "moving at {speed:.1} m/s: confirm you are a passenger ({{\"type\": \"passenger\"}}) to catch or spin"
            ),
        ));
    }
    None
}

async fn catch(
    state: &Arc<GameState>,
    conn: &mut Player,
    seq: Option<u64>,
    creature_id: String,
) -> ServerMessage {
    let result = |outcome| ServerMessage::CatchResult {
        seq,
        creature_id: creature_id.clone(),
        outcome,
    };
    if let Some(refused) = refuse_action(state, conn, seq) {
        return refused;
    }
    let Some((plat, plon)) = conn.movement.position() else {
        return result(CatchOutcome::TooFar);
    };
    if conn.has_fled(&creature_id) {
        return result(CatchOutcome::Gone);
    }
    // Check range and roll the flee before taking the creature, so a
    // flee leaves it in the world for everyone else.
    let fled = {
        let world = state.world.read();
        let Some(c) = world.creature(&creature_id) else {
            return result(CatchOutcome::Gone);
        };
        if spawner::haversine_m(plat, plon, c.lat, c.lon) > state.cfg.catch_range_m {
            return result(CatchOutcome::TooFar);
        }
        let chance = state.cfg.flee_chance(c.rarity).clamp(0.0, 1.0);
        rand::rng().random_bool(chance).then(|| c.clone())
    };
    if let Some(c) = fled {
        conn.fled_from(&creature_id, c.expires_at_ms, now_ms());
        // A flee changes no stored state, so it is a best-effort event.
        state.emit(state.stamp().catch(&conn.player_id, &c, CatchOutcome::Fled));
        return result(CatchOutcome::Fled);
    }
    // Taking the creature out of the world under the write lock is the
    // in-process arbitration: exactly one thrower gets it.
    let Some(creature) = state.world.take_creature(&creature_id) else {
        return result(CatchOutcome::Gone);
    };
    let record = store::CaughtCreature {
        player_id: conn.player_id.clone(),
        creature_id: creature.id.clone(),
        species: creature.species.to_string(),
        rarity: protocol::play::Rarity::from(creature.rarity)
            .as_str()
            .into(),
        poi_id: Some(creature.poi_id.clone()),
        lat: creature.lat,
        lon: creature.lon,
        caught_at: now_s(),
    };
    let ev = state
        .stamp()
        .catch(&conn.player_id, &creature, CatchOutcome::Caught);
    // The catch is durable before `caught` is sent.
    match state
        .db
        .record_catch(&record, std::slice::from_ref(&ev))
        .await
    {
        Ok(true) => {
            state.hub.despawn(&creature.id, DespawnReason::Caught);
            state.sync.announce(WorldChange::Taken {
                creature_id: creature.id.clone(),
            });
            result(CatchOutcome::Caught)
        }
        Ok(false) => {
            // Another server sharing the database caught it first.
            state.hub.despawn(&creature.id, DespawnReason::Caught);
            result(CatchOutcome::Gone)
        }
        Err(e) => {
            tracing::warn!(error = %e, creature = %creature.id, "catch not stored; creature put back");
            state.world.put_back(creature);
            let code = if e.is_unavailable() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Internal
            };
            ServerMessage::error(seq, code, "the catch could not be stored; try again")
        }
    }
}

async fn spin(
    state: &Arc<GameState>,
    conn: &mut Player,
    seq: Option<u64>,
    poi_id: String,
) -> ServerMessage {
    let result = |outcome, items| ServerMessage::SpinResult {
        seq,
        poi_id: poi_id.clone(),
        outcome,
        items,
    };
    if let Some(refused) = refuse_action(state, conn, seq) {
        return refused;
    }
    let (poi_lat, poi_lon, sponsored) = {
        let world = state.world.read();
        match world.poi(&poi_id) {
            Some(p) if world.poi_active(&poi_id) => (p.lat, p.lon, p.sponsor.is_some()),
            _ => {
                return ServerMessage::error(seq, ErrorCode::NotFound, "no such point of interest");
            }
        }
    };
    let in_range = conn.movement.position().is_some_and(|(lat, lon)| {
        spawner::haversine_m(lat, lon, poi_lat, poi_lon) <= state.cfg.spin_range_m
    });
    if !in_range {
        return result(SpinOutcome::TooFar, BTreeMap::new());
    }
    let items = roll_items(sponsored);
    let ev = state.stamp().spin(
        &conn.player_id,
        &poi_id,
        (poi_lat, poi_lon),
        SpinOutcome::Ok,
    );
    match state
        .db
        .try_spin(
            &conn.player_id,
            &poi_id,
            now_s(),
            state.cfg.spin_cooldown_s,
            &items,
            std::slice::from_ref(&ev),
        )
        .await
    {
        Ok(true) => result(SpinOutcome::Ok, items),
        Ok(false) => result(SpinOutcome::Cooldown, BTreeMap::new()),
        Err(e) => {
            tracing::warn!(error = %e, "spin not stored");
            let code = if e.is_unavailable() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Internal
            };
            ServerMessage::error(seq, code, "the spin could not be stored; try again")
        }
    }
}

/// Items a spin grants: three to five draws, one more at sponsored places.
fn roll_items(sponsored: bool) -> BTreeMap<String, u32> {
    const TABLE: &[(&str, u32)] = &[
        ("ball", 50),
        ("berry", 25),
        ("potion", 15),
        ("great_ball", 8),
        ("revive", 2),
    ];
    let total: u32 = TABLE.iter().map(|(_, w)| w).sum();
    let mut rng = rand::rng();
    let draws = rng.random_range(3..=5) + u32::from(sponsored);
    let mut items = BTreeMap::new();
    for _ in 0..draws {
        let mut roll = rng.random_range(0..total);
        for (name, w) in TABLE {
            if roll < *w {
                *items.entry((*name).to_owned()).or_insert(0) += 1;
                break;
            }
            roll -= w;
        }
    }
    items
}

async fn collection(state: &GameState, conn: &Player, seq: Option<u64>) -> ServerMessage {
    match state.db.collection(&conn.player_id).await {
        Ok((creatures, items)) => ServerMessage::Collection {
            seq,
            creatures: creatures
                .into_iter()
                .map(|c| CollectedCreature {
                    id: c.creature_id,
                    species: c.species,
                    rarity: parse_rarity(&c.rarity),
                    caught_at: c.caught_at,
                })
                .collect(),
            items,
        },
        Err(e) => {
            let code = if e.is_unavailable() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Internal
            };
            ServerMessage::error(seq, code, "the collection could not be read; try again")
        }
    }
}

/// The wire rarity of a stored rarity name; unknown names read as common.
fn parse_rarity(s: &str) -> protocol::play::Rarity {
    use protocol::play::Rarity as W;
    match s {
        "uncommon" => W::Uncommon,
        "rare" => W::Rare,
        "epic" => W::Epic,
        "legendary" => W::Legendary,
        _ => W::Common,
    }
}
