//! The `location` → `nearby` path, the hottest in the server: the speed
//! check, the reply written from the world, the watch set and the visits.

use std::cmp::Ordering;
use std::sync::Arc;

use compact_str::CompactString;
use protocol::ErrorCode;
use protocol::play::{CreatureRef, LocationUpdate, PoiRef, ServerMessage, encode_nearby};
use spawner::World;
use tokio::time::Instant;

use crate::config::ServerConfig;
use crate::movement::Verdict;
use crate::player::Player;
use crate::state::GameState;

/// Answers one `location` update: the `nearby` frame, already encoded, with
/// the foot-traffic `visit`s to make durable before it goes out; or the
/// error to send instead.
pub(crate) fn location(
    state: &Arc<GameState>,
    conn: &mut Player,
    l: LocationUpdate,
    now: Instant,
) -> Result<(String, Vec<protocol::event::Event>), ServerMessage> {
    let was_blocked = conn.movement.blocked(now);
    let verdict = conn.movement.observe(l.lat, l.lon, l.accuracy, now);
    conn.hide_rare = conn.movement.hides_rare(crate::clock::now_ms());
    conn.reported_speed = l.speed.unwrap_or(0.0);
    if conn.speed_mps() <= state.cfg.passenger_speed_mps {
        // Slowed down: the next ride asks again.
        conn.passenger = false;
    }
    let too_fast = match verdict {
        Verdict::TooFast { cooldown } => Some(cooldown),
        Verdict::Ok => None,
    };
    if conn.track_share_due(now, too_fast.is_some())
        && let Some(track) = conn.movement.track(now, crate::clock::now_ms())
    {
        state.sync.save_track(&conn.player_id, track);
    }
    if let Some(cooldown) = too_fast {
        // One strike per penalty: more jumps inside it add none.
        if !was_blocked {
            crate::arrival::strike(
                state.clone(),
                &conn.player_id,
                "impossible movement",
                "server",
                None,
            );
        }
        let at = Some((l.lat, l.lon));
        state.emit(
            state
                .stamp()
                .refused(&conn.player_id, ErrorCode::TooFast, at),
        );
        return Err(ServerMessage::error(
            l.seq,
            ErrorCode::TooFast,
            format!(
                "impossible movement; actions are refused for {} s",
                cooldown.as_secs()
            ),
        ));
    }
    let cfg = &state.cfg;
    let View {
        frame,
        watch,
        visits,
    } = view(&state.world.read(), cfg, conn, &l, now);
    for creature in &watch.added {
        state.hub.watch(conn.id, creature);
    }
    for creature in &watch.dropped {
        state.hub.unwatch(conn.id, creature);
    }
    let stamp = state.stamp();
    let visits = visits
        .into_iter()
        .map(|(poi_id, lat, lon)| stamp.visit(&conn.player_id, &poi_id, (lat, lon)))
        .collect();
    if conn.location_log_due(now, cfg.location_log_every) {
        state.emit(stamp.location(&conn.player_id, (l.lat, l.lon)));
    }
    Ok((frame, visits))
}

/// What one `location` update comes to: the `nearby` reply, the change to
/// the connection's watch set, and the visits to log.
#[derive(Debug)]
struct View {
    frame: String,
    watch: Rewatch,
    visits: Vec<(String, f64, f64)>,
}

