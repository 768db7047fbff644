//! One placement tick with 10,000 active POIs (each in its own cell), in steady state: the
//! tick expires old creatures and places new ones.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use spawner::{SpawnConfig, World};

const POIS: usize = 10_000;

fn bench(c: &mut Criterion) {
    let config = SpawnConfig::default();
    let tick_ms = config.tick_ms;
    let mut world = World::new(config, 6);
    world.set_pois(support::pois(POIS, 7));
    world.replace_zones(support::zones(1000, 8), 0);
    // Run to steady state: the longest lifetime is 8 minutes.
    let mut now = 1_800_000_000_000i64;
    for _ in 0..600 {
        world.tick(now);
        now += tick_ms;
    }
    let active = world.pois().filter(|p| world.poi_active(&p.id)).count();
    let r = world.tick(now);
    now += tick_ms;
    println!(
        "tick: {active} active pois, {} creatures in steady state, {} spawned / {} expired in one tick",
        world.creature_count(),
        r.spawned.len(),
        r.expired.len()
    );

    let mut g = c.benchmark_group("placement_tick_10k");
    g.bench_function("tick", |b| {
        b.iter(|| {
            let r = world.tick(now);
            now += tick_ms;
            black_box(r.spawned.len() + r.expired.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
