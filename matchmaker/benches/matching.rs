//! Matchmaker throughput and time to match, in memory and on Redis.
//!
//! - `queue_and_match/<backend>`: queue N tickets through the public API,
//!   then tick until every one is in a session (end to end, no sockets).
//! - `match_only/<backend>`: the ticks alone, over a queue already filled.
//! - After criterion, a sustained run feeds tickets at a fixed rate into
//!   the real matching loop (`Lobby::run`, 100 ms tick) and prints the
//!   time-to-match percentiles it measured.
//!
//! Redis parts use 127.0.0.1:6379 (or GEOGAME_TEST_REDIS_URL) under a
//! fresh key prefix, and are skipped when Redis is not running.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use matchmaker::{Backend, Lobby, MatchConfig, MatchRecord, PoiTable, Registry, ServerInfo};
use protocol::lobby::{Mode, QueueRequest};
use protocol::token::TokenKey;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Tickets per criterion iteration.
const N: usize = 10_000;
/// Raid POIs of the workload; each gets whole groups of 20.
const POIS: usize = 500;
/// Queue calls in flight at once (they pipeline on Redis).
const IN_FLIGHT: usize = 256;

static PLAYER: AtomicU64 = AtomicU64::new(0);

struct Bench {
    lobby: Lobby,
    sessions: Arc<Mutex<Vec<String>>>,
    waits: Arc<Mutex<Histogram<u64>>>,
}

fn cfg() -> MatchConfig {
    MatchConfig {
        max_open_tickets: 10_000_000,
        // Sessions are ended by the bench itself; never sweep mid-measure.
        session_sweep: Duration::from_secs(3600),
        // Other jobs share this 2-core machine; a bench call should not
        // fail on a scheduling hiccup that production would retry.
        redis_timeout: Duration::from_secs(2),
        ..MatchConfig::default()
    }
}

async fn bench_lobby(backend: Backend) -> Bench {
    let cfg = cfg();
    let registry = match &backend {
        Backend::Memory => Registry::memory(&cfg),
        Backend::Redis { url, prefix } => Registry::redis(url, prefix, &cfg).await.unwrap(),
    };
    let server = ServerInfo {
        id: "gs-bench".into(),
        ws_url: "ws://gs-bench/v1/play".into(),
        capacity: u32::MAX,
        load: 0,
        socket_capacity: 0,
        sockets: 0,
    };
    registry.heartbeat(&server).await.unwrap();
    let pois = PoiTable::new((0..POIS).map(|i| (format!("poi-{i}"), 48.0 + i as f64 * 0.01, 11.0)));
    let sessions: Arc<Mutex<Vec<String>>> = Arc::default();
    let waits = Arc::new(Mutex::new(
        Histogram::new_with_bounds(1, 600_000, 3).unwrap(),
    ));
    let (s, w) = (sessions.clone(), waits.clone());
    let on_match = Arc::new(move |m: &MatchRecord| {
        s.lock().unwrap().push(m.session_id.clone());
        let mut h = w.lock().unwrap();
        for ms in &m.waited_ms {
            let _ = h.record((*ms).max(1) as u64);
        }
    });
    let key = TokenKey::new(&[7u8; 32]).unwrap();
    let lobby = Lobby::new(
        cfg,
        backend,
        registry,
        key,
        Arc::new(pois),
        on_match,
        "bench".into(),
    )
    .await
    .unwrap();
    Bench {
        lobby,
        sessions,
        waits,
    }
}

/// Ticket `i` of a batch: half solo raids (20 per POI, so each lobby
/// fills), half pvp players in pairs of equal level.
fn request(i: usize) -> QueueRequest {
    if i.is_multiple_of(2) {
        let poi = (i / 2 / 20) % POIS;
        QueueRequest {
            seq: None,
            mode: Mode::Raid,
            poi_id: Some(format!("poi-{poi}")),
            lat: 48.0 + poi as f64 * 0.01,
            lon: 11.0,
            level: None,
            party: Vec::new(),
        }
    } else {
        QueueRequest {
            seq: None,
            mode: Mode::Pvp,
            poi_id: None,
            lat: 48.0,
            lon: 11.0,
            level: Some(((i / 4) % 50) as u32),
            party: Vec::new(),
        }
    }
}

