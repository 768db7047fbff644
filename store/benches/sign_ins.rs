//! First sign-ins per second: 1,000 new devices signing in at once, each
//! its own durable transaction (`Db::player_for_device`, the path every
//! sign-in took before group commit) against [`store::Arrivals`] (many per
//! transaction), on SQLite (WAL, `synchronous=FULL`) and, when
//! `GEOGAME_BENCH_DATABASE_URL` names a server, PostgreSQL.
//!
//! `cargo bench -p store --bench sign_ins`; criterion's throughput is the
//! sign-in rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use store::{Arrivals, Db};

const AT_ONCE: usize = 1000;

/// Device ids never used before in this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_devices() -> Vec<String> {
    let start = NEXT.fetch_add(AT_ONCE as u64, Ordering::Relaxed);
    (start..start + AT_ONCE as u64)
        .map(|i| format!("bench-device-{i}"))
        .collect()
}

/// Signs in `AT_ONCE` new devices at once, one by one or batched.
async fn storm(db: &Db, sign_ins: Option<&Arrivals>) -> Duration {
    let devices = fresh_devices();
    let started = Instant::now();
    let calls: Vec<_> = devices
        .into_iter()
        .map(|d| {
            let (db, sign_ins) = (db.clone(), sign_ins.cloned());
            tokio::spawn(async move {
                match sign_ins {
                    Some(s) => s.player_for_device(&d).await,
                    None => db.player_for_device(&d).await,
                }
            })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("sign-in");
    }
    started.elapsed()
}

fn backend(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, db: &Db) {
    let sign_ins = rt.block_on(async { Arrivals::start(db.clone()) });
    let mut g = c.benchmark_group(format!("guest_sign_ins_{name}"));
    g.throughput(Throughput::Elements(AT_ONCE as u64));
    g.sample_size(10);
    g.bench_function("one_transaction_each", |b| {
        b.iter_custom(|n| (0..n).map(|_| rt.block_on(storm(db, None))).sum())
    });
    g.bench_function("group_commit", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| rt.block_on(storm(db, Some(&sign_ins))))
                .sum()
        })
    });
    g.finish();
    println!(
        "{name}: {} sign-in batches written",
        sign_ins.sign_in_batches()
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = rt
        .block_on(Db::open_sqlite(&dir.path().join("bench.db")))
        .expect("sqlite");
    backend(c, "sqlite", &rt, &db);
    if let Ok(url) = std::env::var("GEOGAME_BENCH_DATABASE_URL") {
        let db = rt.block_on(Db::connect_postgres(&url)).expect("postgres");
        backend(c, "postgres", &rt, &db);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
