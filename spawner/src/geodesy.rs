//! Great-circle helpers on a spherical Earth: distance, bearing, destination and search boxes.
//!
//! Everything here works in degrees at the API and radians inside. The Earth is a sphere of
//! radius [`EARTH_RADIUS_M`] (the IUGG mean radius); at game scale (metres to a few kilometres)
//! the error against the ellipsoid is far below GPS noise.

use std::f64::consts::PI;

/// Mean Earth radius in metres (IUGG), used by every distance in this crate.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Length of one degree of a great circle, in metres.
pub const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * PI / 180.0;

/// Great-circle distance in metres between two points given in degrees (haversine formula).
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let p1 = lat1.to_radians();
    let p2 = lat2.to_radians();
    let half_dp = (p2 - p1) * 0.5;
    let half_dl = (lon2 - lon1).to_radians() * 0.5;
    let s_dp = half_dp.sin();
    let s_dl = half_dl.sin();
    let a = s_dp * s_dp + p1.cos() * p2.cos() * s_dl * s_dl;
    // Rounding can push `a` a hair above 1 for antipodal points; asin would then return NaN.
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// Initial bearing from the first point to the second, in degrees clockwise from north, in [0, 360).
pub fn bearing_deg(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let p1 = lat1.to_radians();
    let p2 = lat2.to_radians();
    let dl = (lon2 - lon1).to_radians();
    let y = dl.sin() * p2.cos();
    let x = p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos();
    compass_deg(y, x)
}

/// The angle of (`east`, `north`) in degrees clockwise from north, in [0, 360).
fn compass_deg(east: f64, north: f64) -> f64 {
    let deg = east.atan2(north).to_degrees().rem_euclid(360.0);
    // `rem_euclid` of a tiny negative number rounds to exactly 360.0, which is outside the range.
    if deg >= 360.0 { 0.0 } else { deg }
}

/// A point with its local frame: its unit vector and the unit vectors pointing east and north
/// from it. A nearby query builds one, so that each result's distance and bearing come from the
/// result's stored unit vector with a few products and one `atan2`, and no further trigonometry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub(crate) up: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
}

impl Frame {
    pub(crate) fn at(lat: f64, lon: f64) -> Frame {
        let (sp, cp) = lat.to_radians().sin_cos();
        let (sl, cl) = lon.to_radians().sin_cos();
        Frame {
            up: [cp * cl, cp * sl, sp],
            east: [-sl, cl, 0.0],
            north: [-sp * cl, -sp * sl, cp],
        }
    }

