//! Exclusion zones in the world: what they remove, what they stop, expiry, and the odd places
//! (antimeridian, poles).

mod common;

use common::{LocalPoly, busy_config, poi, star_ring};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use spawner::{Creature, Rarity, SpawnConfig, World, Zone, parse_zone_feature};

const T0: i64 = 1_800_000_000_000;

fn creature(id: String, lat: f64, lon: f64) -> Creature {
    Creature {
        id,
        species: "mossling".into(),
        rarity: Rarity::Common,
        lat,
        lon,
        poi_id: "p".into(),
        spawned_at_ms: T0,
        expires_at_ms: T0 + 1_000_000,
    }
}

/// A zone with a hole, about 300 m across, centred at (lat, lon).
fn holed(lat: f64, lon: f64) -> LocalPoly {
    let ext = star_ring(lat, &[300.0, 220.0, 260.0, 310.0, 240.0, 280.0, 200.0], 0.3);
    let hole = star_ring(lat, &[60.0, 70.0, 50.0, 65.0, 55.0], 1.0);
    LocalPoly {
        lat,
        lon,
        rings: vec![ext, hole],
    }
}

/// Scatters creatures uniformly in a box of about ±`half_m` metres around (lat, lon).
fn scatter(lat: f64, lon: f64, half_m: f64, n: usize, seed: u64) -> Vec<Creature> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dy = half_m / 111_195.0;
    let dx = dy / lat.to_radians().cos();
    (0..n)
        .map(|i| {
            let la = lat + rng.random_range(-dy..dy);
            let lo = common::wrap180(lon + rng.random_range(-dx..dx));
            creature(format!("s{i}"), la.clamp(-90.0, 90.0), lo)
        })
        .collect()
}

/// Checks that `add_zone` removes exactly the creatures the oracle puts inside the zone or its
/// buffer, and leaves none of them behind.
fn check_add_zone_removes_exactly(shape: &LocalPoly, buffer_m: f64, seed: u64) {
    let mut w = World::new(SpawnConfig::default(), 0);
    let all = scatter(shape.lat, shape.lon, 500.0, 4000, seed);
    assert_eq!(w.insert_creatures(all.clone()), all.len());
    let removed = w.add_zone(shape.zone("z", buffer_m), T0);
    let removed_ids: std::collections::HashSet<&str> =
        removed.iter().map(|c| c.id.as_str()).collect();
    assert!(
        removed.windows(2).all(|p| p[0].id < p[1].id),
        "sorted by id"
    );
    let mut inside = 0;
    for c in &all {
        let d = shape.boundary_distance_m(c.lat, c.lon, 0.05, buffer_m + 5.0);
        // Points within a few centimetres of the buffer's edge may go either way: the crate
        // errs towards excluding by up to 0.1 m, and the oracle samples every 5 cm.
        if shape.inside(c.lat, c.lon) || d <= buffer_m - 0.05 {
            inside += 1;
            assert!(
                removed_ids.contains(c.id.as_str()),
                "{} at {},{} (d {d}) should be removed",
                c.id,
                c.lat,
                c.lon
            );
        } else if d > buffer_m + 0.15 {
            assert!(
                !removed_ids.contains(c.id.as_str()),
                "{} at {},{} (d {d}) wrongly removed",
                c.id,
                c.lat,
                c.lon
            );
            assert!(w.creature(&c.id).is_some());
        }
    }
    assert!(
        inside > 100,
        "the zone covers a good share of the scatter: {inside}"
    );
    assert!(removed.iter().all(|c| w.creature(&c.id).is_none()));
    assert_eq!(w.creature_count() + removed.len(), all.len());
}

#[test]
fn add_zone_returns_exactly_the_creatures_inside() {
    check_add_zone_removes_exactly(&holed(47.61, -122.03), 0.0, 1);
}

#[test]
fn add_zone_with_buffer_returns_exactly_the_creatures_inside() {
    check_add_zone_removes_exactly(&holed(47.61, -122.03), 35.0, 2);
}

#[test]
fn add_zone_across_the_antimeridian() {
    check_add_zone_removes_exactly(&holed(-16.8, 179.999), 20.0, 3);
    check_add_zone_removes_exactly(&holed(65.0, -179.9995), 0.0, 4);
}

#[test]
fn add_zone_near_the_poles() {
    check_add_zone_removes_exactly(&holed(89.99, 45.0), 25.0, 5);
    check_add_zone_removes_exactly(&holed(-89.985, -170.0), 0.0, 6);
}

