//! The placement tick: zone expiry, creature expiry, and deterministic weighted spawning.
//!
//! The model is described in docs/placement.md. In short: every tick slot
//! (`now_ms / tick_ms`) each active POI draws a Poisson number of spawns with mean
//! `rate × weight × tick`, from a ChaCha8 stream keyed by (seed, POI id, slot); each spawn
//! draws its species, lifetime and offset from its own stream keyed by its id.

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{SpawnConfig, SpeciesTable};
use crate::creatures::{Creature, CreatureStore};
use crate::geodesy::destination;
use crate::hash::StableHasher;
use crate::poi::Poi;
use crate::world::{TickReport, World};
use crate::zone::index::ZoneIndex;

/// The seed of the stream that decides how many creatures a POI spawns in a slot.
pub(crate) fn slot_seed(seed: u64, poi_id: &str, slot: i64) -> u64 {
    StableHasher::new("geogame.spawn.count")
        .u64(seed)
        .str(poi_id)
        .i64(slot)
        .finish()
}

/// The hash behind the id of the `n`-th creature a POI spawns in a slot; it also seeds that
/// creature's own stream (species, lifetime, offset).
pub(crate) fn creature_hash(seed: u64, poi_id: &str, slot: i64, n: u32) -> u64 {
    StableHasher::new("geogame.spawn.creature")
        .u64(seed)
        .str(poi_id)
        .i64(slot)
        .u64(u64::from(n))
        .finish()
}

/// A Poisson draw by inversion (Knuth), capped at `max`. Means here are small (0.03 to a few),
/// where inversion is exact and needs about mean + 1 uniforms.
pub(crate) fn poisson(rng: &mut ChaCha8Rng, mean: f64, max: u32) -> u32 {
    // NaN means no spawns, like a non-positive mean.
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut p = 1.0;
    let mut k = 0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit || k >= max {
            return k;
        }
        k += 1;
    }
}

impl World {
    /// Advances the world to `now_ms` (unix ms).
    ///
    /// 1. Zones whose `expires_at` has passed are removed; POIs under them become active again.
    /// 2. Creatures whose despawn timer has run out are removed (reason `expired`).
    /// 3. Creatures are placed for every tick slot after the last one placed, up to the current
    ///    slot, but at most `max_catch_up_ticks` slots: after a stall the oldest missed slots
    ///    are dropped rather than spawned in a burst. A slot already placed (or a clock that went
    ///    backwards) places nothing.
    pub fn tick(&mut self, now_ms: i64) -> TickReport {
        let mut report = TickReport {
            expired_zones: self.zones.expire(now_ms),
            ..TickReport::default()
        };
        if !report.expired_zones.is_empty() {
            self.pois.refresh_active(&self.zones);
        }
        report.expired = self.creatures.expire(now_ms);

        let current = now_ms.div_euclid(self.config.tick_ms);
        let catch_up = i64::from(self.config.max_catch_up_ticks);
        let first = match self.last_slot {
            None => Some(current),
            Some(last) if current > last => {
                // Saturating arithmetic: a caller may pass any i64 as the time.
                let oldest_allowed = current.saturating_sub(catch_up - 1);
                let next = last.saturating_add(1);
                report.slots_dropped = oldest_allowed.saturating_sub(next).max(0);
                Some(next.max(oldest_allowed))
            }
            // This slot was placed already, or the clock went backwards.
            Some(_) => None,
        };
        if let Some(first) = first {
            for slot in first..=current {
                self.place_slot(slot, now_ms, &mut report);
                report.slots_placed += 1;
            }
            self.last_slot = Some(current);
        }
        tracing::debug!(
            now_ms,
            spawned = report.spawned.len(),
            expired = report.expired.len(),
            zones_expired = report.expired_zones.len(),
            slots = report.slots_placed,
            dropped_slots = report.slots_dropped,
            skipped_excluded = report.skipped_excluded,
            skipped_cell_cap = report.skipped_cell_cap,
            skipped_global_cap = report.skipped_global_cap,
            "world tick"
        );
        report
    }

