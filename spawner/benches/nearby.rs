//! Nearby query over 1,000,000 creatures: the world's R-tree against brute force and a simple
//! uniform grid, in the same run on the same data and queries.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use spawner::{Creature, EARTH_RADIUS_M, SpawnConfig, World, haversine_m};

const N: usize = 1_000_000;
const RADIUS_M: f64 = 200.0;

/// Brute force done sensibly: one pass over a flat array of positions with a bounding-box
/// reject before haversine.
fn brute<'a>(
    all: &'a [Creature],
    pos: &[[f64; 2]],
    lat: f64,
    lon: f64,
    r: f64,
) -> Vec<(&'a Creature, f64)> {
    let dlat = r / 111_195.0 * 1.0001;
    let dlon = dlat / lat.to_radians().cos();
    let mut out = Vec::new();
    for (i, p) in pos.iter().enumerate() {
        if (p[0] - lat).abs() > dlat || (p[1] - lon).abs() > dlon {
            continue;
        }
        let d = haversine_m(lat, lon, p[0], p[1]);
        if d <= r {
            out.push((&all[i], d));
        }
    }
    out.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
    out
}

/// A uniform grid of cells about 200 m square over the benchmark area, each cell a vector of
/// (unit vector, index). It is the simplest fast structure for uniform data in a known box, and
/// it filters by chord like the world does, so that only the index differs.
struct Grid {
    cell_lat: f64,
    cell_lon: f64,
    cols: usize,
    rows: usize,
    cells: Vec<Vec<([f64; 3], u32)>>,
}

fn unit(lat: f64, lon: f64) -> [f64; 3] {
    let (sp, cp) = lat.to_radians().sin_cos();
    let (sl, cl) = lon.to_radians().sin_cos();
    [cp * cl, cp * sl, sp]
}

impl Grid {
    fn new(all: &[Creature]) -> Grid {
        let cell_lat = 200.0 / 111_195.0;
        let cell_lon = cell_lat / 47.8f64.to_radians().cos();
        let rows = ((support::LAT.1 - support::LAT.0) / cell_lat).ceil() as usize + 1;
        let cols = ((support::LON.1 - support::LON.0) / cell_lon).ceil() as usize + 1;
        let mut cells = vec![Vec::new(); rows * cols];
        for (i, c) in all.iter().enumerate() {
            let (row, col) = Self::rc(cell_lat, cell_lon, c.lat, c.lon);
            cells[row.min(rows - 1) * cols + col.min(cols - 1)]
                .push((unit(c.lat, c.lon), i as u32));
        }
        Grid {
            cell_lat,
            cell_lon,
            cols,
            rows,
            cells,
        }
    }

    fn rc(cell_lat: f64, cell_lon: f64, lat: f64, lon: f64) -> (usize, usize) {
        (
            ((lat - support::LAT.0) / cell_lat).max(0.0) as usize,
            ((lon - support::LON.0) / cell_lon).max(0.0) as usize,
        )
    }

    fn nearby<'a>(
        &self,
        all: &'a [Creature],
        lat: f64,
        lon: f64,
        r: f64,
    ) -> Vec<(&'a Creature, f64)> {
        let dlat = r / 111_195.0 * 1.0001;
        let dlon = dlat / lat.to_radians().cos();
        let (r0, c0) = Self::rc(self.cell_lat, self.cell_lon, lat - dlat, lon - dlon);
        let (r1, c1) = Self::rc(self.cell_lat, self.cell_lon, lat + dlat, lon + dlon);
        let q = unit(lat, lon);
        let half = r / (2.0 * EARTH_RADIUS_M);
        let max_c2 = (2.0 * half.sin()).powi(2) * (1.0 + 1e-9);
        let mut out = Vec::new();
        for row in r0..=r1.min(self.rows - 1) {
            for col in c0..=c1.min(self.cols - 1) {
                for (v, i) in &self.cells[row * self.cols + col] {
                    let c2 = (q[0] - v[0]).powi(2) + (q[1] - v[1]).powi(2) + (q[2] - v[2]).powi(2);
                    if c2 > max_c2 {
                        continue;
                    }
                    // The same small-angle series as the world uses.
                    let x = c2.sqrt() * 0.5;
                    let d = if x < 1e-3 {
                        let x2 = x * x;
                        2.0 * EARTH_RADIUS_M * x * (1.0 + x2 * (1.0 / 6.0 + x2 * (3.0 / 40.0)))
                    } else {
                        2.0 * EARTH_RADIUS_M * x.min(1.0).asin()
                    };
                    if d <= r {
                        out.push((&all[*i as usize], d));
                    }
                }
            }
        }
        out.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.id.cmp(&b.0.id)));
        out
    }
}

fn bench(c: &mut Criterion) {
    let all = support::creatures(N, 1);
    let pos: Vec<[f64; 2]> = all.iter().map(|c| [c.lat, c.lon]).collect();
    let mut world = World::new(SpawnConfig::default(), 0);
    world.insert_creatures(all.clone());
    let grid = Grid::new(&all);
    let mut r = support::rng(2);
    let queries: Vec<(f64, f64)> = (0..10_000).map(|_| support::random_point(&mut r)).collect();

    // The three must agree before their speeds mean anything.
    for &(lat, lon) in queries.iter().take(50) {
        let a: Vec<&str> = world
            .nearby_creatures(lat, lon, RADIUS_M)
            .iter()
            .map(|s| s.creature.id.as_str())
            .collect();
        let b: Vec<&str> = brute(&all, &pos, lat, lon, RADIUS_M)
            .iter()
            .map(|(c, _)| c.id.as_str())
            .collect();
        let g: Vec<&str> = grid
            .nearby(&all, lat, lon, RADIUS_M)
            .iter()
            .map(|(c, _)| c.id.as_str())
            .collect();
        assert_eq!(a, b);
        assert_eq!(a, g);
    }
    let mean_hits: f64 = queries
        .iter()
        .take(1000)
        .map(|&(la, lo)| world.nearby_creatures(la, lo, RADIUS_M).len() as f64)
        .sum::<f64>()
        / 1000.0;
    println!("nearby: {N} creatures, radius {RADIUS_M} m, mean {mean_hits:.1} results per query");
    support::per_call_percentiles(
        "nearby rtree (World::nearby_creatures)",
        &queries,
        |la, lo| world.nearby_creatures(la, lo, RADIUS_M).len(),
    );
    support::per_call_percentiles("nearby grid", &queries, |la, lo| {
        grid.nearby(&all, la, lo, RADIUS_M).len()
    });

    let mut g = c.benchmark_group("nearby_1m");
    let mut i = 0;
    g.bench_function("rtree", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let (lat, lon) = queries[i];
            black_box(world.nearby_creatures(lat, lon, RADIUS_M).len())
        })
    });
    g.bench_function("grid", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let (lat, lon) = queries[i];
            black_box(grid.nearby(&all, lat, lon, RADIUS_M).len())
        })
    });
    g.bench_function("brute_force", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            let (lat, lon) = queries[i];
            black_box(brute(&all, &pos, lat, lon, RADIUS_M).len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
