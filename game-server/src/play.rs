//! Handlers for the play phase: location, catch, spin, collection, and
//! dispatch of session messages.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use compact_str::CompactString;
use protocol::ErrorCode;
use protocol::event::EventKind;
use protocol::play::{
    CatchOutcome, ClientMessage, CollectedCreature, CreatureRef, DespawnReason, LocationUpdate,
    PoiRef, ServerMessage, SpinOutcome, encode_nearby,
};
use rand::Rng;
use tokio::time::Instant;

use crate::conn::Conn;
use crate::movement::Verdict;
use crate::state::{GameState, now_s};

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
    conn: &mut Conn,
    text: &str,
    now: Instant,
) -> (&'static str, Reply) {
    let msg = match ClientMessage::decode(text) {
        Ok(m) => m,
        Err(e) => {
            let mut ev = state.event(EventKind::ProtocolError, Some(&conn.player_id));
            ev.outcome = Some(ErrorCode::InvalidMessage.as_str().into());
            state.emit(ev);
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
        ClientMessage::Location(l) => return ("location", location(state, conn, l, now)),
        ClientMessage::Catch { seq, creature_id } => {
            Box::pin(catch(state, conn, seq, creature_id)).await
        }
        ClientMessage::Spin { seq, poi_id } => Box::pin(spin(state, conn, seq, poi_id)).await,
        ClientMessage::Collection { seq } => Box::pin(collection(state, conn, seq)).await,
        ClientMessage::Ping { seq } => ServerMessage::Pong { seq },
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

fn location(state: &GameState, conn: &mut Conn, l: LocationUpdate, now: Instant) -> Reply {
    if conn.movement.observe(l.lat, l.lon, l.accuracy, now) == Verdict::TooFast {
        let mut ev = state.event(EventKind::ProtocolError, Some(&conn.player_id));
        ev.outcome = Some(ErrorCode::TooFast.as_str().into());
        ev.lat = Some(l.lat);
        ev.lon = Some(l.lon);
        state.emit(ev);
        return Reply::Message(ServerMessage::error(
            l.seq,
            ErrorCode::TooFast,
            format!(
                "impossible movement; actions are refused for {} s",
                state.cfg.too_fast_cooldown.as_secs()
            ),
        ));
    }
    let cfg = &state.cfg;
    // The reply is written straight from the world under its read lock,
    // with no owned copy of what it lists. The changes to the watch set and
    // the visits to log are noted here and carried out after the lock is
    // released, so that no other lock is taken while the world is held.
    let (frame, watch, visits) = {
        let world = state.world_read();
        let creatures: Vec<CreatureRef> = world
            .nearby_creatures(l.lat, l.lon, cfg.view_radius_m)
            .into_iter()
            .filter(|s| !conn.fled_from.contains(&s.creature.id))
            .map(|s| CreatureRef {
                id: &s.creature.id,
                species: &s.creature.species,
                rarity: protocol::play::Rarity::from(s.creature.rarity),
                lat: s.creature.lat,
                lon: s.creature.lon,
                distance_m: round1(s.distance_m),
                bearing_deg: round1(s.bearing_deg),
                expires_at: s.creature.expires_at_ms / 1000,
            })
            .collect();
        let pois: Vec<PoiRef> = world
            .nearby_pois(l.lat, l.lon, cfg.view_radius_m)
            .into_iter()
            .map(|(p, d)| PoiRef {
                id: &p.id,
                name: &p.name,
                lat: p.lat,
                lon: p.lon,
                distance_m: round1(d),
                sponsor: p.sponsor.as_deref(),
            })
            .collect();
        let frame = encode_nearby(l.seq, &creatures, &pois);
        let watch = rewatch(conn, &creatures);
        let visits = due_visits(state, conn, &pois, now);
        (frame, watch, visits)
    };
    for creature in &watch.added {
        state.hub.watch(conn.id, creature);
    }
    for creature in &watch.dropped {
        state.hub.unwatch(conn.id, creature);
    }
    for (poi_id, lat, lon) in visits {
        let mut ev = state.event(EventKind::Visit, Some(&conn.player_id));
        ev.poi_id = Some(poi_id);
        ev.lat = Some(lat);
        ev.lon = Some(lon);
        state.emit(ev);
    }
    if conn.location_log_due(now, cfg.location_log_every) {
        let mut ev = state.event(EventKind::Location, Some(&conn.player_id));
        ev.lat = Some(l.lat);
        ev.lon = Some(l.lon);
        state.emit(ev);
    }
    Reply::Text(frame)
}

/// How a connection's watch set changed with its latest `nearby`.
#[derive(Debug, Default)]
struct Rewatch {
    /// Creatures newly in view, to watch.
    added: Vec<String>,
    /// Creatures no longer in view, to stop watching.
    dropped: Vec<String>,
}

/// Makes the connection's `shown` list exactly the creatures of its latest
/// `nearby`, and returns the difference for the hub's watcher map: a
/// creature out of view needs no `despawn` (the client drops what the
/// latest reply left out), so a player who walked on is not pushed to, and
/// the watch sets stay as small as one view.
///
/// `shown` is kept sorted by id, and the ids are stored inline (a placed
/// creature's id is 18 bytes), so a view of 40 creatures costs about 1 KB
/// per player rather than a hash set's ~3 KB; both lists are walked once.
fn rewatch(conn: &mut Conn, creatures: &[CreatureRef<'_>]) -> Rewatch {
    let mut in_view: Vec<&str> = creatures.iter().map(|c| c.id).collect();
    in_view.sort_unstable();
    in_view.dedup();
    let change = diff_sorted(&conn.shown, &in_view);
    if !change.added.is_empty() || !change.dropped.is_empty() {
        conn.shown.clear();
        conn.shown
            .extend(in_view.into_iter().map(CompactString::from));
        if conn.shown.capacity() > 2 * conn.shown.len() + 8 {
            conn.shown.shrink_to_fit();
        }
    }
    change
}

/// What to watch and to stop watching when the sorted `shown` ids become
/// the sorted, distinct `in_view` ids; one walk over both.
fn diff_sorted(shown: &[CompactString], in_view: &[&str]) -> Rewatch {
    let mut change = Rewatch::default();
    let (mut i, mut j) = (0, 0);
    while i < shown.len() && j < in_view.len() {
        match shown[i].as_str().cmp(in_view[j]) {
            Ordering::Less => {
                change.dropped.push(shown[i].to_string());
                i += 1;
            }
            Ordering::Greater => {
                change.added.push(in_view[j].to_owned());
                j += 1;
            }
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    change
        .dropped
        .extend(shown[i..].iter().map(ToString::to_string));
    change
        .added
        .extend(in_view[j..].iter().map(|id| (*id).to_owned()));
    change
}

/// The foot-traffic `visit`s to log for this update: each POI the player is
/// close to, at most once per POI per visit window. Returns the POI ids and
/// positions, with the visit already recorded on the connection.
fn due_visits(
    state: &GameState,
    conn: &mut Conn,
    pois: &[PoiRef<'_>],
    now: Instant,
) -> Vec<(String, f64, f64)> {
    let mut due = Vec::new();
    for p in pois
        .iter()
        .filter(|p| p.distance_m <= state.cfg.visit_radius_m)
    {
        let fresh = conn
            .visits
            .get(p.id)
            .is_none_or(|t| now.saturating_duration_since(*t) >= state.cfg.visit_window);
        if fresh {
            conn.visits.insert(p.id.to_owned(), now);
            due.push((p.id.to_owned(), p.lat, p.lon));
        }
    }
    due
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

async fn catch(
    state: &Arc<GameState>,
    conn: &mut Conn,
    seq: Option<u64>,
    creature_id: String,
) -> ServerMessage {
    let result = |outcome| ServerMessage::CatchResult {
        seq,
        creature_id: creature_id.clone(),
        outcome,
    };
    if conn.movement.blocked(Instant::now()) {
        return ServerMessage::error(
            seq,
            ErrorCode::TooFast,
            "actions are refused after impossible movement",
        );
    }
    let Some((plat, plon)) = conn.movement.position() else {
        return result(CatchOutcome::TooFar);
    };
    if conn.fled_from.contains(&creature_id) {
        return result(CatchOutcome::Gone);
    }
    // Check range and roll the flee before taking the creature, so a
    // flee leaves it in the world for everyone else.
    let fled = {
        let world = state.world_read();
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
        conn.fled_from.insert(creature_id.clone());
        // A flee changes no stored state, so it is a best-effort event.
        let mut ev = state.event(EventKind::Catch, Some(&conn.player_id));
        fill_creature(&mut ev, &c);
        ev.outcome = Some("fled".into());
        state.emit(ev);
        return result(CatchOutcome::Fled);
    }
    // Taking the creature out of the world under the write lock is the
    // in-process arbitration: exactly one thrower gets it.
    let Some(creature) = state.world_write().take_creature(&creature_id) else {
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
    let mut ev = state.event(EventKind::Catch, Some(&conn.player_id));
    fill_creature(&mut ev, &creature);
    ev.outcome = Some("caught".into());
    // The catch is durable before `caught` is sent.
    match state
        .db
        .record_catch(&record, std::slice::from_ref(&ev))
        .await
    {
        Ok(true) => {
            state.hub.despawn(&creature.id, DespawnReason::Caught);
            state
                .sync
                .announce(crate::sync::Change::Taken(creature.id.clone()));
            result(CatchOutcome::Caught)
        }
        Ok(false) => {
            // Another server sharing the database caught it first.
            state.hub.despawn(&creature.id, DespawnReason::Caught);
            result(CatchOutcome::Gone)
        }
        Err(e) => {
            tracing::warn!(error = %e, creature = %creature.id, "catch not stored; creature put back");
            state.world_write().insert_creatures(vec![creature]);
            let code = if e.is_unavailable() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Internal
            };
            ServerMessage::error(seq, code, "the catch could not be stored; try again")
        }
    }
}

pub(crate) fn fill_creature(ev: &mut protocol::event::Event, c: &spawner::Creature) {
    ev.creature_id = Some(c.id.clone());
    ev.species = Some(c.species.to_string());
    ev.rarity = Some(protocol::play::Rarity::from(c.rarity));
    ev.poi_id = Some(c.poi_id.clone());
    ev.lat = Some(c.lat);
    ev.lon = Some(c.lon);
}

async fn spin(
    state: &Arc<GameState>,
    conn: &mut Conn,
    seq: Option<u64>,
    poi_id: String,
) -> ServerMessage {
    let result = |outcome, items| ServerMessage::SpinResult {
        seq,
        poi_id: poi_id.clone(),
        outcome,
        items,
    };
    if conn.movement.blocked(Instant::now()) {
        return ServerMessage::error(
            seq,
            ErrorCode::TooFast,
            "actions are refused after impossible movement",
        );
    }
    let (poi_lat, poi_lon, sponsored) = {
        let world = state.world_read();
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
    let mut ev = state.event(EventKind::Spin, Some(&conn.player_id));
    ev.poi_id = Some(poi_id.clone());
    ev.lat = Some(poi_lat);
    ev.lon = Some(poi_lon);
    ev.outcome = Some("ok".into());
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

async fn collection(state: &GameState, conn: &Conn, seq: Option<u64>) -> ServerMessage {
    match state.db.collection(&conn.player_id).await {
        Ok((creatures, items)) => ServerMessage::Collection {
            seq,
            creatures: creatures
                .into_iter()
                .map(|c| CollectedCreature {
                    id: c.creature_id,
                    species: c.species,
                    rarity: crate::parse_rarity(&c.rarity),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<CompactString> {
        v.iter().map(|s| CompactString::from(*s)).collect()
    }

    #[test]
    fn diff_sorted_names_what_came_into_and_left_the_view() {
        let shown = ids(&["c-a", "c-c", "c-e"]);
        let change = diff_sorted(&shown, &["c-b", "c-c", "c-d", "c-f"]);
        assert_eq!(change.added, ["c-b", "c-d", "c-f"]);
        assert_eq!(change.dropped, ["c-a", "c-e"]);
    }

    #[test]
    fn diff_sorted_is_empty_for_the_same_view_and_handles_empty_sides() {
        let shown = ids(&["c-1", "c-2"]);
        let same = diff_sorted(&shown, &["c-1", "c-2"]);
        assert!(same.added.is_empty() && same.dropped.is_empty());
        let gone = diff_sorted(&shown, &[]);
        assert_eq!(gone.dropped, ["c-1", "c-2"]);
        assert!(gone.added.is_empty());
        let fresh = diff_sorted(&[], &["c-9"]);
        assert_eq!(fresh.added, ["c-9"]);
        assert!(fresh.dropped.is_empty());
    }
}
