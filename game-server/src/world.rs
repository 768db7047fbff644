//! The live world of one game server behind its lock, and how it is loaded
//! from and written back to SQL rows.
//!
//! [`WorldHandle`] alone owns the world's lock. Every change to the world
//! is one of its methods, each a short synchronous section that returns
//! what the change removed (so the caller can tell the players), and
//! nothing here knows of sockets, pushes or events. Readers get a guard
//! for the nearby reply, which is written straight from the world.

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use spawner::{Creature, Poi, World, Zone};
use store::{AuditEntry, Db, PoiRow, StoreError, ZoneRow};

/// Creatures placed per hold of the write lock in a tick.
const PLACE_PER_LOCK: usize = 64;

/// Why the world could not be loaded from SQL.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The database failed.
    #[error("loading the world: {0}")]
    Store(#[from] StoreError),
    /// A stored zone no longer parses.
    #[error("stored zone {id} is invalid: {reason}")]
    BadZone {
        /// The zone's id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The world and its lock. The lock is only held for short, synchronous
/// sections and never across an `.await`; a panic while it is held leaves
/// the world usable, because every mutation is one self-contained call
/// into the spawner.
#[derive(Debug)]
pub(crate) struct WorldHandle {
    world: RwLock<World>,
    /// One POI change at a time, so that none is prepared from a copy
    /// another is about to replace.
    poi_changes: tokio::sync::Mutex<()>,
}

impl WorldHandle {
    pub(crate) fn new(world: World) -> Self {
        WorldHandle {
            world: RwLock::new(world),
            poi_changes: tokio::sync::Mutex::new(()),
        }
    }

    /// The world, locked for reading.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, World> {
        self.world.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write()
    }

    /// Runs `f` with the world locked for writing (embedding and tests).
    pub(crate) fn with_write<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.write())
    }

    /// Advances the world to `now_ms`: expiry, zones, placement. The
    /// spawns are drawn under the read lock (one stream per active POI per
    /// slot: 100,000 POIs take about 0.1 s in a debug build), so players'
    /// replies go on meanwhile, and placed under the write lock
    /// [`PLACE_PER_LOCK`] at a time (the first tick over 100,000 freshly
    /// imported POIs places thousands, at about 0.15 ms each in a debug
    /// build).
    pub(crate) fn tick(&self, now_ms: i64) -> spawner::TickReport {
        let (mut report, slots) = self.write().tick_begin(now_ms);
        if let Some(slots) = slots {
            let draw = self.read().draw_spawns(slots);
            for piece in draw.into_pieces(PLACE_PER_LOCK) {
                let mut w = self.write();
                w.place_drawn(piece, now_ms, &mut report);
                // Hand the lock to the readers waiting meanwhile; a plain
                // unlock lets this loop take it straight back.
                RwLockWriteGuard::unlock_fair(w);
            }
        }
        report
    }

    /// Takes a creature out of the world: the in-process arbitration of a
    /// catch, since exactly one caller gets it.
    pub(crate) fn take_creature(&self, id: &str) -> Option<Creature> {
        self.write().take_creature(id)
    }

    /// The ids of every live creature.
    pub(crate) fn creature_ids(&self) -> Vec<String> {
        self.read().creatures().map(|c| c.id.clone()).collect()
    }

    /// Takes the creatures with these ids out of the world; returns those
    /// that were there.
    pub(crate) fn take_creatures(&self, ids: &[String]) -> Vec<Creature> {
        let mut w = self.write();
        ids.iter().filter_map(|id| w.take_creature(id)).collect()
    }

    /// Puts a creature back (its catch could not be stored).
    pub(crate) fn put_back(&self, c: Creature) {
        self.write().insert_creatures(vec![c]);
    }

    /// Applies a zone change at `now_ms`; returns the creatures it removed.
    pub(crate) fn change_zones(
        &self,
        now_ms: i64,
        change: impl FnOnce(&mut World, i64) -> Vec<Creature>,
    ) -> Vec<Creature> {
        let removed = change(&mut self.write(), now_ms);
        metrics::counter!("geogame_zone_changes_total").increment(1);
        removed
    }

    /// Removes a zone; creatures may appear there from the next tick on.
    pub(crate) fn remove_zone(&self, id: &str) {
        self.write().remove_zone(id);
    }

    /// Adds or updates POIs. The indexes of the new set (100,000 POIs take
    /// about half a second in a debug build) are built on the blocking pool
    /// from a copy, and the lock is only taken to copy and to swap, so
    /// players' replies and the ticks go on meanwhile.
    pub(crate) async fn upsert_pois(&self, pois: Vec<Poi>) {
        let _one = self.poi_changes.lock().await;
        let mut pois = pois;
        loop {
            let draft = self.read().poi_draft();
            let built = tokio::task::spawn_blocking(move || (draft.upsert(&pois), pois)).await;
            let Ok((prepared, back)) = built else {
                tracing::error!("building the POI indexes failed; the POIs are unchanged");
                return;
            };
            pois = back;
            // Only a change through `with_write` (tests, embedding) can
            // come in between; then build again on the new set.
            let installed = self.write().install_pois(prepared);
            // The lock is released; the replaced (or a refused) set is
            // dropped here.
            if installed.is_ok() {
                return;
            }
        }
    }

    /// Where an active POI is.
    pub(crate) fn locate_poi(&self, id: &str) -> Option<(f64, f64)> {
        let w = self.read();
        w.poi(id)
            .filter(|_| w.poi_active(id))
            .map(|p| (p.lat, p.lon))
    }
}

