//! Creature id → slab index, keyed by a 64-bit hash of the id so that the map holds no string
//! copies. The rare pair of ids with equal hashes spills into a small exact map.

use std::collections::HashMap;
use std::hash::BuildHasher;

use crate::hash::FastHasher;

/// The keys of `by_hash` are already well-mixed 64-bit hashes, so hashing them again would only
/// cost time.
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in rather than panic.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type HashKeyed<V> = HashMap<u64, V, std::hash::BuildHasherDefault<PassThrough>>;

#[derive(Debug)]
pub(crate) struct IdIndex {
    by_hash: HashKeyed<u32>,
    /// Ids whose hash was already taken by another id. Almost always empty.
    overflow: HashMap<String, u32>,
    /// The id hash; a field so that tests can force collisions.
    hash: fn(&str) -> u64,
}

impl Default for IdIndex {
    fn default() -> Self {
        IdIndex {
            by_hash: HashKeyed::default(),
            overflow: HashMap::new(),
            hash: hash_id,
        }
    }
}

fn hash_id(id: &str) -> u64 {
    std::hash::BuildHasherDefault::<FastHasher>::default().hash_one(id)
}

impl IdIndex {
    pub(crate) fn len(&self) -> usize {
        self.by_hash.len() + self.overflow.len()
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.by_hash.reserve(n);
    }

    /// The index of `id`; `id_at` gives the id stored at an index, to confirm a hash match.
    pub(crate) fn get<'a>(&self, id: &str, id_at: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        if let Some(&i) = self.by_hash.get(&(self.hash)(id))
            && id_at(i) == Some(id)
        {
            return Some(i);
        }
        self.overflow.get(id).copied()
    }

    /// Records `id` at `idx` unless it is already present; returns whether it was added.
    pub(crate) fn insert<'a>(
        &mut self,
        id: &str,
        idx: u32,
        id_at: impl Fn(u32) -> Option<&'a str>,
    ) -> bool {
        match self.by_hash.entry((self.hash)(id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(idx);
                true
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                if id_at(*o.get()) == Some(id) || self.overflow.contains_key(id) {
                    return false;
                }
                self.overflow.insert(id.to_owned(), idx);
                true
            }
        }
    }

    /// Forgets `id`, which is stored at `idx`.
    pub(crate) fn remove(&mut self, id: &str, idx: u32) {
        let h = (self.hash)(id);
        if self.by_hash.get(&h) == Some(&idx) {
            self.by_hash.remove(&h);
            // An id that collided with this one moves into the freed hash slot, so the overflow
            // map stays as small as the collisions that are still live.
            let moved = self
                .overflow
                .iter()
                .find(|(k, _)| (self.hash)(k) == h)
                .map(|(k, &v)| (k.clone(), v));
            if let Some((k, v)) = moved {
                self.overflow.remove(&k);
                self.by_hash.insert(h, v);
            }
        } else {
            self.overflow.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_ids_are_kept_apart() {
        let ids = ["a", "b", "c"];
        let id_at = |i: u32| ids.get(i as usize).copied();
        // Every id hashes alike, so all but the first spill into the overflow map.
        let mut x = IdIndex {
            hash: |_| 7,
            ..IdIndex::default()
        };
        assert!(x.insert("a", 0, id_at));
        assert!(x.insert("b", 1, id_at));
        assert!(x.insert("c", 2, id_at));
        assert_eq!(x.overflow.len(), 2);
        assert!(!x.insert("b", 1, id_at), "duplicate refused");
        assert!(!x.insert("a", 0, id_at), "duplicate refused");
        assert_eq!(
            (x.get("a", id_at), x.get("b", id_at), x.get("c", id_at)),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(x.get("d", id_at), None);
        // Removing the holder of the hash slot promotes a spilled id.
        x.remove("a", 0);
        assert_eq!(x.overflow.len(), 1);
        assert_eq!(x.len(), 2);
        let id_at = |i: u32| {
            if i == 0 {
                None
            } else {
                ids.get(i as usize).copied()
            }
        };
        assert_eq!(
            (x.get("a", id_at), x.get("b", id_at), x.get("c", id_at)),
            (None, Some(1), Some(2))
        );
        x.remove("c", 2);
        x.remove("b", 1);
        assert_eq!(x.len(), 0);
    }
}
