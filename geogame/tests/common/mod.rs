//! Test harness: `geogame up` in this process on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use clap::Parser;
use geogame::cli::{Cli, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Up {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub run: JoinHandle<anyhow::Result<()>>,
}

/// Starts `geogame up` with a data dir and `extra` flags, in process.
pub async fn up(data_dir: &std::path::Path, extra: &[&str]) -> Up {
    let mut argv = vec![
        "geogame",
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ];
    argv.extend_from_slice(extra);
    let Command::Up(args) = Cli::parse_from(argv).command else {
        unreachable!()
    };
    let cfg = geogame::up::UpConfig::from_args(args).unwrap();
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = tokio::spawn(geogame::up::run(
        cfg,
        shutdown.clone(),
        move |addr, _, _| {
            let _ = tx.send(addr);
        },
    ));
    let addr = rx.await.unwrap();
    Up {
        addr,
        shutdown,
        run,
    }
}

impl Up {
    /// Stops the process's services and waits for a clean exit.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), self.run)
            .await
            .expect("stops within 10 s")
            .unwrap()
            .unwrap();
    }
}
