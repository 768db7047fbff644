//! Small spherical-earth helpers for walkers: distances, bearings, steps
//! and the region players roam in.

/// Mean earth radius in metres (the value most GPS tooling uses).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

impl LatLon {
    /// A point from degrees.
    pub const fn new(lat: f64, lon: f64) -> Self {
        LatLon { lat, lon }
    }

    /// Great-circle distance to `other`, in metres (haversine).
    pub fn distance_m(self, other: LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// Initial bearing towards `other`, in degrees clockwise from north,
    /// within [0, 360).
    pub fn bearing_deg(self, other: LatLon) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dl = (other.lon - self.lon).to_radians();
        let y = dl.sin() * p2.cos();
        let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
        normalize_deg(y.atan2(x).to_degrees())
    }

    /// The point `distance_m` away on `bearing_deg`.
    pub fn destination(self, bearing_deg: f64, distance_m: f64) -> LatLon {
        let d = distance_m / EARTH_RADIUS_M;
        let b = bearing_deg.to_radians();
        let p1 = self.lat.to_radians();
        let l1 = self.lon.to_radians();
        let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * b.cos()).asin();
        let l2 = l1 + (b.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
        LatLon {
            lat: p2.to_degrees(),
            lon: normalize_lon(l2.to_degrees()),
        }
    }

    /// Shifts the point by metres east and north (a flat-earth offset, exact
    /// enough for the few metres of GPS jitter it is used for).
    pub fn offset_m(self, east_m: f64, north_m: f64) -> LatLon {
        let dlat = north_m / EARTH_RADIUS_M;
        let dlon = east_m / (EARTH_RADIUS_M * self.lat.to_radians().cos().max(1e-6));
        LatLon {
            lat: (self.lat + dlat.to_degrees()).clamp(-90.0, 90.0),
            lon: normalize_lon(self.lon + dlon.to_degrees()),
        }
    }
}

/// Brings an angle into [0, 360).
pub fn normalize_deg(deg: f64) -> f64 {
    let d = deg.rem_euclid(360.0);
    // rem_euclid can return exactly 360.0 for tiny negative inputs.
    if d >= 360.0 { 0.0 } else { d }
}

fn normalize_lon(lon: f64) -> f64 {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if l < -180.0 { l + 360.0 } else { l }
}

/// The disc players roam in: a centre and a radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Centre of the disc.
    pub center: LatLon,
    /// Radius in metres.
    pub radius_m: f64,
}

impl Region {
    /// The demo world shipped with geogame: Sammamish, WA, 1.5 km around
    /// the city centre.
    pub const DEMO: Region = Region {
        center: LatLon::new(47.6162, -122.0326),
        radius_m: 1500.0,
    };

    /// A uniformly distributed point in the disc, from two uniform numbers
    /// in [0, 1).
    pub fn point_from_unit(&self, u_radius: f64, u_angle: f64) -> LatLon {
        // The square root makes the density uniform over the area instead of
        // bunching points at the centre.
        let r = self.radius_m * u_radius.clamp(0.0, 1.0).sqrt();
        self.center.destination(u_angle * 360.0, r)
    }

    /// Whether `p` lies within the disc widened by `margin_m`.
    pub fn contains(&self, p: LatLon, margin_m: f64) -> bool {
        self.center.distance_m(p) <= self.radius_m + margin_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let a = LatLon::new(47.0, -122.0);
        let b = LatLon::new(48.0, -122.0);
        let d = a.distance_m(b);
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        assert!((a.bearing_deg(b) - 0.0).abs() < 1e-9);
        assert!((b.bearing_deg(a) - 180.0).abs() < 1e-9);
    }

    #[test]
    fn destination_round_trips_distance_and_bearing() {
        let a = Region::DEMO.center;
        for bearing in [0.0, 45.0, 90.0, 181.0, 359.0] {
            let b = a.destination(bearing, 750.0);
            assert!((a.distance_m(b) - 750.0).abs() < 1e-6);
            let back = a.bearing_deg(b);
            let diff = (back - bearing).abs();
            assert!(diff < 1e-6 || (360.0 - diff) < 1e-6, "{bearing} vs {back}");
        }
    }

    #[test]
    fn offsets_move_by_the_asked_metres() {
        let a = Region::DEMO.center;
        let b = a.offset_m(3.0, 4.0);
        assert!((a.distance_m(b) - 5.0).abs() < 0.01);
    }

    #[test]
    fn region_points_stay_inside() {
        let r = Region::DEMO;
        for i in 0..100 {
            let u = f64::from(i) / 100.0;
            let p = r.point_from_unit(u, 1.0 - u);
            assert!(r.contains(p, 1e-6));
        }
    }
}