#[test]
fn zone_over_a_poi_stops_its_spawns_and_hides_it_until_removed() {
    let mut w = World::new(busy_config(), 1);
    w.set_pois(vec![
        poi("museum", 47.61, -122.03, 1.0),
        poi("cafe", 47.62, -122.03, 1.0),
    ]);
    for i in 0..5 {
        w.tick(T0 + i * 1000);
    }
    let museum_creatures = w.creatures().filter(|c| c.poi_id == "museum").count();
    assert!(museum_creatures > 0);
    // A 200 m square around the museum, with a 100 m buffer: its creatures (within 60 m) all go.
    let shape = LocalPoly {
        lat: 47.61,
        lon: -122.03,
        rings: vec![star_ring(47.61, &[100.0; 4], 0.785)],
    };
    let removed = w.add_zone(shape.zone("z1", 100.0), T0 + 5000);
    assert_eq!(removed.len(), museum_creatures);
    assert!(removed.iter().all(|c| c.poi_id == "museum"));
    assert!(!w.poi_active("museum"));
    assert!(w.poi_active("cafe"));
    assert!(w.poi("museum").is_some(), "still listed for operators");
    assert!(
        w.nearby_pois(47.61, -122.03, 2000.0)
            .iter()
            .all(|(p, _)| p.id != "museum")
    );
    for i in 5..15 {
        let r = w.tick(T0 + i * 1000);
        assert!(r.spawned.iter().all(|c| c.poi_id != "museum"));
        assert!(r.spawned.iter().any(|c| c.poi_id == "cafe"));
    }
    assert!(w.remove_zone("z1"));
    assert!(!w.remove_zone("z1"));
    assert!(w.poi_active("museum"));
    let r = w.tick(T0 + 15_000);
    assert!(r.spawned.iter().any(|c| c.poi_id == "museum"));
}

#[test]
fn zones_expire_on_tick() {
    let mut w = World::new(busy_config(), 1);
    w.set_pois(vec![poi("museum", 47.61, -122.03, 1.0)]);
    let shape = LocalPoly {
        lat: 47.61,
        lon: -122.03,
        rings: vec![star_ring(47.61, &[100.0; 4], 0.785)],
    };
    let mut zone = shape.zone("z", 0.0);
    zone.spec.expires_at = Some(T0 / 1000 + 10);
    w.add_zone(zone.clone(), T0);
    assert!(w.tick(T0).spawned.is_empty());
    let r = w.tick(T0 + 9_999);
    assert!(r.expired_zones.is_empty() && r.spawned.is_empty());
    let r = w.tick(T0 + 10_000);
    assert_eq!(r.expired_zones, vec![zone.clone()]);
    assert_eq!(w.zone_count(), 0);
    assert!(w.poi_active("museum"));
    assert!(!r.spawned.is_empty());
    // A zone that has already lapsed is not added and excludes nothing.
    assert!(w.add_zone(zone, T0 + 20_000).is_empty());
    assert_eq!(w.zone_count(), 0);
}

#[test]
fn replace_zones_swaps_the_whole_set() {
    let mut w = World::new(SpawnConfig::default(), 0);
    w.insert_creatures(scatter(47.61, -122.03, 800.0, 2000, 9));
    let a = holed(47.61, -122.03);
    let b = holed(47.615, -122.025);
    w.add_zone(a.zone("a", 0.0), T0);
    let removed = w.replace_zones(vec![a.zone("a", 0.0), b.zone("b", 10.0)], T0);
    assert!(!removed.is_empty());
    assert!(
        removed
            .iter()
            .all(|c| b.inside(c.lat, c.lon)
                || b.boundary_distance_m(c.lat, c.lon, 0.1, 20.0) <= 10.2)
    );
    assert_eq!(
        w.zones().map(|z| z.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    for c in w.creatures() {
        assert!(!w.is_excluded(c.lat, c.lon));
    }
    assert!(w.replace_zones(Vec::new(), T0).is_empty());
    assert_eq!(w.zone_count(), 0);
    assert!(!w.is_excluded(47.61, -122.03));
}

#[test]
fn adding_a_zone_with_an_existing_id_replaces_it() {
    let mut w = World::new(SpawnConfig::default(), 0);
    let a = holed(47.61, -122.03);
    let b = holed(10.0, 10.0);
    w.add_zone(a.zone("z", 0.0), T0);
    w.add_zone(b.zone("z", 0.0), T0);
    assert_eq!(w.zone_count(), 1);
    assert!(!w.is_excluded(47.61 + 0.0015, -122.03));
    assert!(w.is_excluded(10.0015, 10.0));
}

#[test]
fn polar_cap_covers_the_pole_at_every_longitude() {
    let cap = parse_zone_feature(&json!({
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 89.9], [90, 89.9], [180, 89.9], [-90, 89.9], [0, 89.9]]]},
        "properties": {"name": "north cap", "buffer_m": 100}
    }))
    .unwrap();
    let mut w = World::new(busy_config(), 0);
    w.set_pois(vec![
        poi("pole", 89.95, 10.0, 1.0),
        poi("below", 89.8, 10.0, 1.0),
    ]);
    w.add_zone(
        Zone {
            id: "cap".into(),
            spec: cap,
            created_at: 0,
        },
        T0,
    );
    for lon in [-180.0, -179.5, -90.0, 0.0, 33.3, 179.99] {
        assert!(w.is_excluded(90.0, lon));
        assert!(w.is_excluded(89.95, lon));
        // 89.9 minus 100 m of buffer is 89.8991; 89.898 is 122 m below the ring.
        assert!(w.is_excluded(89.8995, lon));
        assert!(!w.is_excluded(89.898, lon));
    }
    assert!(!w.poi_active("pole"));
    assert!(w.poi_active("below"));
    for i in 0..10 {
        let r = w.tick(T0 + i * 1000);
        for c in r.spawned {
            assert!(c.lat < 89.8991, "{c:?}");
        }
    }
}

