//! Property tests with fixed seeds: random zones (holes, poles, antimeridian, buffers) never
//! get a creature placed inside them, and R-tree nearby queries equal brute force.

mod common;

use common::{LocalPoly, busy_config, poi, star_ring, wrap180};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use spawner::{Creature, Rarity, World, bearing_deg, haversine_m};

const T0: i64 = 1_800_000_000_000;

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Where a random test region sits.
fn centre() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-60.0..60.0f64, -179.0..179.0f64),
        // Near the poles, where a metre is many degrees of longitude.
        (85.0..89.99f64, -180.0..180.0f64),
        (-89.99..-85.0f64, -180.0..180.0f64),
        // Straddling the antimeridian.
        (
            -60.0..60.0f64,
            prop_oneof![179.99..180.0f64, -180.0..-179.99f64]
        ),
    ]
}

#[derive(Debug, Clone)]
struct ZoneCase {
    shape: LocalPoly,
    buffer_m: f64,
}

fn zone_case(lat: f64, lon: f64) -> impl Strategy<Value = ZoneCase> {
    (
        prop::collection::vec(60.0..400.0f64, 5..12),
        0.0..6.3f64,
        prop::option::of((prop::collection::vec(0.1..0.45f64, 4..8), 0.0..6.3f64)),
        prop_oneof![Just(0.0), 0.5..40.0f64],
        (-150.0..150.0f64, -150.0..150.0f64),
    )
        .prop_map(move |(radii, phase, hole, buffer_m, (ox, oy))| {
            let la = (lat + oy / 111_195.0).clamp(-89.99, 89.99);
            let lo = wrap180(lon + ox / (111_195.0 * la.to_radians().cos()));
            let mut rings = vec![star_ring(la, &radii, phase)];
            let min_r = radii.iter().copied().fold(f64::INFINITY, f64::min);
            if let Some((fracs, hphase)) = hole {
                let hr: Vec<f64> = fracs.iter().map(|f| f * min_r).collect();
                rings.push(star_ring(la, &hr, hphase));
            }
            ZoneCase {
                shape: LocalPoly {
                    lat: la,
                    lon: lo,
                    rings,
                },
                buffer_m,
            }
        })
}

fn world_case() -> impl Strategy<Value = (Vec<ZoneCase>, u64)> {
    centre().prop_flat_map(|(lat, lon)| {
        (
            prop::collection::vec(zone_case(lat, lon), 1..4),
            any::<u64>(),
        )
    })
}

/// POIs at every zone's centre, at its vertices, and just outside them, so that many offsets
/// land inside zones and near their edges.
fn pois_for(zones: &[ZoneCase]) -> Vec<spawner::Poi> {
    let mut out = Vec::new();
    for (zi, z) in zones.iter().enumerate() {
        let s = &z.shape;
        out.push(poi(&format!("z{zi}-c"), s.lat, s.lon, 1.0));
        for (vi, &(dx, dy)) in s.rings[0].iter().enumerate() {
            for (k, f) in [(0, 1.0), (1, 1.15)] {
                let lat = (s.lat + dy * f).clamp(-90.0, 90.0);
                out.push(poi(
                    &format!("z{zi}-v{vi}-{k}"),
                    lat,
                    wrap180(s.lon + dx * f),
                    1.0,
                ));
            }
        }
    }
    out
}