/// Computes a [`View`] from the world as `world` holds it. The reply is
/// written straight from the world under its read lock, with no owned copy
/// of what it lists; the watch-set changes and the visits are only noted,
/// and carried out after the lock is released, so that no other lock is
/// taken while the world is held. Pure over the world, so it is tested
/// without a database or a socket.
fn view(
    world: &World,
    cfg: &ServerConfig,
    conn: &mut Player,
    l: &LocationUpdate,
    now: Instant,
) -> View {
    let creatures: Vec<CreatureRef> = world
        .nearby_creatures(l.lat, l.lon, cfg.view_radius_m)
        .into_iter()
        .filter(|s| !conn.has_fled(&s.creature.id))
        .filter(|s| !(conn.hide_rare && s.creature.rarity >= spawner::Rarity::Rare))
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
    View {
        frame: encode_nearby(l.seq, &creatures, &pois),
        watch: rewatch(conn, &creatures),
        visits: due_visits(cfg, conn, &pois, now),
    }
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
fn rewatch(conn: &mut Player, creatures: &[CreatureRef<'_>]) -> Rewatch {
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
    cfg: &ServerConfig,
    conn: &mut Player,
    pois: &[PoiRef<'_>],
    now: Instant,
) -> Vec<(String, f64, f64)> {
    let mut due = Vec::new();
    for p in pois.iter().filter(|p| p.distance_m <= cfg.visit_radius_m) {
        let fresh = conn
            .visits
            .get(p.id)
            .is_none_or(|t| now.saturating_duration_since(*t) >= cfg.visit_window);
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

    fn creature(id: &str, lat: f64) -> spawner::Creature {
        spawner::Creature {
            id: id.into(),
            species: "Pidge".into(),
            rarity: spawner::Rarity::Common,
            lat,
            lon: 10.0,
            poi_id: "cafe".into(),
            spawned_at_ms: 0,
            expires_at_ms: i64::MAX / 2,
        }
    }

    /// A world far from any default POI: a cafe 33 m north of the player,
    /// creatures at 11 m, 111 m and 1.1 km.
    fn world() -> World {
        let mut w = World::new(spawner::SpawnConfig::default(), 1);
        w.set_pois(vec![spawner::Poi {
            id: "cafe".into(),
            name: "Cafe".into(),
            lat: 10.0003,
            lon: 10.0,
            weight: 1.0,
            sponsor: Some("Cafe Co".into()),
        }]);
        w.insert_creatures(vec![
            creature("c-far", 10.001),
            creature("c-near", 10.0001),
            creature("c-out", 10.01),
        ]);
        w
    }

    fn player() -> Player {
        let guard = crate::movement::MovementGuard::new(
            70.0,
            50.0,
            crate::movement::CooldownTable::flat(std::time::Duration::from_secs(30)),
        );
        Player::new(1, "p-1".into(), crate::movement::SharedGuard::new(guard))
    }

    fn at(seq: u64) -> LocationUpdate {
        LocationUpdate {
            seq: Some(seq),
            lat: 10.0,
            lon: 10.0,
            heading: None,
            speed: None,
            accuracy: None,
        }
    }

    fn listed(frame: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["creatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_reply_lists_what_is_in_view_nearest_first() {
        let cfg = ServerConfig::default();
        let (w, mut p) = (world(), player());
        let v = view(&w, &cfg, &mut p, &at(7), Instant::now());
        let reply: serde_json::Value = serde_json::from_str(&v.frame).unwrap();
        assert_eq!(reply["type"], "nearby");
        assert_eq!(reply["seq"], 7);
        assert_eq!(
            listed(&v.frame),
            ["c-near", "c-far"],
            "1.1 km is out of view"
        );
        assert_eq!(reply["pois"][0]["id"], "cafe");
        assert_eq!(reply["pois"][0]["sponsor"], "Cafe Co");
    }

    #[test]
    fn a_fled_creature_is_hidden_from_that_player_only() {
        let cfg = ServerConfig::default();
        let w = world();
        let mut scared = player();
        scared.fled_from("c-near", i64::MAX, 0);
        let v = view(&w, &cfg, &mut scared, &at(1), Instant::now());
        assert_eq!(listed(&v.frame), ["c-far"]);
        let v = view(&w, &cfg, &mut player(), &at(1), Instant::now());
        assert_eq!(listed(&v.frame), ["c-near", "c-far"]);
    }

    #[test]
    fn the_watch_set_follows_the_view_and_a_visit_counts_once_per_window() {
        let cfg = ServerConfig::default();
        let (w, mut p) = (world(), player());
        let t0 = Instant::now();
        let first = view(&w, &cfg, &mut p, &at(1), t0);
        assert_eq!(first.watch.added, ["c-far", "c-near"]);
        assert_eq!(first.visits.len(), 1, "the cafe is within the visit radius");
        assert_eq!(first.visits[0].0, "cafe");
        let again = view(
            &w,
            &cfg,
            &mut p,
            &at(2),
            t0 + std::time::Duration::from_secs(1),
        );
        assert!(again.watch.added.is_empty() && again.watch.dropped.is_empty());
        assert!(again.visits.is_empty(), "one visit per window");
        let later = view(&w, &cfg, &mut p, &at(3), t0 + cfg.visit_window);
        assert_eq!(later.visits.len(), 1, "a new window, a new visit");
    }
}