#[test]
fn exclusion_index_agrees_with_the_linear_scan() {
    let mut w = World::new(SpawnConfig::default(), 0);
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let centres = [
        (47.61, -122.03),
        (0.0, 179.999),
        (89.99, 0.0),
        (-89.99, 120.0),
    ];
    for (i, &(lat, lon)) in centres.iter().enumerate() {
        for j in 0..5 {
            let la = (lat + rng.random_range(-0.003f64..0.003)).clamp(-89.995, 89.995);
            let shape = holed(la, lon + rng.random_range(-0.01f64..0.01));
            w.add_zone(
                shape.zone(&format!("z{i}-{j}"), f64::from(j as u8) * 10.0),
                T0,
            );
        }
    }
    let mut hits = 0;
    for &(lat, lon) in &centres {
        for c in scatter(lat, lon, 1500.0, 3000, 5) {
            let (a, b) = (
                w.is_excluded(c.lat, c.lon),
                w.is_excluded_linear(c.lat, c.lon),
            );
            assert_eq!(a, b, "{},{}", c.lat, c.lon);
            hits += usize::from(a);
        }
    }
    assert!(hits > 500, "{hits}");
}

/// A square zone about 200 m across centred at (lat, lon).
fn square(lat: f64, lon: f64) -> LocalPoly {
    LocalPoly {
        lat,
        lon,
        rings: vec![star_ring(lat, &[140.0, 140.0, 140.0, 140.0], 0.5)],
    }
}

#[test]
fn pois_prepared_off_the_lock_see_a_zone_added_meanwhile() {
    // Regression: 100,000 POIs were indexed under the world's write lock,
    // holding every player's reply for up to 1.6 s. The indexes are now
    // built from a draft; a zone that arrives while they are built must
    // still deactivate the POIs under it.
    let mut w = World::new(SpawnConfig::default(), 0);
    w.set_pois(vec![poi("old", 10.0, 10.0, 1.0)]);
    let draft = w.poi_draft();
    let prepared = draft.upsert(&[
        poi("under", 47.6, -122.0, 1.0),
        poi("free", 47.7, -122.0, 1.0),
    ]);
    w.add_zone(square(47.6, -122.0).zone("z", 0.0), T0);
    w.install_pois(prepared)
        .expect("nothing else changed the POIs");
    assert_eq!(w.poi_count(), 3);
    assert!(w.poi_active("old") && w.poi_active("free"));
    assert!(!w.poi_active("under"), "the zone added meanwhile covers it");
    assert_eq!(w.nearby_pois(47.6, -122.0, 50.0).len(), 0);
    assert_eq!(w.nearby_pois(47.7, -122.0, 50.0).len(), 1);
}

#[test]
fn pois_prepared_from_a_stale_draft_are_refused_and_change_nothing() {
    let mut w = World::new(SpawnConfig::default(), 0);
    w.set_pois(vec![poi("a", 10.0, 10.0, 1.0)]);
    let stale = w.poi_draft().upsert(&[poi("b", 11.0, 10.0, 1.0)]);
    w.upsert_pois(vec![poi("c", 12.0, 10.0, 1.0)]);
    assert!(w.install_pois(stale).is_err(), "it would lose c");
    let ids: Vec<&str> = w.pois().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "c"]);
    // A draft taken now installs, and a second install of the same
    // generation is refused.
    let first = w.poi_draft().upsert(&[poi("b", 11.0, 10.0, 1.0)]);
    let second = w.poi_draft().upsert(&[poi("d", 13.0, 10.0, 1.0)]);
    w.install_pois(first).unwrap();
    assert!(w.install_pois(second).is_err());
    let ids: Vec<&str> = w.pois().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "c", "b"]);
}
