//! Zone geometry prepared for exact tests: antimeridian unwrapping, pole closure, validation,
//! index envelopes, and the point-in-zone test including the `buffer_m` margin.
//!
//! Zones are planar polygons in (longitude, latitude) degrees, as GeoJSON means them. A ring
//! whose consecutive longitudes jump by more than 180 degrees is taken to cross the antimeridian
//! the short way, and is "unwrapped" into continuous longitudes (179.9 then -179.9 becomes
//! 179.9 then 180.1). A ring whose unwrapped longitudes end one full turn from where they began
//! goes around a pole; it is closed through the nearer pole, so it covers the polar cap.
//! Points are tested at every 360-degree shift that lands in the polygon's longitude range.

use geo::{Coord, Intersects, LineString, MultiPolygon, Polygon};

use super::error::{RingRef, ZoneError};
use super::simple::Invalid;
use crate::geodesy::{EARTH_RADIUS_M, haversine_m, lon_reach_deg};

/// Sub-segments shorter than this (m) are not split further when deciding whether a point lies
/// within the buffer; the test then answers "excluded", so it errs by at most this much, and
/// always on the side of keeping creatures out.
const BUFFER_TOLERANCE_M: f64 = 0.1;

/// One polygon in unwrapped coordinates, with its bounding box.
#[derive(Debug, Clone)]
pub(crate) struct PreparedPolygon {
    pub(crate) poly: Polygon<f64>,
    /// `[min_lon, min_lat, max_lon, max_lat]`; longitudes may lie outside [-180, 180].
    pub(crate) bbox: [f64; 4],
}

/// A zone's polygons ready for testing.
#[derive(Debug, Clone)]
pub(crate) struct PreparedZone {
    pub(crate) polys: Vec<PreparedPolygon>,
    pub(crate) buffer_m: f64,
}

/// The result of unwrapping one ring.
struct UnwrappedRing {
    coords: Vec<Coord<f64>>,
    /// Full turns around the globe: 0 for an ordinary ring, ±1 around a pole.
    turns: i64,
}

/// Unwraps a closed ring into continuous longitudes and closes a ring around a pole through it.
fn unwrap_ring(ring: &LineString<f64>) -> UnwrappedRing {
    let src = &ring.0;
    let mut coords: Vec<Coord<f64>> = Vec::with_capacity(src.len() + 3);
    // Each position keeps its raw longitude plus a whole number of turns, rather than a running
    // sum of differences, so that equal raw positions stay bit-for-bit equal and a closed ring
    // stays exactly closed.
    let mut turn = 0i64;
    let mut prev_raw: Option<f64> = None;
    for c in src {
        if let Some(p) = prev_raw {
            // Each step takes the short way round: a jump of more than 180 degrees is a
            // crossing of the antimeridian.
            let d = c.x - p;
            if d > 180.0 {
                turn -= 1;
            } else if d < -180.0 {
                turn += 1;
            }
        }
        prev_raw = Some(c.x);
        coords.push(Coord {
            x: c.x + 360.0 * turn as f64,
            y: c.y,
        });
    }
    let (Some(first), Some(last)) = (coords.first().copied(), coords.last().copied()) else {
        return UnwrappedRing { coords, turns: 0 };
    };
    let turns = turn;
    if turns.abs() == 1 {
        // The ring goes once around a pole. Which pole it encloses is ambiguous on a sphere;
        // take the one on the ring's side of the equator (the smaller cap), and walk to it and
        // back along the meridians at both ends.
        let mean_lat = coords.iter().map(|c| c.y).sum::<f64>() / coords.len() as f64;
        let pole = if mean_lat >= 0.0 { 90.0 } else { -90.0 };
        coords.push(Coord { x: last.x, y: pole });
        coords.push(Coord {
            x: first.x,
            y: pole,
        });
        coords.push(first);
    }
    UnwrappedRing { coords, turns }
}