/// A spawner POI from its SQL row.
pub(crate) fn poi_from_row(r: PoiRow) -> Poi {
    Poi {
        id: r.id,
        name: r.name,
        lat: r.lat,
        lon: r.lon,
        weight: r.weight,
        sponsor: r.sponsor,
    }
}

/// The SQL row of a POI.
pub(crate) fn poi_row(p: &Poi) -> PoiRow {
    PoiRow {
        id: p.id.clone(),
        name: p.name.clone(),
        lat: p.lat,
        lon: p.lon,
        weight: p.weight,
        sponsor: p.sponsor.clone(),
    }
}

/// The SQL row of a zone.
pub(crate) fn zone_row(z: &Zone) -> ZoneRow {
    ZoneRow {
        id: z.id.clone(),
        name: z.spec.name.clone(),
        reason: z.spec.reason.clone(),
        geojson: z.to_feature().to_string(),
        created_at: z.created_at,
        expires_at: z.spec.expires_at,
    }
}

/// A zone from its SQL row.
fn zone_from_row(row: ZoneRow) -> Result<Zone, LoadError> {
    let bad = |reason: String| LoadError::BadZone {
        id: row.id.clone(),
        reason,
    };
    let v: serde_json::Value =
        serde_json::from_str(&row.geojson).map_err(|e| bad(e.to_string()))?;
    let spec = spawner::parse_zone_feature(&v).map_err(|e| bad(e.to_string()))?;
    Ok(Zone {
        id: row.id,
        spec,
        created_at: row.created_at,
    })
}

/// Every stored zone, parsed.
pub(crate) async fn load_zones(db: &Db) -> Result<Vec<Zone>, LoadError> {
    db.list_zones()
        .await?
        .into_iter()
        .map(zone_from_row)
        .collect()
}

/// Every stored POI.
pub(crate) async fn load_pois(db: &Db) -> Result<Vec<Poi>, LoadError> {
    Ok(db
        .list_pois()
        .await?
        .into_iter()
        .map(poi_from_row)
        .collect())
}

/// Loads the persisted POIs and zones into `world`. When the database has
/// no POIs yet, `seed_pois` are stored first (the shipped demo world).
pub async fn load_world(
    db: &Db,
    world: &mut World,
    seed_pois: &[Poi],
    now_ms: i64,
) -> Result<(), LoadError> {
    let mut pois = load_pois(db).await?;
    if pois.is_empty() && !seed_pois.is_empty() {
        let audit = AuditEntry {
            at: now_ms,
            actor: "system".into(),
            action: "poi.seed".into(),
            target: format!("{} pois", seed_pois.len()),
            detail: "demo world".into(),
        };
        let seed: Vec<_> = seed_pois.iter().map(poi_row).collect();
        db.upsert_pois(&seed, &audit).await?;
        pois = load_pois(db).await?;
    }
    world.set_pois(pois);
    world.replace_zones(load_zones(db).await?, now_ms);
    Ok(())
}
