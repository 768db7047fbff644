//! [`World`]: POIs, zones and creatures behind one synchronous API that a server wraps in a lock.

use crate::config::{SpawnConfig, SpeciesTable};
use crate::creatures::{Creature, CreatureStore, Sighting, valid_position};
use crate::poi::Poi;
use crate::poi_index::PoiSet;
use crate::zone::Zone;
use crate::zone::index::ZoneIndex;

/// What one [`World::tick`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    /// Creatures placed, in placement order.
    pub spawned: Vec<Creature>,
    /// Creatures whose despawn timer ran out (reason `expired`), soonest first.
    pub expired: Vec<Creature>,
    /// Creatures removed because a zone now covers them (reason `excluded`). Zones added
    /// through [`World::add_zone`] report their removals there, so a tick only fills this when
    /// a future kind of zone change happens inside it; it is always empty today.
    pub excluded: Vec<Creature>,
    /// Zones removed because their `expires_at` passed.
    pub expired_zones: Vec<Zone>,
    /// Tick slots placed by this call (0 when the slot was already placed).
    pub slots_placed: u32,
    /// Missed slots dropped because they were beyond the catch-up bound.
    pub slots_dropped: i64,
    /// Placements skipped because every offset tried fell inside a zone.
    pub skipped_excluded: usize,
    /// Placements skipped because their h3o cell was at the density cap.
    pub skipped_cell_cap: usize,
    /// Placements skipped because the world was at `max_creatures`.
    pub skipped_global_cap: usize,
}

/// A copy of the world's POIs and zones taken by [`World::poi_draft`].
#[derive(Debug)]
pub struct PoiDraft {
    records: Vec<Poi>,
    zones: ZoneIndex,
    versions: (u64, u64),
}

impl PoiDraft {
    /// The POI set that [`World::upsert_pois`] would leave, with every index built.
    pub fn upsert(self, pois: &[Poi]) -> PreparedPois {
        PreparedPois(PoiSet::prepared(
            self.records,
            pois,
            &self.zones,
            self.versions,
        ))
    }
}

/// A POI set built away from the world, for [`World::install_pois`] (or the one it replaced).
#[derive(Debug)]
pub struct PreparedPois(Box<PoiSet>);

/// The world model: points of interest, exclusion zones and creatures, with deterministic
/// placement (see docs/placement.md). Not thread-safe by itself; wrap it in a lock.
#[derive(Debug)]
pub struct World {
    pub(crate) config: SpawnConfig,
    pub(crate) seed: u64,
    pub(crate) species: SpeciesTable,
    pub(crate) pois: PoiSet,
    pub(crate) zones: ZoneIndex,
    pub(crate) creatures: CreatureStore,
    /// The last tick slot placed, so that a slot is placed once and a stall is caught up.
    pub(crate) last_slot: Option<i64>,
}

impl World {
    /// Creates an empty world. The config should have passed [`SpawnConfig::validate`]; values
    /// out of range are clamped so that the world can never panic or spin on them.
    pub fn new(config: SpawnConfig, seed: u64) -> World {
        let config = config.sanitized();
        let species = SpeciesTable::new(&config.species);
        let creatures = CreatureStore::new(config.cell_resolution);
        World {
            config,
            seed,
            species,
            pois: PoiSet::default(),
            zones: ZoneIndex::default(),
            creatures,
            last_slot: None,
        }
    }

    /// Creates a world after validating the config.
    pub fn try_new(config: SpawnConfig, seed: u64) -> Result<World, crate::ConfigError> {
        config.validate()?;
        Ok(World::new(config, seed))
    }

    /// The (sanitised) config in use.
    pub fn config(&self) -> &SpawnConfig {
        &self.config
    }

    /// The placement seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Replaces every POI. POIs with a position out of range or a weight that is not a finite
    /// number above 0 are skipped (and logged); a repeated id keeps the last.
    pub fn set_pois(&mut self, pois: Vec<Poi>) {
        self.pois.set(pois, &self.zones);
    }

    /// Adds POIs or replaces them by id.
    pub fn upsert_pois(&mut self, pois: Vec<Poi>) {
        self.pois.upsert(pois, &self.zones);
    }

    /// A copy of what a POI change is computed from (the records and the zones), so that the
    /// costly part of the change, [`PoiDraft::upsert`], can run without the world's lock.
    pub fn poi_draft(&self) -> PoiDraft {
        PoiDraft {
            records: self.pois.records().to_vec(),
            zones: self.zones.clone(),
            versions: self.pois.versions(),
        }
    }

    /// Puts in place POIs prepared from a [`World::poi_draft`] and returns the set they
    /// replaced, to be dropped once the world's lock is released (freeing 100,000 POIs is
    /// not free). When the POIs changed in between, nothing changes and the prepared set is
    /// given back: take a new draft and prepare again. When only the zones changed, the POIs'
    /// active flags are recomputed here.
    pub fn install_pois(&mut self, prepared: PreparedPois) -> Result<PreparedPois, PreparedPois> {
        self.pois
            .install(prepared.0, &self.zones)
            .map(PreparedPois)
            .map_err(PreparedPois)
    }

    /// Removes a POI; its creatures stay until their timers run out. Returns it if it existed.
    pub fn remove_poi(&mut self, id: &str) -> Option<Poi> {
        self.pois.remove(id, &self.zones)
    }

    /// A POI by id, active or not.
    pub fn poi(&self, id: &str) -> Option<&Poi> {
        self.pois.get(id)
    }

