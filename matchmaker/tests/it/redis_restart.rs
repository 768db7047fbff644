//! Redis restarted mid-run: calls fail fast with `unavailable` during the
//! outage, the lobbies recover by themselves, and afterwards nothing is
//! duplicated or lost. Uses a throwaway redis-server of its own (with an
//! fsync-always append-only file, so a restart keeps acknowledged data),
//! never the machine's shared one.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use matchmaker::{Backend, Lobby, MatchError, Registry};

use crate::common::*;
use crate::redis_shared::{assert_exactly_once, cfg, workload};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

struct Throwaway {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Throwaway {
    fn start(port: u16, dir: &Path) -> Child {
        Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn new() -> Option<Throwaway> {
        if !Path::new(REDIS_SERVER).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{REDIS_SERVER} missing in CI"
            );
            eprintln!("skipping: {REDIS_SERVER} not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("mm-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Throwaway::start(port, &dir);
        let t = Throwaway { child, port, dir };
        t.wait_ready().await;
        Some(t)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let url = self.url();
        assert!(
            eventually(Duration::from_secs(10), async || redis_ping(&url)
                .await
                .is_ok())
            .await,
            "throwaway redis did not start"
        );
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn restart(&mut self) {
        self.child = Throwaway::start(self.port, &self.dir);
        self.wait_ready().await;
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
    let Some(mut redis) = Throwaway::new().await else {
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
            .unwrap()
            == 0)
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
    redis.restart().await;

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