async fn fill(lobby: &Lobby, n: usize) {
    futures_util::stream::iter(0..n)
        .map(|_| {
            // A global index: POIs fill in turn across batches, so no raid
            // lobby is left part-full (and waiting out its lobby) between them.
            let i = PLAYER.fetch_add(1, Ordering::Relaxed);
            let player = format!("b{i}");
            let req = request(i as usize);
            async move { lobby.queue(&player, &req).await.unwrap() }
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
}

async fn drain(b: &Bench) {
    let mut guard = 0;
    loop {
        let r = b.lobby.tick_once().await.unwrap();
        if b.lobby.open_tickets().await.unwrap() == 0 {
            break;
        }
        guard += 1;
        assert!(
            guard < 1000 && r.deferred_groups == 0,
            "queue does not drain"
        );
    }
}

/// Ends the sessions formed so far, so players and memory are released.
async fn end_sessions(b: &Bench) {
    let ids = std::mem::take(&mut *b.sessions.lock().unwrap());
    futures_util::stream::iter(ids)
        .map(|id| async move { b.lobby.end_session(&id).await.unwrap() })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|_| async {})
        .await;
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, backend: Backend) {
    let b = rt.block_on(bench_lobby(backend));
    let mut g = c.benchmark_group("queue_and_match");
    g.throughput(Throughput::Elements(N as u64)).sample_size(10);
    g.bench_function(name, |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let t = Instant::now();
                    fill(&b.lobby, N).await;
                    drain(&b).await;
                    let spent = t.elapsed();
                    end_sessions(&b).await;
                    spent
                });
            }
            total
        });
    });
    g.finish();
    let mut g = c.benchmark_group("match_only");
    g.throughput(Throughput::Elements(N as u64)).sample_size(10);
    g.bench_function(name, |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    fill(&b.lobby, N).await;
                    let t = Instant::now();
                    drain(&b).await;
                    let spent = t.elapsed();
                    end_sessions(&b).await;
                    spent
                });
            }
            total
        });
    });
    g.finish();
}

/// Feeds `rate` tickets/s for `secs` into the running loop and prints the
/// throughput and time-to-match percentiles.
fn sustained(rt: &Runtime, name: &str, backend: Backend, rate: usize, secs: u64) {
    rt.block_on(async {
        let b = bench_lobby(backend).await;
        let stop = CancellationToken::new();
        let run = tokio::spawn({
            let (l, s) = (b.lobby.clone(), stop.clone());
            async move { l.run(s).await }
        });
        let start = Instant::now();
        // Batches every 20 ms, a multiple of 40 tickets each (see `fill`).
        let per_slot = (rate / 50).div_ceil(40) * 40;
        let mut queued = 0;
        let mut slot = tokio::time::interval(Duration::from_millis(20));
        while start.elapsed() < Duration::from_secs(secs) {
            slot.tick().await;
            fill(&b.lobby, per_slot).await;
            queued += per_slot;
        }
        let fed = start.elapsed();
        while b.lobby.open_tickets().await.unwrap() > 0 && start.elapsed() < fed + Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let total = start.elapsed();
        stop.cancel();
        run.await.unwrap();
        let h = b.waits.lock().unwrap().clone();
        println!(
            "sustained/{name}: offered {rate}/s for {secs} s, queued {queued} in {:.2} s (achieved {:.0}/s), all matched after {:.2} s; \
             time to match ms: p50 {} p90 {} p99 {} p99.9 {} max {} (n = {})",
            fed.as_secs_f64(),
            queued as f64 / fed.as_secs_f64(),
            total.as_secs_f64(),
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.90),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.len(),
        );
        end_sessions(&b).await;
    });
}

fn redis_backend(rt: &Runtime) -> Option<Backend> {
    let url =
        std::env::var("GEOGAME_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("mmbench:{}", uuid::Uuid::new_v4());
    let backend = Backend::Redis { url, prefix };
    let probe = rt.block_on(Lobby::new(
        cfg(),
        backend.clone(),
        Registry::memory(&cfg()),
        TokenKey::new(&[7u8; 32]).unwrap(),
        Arc::new(PoiTable::default()),
        Arc::new(|_: &MatchRecord| {}),
        "probe".into(),
    ));
    match probe {
        Ok(_) => Some(backend),
        Err(e) => {
            eprintln!("skipping redis benches: {e}");
            None
        }
    }
}

fn cleanup(rt: &Runtime, backend: &Backend) {
    let Backend::Redis { url, prefix } = backend else {
        return;
    };
    rt.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{prefix}}}*"))
            .query_async(&mut con)
            .await
            .unwrap();
        for chunk in keys.chunks(1000) {
            let _: () = redis::cmd("DEL")
                .arg(chunk)
                .query_async(&mut con)
                .await
                .unwrap();
        }
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    bench_backend(&mut c, &rt, "memory", Backend::Memory);
    let redis = redis_backend(&rt);
    if let Some(backend) = &redis {
        bench_backend(&mut c, &rt, "redis", backend.clone());
        cleanup(&rt, backend);
    }
    c.final_summary();
    if std::env::var("MM_BENCH_SUSTAINED").as_deref() != Ok("0") {
        sustained(&rt, "memory", Backend::Memory, 50_000, 5);
        if let Some(backend) = redis_backend(&rt) {
            sustained(&rt, "redis", backend.clone(), 20_000, 5);
            cleanup(&rt, &backend);
        }
    }
}
