//! The live set of zones: an R-tree of (buffer-expanded) bounding boxes for candidates, then
//! the exact geo test on each candidate polygon.

use std::collections::{BTreeMap, HashMap};

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::Zone;
use super::prepared::PreparedZone;

/// An R-tree entry: one envelope of one polygon of one zone, keyed by (zone key, polygon index).
type Entry = GeomWithData<Rectangle<[f64; 2]>, (u64, u32)>;

/// A stored zone with its prepared geometry.
#[derive(Debug, Clone)]
pub(crate) struct ZoneSlot {
    pub(crate) zone: Zone,
    pub(crate) prepared: PreparedZone,
}

/// All active zones. Keys increase with insertion, so iteration order is insertion order.
#[derive(Debug, Default, Clone)]
pub(crate) struct ZoneIndex {
    next_key: u64,
    slots: BTreeMap<u64, ZoneSlot>,
    by_id: HashMap<String, u64>,
    tree: RTree<Entry>,
}

fn entries(key: u64, prepared: &PreparedZone) -> impl Iterator<Item = Entry> + '_ {
    prepared.envelopes().into_iter().map(move |(poly, e)| {
        GeomWithData::new(
            Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]),
            (key, poly),
        )
    })
}

impl ZoneIndex {
    /// Builds an index from many zones at once with a bulk-loaded tree. Later duplicates of an
    /// id replace earlier ones.
    pub(crate) fn from_zones(zones: Vec<Zone>) -> Self {
        let mut index = ZoneIndex::default();
        for zone in zones {
            if let Some(old) = index.by_id.remove(&zone.id) {
                index.slots.remove(&old);
            }
            let key = index.next_key;
            index.next_key += 1;
            let prepared = PreparedZone::new(&zone.spec.geometry, zone.spec.buffer_m);
            index.by_id.insert(zone.id.clone(), key);
            index.slots.insert(key, ZoneSlot { zone, prepared });
        }
        let all: Vec<Entry> = index
            .slots
            .iter()
            .flat_map(|(&k, s)| entries(k, &s.prepared))
            .collect();
        index.tree = RTree::bulk_load(all);
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a zone, replacing any zone with the same id, and returns its key.
    pub(crate) fn insert(&mut self, zone: Zone) -> u64 {
        self.remove(&zone.id);
        let key = self.next_key;
        self.next_key += 1;
        let prepared = PreparedZone::new(&zone.spec.geometry, zone.spec.buffer_m);
        for e in entries(key, &prepared) {
            self.tree.insert(e);
        }
        self.by_id.insert(zone.id.clone(), key);
        self.slots.insert(key, ZoneSlot { zone, prepared });
        key
    }

    /// Removes a zone by id.
    pub(crate) fn remove(&mut self, id: &str) -> Option<Zone> {
        let key = self.by_id.remove(id)?;
        let slot = self.slots.remove(&key)?;
        for e in entries(key, &slot.prepared) {
            self.tree.remove(&e);
        }
        Some(slot.zone)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Zone> {
        self.by_id
            .get(id)
            .and_then(|k| self.slots.get(k))
            .map(|s| &s.zone)
    }

    pub(crate) fn slot(&self, key: u64) -> Option<&ZoneSlot> {
        self.slots.get(&key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Zone> {
        self.slots.values().map(|s| &s.zone)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.keys().copied()
    }

    /// Whether any zone covers the point (inside, or within its buffer).
    pub(crate) fn covers(&self, lat: f64, lon: f64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        self.tree.locate_all_at_point(&[lon, lat]).any(|e| {
            let (key, poly) = e.data;
            self.slots
                .get(&key)
                .and_then(|s| {
                    s.prepared
                        .polys
                        .get(poly as usize)
                        .map(|p| (p, s.prepared.buffer_m))
                })
                .is_some_and(|(p, buffer)| p.covers(lat, lon, buffer))
        })
    }

    /// The same test against every polygon, without the tree. Used by benchmarks and tests as
    /// the baseline the index must agree with.
    pub(crate) fn covers_linear(&self, lat: f64, lon: f64) -> bool {
        self.slots.values().any(|s| s.prepared.covers(lat, lon))
    }

    /// Removes zones that have lapsed at `now_ms` and returns them.
    pub(crate) fn expire(&mut self, now_ms: i64) -> Vec<Zone> {
        let lapsed: Vec<String> = self
            .slots
            .values()
            .filter(|s| s.zone.spec.is_expired_at(now_ms))
            .map(|s| s.zone.id.clone())
            .collect();
        lapsed.iter().filter_map(|id| self.remove(id)).collect()
    }

    /// The envelopes of one zone as rstar boxes, for finding what lies under it.
    pub(crate) fn envelopes_of(&self, key: u64) -> Vec<AABB<[f64; 2]>> {
        self.slots
            .get(&key)
            .map(|s| {
                s.prepared
                    .envelopes()
                    .into_iter()
                    .map(|(_, e)| AABB::from_corners([e[0], e[1]], [e[2], e[3]]))
                    .collect()
            })
            .unwrap_or_default()
    }
}
