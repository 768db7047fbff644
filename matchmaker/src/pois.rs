//! Where raid POIs are: the lookup the matchmaker needs to check the raid
//! radius, and a refreshable in-memory implementation of it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Finds a POI's position by id.
pub trait PoiDirectory: Send + Sync + 'static {
    /// `(lat, lon)` of the POI, or `None` when it does not exist.
    fn locate(&self, poi_id: &str) -> Option<(f64, f64)>;
}

/// A POI table held in memory and swapped whole on refresh, so lookups
/// never wait for a database.
#[derive(Debug, Clone, Default)]
pub struct PoiTable {
    inner: Arc<RwLock<HashMap<String, (f64, f64)>>>,
}

impl PoiTable {
    /// A table holding these `(id, lat, lon)` rows.
    pub fn new(rows: impl IntoIterator<Item = (String, f64, f64)>) -> Self {
        let t = PoiTable::default();
        t.replace(rows);
        t
    }

    /// Replaces every row at once.
    pub fn replace(&self, rows: impl IntoIterator<Item = (String, f64, f64)>) {
        let map: HashMap<_, _> = rows
            .into_iter()
            .map(|(id, lat, lon)| (id, (lat, lon)))
            .collect();
        // A poisoned lock only means a writer panicked mid-swap; the map
        // it guards is still a whole map, so keep using it.
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *guard = map;
    }

    /// How many POIs the table holds.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PoiDirectory for PoiTable {
    fn locate(&self, poi_id: &str) -> Option<(f64, f64)> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(poi_id)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_swaps_the_whole_table() {
        let t = PoiTable::new([("a".to_owned(), 1.0, 2.0)]);
        assert_eq!(t.locate("a"), Some((1.0, 2.0)));
        t.replace([("b".to_owned(), 3.0, 4.0)]);
        assert_eq!(t.locate("a"), None);
        assert_eq!(t.locate("b"), Some((3.0, 4.0)));
        assert_eq!(t.len(), 1);
    }
}
