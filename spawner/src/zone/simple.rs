//! Whether one zone polygon is valid in the OGC sense, in O(n log n): its
//! rings are simple (no segment meets another except its neighbours at
//! their shared vertex), rings touch one another at points at most, every
//! hole lies inside the exterior and outside the other holes. The segments
//! go into an R-tree and only segments whose boxes meet are tested against
//! each other; geo's `Validation` compares every pair, which took over a
//! second of CPU for one 10,000-vertex ring.

use geo::algorithm::line_intersection::{LineIntersection, line_intersection};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{Coord, Line, LineString, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};

/// What is wrong with a polygon; rings by index (0: the exterior, `i`: hole
/// `i - 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The ring has fewer than three distinct positions.
    TooFewPoints(usize),
    /// The ring crosses or touches itself.
    SelfIntersection(usize),
    /// The hole is not inside the exterior.
    HoleOutside(usize),
    /// The two rings cross, share a stretch of boundary, or (two holes)
    /// one lies inside the other.
    RingsIntersect(usize, usize),
}

/// One segment of a ring.
struct Segment {
    line: Line<f64>,
    ring: usize,
    index: usize,
    /// Segments in its ring.
    of: usize,
}

impl RTreeObject for Segment {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        let (a, b) = (self.line.start, self.line.end);
        AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)])
    }
}

/// A ring's positions without repeats in a row and without the closing one.
fn vertices(ring: &LineString<f64>) -> Vec<Coord<f64>> {
    let mut v: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        if v.last() != Some(c) {
            v.push(*c);
        }
    }
    if v.len() > 1 && v.first() == v.last() {
        v.pop();
    }
    v
}

fn bbox(v: &[Coord<f64>]) -> AABB<[f64; 2]> {
    let pts: Vec<[f64; 2]> = v.iter().map(|c| [c.x, c.y]).collect();
    AABB::from_points(pts.iter())
}

/// Where `ring` lies relative to `outer`: the position of its first vertex
/// that is not on `outer`'s boundary (none when every vertex is on it).
fn side_of(ring: &[Coord<f64>], outer: &Polygon<f64>) -> Option<CoordPos> {
    ring.iter()
        .map(|c| outer.coordinate_position(c))
        .find(|p| *p != CoordPos::OnBoundary)
}

