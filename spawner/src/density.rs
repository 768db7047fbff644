//! Per-cell creature counts for the density cap, with cells of bulk-loaded creatures worked out
//! only when placement needs them.
//!
//! Computing an h3o cell costs about 400 ns, which would be most of a bulk load of a million
//! creatures. Creatures placed by the spawner get their cell at placement (it is needed for the
//! cap check anyway); creatures from `insert_creatures` start with an unknown cell. Before the cap
//! is checked for a cell while unknown cells exist, the store resolves every unknown creature
//! around that cell ([`crate::creatures::CreatureStore::density`]), so the count is always exact.

use h3o::{CellIndex, LatLng, Resolution};

use crate::geodesy::haversine_m;
use crate::hash::FastMap;

/// The cell of a creature whose cell has not been worked out yet. No h3o index has all bits set.
pub(crate) const UNKNOWN_CELL: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct Density {
    resolution: Resolution,
    counts: FastMap<u64, u32>,
    /// Cells whose count is known to be exact although unknown cells exist elsewhere.
    resolved: FastMap<u64, ()>,
    /// Live creatures with an unknown cell.
    unknown: usize,
}

impl Density {
    pub(crate) fn new(resolution: u8) -> Self {
        Density {
            resolution: Resolution::try_from(resolution.min(15)).unwrap_or(Resolution::Nine),
            counts: FastMap::default(),
            resolved: FastMap::default(),
            unknown: 0,
        }
    }

    /// The cell of a position, as the h3o cell index number.
    pub(crate) fn cell_of(&self, lat: f64, lon: f64) -> u64 {
        LatLng::new(lat, lon)
            .map(|ll| u64::from(ll.to_cell(self.resolution)))
            .unwrap_or(UNKNOWN_CELL)
    }

    /// Counts a new creature in `cell` (which may be [`UNKNOWN_CELL`]).
    pub(crate) fn add(&mut self, cell: u64) {
        if cell == UNKNOWN_CELL {
            self.unknown += 1;
            // An unknown creature may sit in any resolved cell, so none is exact any more.
            // (Clearing an empty map still sweeps its buckets, hence the check.)
            if !self.resolved.is_empty() {
                self.resolved.clear();
            }
        } else {
            *self.counts.entry(cell).or_insert(0) += 1;
        }
    }

    /// Forgets a creature that was counted in `cell`.
    pub(crate) fn remove(&mut self, cell: u64) {
        if cell == UNKNOWN_CELL {
            self.unknown = self.unknown.saturating_sub(1);
        } else if let Some(n) = self.counts.get_mut(&cell) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&cell);
            }
        }
    }

    /// Moves a creature from the unknown count into its cell.
    pub(crate) fn resolve_one(&mut self, cell: u64) {
        self.unknown = self.unknown.saturating_sub(1);
        *self.counts.entry(cell).or_insert(0) += 1;
    }

    /// Whether the count of `cell` is exact right now.
    pub(crate) fn is_exact(&self, cell: u64) -> bool {
        self.unknown == 0 || self.resolved.contains_key(&cell)
    }

    pub(crate) fn mark_resolved(&mut self, cell: u64) {
        if self.unknown > 0 {
            self.resolved.insert(cell, ());
        }
    }

    pub(crate) fn count(&self, cell: u64) -> usize {
        self.counts.get(&cell).map_or(0, |&n| n as usize)
    }

    /// The centre of a cell and a radius in metres that covers all of it.
    pub(crate) fn cell_disc(cell: u64) -> Option<(f64, f64, f64)> {
        let c = CellIndex::try_from(cell).ok()?;
        let centre = LatLng::from(c);
        let (lat, lon) = (centre.lat(), centre.lng());
        let r = c
            .boundary()
            .iter()
            .map(|v| haversine_m(lat, lon, v.lat(), v.lng()))
            .fold(0.0, f64::max);
        // A margin for the curvature of cell edges between vertices and for rounding.
        Some((lat, lon, r * 1.05 + 1.0))
    }
}
