//! Bulk load of 1,000,000 creatures into an empty world (records, id map, cells, expiry heap and
//! an rstar bulk-loaded tree), and rstar's bulk load alone for reference.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use spawner::{SpawnConfig, World};

const N: usize = 1_000_000;

fn bench(c: &mut Criterion) {
    let all = support::creatures(N, 5);
    let mut g = c.benchmark_group("bulk_load_1m");
    g.sample_size(10);
    g.bench_function("world_insert_creatures", |b| {
        b.iter_batched(
            || all.clone(),
            |batch| {
                let mut w = World::new(SpawnConfig::default(), 0);
                let n = w.insert_creatures(batch);
                assert_eq!(n, N);
                w
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rstar_bulk_load_only", |b| {
        b.iter_batched(
            || {
                all.iter()
                    .enumerate()
                    .map(|(i, c)| GeomWithData::new([c.lon, c.lat], i as u32))
                    .collect::<Vec<_>>()
            },
            |entries| black_box(RTree::bulk_load(entries)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