/// Checks `poly`; the first fault found, if any.
pub(crate) fn check(poly: &Polygon<f64>) -> Result<(), Invalid> {
    let rings: Vec<Vec<Coord<f64>>> = std::iter::once(poly.exterior())
        .chain(poly.interiors())
        .map(vertices)
        .collect();
    let mut segments = Vec::new();
    for (r, v) in rings.iter().enumerate() {
        if v.len() < 3 {
            return Err(Invalid::TooFewPoints(r));
        }
        let n = v.len();
        segments.extend((0..n).map(|i| Segment {
            line: Line::new(v[i], v[(i + 1) % n]),
            ring: r,
            index: i,
            of: n,
        }));
    }
    let tree = RTree::bulk_load(segments);
    for a in tree.iter() {
        for b in tree.locate_in_envelope_intersecting(&a.envelope()) {
            if (b.ring, b.index) <= (a.ring, a.index) {
                continue;
            }
            let Some(hit) = line_intersection(a.line, b.line) else {
                continue;
            };
            if a.ring == b.ring {
                // Neighbours meet at their shared vertex, and only there
                // unless they fold back over each other.
                let neighbours = b.index == a.index + 1 || (a.index == 0 && b.index + 1 == a.of);
                if !(neighbours && matches!(hit, LineIntersection::SinglePoint { .. })) {
                    return Err(Invalid::SelfIntersection(a.ring));
                }
            } else if !matches!(
                hit,
                LineIntersection::SinglePoint {
                    is_proper: false,
                    ..
                }
            ) {
                return Err(Invalid::RingsIntersect(a.ring, b.ring));
            }
        }
    }
    // No ring crosses another now, so one vertex off the other's boundary
    // tells which side a ring is on.
    let ring_polygon = |r: usize| {
        let mut closed = rings[r].clone();
        closed.push(rings[r][0]);
        Polygon::new(LineString(closed), vec![])
    };
    let exterior = ring_polygon(0);
    for (h, ring) in rings.iter().enumerate().skip(1) {
        if side_of(ring, &exterior) == Some(CoordPos::Outside) {
            return Err(Invalid::HoleOutside(h));
        }
    }
    // Holes inside holes: only pairs whose boxes meet are looked at.
    let boxes: Vec<AABB<[f64; 2]>> = rings.iter().map(|v| bbox(v)).collect();
    let holes = RTree::bulk_load(
        (1..rings.len())
            .map(|h| GeomWithData::new(Rectangle::from_aabb(boxes[h]), h))
            .collect(),
    );
    for h in 1..rings.len() {
        for other in holes.locate_in_envelope_intersecting(&boxes[h]) {
            let o = other.data;
            if o == h {
                continue;
            }
            if side_of(&rings[h], &ring_polygon(o)) == Some(CoordPos::Inside) {
                return Err(Invalid::RingsIntersect(o.min(h), o.max(h)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use geo::{Validation, polygon};

    use super::*;

    fn square(x: f64, y: f64, d: f64) -> Vec<(f64, f64)> {
        vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)]
    }

    fn ls(points: &[(f64, f64)]) -> LineString<f64> {
        LineString::from(points.to_vec())
    }

    #[test]
    fn finds_what_geo_finds_on_small_cases() {
        let outer = ls(&square(0.0, 0.0, 10.0));
        let cases: Vec<(Polygon<f64>, Result<(), Invalid>)> = vec![
            (Polygon::new(outer.clone(), vec![]), Ok(())),
            (
                polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)],
                Err(Invalid::SelfIntersection(0)),
            ),
            // A spike: the ring folds back along itself.
            (
                Polygon::new(
                    ls(&[(0.0, 0.0), (4.0, 0.0), (2.0, 0.0), (2.0, 3.0), (0.0, 0.0)]),
                    vec![],
                ),
                Err(Invalid::SelfIntersection(0)),
            ),
            // Repeated positions are not faults; two distinct ones are.
            (
                Polygon::new(
                    ls(&[(0.0, 0.0), (0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
                    vec![],
                ),
                Ok(()),
            ),
            (
                Polygon::new(
                    ls(&[(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (0.0, 0.0)]),
                    vec![],
                ),
                Err(Invalid::TooFewPoints(0)),
            ),
            (
                Polygon::new(outer.clone(), vec![ls(&square(2.0, 2.0, 2.0))]),
                Ok(()),
            ),
            // A hole touching the exterior at one corner is allowed.
            (
                Polygon::new(
                    outer.clone(),
                    vec![ls(&[(0.0, 0.0), (3.0, 1.0), (1.0, 3.0), (0.0, 0.0)])],
                ),
                Ok(()),
            ),
            (
                Polygon::new(outer.clone(), vec![ls(&square(20.0, 20.0, 2.0))]),
                Err(Invalid::HoleOutside(1)),
            ),
            (
                Polygon::new(outer.clone(), vec![ls(&square(8.0, 8.0, 4.0))]),
                Err(Invalid::RingsIntersect(0, 1)),
            ),
            // A hole sharing a stretch of the exterior's edge.
            (
                Polygon::new(outer.clone(), vec![ls(&square(0.0, 2.0, 2.0))]),
                Err(Invalid::RingsIntersect(0, 1)),
            ),
            // A hole inside a hole, and two crossing holes.
            (
                Polygon::new(
                    outer.clone(),
                    vec![ls(&square(1.0, 1.0, 6.0)), ls(&square(2.0, 2.0, 1.0))],
                ),
                Err(Invalid::RingsIntersect(1, 2)),
            ),
            (
                Polygon::new(
                    outer.clone(),
                    vec![ls(&square(1.0, 1.0, 3.0)), ls(&square(2.0, 2.0, 3.0))],
                ),
                Err(Invalid::RingsIntersect(1, 2)),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(check(&p), want, "{p:?}");
            assert_eq!(want.is_ok(), p.is_valid(), "geo agrees on {p:?}");
        }
    }

    /// A star with `n` points on two radii: simple, and with one vertex
    /// moved across the centre, not.
    fn star(n: usize) -> Vec<Coord<f64>> {
        (0..2 * n)
            .map(|i| {
                let a = std::f64::consts::PI * i as f64 / n as f64;
                let r = if i % 2 == 0 { 1.0 } else { 0.6 };
                Coord {
                    x: r * a.cos(),
                    y: r * a.sin(),
                }
            })
            .collect()
    }

    #[test]
    fn a_ten_thousand_vertex_ring_is_judged_like_geo_judges_it() {
        let mut v = star(5_000);
        let closed = |v: &[Coord<f64>]| {
            let mut c = v.to_vec();
            c.push(v[0]);
            Polygon::new(LineString(c), vec![])
        };
        assert_eq!(check(&closed(&v)), Ok(()));
        v[2_500] = Coord { x: -0.9, y: 0.0 };
        assert_eq!(check(&closed(&v)), Err(Invalid::SelfIntersection(0)));
    }
}
