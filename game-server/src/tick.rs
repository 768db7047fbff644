//! The world tick: placement, despawn timers and session timeouts.

use std::sync::Arc;
use std::time::Instant;

use protocol::play::DespawnReason;
use spawner::Creature;

use crate::clock::now_ms;
use crate::state::GameState;

/// Runs the tick loop until shutdown.
/// How often guards of players long gone are dropped.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

pub(crate) async fn run(state: Arc<GameState>) {
    let mut every = tokio::time::interval(state.cfg.tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = every.tick() => {
                // On the blocking pool: with a large world the draw of the
                // spawns takes a while, and a runtime worker busy with it
                // would hold up the sockets queued on it.
                let state = state.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || tick(&state)).await {
                    tracing::error!(error = %e, "world tick failed");
                }
            }
            _ = prune.tick() => {
                let kept = state.presence.prune(tokio::time::Instant::now());
                metrics::gauge!("geogame_movement_guards").set(kept as f64);
            }
        }
    }
}

/// One tick. Phases:
/// 1. advance the world (expire creatures and zones, place new creatures);
/// 2. push `despawn` to the players who see expired or excluded
///    creatures;
/// 3. log spawns and despawns to analytics;
/// 4. end sessions whose time is up.
///
/// Each phase is timed into `geogame_tick_phase_seconds`.
pub(crate) fn tick(state: &GameState) {
    tick_at(state, now_ms());
}

/// One tick at world time `now_ms` (the warm-up replays past ticks).
pub(crate) fn tick_at(state: &GameState, now_ms: i64) {
    let t = Instant::now();
    let report = state.world.tick(now_ms);
    let count = state.world.read().creature_count();
    metrics::gauge!("geogame_creatures").set(count as f64);
    phase("world", t);

    let t = Instant::now();
    push_despawns(state, &report.expired, DespawnReason::Expired);
    push_despawns(state, &report.excluded, DespawnReason::Excluded);
    phase("push", t);

    let t = Instant::now();
    let stamp = state.stamp();
    for c in &report.spawned {
        state.emit(stamp.spawn(c));
    }
    log_despawns(state, &report.expired, DespawnReason::Expired);
    log_despawns(state, &report.excluded, DespawnReason::Excluded);
    phase("events", t);

    let t = Instant::now();
    crate::session::tick(state);
    metrics::gauge!("geogame_sessions").set(state.session_count() as f64);
    phase("sessions", t);
}

fn phase(name: &'static str, started: Instant) {
    metrics::histogram!("geogame_tick_phase_seconds", "phase" => name)
        .record(started.elapsed().as_secs_f64());
}

/// Tells the players who see `creatures` that they went away for `reason`,
/// and, when `log` is set, logs a despawn event for each. Every path that
/// removes creatures outside a catch (the tick, a zone, another server's
/// catch) goes through here.
pub(crate) fn gone(state: &GameState, creatures: &[Creature], reason: DespawnReason, log: bool) {
    push_despawns(state, creatures, reason);
    if log {
        log_despawns(state, creatures, reason);
    }
}

fn push_despawns(state: &GameState, creatures: &[Creature], reason: DespawnReason) {
    for c in creatures {
        state.hub.despawn(&c.id, reason);
    }
}

fn log_despawns(state: &GameState, creatures: &[Creature], reason: DespawnReason) {
    let stamp = state.stamp();
    for c in creatures {
        state.emit(stamp.despawn(c, reason));
    }
}
