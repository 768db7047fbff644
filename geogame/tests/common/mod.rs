//! Test harness: `geogame up` in this process on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use geogame::cli::{Cli, Command};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
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
    let cfg = geogame::up::UpConfig::from_args(*args).unwrap();
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

/// A client WebSocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame of type `ty`, skipping others; an `error` on the
/// way fails the test.
pub async fn recv_type(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {ty} within 15 s"))
            .expect("open")
            .expect("ok");
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == ty {
                return v;
            }
            assert_ne!(v["type"], "error", "unexpected error {v} waiting for {ty}");
        }
    }
}

/// Sends one JSON frame.
pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Opens a socket at `url` and says hello with `token`.
pub async fn open(url: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(&mut ws, json!({"type":"hello","token":token})).await;
    recv_type(&mut ws, "welcome").await;
    ws
}

/// Signs in as a guest on the server at `addr`; the reply's body.
pub async fn guest(addr: SocketAddr, device: &str) -> Value {
    reqwest::Client::new()
        .post(format!("http://{addr}/v1/auth/guest"))
        .json(&json!({"device_id": device}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `geogame up` as its own process (the real binary) on port 0, killed
/// when dropped.
pub struct Process {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The second line it printed (the admin token's whereabouts).
    pub token_line: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts the binary with `up` on a data dir, the embedded stack only,
/// and `extra` flags; returns once it printed where it serves.
pub fn spawn_up(data_dir: &std::path::Path, extra: &[&str]) -> Process {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("GEOGAME_ADMIN_TOKEN")
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start geogame");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let token_line = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the first line names the URL")
        .to_owned();
    Process {
        child,
        base,
        token_line,
    }
}

/// `GET url` with a bearer token; the JSON body.
pub async fn get_json(url: &str, bearer: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
