//! The placement tick: zone expiry, creature expiry, and deterministic weighted spawning.
//!
//! The model is described in docs/placement.md. In short: every tick slot
//! (`now_ms / tick_ms`) each active POI draws a Poisson number of spawns with mean
//! `rate × weight × tick`, from a ChaCha8 stream keyed by (seed, POI id, slot); each spawn
//! draws its species, lifetime and offset from its own stream keyed by its id.

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::SpawnConfig;
use crate::creatures::{Creature, CreatureStore};
use crate::geodesy::destination;
use crate::hash::StableHasher;
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

/// The slots a tick places, first to last.
pub type Slots = std::ops::RangeInclusive<i64>;

/// One spawn as drawn from the seed, its POI and its slot, before the zones and the caps
/// have had their say: its species, lifetime and every candidate spot, in draw order.
#[derive(Debug, Clone)]
struct Drawn {
    poi_id: String,
    hash: u64,
    species: std::sync::Arc<str>,
    rarity: crate::config::Rarity,
    lifetime_ms: i64,
    spots: Vec<(f64, f64)>,
}

/// The spawns of a tick's slots, drawn by [`World::draw_spawns`] without changing the world
/// (the costly part: one stream per active POI per slot) and placed by
/// [`World::place_drawn`].
#[derive(Debug, Default)]
pub struct SpawnDraw {
    slots: Vec<(i64, Vec<Drawn>)>,
}

impl SpawnDraw {
    /// How many spawns were drawn.
    pub fn len(&self) -> usize {
        self.slots.iter().map(|(_, d)| d.len()).sum()
    }