fn bbox_of(coords: &[Coord<f64>]) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for c in coords {
        b[0] = b[0].min(c.x);
        b[1] = b[1].min(c.y);
        b[2] = b[2].max(c.x);
        b[3] = b[3].max(c.y);
    }
    b
}

/// Unwraps one polygon. Holes are shifted by whole turns so that they sit over the exterior.
/// Returns the prepared polygon and the turn count of every ring (for validation).
fn unwrap_polygon(p: &Polygon<f64>) -> (PreparedPolygon, Vec<i64>) {
    let ext = unwrap_ring(p.exterior());
    let ext_box = bbox_of(&ext.coords);
    let ext_mid = (ext_box[0] + ext_box[2]) * 0.5;
    let mut turns = vec![ext.turns];
    let mut holes = Vec::with_capacity(p.interiors().len());
    for hole in p.interiors() {
        let mut h = unwrap_ring(hole);
        let hb = bbox_of(&h.coords);
        let shift = ((ext_mid - (hb[0] + hb[2]) * 0.5) / 360.0).round() * 360.0;
        if shift != 0.0 && shift.is_finite() {
            for c in &mut h.coords {
                c.x += shift;
            }
        }
        turns.push(h.turns);
        holes.push(LineString(h.coords));
    }
    let poly = Polygon::new(LineString(ext.coords), holes);
    (
        PreparedPolygon {
            poly,
            bbox: ext_box,
        },
        turns,
    )
}

impl PreparedZone {
    /// Prepares a zone without validating it. It never fails, so a zone built in code (rather
    /// than parsed) is still indexed on a best-effort basis.
    pub(crate) fn new(geometry: &MultiPolygon<f64>, buffer_m: f64) -> Self {
        let polys = geometry.0.iter().map(|p| unwrap_polygon(p).0).collect();
        let buffer_m = if buffer_m.is_finite() {
            buffer_m.max(0.0)
        } else {
            0.0
        };
        PreparedZone { polys, buffer_m }
    }

    /// Whether the point (degrees, longitude in [-180, 180]) is inside the zone or within
    /// `buffer_m` of it.
    pub(crate) fn covers(&self, lat: f64, lon: f64) -> bool {
        self.polys.iter().any(|p| p.covers(lat, lon, self.buffer_m))
    }

    /// Index envelopes `[min_lon, min_lat, max_lon, max_lat]` within [-180, 180], each with the
    /// polygon it belongs to. Together they hold every point that `covers` may accept.
    pub(crate) fn envelopes(&self) -> Vec<(u32, [f64; 4])> {
        let mut out = Vec::new();
        for (i, p) in self.polys.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            p.envelopes(self.buffer_m, |e| out.push((i, e)));
        }
        out
    }
}

impl PreparedPolygon {
    /// Calls `f` with each envelope of this polygon, expanded by the buffer and repeated at
    /// every 360-degree shift that overlaps [-180, 180].
    fn envelopes(&self, buffer_m: f64, mut f: impl FnMut([f64; 4])) {
        let [lo, min_lat, hi, max_lat] = self.bbox;
        if !(lo.is_finite() && hi.is_finite() && min_lat.is_finite() && max_lat.is_finite()) {
            return;
        }
        let (dlat, dlon) = if buffer_m > 0.0 {
            let delta = buffer_m / EARTH_RADIUS_M;
            let abs_lat = min_lat.abs().max(max_lat.abs());
            (
                delta.to_degrees() * (1.0 + 1e-9) + 1e-12,
                lon_reach_deg(abs_lat, delta),
            )
        } else {
            (0.0, Some(0.0))
        };
        let min_lat = (min_lat - dlat).max(-90.0);
        let max_lat = (max_lat + dlat).min(90.0);
        let Some(dlon) = dlon else {
            // A pole is within the buffer, so points at every longitude may be close.
            return f([-180.0, min_lat, 180.0, max_lat]);
        };
        let (lo, hi) = (lo - dlon, hi + dlon);
        if hi - lo >= 360.0 {
            return f([-180.0, min_lat, 180.0, max_lat]);
        }
        let k_min = ((-180.0 - hi) / 360.0).ceil() as i64;
        let k_max = ((180.0 - lo) / 360.0).floor() as i64;
        for k in k_min..=k_max {
            let s = 360.0 * k as f64;
            f([(lo + s).max(-180.0), min_lat, (hi + s).min(180.0), max_lat]);
        }
    }