    /// The initial great-circle bearing to the point with unit vector `p`, as [`bearing_deg`]
    /// gives it: the direction of `p` projected on the tangent plane (the same two terms,
    /// expanded with the angle-difference identities).
    pub(crate) fn bearing_deg(&self, p: &[f64; 3]) -> f64 {
        compass_deg(dot(p, &self.east), dot(p, &self.north))
    }
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Wraps a longitude into [-180, 180).
pub(crate) fn normalize_lon(lon: f64) -> f64 {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if l >= 180.0 { -180.0 } else { l }
}

/// The point reached from (`lat`, `lon`) after `dist_m` metres along the great circle that
/// starts with `bearing_rad` (radians clockwise from north). The longitude is wrapped into
/// [-180, 180), so the result is valid across the antimeridian and over the poles.
pub(crate) fn destination(lat: f64, lon: f64, bearing_rad: f64, dist_m: f64) -> (f64, f64) {
    let d = dist_m / EARTH_RADIUS_M;
    let p1 = lat.to_radians();
    let l1 = lon.to_radians();
    let sin_p2 = p1.sin() * d.cos() + p1.cos() * d.sin() * bearing_rad.cos();
    let p2 = sin_p2.clamp(-1.0, 1.0).asin();
    let l2 = l1 + (bearing_rad.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * sin_p2);
    (
        p2.to_degrees().clamp(-90.0, 90.0),
        normalize_lon(l2.to_degrees()),
    )
}

/// Half-width in degrees of longitude of the band that holds every point within `delta_rad`
/// (an angle at the Earth's centre) of any point at latitude `abs_lat_deg` or nearer the
/// equator, or `None` when a pole lies within reach and so every longitude can be close.
pub(crate) fn lon_reach_deg(abs_lat_deg: f64, delta_rad: f64) -> Option<f64> {
    let colat = (90.0 - abs_lat_deg.min(90.0)).to_radians();
    if delta_rad >= colat || delta_rad >= PI / 2.0 {
        return None;
    }
    // The widest longitude difference seen from latitude φ at angular distance δ is
    // asin(sin δ / cos φ); a small relative margin absorbs rounding so that a box never
    // misses a point that the exact haversine test would keep.
    let ratio = delta_rad.sin() / abs_lat_deg.to_radians().cos();
    if ratio >= 1.0 {
        return None;
    }
    Some(ratio.asin().to_degrees() * (1.0 + 1e-9) + 1e-12)
}

/// Bounding boxes `[min_lon, min_lat, max_lon, max_lat]` that together hold every point within
/// `radius_m` of (`lat`, `lon`). A box that would cross the antimeridian is split in two, so the
/// second entry is `Some` only then.
pub(crate) fn search_boxes(lat: f64, lon: f64, radius_m: f64) -> ([f64; 4], Option<[f64; 4]>) {
    let delta = radius_m.max(0.0) / EARTH_RADIUS_M;
    let dlat = delta.to_degrees() * (1.0 + 1e-9) + 1e-12;
    let min_lat = (lat - dlat).max(-90.0);
    let max_lat = (lat + dlat).min(90.0);
    let far_lat = (lat.abs() + dlat).min(90.0);
    let Some(dlon) = lon_reach_deg(lat.abs(), delta).filter(|_| far_lat < 90.0) else {
        return ([-180.0, min_lat, 180.0, max_lat], None);
    };
    let (lo, hi) = (lon - dlon, lon + dlon);
    if hi - lo >= 360.0 {
        ([-180.0, min_lat, 180.0, max_lat], None)
    } else if lo < -180.0 {
        (
            [-180.0, min_lat, hi, max_lat],
            Some([lo + 360.0, min_lat, 180.0, max_lat]),
        )
    } else if hi > 180.0 {
        (
            [lo, min_lat, 180.0, max_lat],
            Some([-180.0, min_lat, hi - 360.0, max_lat]),
        )
    } else {
        ([lo, min_lat, hi, max_lat], None)
    }
}

/// The unit vector of a point on the sphere, used for distance filtering without trigonometry:
/// the straight-line (chord) distance between unit vectors is monotonic in the great-circle
/// distance.
pub(crate) fn unit_vector(lat: f64, lon: f64) -> [f64; 3] {
    let (sp, cp) = lat.to_radians().sin_cos();
    let (sl, cl) = lon.to_radians().sin_cos();
    [cp * cl, cp * sl, sp]
}

/// The squared chord between unit vectors that corresponds to a great-circle distance of
/// `radius_m`, with a relative margin of 1e-9 so that a filter on it never drops a point that
/// the exact distance would keep.
pub(crate) fn chord2_for_radius(radius_m: f64) -> f64 {
    let half = (radius_m / (2.0 * EARTH_RADIUS_M)).min(PI / 2.0);
    let c = 2.0 * half.sin();
    c * c * (1.0 + 1e-9) + 1e-300
}

/// The squared chord between two unit vectors.
pub(crate) fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    dx * dx + dy * dy + dz * dz
}

/// The great-circle distance in metres between two unit vectors when it is within `radius_m`,
/// where `max_c2` is [`chord2_for_radius`] of it: the chord rejects the farther points without
/// trigonometry, and only the points kept get their distance.
pub(crate) fn distance_within(
    a: &[f64; 3],
    b: &[f64; 3],
    max_c2: f64,
    radius_m: f64,
) -> Option<f64> {
    let c2 = chord2(a, b);
    if c2 > max_c2 {
        return None;
    }
    Some(chord2_to_m(c2)).filter(|&d| d <= radius_m)
}

