//! The geogame world model: points of interest, exclusion zones and creatures.
//!
//! This crate is pure and synchronous (no async runtime, no I/O). A server holds one [`World`]
//! behind a lock and calls it: [`World::tick`] about once per `tick_ms` to expire and place
//! creatures, [`World::nearby_creatures`] / [`World::nearby_pois`] for each location update,
//! [`World::take_creature`] for a catch, and the zone and POI setters for operator changes.
//!
//! Layout:
//! - [`geodesy`]: haversine distance, bearing, destination point and search boxes.
//! - `config`: [`SpawnConfig`], the species table and rarity tiers.
//! - `poi`: [`Poi`], GeoJSON import ([`parse_pois`]) and export.
//! - `zone`: [`ZoneSpec`] / [`Zone`], GeoJSON parsing and validation, the zone index and the
//!   exact point-in-zone test with `buffer_m`, across the antimeridian and at the poles.
//! - `creatures`: [`Creature`] and its store (R-tree, expiry heap), with `id_index` (id to
//!   slot) and `density` (per-cell counts for the density cap).
//! - `hash`: the stable hash behind seeds and ids, and a fast hasher for internal maps.
//! - `world` and `placement`: [`World`] and its deterministic tick.
//!
//! The placement model is documented in `docs/placement.md`.

mod config;
mod creatures;
mod density;
pub mod geodesy;
mod hash;
mod id_index;
mod json;
mod placement;
mod poi;
mod poi_index;
mod world;
mod zone;

pub use config::{ConfigError, Rarity, SpawnConfig, SpeciesConfig};
pub use creatures::{Creature, Sighting};
pub use geodesy::{EARTH_RADIUS_M, bearing_deg, haversine_m};
pub use placement::{Slots, SpawnDraw};
pub use poi::{
    Poi, PoiError, PoiSpec, parse_pois, parse_pois_json, poi_id_for, pois_to_feature_collection,
};
pub use world::{PoiDraft, PreparedPois, TickReport, World};
pub use zone::{
    Axis, MAX_ZONE_POSITIONS, RingRef, Zone, ZoneError, ZoneSpec, parse_zone_collection,
    parse_zone_feature,
};