    /// Exact test: inside (boundary included) at some 360-degree shift, or within `buffer_m` of
    /// the boundary.
    pub(crate) fn covers(&self, lat: f64, lon: f64, buffer_m: f64) -> bool {
        self.contains(lat, lon) || (buffer_m > 0.0 && self.boundary_within(lat, lon, buffer_m))
    }

    fn contains(&self, lat: f64, lon: f64) -> bool {
        let [lo, min_lat, hi, max_lat] = self.bbox;
        if lat < min_lat || lat > max_lat {
            return false;
        }
        let m_min = ((lo - lon) / 360.0).ceil() as i64;
        let m_max = ((hi - lon) / 360.0).floor() as i64;
        (m_min..=m_max).any(|m| {
            let c = Coord {
                x: lon + 360.0 * m as f64,
                y: lat,
            };
            self.poly.intersects(&c)
        })
    }

    /// Whether some point of the boundary lies within `buffer_m` metres (great-circle) of the
    /// point. Haversine is periodic in longitude, so no shifting is needed here.
    fn boundary_within(&self, lat: f64, lon: f64, buffer_m: f64) -> bool {
        let dlat = (buffer_m / EARTH_RADIUS_M).to_degrees() * (1.0 + 1e-9) + 1e-9;
        let rings = std::iter::once(self.poly.exterior()).chain(self.poly.interiors());
        for ring in rings {
            for w in ring.0.windows(2) {
                let (a, b) = (w[0], w[1]);
                // Latitude difference alone is a lower bound on distance, which rejects most
                // edges with two comparisons.
                if lat < a.y.min(b.y) - dlat || lat > a.y.max(b.y) + dlat {
                    continue;
                }
                let da = haversine_m(lat, lon, a.y, a.x);
                let db = haversine_m(lat, lon, b.y, b.x);
                if segment_within(lat, lon, a, b, da, db, buffer_m, 0) {
                    return true;
                }
            }
        }
        false
    }
}

/// An upper bound of the length (m) of the path that runs linearly in (lon, lat) from `a` to `b`.
fn segment_length_bound(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let dphi = (b.y - a.y).to_radians();
    let dlam = (b.x - a.x).to_radians();
    // Along the path cos(lat) is largest where |lat| is smallest: at an end, or 1 at the equator.
    let cmax = if a.y.signum() != b.y.signum() {
        1.0
    } else {
        a.y.abs().min(b.y.abs()).to_radians().cos()
    };
    EARTH_RADIUS_M * (dphi * dphi + cmax * cmax * dlam * dlam).sqrt()
}

/// Whether the (lon, lat)-linear segment `a`–`b` comes within `buf` metres of the point, given
/// the distances `da`, `db` from the point to its ends. By the triangle inequality, every point
/// of the segment is at least (da + db - length) / 2 away; halving the segment tightens that
/// bound until it decides, or until the pieces are shorter than the tolerance.
#[allow(clippy::too_many_arguments)]
fn segment_within(
    lat: f64,
    lon: f64,
    a: Coord<f64>,
    b: Coord<f64>,
    da: f64,
    db: f64,
    buf: f64,
    depth: u32,
) -> bool {
    if da <= buf || db <= buf {
        return true;
    }
    let len = segment_length_bound(a, b);
    if (da + db - len) * 0.5 > buf {
        return false;
    }
    if len <= BUFFER_TOLERANCE_M || depth >= 60 {
        return true;
    }
    let m = Coord {
        x: (a.x + b.x) * 0.5,
        y: (a.y + b.y) * 0.5,
    };
    let dm = haversine_m(lat, lon, m.y, m.x);
    segment_within(lat, lon, a, m, da, dm, buf, depth + 1)
        || segment_within(lat, lon, m, b, dm, db, buf, depth + 1)
}

