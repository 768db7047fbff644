//! Shared data for the spawner benchmarks: a city-sized box of random creatures, POIs and zones.
#![allow(dead_code, unreachable_pub)]

use std::time::Instant;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spawner::{Creature, Poi, Rarity, Zone, ZoneSpec};

/// The benchmark area: about 44 km by 45 km around Seattle.
pub const LAT: (f64, f64) = (47.4, 47.8);
pub const LON: (f64, f64) = (-122.5, -121.9);

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn random_point(rng: &mut ChaCha8Rng) -> (f64, f64) {
    (
        rng.random_range(LAT.0..LAT.1),
        rng.random_range(LON.0..LON.1),
    )
}

pub fn creatures(n: usize, seed: u64) -> Vec<Creature> {
    let mut r = rng(seed);
    let species: std::sync::Arc<str> = "mossling".into();
    (0..n)
        .map(|i| {
            let (lat, lon) = random_point(&mut r);
            Creature {
                id: format!("c-{i:016x}"),
                species: species.clone(),
                rarity: Rarity::Common,
                lat,
                lon,
                poi_id: "poi-bench".into(),
                spawned_at_ms: 0,
                expires_at_ms: i64::MAX,
            }
        })
        .collect()
}

pub fn pois(n: usize, seed: u64) -> Vec<Poi> {
    let mut r = rng(seed);
    (0..n)
        .map(|i| {
            let (lat, lon) = random_point(&mut r);
            Poi {
                id: format!("poi-{i}"),
                name: format!("place {i}"),
                lat,
                lon,
                weight: if i % 10 == 0 { 3.0 } else { 1.0 },
                sponsor: (i % 10 == 0).then(|| "sponsor".to_owned()),
            }
        })
        .collect()
}

/// `n` star-shaped zones of 6 to 10 vertices and 40 to 150 m radius; every fourth has a hole
/// and every third a buffer of 10 m.
pub fn zones(n: usize, seed: u64) -> Vec<Zone> {
    let mut r = rng(seed);
    (0..n)
        .map(|i| {
            let (lat, lon) = random_point(&mut r);
            let k = r.random_range(6..=10);
            let kx = 1.0 / (111_195.0 * lat.to_radians().cos());
            let ky = 1.0 / 111_195.0;
            let radii: Vec<f64> = (0..k).map(|_| r.random_range(40.0..150.0)).collect();
            let ring = |scale: f64| {
                let mut c: Vec<Coord<f64>> = radii
                    .iter()
                    .enumerate()
                    .map(|(j, rad)| {
                        let a = std::f64::consts::TAU * j as f64 / k as f64;
                        Coord {
                            x: lon + rad * scale * a.cos() * kx,
                            y: lat + rad * scale * a.sin() * ky,
                        }
                    })
                    .collect();
                c.push(c[0]);
                LineString(c)
            };
            let holes = if i % 4 == 0 { vec![ring(0.2)] } else { vec![] };
            Zone {
                id: format!("z{i}"),
                spec: ZoneSpec {
                    name: format!("zone {i}"),
                    reason: "bench".into(),
                    geometry: MultiPolygon(vec![Polygon::new(ring(1.0), holes)]),
                    buffer_m: if i % 3 == 0 { 10.0 } else { 0.0 },
                    expires_at: None,
                },
                created_at: 0,
            }
        })
        .collect()
}

/// Times each call of `f` on its own and prints the median and tail, since criterion reports
/// the mean of many calls per sample.
pub fn per_call_percentiles(
    label: &str,
    queries: &[(f64, f64)],
    mut f: impl FnMut(f64, f64) -> usize,
) {
    let mut ns: Vec<u64> = Vec::with_capacity(queries.len());
    let mut sink = 0usize;
    for &(lat, lon) in queries {
        let t = Instant::now();
        sink = sink.wrapping_add(f(lat, lon));
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ns.sort_unstable();
    let p = |q: f64| ns[((ns.len() - 1) as f64 * q) as usize];
    println!(
        "per-call {label}: n={} p50={} ns p90={} ns p99={} ns max={} ns (checksum {sink})",
        ns.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        ns[ns.len() - 1]
    );
}
