//! Redis restarted mid-run: calls fail fast with `unavailable` during the
//! outage, the lobbies recover by themselves, and afterwards nothing is
//! duplicated or lost. Uses a throwaway redis-server of its own
//! (`store::testing::ThrowawayRedis`: an fsync-always append-only file, so
//! a restart keeps acknowledged data), never the machine's shared one.

use std::time::{Duration, Instant};

use matchmaker::{Backend, Lobby, MatchError, Registry};
use store::testing::ThrowawayRedis;

use crate::common::*;
use crate::redis_shared::{assert_exactly_once, cfg, workload};

/// Queues ticket `i` of batch `tag`, retrying through a short outage.
async fn queue_retrying(lobby: &Lobby, tag: &str, i: usize) -> Vec<String> {
    let (owner, req, members) = workload(tag, i);
    let start = Instant::now();
    loop {
        match lobby.queue(&owner, &req).await {
            Ok(_) => return members,
            Err(MatchError::Unavailable(_)) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("queue failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_and_duplicates_nothing() {
    let Some(mut redis) = ThrowawayRedis::start() else {
        return;
    };
    let url = redis.url();
    let prefix = unique_prefix();
    let cfg = cfg();
    let registry = Registry::redis(&url, &prefix, &cfg).await.unwrap();
    keep_alive(registry.clone(), server("gs-1", 100_000));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let backend = || Backend::Redis {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let a = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;
    let b = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;
    let watcher_id = workload("r1", 8).0;
    let mut watcher = b.login(&watcher_id).await;

    // Before: a first batch, matched, plus raid tickets still waiting out
    // their lobby when Redis dies.
    let mut tickets = Vec::new();
    for i in 0..320 {
        let lobby = if i % 2 == 0 { &a.lobby } else { &b.lobby };
        tickets.push(queue_retrying(lobby, "r0", i).await);
    }
    assert!(
        eventually(Duration::from_secs(10), async || a
            .lobby
            .open_tickets()
            .await
            // A slow answer from the fsync-always Redis on a loaded
            // machine is "not yet", as after the restart below.
            .map(|n| n == 0)
            .unwrap_or(false))
        .await
    );
    for i in 0..40 {
        tickets.push(queue_retrying(&a.lobby, "r1", i).await);
    }

    redis.kill();
    // During the outage every call fails fast with `unavailable`.
    for lobby in [&a.lobby, &b.lobby] {
        let (owner, req, _) = workload("x", 1);
        let start = Instant::now();
        let err = lobby.queue(&owner, &req).await.unwrap_err();
        assert!(matches!(err, MatchError::Unavailable(_)), "{err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
        let err = lobby.end_session("nope").await.unwrap_err();
        assert!(matches!(err, MatchError::Unavailable(_)), "{err:?}");
        assert!(matches!(
            lobby.open_tickets().await,
            Err(MatchError::Unavailable(_))
        ));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();

    // After: the lobbies recover by themselves and match the waiting
    // tickets and a new batch, each exactly once.
    for i in 0..320 {
        let lobby = if i % 2 == 0 { &a.lobby } else { &b.lobby };
        tickets.push(queue_retrying(lobby, "r2", i).await);
    }
    let expected: usize = tickets.iter().map(Vec::len).sum();
    let done = eventually(Duration::from_secs(20), async || {
        let n: usize = a
            .matches()
            .iter()
            .chain(b.matches().iter())
            .map(|m| m.players.len())
            .sum();
        n >= expected
            && a.lobby
                .open_tickets()
                .await
                .map(|n| n == 0)
                .unwrap_or(false)
    })
    .await;
    let mut records = a.matches();
    records.extend(b.matches());
    let matched: usize = records.iter().map(|m| m.players.len()).sum();
    assert!(
        done,
        "not everything matched after the restart: {matched} of {expected} players matched, \
         open tickets {:?}",
        a.lobby.open_tickets().await
    );
    assert_exactly_once(&records, &tickets);
    // The socket on b still gets its push after the outage.
    let m = watcher.match_found().await;
    assert!(m.players.contains(&watcher_id));
    a.stop().await;
    b.stop().await;
}
