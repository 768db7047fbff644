//! The world tick: placement, despawn timers and session timeouts.

use std::sync::Arc;
use std::time::Instant;

use protocol::event::EventKind;
use protocol::play::DespawnReason;

use crate::play::fill_creature;
use crate::state::{GameState, now_ms};

/// Runs the tick loop until shutdown.
pub(crate) async fn run(state: Arc<GameState>) {
    let mut every = tokio::time::interval(state.cfg.tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = every.tick() => tick(&state),
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
    let report = state.world_write().tick(now_ms);
    let count = state.world_read().creature_count();
    metrics::gauge!("geogame_creatures").set(count as f64);
    phase("world", t);

    let t = Instant::now();
    for c in &report.expired {
        state.hub.despawn(&c.id, DespawnReason::Expired);
    }
    for c in &report.excluded {
        state.hub.despawn(&c.id, DespawnReason::Excluded);
    }
    phase("push", t);

    let t = Instant::now();
    for c in &report.spawned {
        let mut ev = state.event(EventKind::Spawn, None);
        fill_creature(&mut ev, c);
        state.emit(ev);
    }
    for (reason, list) in [("expired", &report.expired), ("excluded", &report.excluded)] {
        for c in list {
            let mut ev = state.event(EventKind::Despawn, None);
            fill_creature(&mut ev, c);
            ev.outcome = Some(reason.into());
            state.emit(ev);
        }
    }
    phase("events", t);

    let t = Instant::now();
    crate::session::tick(state);
    metrics::gauge!("geogame_sessions").set(crate::session::count(state) as f64);
    phase("sessions", t);
}

fn phase(name: &'static str, started: Instant) {
    metrics::histogram!("geogame_tick_phase_seconds", "phase" => name)
        .record(started.elapsed().as_secs_f64());
}
