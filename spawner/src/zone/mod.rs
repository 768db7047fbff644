//! Exclusion zones: operator polygons where nothing spawns and nothing is shown.
//!
//! [`parse_zone_feature`] and [`parse_zone_collection`] turn GeoJSON into validated
//! [`ZoneSpec`]s; [`Zone`] adds the id and creation time; the world indexes zones through
//! `ZoneIndex` (bounding boxes in an R-tree, then an exact test with geo).

mod error;
pub(crate) mod index;
mod parse;
pub(crate) mod prepared;
mod simple;

use geo::{LineString, MultiPolygon};
use serde_json::{Value, json};

pub use error::{Axis, RingRef, ZoneError};
pub use parse::{MAX_ZONE_POSITIONS, parse_zone_collection, parse_zone_feature};

/// A validated exclusion zone as an operator described it, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    /// Short human name, e.g. "Acme factory floor".
    pub name: String,
    /// Why the place is off the map (owner request, legal, safety...).
    pub reason: String,
    /// The area, in (longitude, latitude) degrees exactly as given (rings closed, longitudes in
    /// [-180, 180]); a ring may cross the antimeridian or go around a pole.
    pub geometry: MultiPolygon<f64>,
    /// Extra margin around the polygons in metres: a point this close counts as inside.
    pub buffer_m: f64,
    /// When the zone lapses, in unix seconds; `None` means never.
    pub expires_at: Option<i64>,
}

impl ZoneSpec {
    /// Whether the zone has lapsed at `now_ms` (unix ms).
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        self.expires_at
            .is_some_and(|s| s.saturating_mul(1000) <= now_ms)
    }
}

/// An exclusion zone with its id and creation time.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Unique id, chosen by whoever stores zones (the admin API).
    pub id: String,
    /// The validated description.
    pub spec: ZoneSpec,
    /// Creation time in unix seconds.
    pub created_at: i64,
}

fn ring_coords(ring: &LineString<f64>) -> Value {
    Value::Array(ring.0.iter().map(|c| json!([c.x, c.y])).collect())
}

impl Zone {
    /// The zone as a GeoJSON Feature: a Polygon geometry when it has one polygon, else a
    /// MultiPolygon, and properties `id`, `name`, `reason`, `buffer_m`, `expires_at` (null when
    /// it never expires) and `created_at`. Parsing it back gives the same spec.
    pub fn to_feature(&self) -> Value {
        let polys: Vec<Value> = self
            .spec
            .geometry
            .0
            .iter()
            .map(|p| {
                let mut rings = vec![ring_coords(p.exterior())];
                rings.extend(p.interiors().iter().map(ring_coords));
                Value::Array(rings)
            })
            .collect();
        let geometry = if polys.len() == 1 {
            json!({"type": "Polygon", "coordinates": polys[0]})
        } else {
            json!({"type": "MultiPolygon", "coordinates": polys})
        };
        json!({
            "type": "Feature",
            "id": self.id,
            "geometry": geometry,
            "properties": {
                "id": self.id,
                "name": self.spec.name,
                "reason": self.spec.reason,
                "buffer_m": self.spec.buffer_m,
                "expires_at": self.spec.expires_at,
                "created_at": self.created_at,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_round_trips() {
        let input = json!({
            "type": "Feature",
            "geometry": {"type": "MultiPolygon", "coordinates": [
                [[[179.9, 0.0], [-179.9, 0.0], [-179.9, 1.0], [179.9, 1.0], [179.9, 0.0]]],
                [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 10.0]]]
            ]},
            "properties": {"name": "n", "reason": "r", "buffer_m": 12.5, "expires_at": 2000000000}
        });
        let spec = parse_zone_feature(&input).unwrap();
        let zone = Zone {
            id: "z1".into(),
            spec: spec.clone(),
            created_at: 1_700_000_000,
        };
        let f = zone.to_feature();
        assert_eq!(f["properties"]["id"], "z1");
        assert_eq!(f["properties"]["created_at"], 1_700_000_000);
        assert_eq!(
            f["geometry"]["coordinates"],
            input["geometry"]["coordinates"]
        );
        assert_eq!(parse_zone_feature(&f).unwrap(), spec);

        let single = Zone {
            id: "z2".into(),
            spec: ZoneSpec {
                geometry: MultiPolygon(vec![spec.geometry.0[1].clone()]),
                expires_at: None,
                ..spec
            },
            created_at: 1,
        };
        let f = single.to_feature();
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert!(f["properties"]["expires_at"].is_null());
    }

    #[test]
    fn expiry_is_in_seconds() {
        let spec = ZoneSpec {
            name: "n".into(),
            reason: String::new(),
            geometry: MultiPolygon(vec![]),
            buffer_m: 0.0,
            expires_at: Some(10),
        };
        assert!(!spec.is_expired_at(9_999));
        assert!(spec.is_expired_at(10_000));
        assert!(
            !ZoneSpec {
                expires_at: None,
                ..spec
            }
            .is_expired_at(i64::MAX)
        );
    }
}
