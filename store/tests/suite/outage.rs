//! PostgreSQL outages, simulated with a TCP proxy in front of the real
//! server: the store must fail fast while the server is away and recover by
//! itself when it comes back.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::harness::Fixture;

/// A TCP proxy that can be taken down (closing its port and cutting every
/// open connection) and brought back up on the same port.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy {
            port,
            upstream,
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            // Connection tasks live in this task's own set, so aborting it
            // drops the listener and every forwarded connection at once.
            let mut conns = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    async fn down(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn upstream_of(url: &str) -> SocketAddr {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split('/').next().unwrap();
    host_port.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_fast_and_recovers() {
    let Some(f) = Fixture::postgres().await else {
        return;
    };
    let url = f.pg_url().unwrap().to_string();
    let mut proxy = Proxy::start(upstream_of(&url)).await;
    let proxied = url.replacen(
        &upstream_of(&url).to_string(),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    let config = store::PgConfig {
        acquire_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let db = store::Db::connect_postgres_with(&proxied, &config)
        .await
        .unwrap();
    assert_eq!(db.player_for_device("d1").await.unwrap().len(), 34);

    proxy.down().await;
    for _ in 0..3 {
        let started = Instant::now();
        let err = db.player_for_device("d2").await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
    }

    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match db.ping().await {
            Ok(()) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_unavailable(), "{e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("store did not recover: {e}"),
        }
    }
    let d1 = f.db.player_for_device("d1").await.unwrap();
    assert_eq!(db.player_for_device("d1").await.unwrap(), d1);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_postgres_starters_migrate_once() {
    let Some(f) = Fixture::postgres().await else {
        return;
    };
    let url = f.pg_url().unwrap().to_string();
    // The fixture already migrated; drop the schema so that every starter
    // below races to apply it from scratch.
    f.exec("DROP SCHEMA public CASCADE").await;
    f.exec("CREATE SCHEMA public").await;
    f.db.close().await;
    let starters: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { store::Db::connect_postgres(&url).await })
        })
        .collect();
    for s in starters {
        let db = s.await.unwrap().unwrap();
        assert_eq!(db.count_events().await.unwrap(), 0);
        db.close().await;
    }
}