    /// Whether nothing was drawn.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Splits the draw into pieces of at most `n` spawns, in order, so that a server can
    /// place them a piece at a time and let readers in between (placing one creature costs
    /// its h3o cell and an R-tree insert; the first tick over a freshly imported world
    /// places thousands).
    pub fn into_pieces(self, n: usize) -> Vec<SpawnDraw> {
        let n = n.max(1);
        let mut pieces = Vec::new();
        let mut current = SpawnDraw::default();
        let mut in_current = 0;
        for (slot, drawn) in self.slots {
            let mut rest = drawn.into_iter().peekable();
            while rest.peek().is_some() {
                let take: Vec<Drawn> = rest.by_ref().take(n - in_current).collect();
                in_current += take.len();
                current.slots.push((slot, take));
                if in_current == n {
                    pieces.push(std::mem::take(&mut current));
                    in_current = 0;
                }
            }
        }
        if in_current > 0 {
            pieces.push(current);
        }
        pieces
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
    ///
    /// The same as [`World::tick_begin`], [`World::draw_spawns`] and [`World::place_drawn`] in
    /// a row; a server that holds the world behind a lock runs the draw under a read lock.
    pub fn tick(&mut self, now_ms: i64) -> TickReport {
        let (mut report, slots) = self.tick_begin(now_ms);
        if let Some(slots) = slots {
            let draw = self.draw_spawns(slots);
            self.place_drawn(draw, now_ms, &mut report);
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

    /// Steps 1 and 2 of [`World::tick`], and the slots step 3 is to place (marked as placed).
    pub fn tick_begin(&mut self, now_ms: i64) -> (TickReport, Option<Slots>) {
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
        let slots = first.map(|first| {
            self.last_slot = Some(current);
            report.slots_placed = u32::try_from(current - first + 1).unwrap_or(u32::MAX);
            first..=current
        });
        (report, slots)
    }

    /// Draws the spawns of `slots` for every active POI, in POI id order, without changing
    /// the world.
    pub fn draw_spawns(&self, slots: Slots) -> SpawnDraw {
        let cfg = &self.config;
        if self.species.is_empty() {
            return SpawnDraw::default();
        }
        let mean_per_weight = cfg.spawn_rate_per_poi_per_min * cfg.tick_ms as f64 / 60_000.0;
        let (r0, r1) = (
            cfg.min_offset_m * cfg.min_offset_m,
            cfg.max_offset_m * cfg.max_offset_m,
        );
        let slots = slots
            .map(|slot| {
                let mut drawn = Vec::new();
                for poi in self.pois.active_by_id() {
                    let mut rng = ChaCha8Rng::seed_from_u64(slot_seed(self.seed, &poi.id, slot));
                    let count = poisson(
                        &mut rng,
                        mean_per_weight * poi.weight,
                        cfg.max_spawns_per_poi_tick,
                    );
                    for n in 0..count {
                        let hash = creature_hash(self.seed, &poi.id, slot, n);
                        // The creature's own stream, in a fixed order: species, lifetime,
                        // then every offset (distance uniform over the ring's area, bearing
                        // uniform).
                        let mut rng = ChaCha8Rng::seed_from_u64(hash);
                        let Some((species, rarity)) = self.species.pick(rng.random::<f64>()) else {
                            continue;
                        };
                        let (lo, hi) = cfg.lifetime_ms;
                        let lifetime_ms = rng.random_range(lo..=hi);
                        let spots = (0..cfg.placement_attempts)
                            .map(|_| {
                                let dist = (r0 + rng.random::<f64>() * (r1 - r0)).sqrt();
                                let bearing = rng.random::<f64>() * TAU;
                                // Positions are kept to 1e-7 degrees (about 1 cm): finer
                                // digits mean nothing for a phone's GPS, and every `nearby`
                                // reply would carry them. The exclusion test sees the rounded
                                // position, the one that is placed.
                                let (lat, lon) = destination(poi.lat, poi.lon, bearing, dist);
                                (round_deg(lat), round_deg(lon))
                            })
                            .collect();
                        drawn.push(Drawn {
                            poi_id: poi.id.clone(),
                            hash,
                            species,
                            rarity,
                            lifetime_ms,
                            spots,
                        });
                    }
                }
                (slot, drawn)
            })
            .collect();
        SpawnDraw { slots }
    }

    /// Places drawn spawns, slot by slot, against the zones and caps of now. Creatures are
    /// inserted as they are placed, so the caps see every earlier spawn of the same slot. A
    /// spawn whose POI is no longer active (a zone or an operator changed it since the draw)
    /// is not placed.
    pub fn place_drawn(&mut self, draw: SpawnDraw, now_ms: i64, report: &mut TickReport) {
        let mut placer = Placer {
            cfg: &self.config,
            zones: &self.zones,
            creatures: &mut self.creatures,
            now_ms,
        };
        for (slot, drawn) in draw.slots {
            let slot_start = slot.saturating_mul(placer.cfg.tick_ms);
            for d in drawn {
                if !self.pois.is_active(&d.poi_id) {
                    continue;
                }
                if let Some(c) = placer.place(d, slot_start, report) {
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
    zones: &'a ZoneIndex,
    creatures: &'a mut CreatureStore,
    now_ms: i64,
}

impl Placer<'_> {
    /// Places one drawn spawn at its first spot outside every zone; `None` when it was
    /// skipped (and counted why).
    fn place(&mut self, d: Drawn, slot_start: i64, report: &mut TickReport) -> Option<Creature> {
        let cfg = self.cfg;
        let Some(&(lat, lon)) = d
            .spots
            .iter()
            .find(|&&(lat, lon)| !self.zones.covers(lat, lon))
        else {
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
        let expires_at_ms = slot_start.saturating_add(d.lifetime_ms);
        let id = format!("c-{:016x}", d.hash);
        // A creature of a caught-up slot that would already be gone, or one already present
        // (loaded from a snapshot), is not placed again.
        if expires_at_ms <= self.now_ms || self.creatures.contains(&id) {
            return None;
        }
        let creature = Creature {
            id,
            species: d.species,
            rarity: d.rarity,
            lat,
            lon,
            poi_id: d.poi_id,
            spawned_at_ms: slot_start,
            expires_at_ms,
        };
        self.creatures.insert(creature.clone(), cell);
        Some(creature)
    }
}