/// Same ids in the same order, and distances equal to a micrometre (the creature index computes
/// distances from unit-vector chords, which agree with haversine to about a nanometre).
fn assert_same(got: &[(&str, f64)], want: &[(&str, f64)]) -> Result<(), TestCaseError> {
    let ids = |v: &[(&str, f64)]| v.iter().map(|x| x.0.to_owned()).collect::<Vec<_>>();
    prop_assert_eq!(ids(got), ids(want));
    for (g, w) in got.iter().zip(want) {
        prop_assert!((g.1 - w.1).abs() < 1e-6, "{} vs {}", g.1, w.1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(40, 0x5eed_0001))]

    #[test]
    fn no_creature_is_ever_placed_inside_a_zone((zones, seed) in world_case()) {
        let mut w = World::new(busy_config(), seed);
        for (i, z) in zones.iter().enumerate() {
            w.add_zone(z.shape.zone(&format!("z{i}"), z.buffer_m), T0);
        }
        w.set_pois(pois_for(&zones));
        let mut near_edges = 0;
        let mut placed = 0;
        for t in 0..3 {
            let r = w.tick(T0 + t * 1000);
            placed += r.spawned.len();
            for c in &r.spawned {
                for z in &zones {
                    prop_assert!(!z.shape.inside(c.lat, c.lon), "{c:?} inside {z:?}");
                    let d = z.shape.boundary_distance_m(c.lat, c.lon, 0.5, z.buffer_m + 70.0);
                    // Sampling only overestimates, so a creature at or beyond the buffer has
                    // d >= buffer_m; one inside the buffer by more than 0.25 m has d < buffer_m.
                    prop_assert!(d >= z.buffer_m, "{c:?} is {d} m from {z:?}");
                    if d < z.buffer_m + 60.0 {
                        near_edges += 1;
                    }
                }
            }
        }
        prop_assert!(placed > 0);
        prop_assert!(near_edges > 0, "the case tests nothing near the zone edges");
        // Creatures already placed also survive a zone added afterwards only outside it.
        for c in w.creatures() {
            prop_assert!(!w.is_excluded(c.lat, c.lon));
        }
    }

    #[test]
    fn nearby_equals_brute_force(
        (lat, lon) in centre(),
        points in prop::collection::vec((-3000.0..3000.0f64, -3000.0..3000.0f64), 50..800),
        queries in prop::collection::vec((-3000.0..3000.0f64, -3000.0..3000.0f64, 1.0..2500.0f64), 1..20),
    ) {
        let to_deg = |x: f64, y: f64| {
            let la = (lat + y / 111_195.0).clamp(-90.0, 90.0);
            (la, wrap180(lon + x / (111_195.0 * lat.to_radians().cos().max(0.01))))
        };
        let creatures: Vec<Creature> = points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                let (la, lo) = to_deg(x, y);
                Creature {
                    id: format!("c{i}"),
                    species: "s".into(),
                    rarity: Rarity::Common,
                    lat: la,
                    lon: lo,
                    poi_id: "p".into(),
                    spawned_at_ms: 0,
                    expires_at_ms: 1,
                }
            })
            .collect();
        let pois: Vec<spawner::Poi> = creatures.iter().map(|c| poi(&c.id, c.lat, c.lon, 1.0)).collect();
        let mut w = World::new(busy_config(), 0);
        prop_assert_eq!(w.insert_creatures(creatures.clone()), creatures.len());
        w.set_pois(pois);
        for &(x, y, r) in &queries {
            let (qlat, qlon) = to_deg(x, y);
            let mut brute: Vec<(&str, f64)> = creatures
                .iter()
                .map(|c| (c.id.as_str(), haversine_m(qlat, qlon, c.lat, c.lon)))
                .filter(|&(_, d)| d <= r)
                .collect();
            brute.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
            let near = w.nearby_creatures(qlat, qlon, r);
            let got: Vec<(&str, f64)> = near.iter().map(|s| (s.creature.id.as_str(), s.distance_m)).collect();
            assert_same(&got, &brute)?;
            // Bearings from the stored unit vectors agree with the textbook formula (a point
            // under a centimetre away has no meaningful direction).
            for s in near.iter().filter(|s| s.distance_m > 0.01) {
                let want = bearing_deg(qlat, qlon, s.creature.lat, s.creature.lon);
                let diff = (s.bearing_deg - want).abs();
                prop_assert!(
                    diff.min(360.0 - diff) < 1e-4 && (0.0..360.0).contains(&s.bearing_deg),
                    "bearing to {} at {} m: {} against {}", s.creature.id, s.distance_m, s.bearing_deg, want
                );
            }
            let got_pois: Vec<(&str, f64)> =
                w.nearby_pois(qlat, qlon, r).into_iter().map(|(p, d)| (p.id.as_str(), d)).collect();
            assert_same(&got_pois, &brute)?;
        }
    }
}