    /// Places the spawns of one tick slot for every active POI, in POI id order. Creatures are
    /// inserted as they are placed, so the caps see every earlier spawn of the same slot.
    fn place_slot(&mut self, slot: i64, now_ms: i64, report: &mut TickReport) {
        let World {
            config,
            seed,
            species,
            pois,
            zones,
            creatures,
            ..
        } = self;
        if species.is_empty() {
            return;
        }
        let mut placer = Placer {
            cfg: config,
            species,
            zones,
            creatures,
            now_ms,
            slot_start: slot.saturating_mul(config.tick_ms),
        };
        let mean_per_weight = config.spawn_rate_per_poi_per_min * config.tick_ms as f64 / 60_000.0;
        for poi in pois.active_by_id() {
            let mut rng = ChaCha8Rng::seed_from_u64(slot_seed(*seed, &poi.id, slot));
            let count = poisson(
                &mut rng,
                mean_per_weight * poi.weight,
                config.max_spawns_per_poi_tick,
            );
            for n in 0..count {
                let hash = creature_hash(*seed, &poi.id, slot, n);
                if let Some(c) = placer.place_one(poi, hash, report) {
                    report.spawned.push(c);
                }
            }
        }
    }
}

/// A coordinate rounded to 1e-7 degrees.
fn round_deg(deg: f64) -> f64 {
    (deg * 1e7).round() / 1e7
}

/// The parts of the world that placing one creature reads and writes.
struct Placer<'a> {
    cfg: &'a SpawnConfig,
    species: &'a SpeciesTable,
    zones: &'a ZoneIndex,
    creatures: &'a mut CreatureStore,
    now_ms: i64,
    slot_start: i64,
}

impl Placer<'_> {
    /// Draws and places one creature; `None` when it was skipped (and counted why). The draws
    /// come in a fixed order from the creature's own stream: species, lifetime, then up to
    /// `placement_attempts` offsets (distance uniform over the ring's area, bearing uniform).
    fn place_one(&mut self, poi: &Poi, hash: u64, report: &mut TickReport) -> Option<Creature> {
        let cfg = self.cfg;
        let mut rng = ChaCha8Rng::seed_from_u64(hash);
        let (species, rarity) = self.species.pick(rng.random::<f64>())?;
        let (lo, hi) = cfg.lifetime_ms;
        let lifetime = rng.random_range(lo..=hi);
        let (r0, r1) = (
            cfg.min_offset_m * cfg.min_offset_m,
            cfg.max_offset_m * cfg.max_offset_m,
        );
        let mut spot = None;
        for _ in 0..cfg.placement_attempts {
            let dist = (r0 + rng.random::<f64>() * (r1 - r0)).sqrt();
            let bearing = rng.random::<f64>() * TAU;
            // Positions are kept to 1e-7 degrees (about 1 cm): finer digits mean nothing
            // for a phone's GPS, and every `nearby` reply would carry them. The exclusion
            // test sees the rounded position, the one that is placed.
            let (lat, lon) = destination(poi.lat, poi.lon, bearing, dist);
            let (lat, lon) = (round_deg(lat), round_deg(lon));
            if !self.zones.covers(lat, lon) {
                spot = Some((lat, lon));
                break;
            }
        }
        let Some((lat, lon)) = spot else {
            report.skipped_excluded += 1;
            return None;
        };
        if self.creatures.len() >= cfg.max_creatures {
            report.skipped_global_cap += 1;
            return None;
        }
        let cell = self.creatures.cell_of(lat, lon);
        if self.creatures.density(cell) >= cfg.max_per_cell {
            report.skipped_cell_cap += 1;
            return None;
        }
        let expires_at_ms = self.slot_start.saturating_add(lifetime);
        let id = format!("c-{hash:016x}");
        // A creature of a caught-up slot that would already be gone, or one already present
        // (loaded from a snapshot), is not placed again.
        if expires_at_ms <= self.now_ms || self.creatures.contains(&id) {
            return None;
        }
        let creature = Creature {
            id,
            species,
            rarity,
            lat,
            lon,
            poi_id: poi.id.clone(),
            spawned_at_ms: self.slot_start,
            expires_at_ms,
        };
        self.creatures.insert(creature.clone(), cell);
        Some(creature)
    }
}