/// Validates a geometry whose rings are already known to be closed, long enough and in range:
/// no ring winds around the globe more than once, and each unwrapped polygon is valid in the
/// OGC sense (`simple.rs`: no self-intersection, holes inside, rings not crossing).
/// Overlap between the polygons of a MultiPolygon is allowed: for exclusion it is harmless.
pub(crate) fn validate(geometry: &MultiPolygon<f64>) -> Result<(), ZoneError> {
    for (pi, p) in geometry.0.iter().enumerate() {
        let (prepared, turns) = unwrap_polygon(p);
        for (ri, t) in turns.iter().enumerate() {
            if t.abs() > 1 {
                return Err(ZoneError::WindsAroundGlobe {
                    ring: RingRef {
                        polygon: pi,
                        ring: ri,
                    },
                });
            }
        }
        let rings = std::iter::once(prepared.poly.exterior()).chain(prepared.poly.interiors());
        for (ri, ring) in rings.enumerate() {
            let b = bbox_of(&ring.0);
            if b[2] - b[0] > 360.0 {
                // After unwrapping, a ring wider than the globe overlaps itself on the sphere.
                return Err(ZoneError::SelfIntersecting {
                    ring: RingRef {
                        polygon: pi,
                        ring: ri,
                    },
                });
            }
        }
        if let Err(e) = super::simple::check(&prepared.poly) {
            let at = |ring| RingRef { polygon: pi, ring };
            return Err(match e {
                Invalid::TooFewPoints(r) => ZoneError::DegenerateRing { ring: at(r) },
                Invalid::SelfIntersection(r) => ZoneError::SelfIntersecting { ring: at(r) },
                Invalid::HoleOutside(r) => ZoneError::HoleOutsideExterior { ring: at(r) },
                Invalid::RingsIntersect(a, b) => ZoneError::RingsIntersect {
                    first: at(a),
                    second: at(b),
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn zone(p: Polygon<f64>, buffer_m: f64) -> PreparedZone {
        PreparedZone::new(&MultiPolygon(vec![p]), buffer_m)
    }

    #[test]
    fn unwraps_a_ring_across_the_antimeridian() {
        let p = polygon![(x: 179.9, y: -1.0), (x: -179.9, y: -1.0), (x: -179.9, y: 1.0), (x: 179.9, y: 1.0), (x: 179.9, y: -1.0)];
        validate(&MultiPolygon(vec![p.clone()])).unwrap();
        let z = zone(p, 0.0);
        assert!(z.covers(0.0, 180.0));
        assert!(z.covers(0.0, -180.0));
        assert!(z.covers(0.0, 179.95));
        assert!(z.covers(0.0, -179.95));
        assert!(!z.covers(0.0, 179.8));
        assert!(!z.covers(0.0, -179.8));
        assert!(!z.covers(0.0, 0.0));
        // Both halves show up as envelopes inside [-180, 180].
        let envs = z.envelopes();
        assert_eq!(envs.len(), 2, "{envs:?}");
    }

    #[test]
    fn closes_a_ring_around_the_pole() {
        let p = polygon![(x: 0.0, y: 89.0), (x: 90.0, y: 89.0), (x: 180.0, y: 89.0), (x: -90.0, y: 89.0), (x: 0.0, y: 89.0)];
        validate(&MultiPolygon(vec![p.clone()])).unwrap();
        let z = zone(p, 0.0);
        for lon in [-180.0, -135.0, -1.0, 0.0, 45.0, 179.99] {
            assert!(z.covers(89.5, lon), "{lon}");
            assert!(z.covers(90.0, lon), "{lon}");
            assert!(!z.covers(88.5, lon), "{lon}");
        }
    }

    #[test]
    fn buffer_counts_points_near_the_edge_in_metres() {
        // A square of about 111 m a side at the equator, with a 50 m buffer.
        let d = 0.001;
        let p = polygon![(x: 0.0, y: 0.0), (x: d, y: 0.0), (x: d, y: d), (x: 0.0, y: d), (x: 0.0, y: 0.0)];
        let z = zone(p, 50.0);
        let m = 1.0 / crate::geodesy::METRES_PER_DEGREE;
        assert!(z.covers(d * 0.5, d + 49.0 * m));
        assert!(!z.covers(d * 0.5, d + 51.0 * m));
        assert!(z.covers(-49.0 * m, d * 0.5));
        assert!(!z.covers(-51.0 * m, d * 0.5));
        // Near a corner the distance is to the corner itself.
        let c = 35.0 * m;
        assert!(z.covers(-c, -c)); // 49.5 m from the corner
        assert!(!z.covers(-37.0 * m, -37.0 * m)); // 52.3 m
        for (_, e) in z.envelopes() {
            assert!(e[0] <= -50.0 * m && e[2] >= d + 50.0 * m);
        }
    }

    #[test]
    fn buffer_near_the_pole_reaches_across_it() {
        // A small square just short of the pole; its 2 km buffer covers the pole itself, so
        // points on the far side of the pole, at the opposite longitude, are excluded.
        let p = polygon![(x: 0.0, y: 89.99), (x: 1.0, y: 89.99), (x: 1.0, y: 89.995), (x: 0.0, y: 89.995), (x: 0.0, y: 89.99)];
        let z = zone(p, 2000.0);
        assert!(z.covers(89.995, 180.0));
        assert!(!z.covers(89.9, 180.0));
        let envs = z.envelopes();
        assert_eq!(envs.len(), 1);
        assert_eq!((envs[0].1[0], envs[0].1[2]), (-180.0, 180.0));
    }

    #[test]
    fn holes_are_not_excluded_unless_within_buffer() {
        let p = polygon![
            exterior: [(x: 0.0, y: 0.0), (x: 0.01, y: 0.0), (x: 0.01, y: 0.01), (x: 0.0, y: 0.01), (x: 0.0, y: 0.0)],
            interiors: [[(x: 0.004, y: 0.004), (x: 0.006, y: 0.004), (x: 0.006, y: 0.006), (x: 0.004, y: 0.006), (x: 0.004, y: 0.004)]],
        ];
        validate(&MultiPolygon(vec![p.clone()])).unwrap();
        assert!(!zone(p.clone(), 0.0).covers(0.005, 0.005));
        assert!(zone(p.clone(), 0.0).covers(0.002, 0.002));
        // The hole's edge is 0.001 degrees (111 m) from its centre.
        assert!(zone(p.clone(), 120.0).covers(0.005, 0.005));
        assert!(!zone(p, 100.0).covers(0.005, 0.005));
    }

    #[test]
    fn validation_maps_geo_errors() {
        let bow = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)];
        assert!(matches!(
            validate(&MultiPolygon(vec![bow])),
            Err(ZoneError::SelfIntersecting { .. })
        ));
        let twice = polygon![(x: 0.0, y: 80.0), (x: 120.0, y: 80.0), (x: -120.0, y: 80.0), (x: 0.0, y: 80.0),
            (x: 120.0, y: 81.0), (x: -120.0, y: 81.0), (x: 0.0, y: 80.0)];
        assert!(matches!(
            validate(&MultiPolygon(vec![twice])),
            Err(ZoneError::WindsAroundGlobe { .. })
        ));
    }
}
