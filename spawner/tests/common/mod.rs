//! Shared test helpers: POI and config builders, and an independent oracle for zones.
//!
//! The oracle describes a polygon by offsets (degrees) from a centre, so it can decide
//! "inside" in that local frame, without the crate's antimeridian unwrapping, and measure the
//! distance to the boundary by dense sampling, without the crate's bisection.
#![allow(dead_code)]

use geo::{Coord, Intersects, LineString, Polygon};
use serde_json::{Value, json};
use spawner::{Poi, SpawnConfig, Zone, haversine_m, parse_zone_feature};

pub(crate) fn poi(id: &str, lat: f64, lon: f64, weight: f64) -> Poi {
    Poi {
        id: id.into(),
        name: format!("poi {id}"),
        lat,
        lon,
        weight,
        sponsor: None,
    }
}

/// A config that spawns fast and keeps creatures long, with caps out of the way.
pub(crate) fn busy_config() -> SpawnConfig {
    SpawnConfig {
        spawn_rate_per_poi_per_min: 600.0,
        lifetime_ms: (3_600_000, 7_200_000),
        max_per_cell: 100_000,
        ..SpawnConfig::default()
    }
}

pub(crate) fn wrap180(x: f64) -> f64 {
    let w = (x + 180.0).rem_euclid(360.0) - 180.0;
    if w >= 180.0 { w - 360.0 } else { w }
}

/// A polygon given as (dlon, dlat) degree offsets from a centre (lat, lon).
#[derive(Debug, Clone)]
pub(crate) struct LocalPoly {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    /// Rings without the closing position; ring 0 is the exterior.
    pub(crate) rings: Vec<Vec<(f64, f64)>>,
}

impl LocalPoly {
    fn raw_ring(&self, ring: &[(f64, f64)]) -> Vec<Value> {
        let mut out: Vec<Value> = ring
            .iter()
            .map(|&(dx, dy)| json!([wrap180(self.lon + dx), self.lat + dy]))
            .collect();
        out.push(out[0].clone());
        out
    }

    pub(crate) fn feature(&self, name: &str, buffer_m: f64) -> Value {
        let rings: Vec<Value> = self
            .rings
            .iter()
            .map(|r| Value::Array(self.raw_ring(r)))
            .collect();
        json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": rings},
            "properties": {"name": name, "reason": "test", "buffer_m": buffer_m},
        })
    }

    pub(crate) fn zone(&self, id: &str, buffer_m: f64) -> Zone {
        let f = self.feature(id, buffer_m);
        let spec =
            parse_zone_feature(&f).unwrap_or_else(|e| panic!("valid test polygon: {e}: {f}"));
        Zone {
            id: id.into(),
            spec,
            created_at: 0,
        }
    }

    fn local_polygon(&self) -> Polygon<f64> {
        let ls = |r: &Vec<(f64, f64)>| {
            let mut c: Vec<Coord<f64>> = r.iter().map(|&(x, y)| Coord { x, y }).collect();
            c.push(c[0]);
            LineString(c)
        };
        Polygon::new(ls(&self.rings[0]), self.rings[1..].iter().map(ls).collect())
    }

    /// Inside (boundary included), judged in the local frame.
    pub(crate) fn inside(&self, lat: f64, lon: f64) -> bool {
        let p = Coord {
            x: wrap180(lon - self.lon),
            y: lat - self.lat,
        };
        self.local_polygon().intersects(&p)
    }

    /// Distance in metres from the point to the boundary, by sampling every edge linearly in
    /// (lon, lat) about every `step_m` metres. It overestimates by at most about step_m / 2.
    /// Edges whose latitude span is farther than `cutoff_m` are skipped (returning infinity
    /// when all are).
    pub(crate) fn boundary_distance_m(
        &self,
        lat: f64,
        lon: f64,
        step_m: f64,
        cutoff_m: f64,
    ) -> f64 {
        let cutoff_deg = cutoff_m / 111_000.0;
        let mut best = f64::INFINITY;
        for r in &self.rings {
            for i in 0..r.len() {
                let (a, b) = (r[i], r[(i + 1) % r.len()]);
                let (alat, blat) = (self.lat + a.1, self.lat + b.1);
                if lat < alat.min(blat) - cutoff_deg || lat > alat.max(blat) + cutoff_deg {
                    continue;
                }
                let len = haversine_m(alat, self.lon + a.0, blat, self.lon + b.0).max(1.0);
                let n = (len / step_m).ceil() as usize;
                for k in 0..=n {
                    let t = k as f64 / n as f64;
                    let x = self.lon + a.0 + t * (b.0 - a.0);
                    let y = self.lat + a.1 + t * (b.1 - a.1);
                    best = best.min(haversine_m(lat, lon, y, x));
                }
            }
        }
        best
    }
}

/// A star-shaped ring (so always simple) of `radii.len()` vertices around the origin, with
/// radii in metres, scaled to degrees at latitude `lat`.
pub(crate) fn star_ring(lat: f64, radii_m: &[f64], phase: f64) -> Vec<(f64, f64)> {
    let n = radii_m.len();
    let kx = 1.0 / (111_195.0 * lat.to_radians().cos());
    let ky = 1.0 / 111_195.0;
    radii_m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let a = phase + std::f64::consts::TAU * i as f64 / n as f64;
            (r * a.cos() * kx, r * a.sin() * ky)
        })
        .collect()
}
