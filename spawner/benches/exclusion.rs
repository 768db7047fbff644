//! Exclusion test of one point against 10,000 zones: the bounding-box R-tree against testing
//! every polygon, in the same run on the same points.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use spawner::{SpawnConfig, World};

const ZONES: usize = 10_000;

fn bench(c: &mut Criterion) {
    let mut world = World::new(SpawnConfig::default(), 0);
    world.replace_zones(support::zones(ZONES, 3), 0);
    let mut r = support::rng(4);
    let points: Vec<(f64, f64)> = (0..100_000)
        .map(|_| support::random_point(&mut r))
        .collect();
    let mut excluded = 0;
    for &(lat, lon) in points.iter().take(2000) {
        let a = world.is_excluded(lat, lon);
        assert_eq!(a, world.is_excluded_linear(lat, lon));
        excluded += usize::from(a);
    }
    println!(
        "exclusion: {ZONES} zones, {:.1}% of random points excluded",
        excluded as f64 / 20.0
    );
    support::per_call_percentiles("is_excluded rtree", &points, |la, lo| {
        usize::from(world.is_excluded(la, lo))
    });
    // Only points that fall inside some zone's box reach the exact test; time them alone too.
    let inside: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(la, lo)| world.is_excluded(la, lo))
        .collect();
    support::per_call_percentiles(
        "is_excluded rtree, excluded points only",
        &inside,
        |la, lo| usize::from(world.is_excluded(la, lo)),
    );

    let mut g = c.benchmark_group("exclusion_10k");
    let mut i = 0;
    g.bench_function("rtree", |b| {
        b.iter(|| {
            i = (i + 1) % points.len();
            let (lat, lon) = points[i];
            black_box(world.is_excluded(lat, lon))
        })
    });
    g.bench_function("every_polygon", |b| {
        b.iter(|| {
            i = (i + 1) % points.len();
            let (lat, lon) = points[i];
            black_box(world.is_excluded_linear(lat, lon))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
