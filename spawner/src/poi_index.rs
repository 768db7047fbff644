//! The POI set held by the world: records, an id map, an R-tree, and which POIs are active
//! (not under an exclusion zone).

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};

use crate::creatures::valid_position;
use crate::geodesy::{chord2_for_radius, distance_within, search_boxes, unit_vector};
use crate::poi::Poi;
use crate::zone::index::ZoneIndex;

#[derive(Debug, Default)]
pub(crate) struct PoiSet {
    /// Bumped whenever the records change, so that a set prepared from a copy can tell
    /// whether it is still based on the current records.
    records_version: u64,
    /// Bumped whenever `active` is recomputed (the zones changed).
    active_version: u64,
    /// Records in insertion order.
    pois: Vec<Poi>,
    active: Vec<bool>,
    /// Unit vectors of the records, for distances without trigonometry.
    xyz: Vec<[f64; 3]>,
    by_id: HashMap<String, usize>,
    /// Indices sorted by POI id: placement walks POIs in this order, so that it does not depend
    /// on the order in which POIs were loaded.
    by_id_order: Vec<usize>,
    tree: RTree<GeomWithData<[f64; 2], u32>>,
}

fn usable(p: &Poi) -> bool {
    let ok = valid_position(p.lat, p.lon) && p.weight.is_finite() && p.weight > 0.0;
    if !ok {
        tracing::warn!(poi_id = %p.id, lat = p.lat, lon = p.lon, weight = p.weight, "skipping poi with invalid position or weight");
    }
    ok
}

/// Adds the usable `pois` to `records`, replacing records with the same id in place.
fn merge(records: &mut Vec<Poi>, pois: impl IntoIterator<Item = Poi>) {
    let mut pos: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    for p in pois.into_iter().filter(usable) {
        match pos.get(&p.id) {
            Some(&i) => records[i] = p,
            None => {
                pos.insert(p.id.clone(), records.len());
                records.push(p);
            }
        }
    }
}

impl PoiSet {
    /// Replaces every POI. Invalid ones are skipped; a repeated id keeps the last.
    pub(crate) fn set(&mut self, pois: Vec<Poi>, zones: &ZoneIndex) {
        self.pois.clear();
        self.upsert(pois, zones);
    }

    /// Adds or replaces POIs by id, then rebuilds the indexes.
    pub(crate) fn upsert(&mut self, pois: Vec<Poi>, zones: &ZoneIndex) {
        merge(&mut self.pois, pois);
        self.rebuild(zones);
    }

    /// Removes a POI by id.
    pub(crate) fn remove(&mut self, id: &str, zones: &ZoneIndex) -> Option<Poi> {
        let i = *self.by_id.get(id)?;
        let p = self.pois.remove(i);
        self.rebuild(zones);
        Some(p)
    }

    /// The records, in insertion order.
    pub(crate) fn records(&self) -> &[Poi] {
        &self.pois
    }

    /// The versions a copy of this set is taken at: (records, active flags).
    pub(crate) fn versions(&self) -> (u64, u64) {
        (self.records_version, self.active_version)
    }

    /// The set `records` plus `pois` make (as [`PoiSet::upsert`] would), built from scratch
    /// with `zones` for the active flags: the costly part of a POI change, which needs no
    /// lock. `versions` are those of the set the records were copied from.
    pub(crate) fn prepared(
        mut records: Vec<Poi>,
        pois: &[Poi],
        zones: &ZoneIndex,
        versions: (u64, u64),
    ) -> Box<PoiSet> {
        merge(&mut records, pois.iter().cloned());
        let mut set = Box::new(PoiSet {
            pois: records,
            records_version: versions.0,
            active_version: versions.1,
            ..PoiSet::default()
        });
        set.rebuild(zones);
        // `rebuild` counted the change; the versions must stay the draft's until installed.
        (set.records_version, set.active_version) = versions;
        set
    }

    /// Replaces this set with one [`PoiSet::prepared`] from a copy of it and returns the old
    /// one, for the caller to drop outside its lock. Fails (giving it back) when the records
    /// changed since the copy; recomputes the active flags when only the zones did.
    pub(crate) fn install(
        &mut self,
        mut next: Box<PoiSet>,
        zones: &ZoneIndex,
    ) -> Result<Box<PoiSet>, Box<PoiSet>> {
        if next.records_version != self.records_version {
            return Err(next);
        }
        let zones_changed = next.active_version != self.active_version;
        next.records_version = self.records_version + 1;
        next.active_version = self.active_version;
        std::mem::swap(self, &mut next);
        if zones_changed {
            self.refresh_active(zones);
        }
        Ok(next)
    }

    fn rebuild(&mut self, zones: &ZoneIndex) {
        self.records_version += 1;
        self.by_id = self
            .pois
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let mut order: Vec<usize> = (0..self.pois.len()).collect();
        order.sort_by(|&a, &b| self.pois[a].id.cmp(&self.pois[b].id));
        self.by_id_order = order;
        self.xyz = self
            .pois
            .iter()
            .map(|p| unit_vector(p.lat, p.lon))
            .collect();
        let entries = self
            .pois
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some(GeomWithData::new([p.lon, p.lat], u32::try_from(i).ok()?)))
            .collect();
        self.tree = RTree::bulk_load(entries);
        self.refresh_active(zones);
    }

    /// Recomputes which POIs are active after the zones changed.
    pub(crate) fn refresh_active(&mut self, zones: &ZoneIndex) {
        self.active_version += 1;
        self.active = self
            .pois
            .iter()
            .map(|p| !zones.covers(p.lat, p.lon))
            .collect();
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Poi> {
        self.by_id.get(id).map(|&i| &self.pois[i])
    }

    pub(crate) fn is_active(&self, id: &str) -> bool {
        self.by_id.get(id).is_some_and(|&i| self.active[i])
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Poi> {
        self.pois.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.pois.len()
    }

    /// Active POIs sorted by id.
    pub(crate) fn active_by_id(&self) -> impl Iterator<Item = &Poi> {
        self.by_id_order
            .iter()
            .filter(|&&i| self.active[i])
            .map(|&i| &self.pois[i])
    }

    /// Active POIs within `radius_m`, nearest first (ties by id).
    pub(crate) fn nearby(&self, lat: f64, lon: f64, radius_m: f64) -> Vec<(&Poi, f64)> {
        let mut out = Vec::new();
        if !(radius_m >= 0.0 && lat.is_finite() && lon.is_finite()) {
            return out;
        }
        let q = unit_vector(lat, lon);
        let max_c2 = chord2_for_radius(radius_m);
        let (a, b) = search_boxes(lat, lon, radius_m);
        for bx in std::iter::once(a).chain(b) {
            let env = AABB::from_corners([bx[0], bx[1]], [bx[2], bx[3]]);
            for e in self.tree.locate_in_envelope(&env) {
                let i = e.data as usize;
                if !self.active[i] {
                    continue;
                }
                if let Some(d) = distance_within(&q, &self.xyz[i], max_c2, radius_m) {
                    out.push((&self.pois[i], d));
                }
            }
        }
        out.sort_unstable_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.id.cmp(&y.0.id)));
        out
    }
}