/// The great-circle distance in metres for a squared chord between unit vectors. It agrees with
/// [`haversine_m`] to about a nanometre at game distances.
pub(crate) fn chord2_to_m(c2: f64) -> f64 {
    let x = c2.sqrt() * 0.5;
    if x < 1e-3 {
        // asin's Taylor series; below 1e-3 (about 12 km) the first omitted term, 5x⁷/112, is
        // under 1e-22 and so far below the last bit of the result. It is several times cheaper
        // than calling asin, and nearby queries evaluate it for every result.
        let x2 = x * x;
        2.0 * EARTH_RADIUS_M * x * (1.0 + x2 * (1.0 / 6.0 + x2 * (3.0 / 40.0)))
    } else {
        2.0 * EARTH_RADIUS_M * x.min(1.0).asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        // One degree of latitude along a meridian is R·π/180.
        let d = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - METRES_PER_DEGREE).abs() < 1e-6, "{d}");
        // Across the antimeridian the short way round.
        let d = haversine_m(0.0, 179.999, 0.0, -179.999);
        assert!((d - 0.002 * METRES_PER_DEGREE).abs() < 1e-3, "{d}");
        // Antipodes are half the circumference and never NaN (asin is ill-conditioned there, so
        // the tolerance is a metre).
        let d = haversine_m(10.0, 20.0, -10.0, -160.0);
        assert!((d - PI * EARTH_RADIUS_M).abs() < 2.0, "{d}");
    }

    #[test]
    fn bearing_points_the_right_way() {
        assert!((bearing_deg(0.0, 0.0, 1.0, 0.0) - 0.0).abs() < 1e-9);
        assert!((bearing_deg(0.0, 0.0, 0.0, 1.0) - 90.0).abs() < 1e-9);
        assert!((bearing_deg(0.0, 0.0, -1.0, 0.0) - 180.0).abs() < 1e-9);
        assert!((bearing_deg(0.0, 0.0, 0.0, -1.0) - 270.0).abs() < 1e-9);
        let b = bearing_deg(0.0, 0.0, 1e-12, -1e-9);
        assert!((0.0..360.0).contains(&b), "{b}");
    }

    #[test]
    fn destination_round_trips_distance_and_bearing() {
        for &(lat, lon) in &[
            (47.6, -122.0),
            (0.0, 179.9999),
            (89.9995, 10.0),
            (-89.9, -179.0),
        ] {
            for k in 0..16 {
                let b = f64::from(k) * PI / 8.0;
                let (la, lo) = destination(lat, lon, b, 123.0);
                assert!((-180.0..180.0).contains(&lo));
                let d = haversine_m(lat, lon, la, lo);
                assert!((d - 123.0).abs() < 1e-3, "{lat},{lon} bearing {b}: {d}");
            }
        }
    }

    #[test]
    fn search_boxes_split_at_the_antimeridian_and_open_at_poles() {
        let (a, b) = search_boxes(0.0, 179.9999, 100.0);
        let b = b.expect("split");
        assert_eq!(a[2], 180.0);
        assert_eq!(b[0], -180.0);
        let (a, b) = search_boxes(89.9999, 0.0, 100.0);
        assert!(b.is_none());
        assert_eq!((a[0], a[2], a[3]), (-180.0, 180.0, 90.0));
    }

    #[test]
    fn chord_distance_matches_haversine() {
        for &(a, b) in &[
            ((47.6, -122.0), (47.601, -122.002)),
            ((0.0, 179.9999), (0.0, -179.9999)),
            ((89.9999, 0.0), (89.9999, 180.0)),
            ((10.0, 20.0), (-10.0, -160.0)),
        ] {
            let d = haversine_m(a.0, a.1, b.0, b.1);
            let c = chord2_to_m(chord2(&unit_vector(a.0, a.1), &unit_vector(b.0, b.1)));
            assert!((d - c).abs() < 1e-6 * d.max(1.0), "{d} vs {c}");
            assert!(chord2(&unit_vector(a.0, a.1), &unit_vector(b.0, b.1)) <= chord2_for_radius(d));
        }
    }

    #[test]
    fn normalize_lon_wraps() {
        assert_eq!(normalize_lon(180.0), -180.0);
        assert_eq!(normalize_lon(-180.0), -180.0);
        assert!((normalize_lon(190.0) + 170.0).abs() < 1e-9);
        assert!((normalize_lon(-190.0) - 170.0).abs() < 1e-9);
    }
}