    /// Every POI, active or not, in load order.
    pub fn pois(&self) -> impl Iterator<Item = &Poi> {
        self.pois.iter()
    }

    /// Number of POIs, active or not.
    pub fn poi_count(&self) -> usize {
        self.pois.len()
    }

    /// Whether a POI exists and is not inside an active zone (only active POIs spawn and are shown).
    pub fn poi_active(&self, id: &str) -> bool {
        self.pois.is_active(id)
    }

    /// Adds a zone (replacing one with the same id) and removes the creatures it now covers,
    /// which are returned sorted by id so the caller can push `excluded` despawns. A zone whose
    /// `expires_at` has already passed at `now_ms` is not added (an existing zone with its id is
    /// removed) and excludes nothing.
    pub fn add_zone(&mut self, zone: Zone, now_ms: i64) -> Vec<Creature> {
        if zone.spec.is_expired_at(now_ms) {
            tracing::debug!(zone_id = %zone.id, "zone already expired, not added");
            if self.zones.remove(&zone.id).is_some() {
                self.pois.refresh_active(&self.zones);
            }
            return Vec::new();
        }
        let key = self.zones.insert(zone);
        self.pois.refresh_active(&self.zones);
        self.remove_covered(&[key])
    }

    /// Removes a zone by id; its area spawns again from the next tick. False for an unknown id.
    pub fn remove_zone(&mut self, id: &str) -> bool {
        let removed = self.zones.remove(id).is_some();
        if removed {
            self.pois.refresh_active(&self.zones);
        }
        removed
    }

    /// Replaces every zone at once (zones already expired at `now_ms` are dropped) and returns
    /// the creatures the new set covers, sorted by id.
    pub fn replace_zones(&mut self, zones: Vec<Zone>, now_ms: i64) -> Vec<Creature> {
        let live = zones
            .into_iter()
            .filter(|z| !z.spec.is_expired_at(now_ms))
            .collect();
        self.zones = ZoneIndex::from_zones(live);
        self.pois.refresh_active(&self.zones);
        let keys: Vec<u64> = self.zones.keys().collect();
        self.remove_covered(&keys)
    }

    /// Every active zone, in the order they were added.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.iter()
    }

    /// A zone by id.
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.get(id)
    }

    /// Number of active zones.
    pub fn zone_count(&self) -> usize {
        self.zones.len()
    }

    /// Whether a point is inside an active zone or within its `buffer_m`: an R-tree of the
    /// zones' expanded bounding boxes gives candidates, then geo tests them exactly.
    pub fn is_excluded(&self, lat: f64, lon: f64) -> bool {
        self.zones.covers(lat, lon)
    }

    /// The same answer as [`World::is_excluded`], found by testing every zone without the
    /// R-tree. It exists as the baseline for benchmarks and tests.
    pub fn is_excluded_linear(&self, lat: f64, lon: f64) -> bool {
        self.zones.covers_linear(lat, lon)
    }

    /// Removes the creatures covered by the zones with these keys; sorted by id.
    fn remove_covered(&mut self, keys: &[u64]) -> Vec<Creature> {
        let mut hit = Vec::new();
        for &key in keys {
            let Some(slot) = self.zones.slot(key) else {
                continue;
            };
            for env in self.zones.envelopes_of(key) {
                for (idx, c) in self.creatures.in_envelope(&env) {
                    if slot.prepared.covers(c.lat, c.lon) {
                        hit.push(idx);
                    }
                }
            }
        }
        let mut removed = self.creatures.take_indices(hit);
        removed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if !removed.is_empty() {
            tracing::debug!(count = removed.len(), "creatures excluded by zone change");
        }
        removed
    }

    /// Creatures within `radius_m` metres, nearest first, with their distances and bearings.
    pub fn nearby_creatures(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<Sighting<'_>> {
        self.creatures.nearby(lat, lon, radius_m)
    }

    /// Active POIs within `radius_m` metres, nearest first, with their distances.
    pub fn nearby_pois(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(&Poi, f64)> {
        self.pois.nearby(lat, lon, radius_m)
    }

    /// A creature by id.
    pub fn creature(&self, id: &str) -> Option<&Creature> {
        self.creatures.get(id)
    }

    /// Removes a creature and returns it. Of several callers racing for one creature under the
    /// world's lock, exactly one gets `Some`.
    pub fn take_creature(&mut self, id: &str) -> Option<Creature> {
        self.creatures.take(id)
    }

    /// Number of live creatures.
    pub fn creature_count(&self) -> usize {
        self.creatures.len()
    }

    /// Every live creature, in no particular order.
    pub fn creatures(&self) -> impl Iterator<Item = &Creature> {
        self.creatures.iter()
    }

    /// Loads creatures in bulk (snapshots, tests, benchmarks). Skipped: positions out of range,
    /// ids already present (or repeated in the batch), creatures inside an active zone, and
    /// anything beyond `max_creatures`. The density cap is not applied. Returns how many were
    /// added.
    pub fn insert_creatures(&mut self, cs: Vec<Creature>) -> usize {
        let room = self
            .config
            .max_creatures
            .saturating_sub(self.creatures.len());
        let zones = &self.zones;
        let check_zones = !zones.is_empty();
        let batch: Vec<Creature> = cs
            .into_iter()
            .filter(|c| valid_position(c.lat, c.lon))
            .filter(|c| !check_zones || !zones.covers(c.lat, c.lon))
            .collect();
        self.creatures.insert_many(batch, room)
    }
}
