//! Validating one zone of 9,999 vertices as an operator uploads it:
//! `parse_zone_feature` (which checks the rings with the R-tree of
//! segments in `zone/simple.rs`) against geo's `Validation` of the same
//! polygon (every pair of segments), the baseline, in the same run. Two
//! shapes: an outline (a surveyed boundary: short segments, each box
//! meeting only its neighbours') and a star of long thin spikes (the
//! abuse case: each segment's box meets hundreds of others).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use geo::{Coord, LineString, Polygon, Validation};
use serde_json::json;

const VERTICES: usize = 9_999;

/// A ring of `n` vertices around (lon, lat) = (-122.03, 47.61), about
/// 600 m across, alternating between radii `outer` and `inner`: simple.
fn ring(n: usize, outer: f64, inner: f64) -> Vec<Coord<f64>> {
    (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            let r = if i % 2 == 0 { outer } else { inner };
            Coord {
                x: -122.03 + r * a.cos(),
                y: 47.61 + r * a.sin(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    shape(c, "outline", ring(VERTICES, 0.003, 0.002_99));
    shape(c, "star", ring(VERTICES, 0.003, 0.002));
}

fn shape(c: &mut Criterion, name: &str, mut ring: Vec<Coord<f64>>) {
    ring.push(ring[0]);
    let coords: Vec<[f64; 2]> = ring.iter().map(|c| [c.x, c.y]).collect();
    let feature = json!({
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coords]},
        "properties": {"name": "big", "reason": "bench"}
    });
    let polygon = Polygon::new(LineString(ring), vec![]);
    assert!(spawner::parse_zone_feature(&feature).is_ok());
    assert!(polygon.is_valid());
    let mut g = c.benchmark_group(format!("zone_validation_9999_vertices_{name}"));
    g.sample_size(10);
    g.bench_function("parse_zone_feature (indexed)", |b| {
        b.iter(|| spawner::parse_zone_feature(black_box(&feature)).is_ok())
    });
    g.bench_function("geo Validation (baseline)", |b| {
        b.iter(|| black_box(&polygon).is_valid())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
