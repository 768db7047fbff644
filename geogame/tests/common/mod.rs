//! Test harness: `geogame up` in this process on 127.0.0.1:0.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

/// Turns shedding on runtime lag off unless the test sets it: a debug
/// build in a parallel test run lags like a saturated release server, and
/// the tests that pin shedding set `--shed-lag-ms` themselves.
fn no_lag_shedding(argv: &mut Vec<&str>) {
    if !argv.contains(&"--shed-lag-ms") {
        argv.extend(["--shed-lag-ms", "0"]);
    }
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
    no_lag_shedding(&mut argv);
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
    spawn_up_logging(data_dir, extra, "warn", std::process::Stdio::inherit())
}

/// [`spawn_up`] with `RUST_LOG=rust_log` and its log (stderr) sent to
/// `log`.
pub fn spawn_up_logging(
    data_dir: &std::path::Path,
    extra: &[&str],
    rust_log: &str,
    log: std::process::Stdio,
) -> Process {
    use std::io::{BufRead, BufReader};
    let mut extra = extra.to_vec();
    no_lag_shedding(&mut extra);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(&extra)
        .env_remove("GEOGAME_ADMIN_TOKEN")
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", rust_log)
        .stdout(std::process::Stdio::piped())
        .stderr(log)
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

/// A raw socket past the WebSocket handshake on `path`.
pub async fn upgraded(addr: SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A client frame: `first` is FIN/RSV/opcode, the payload masked unless
/// `masked` is false.
pub fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first, payload.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// Reads server frames until a close frame; its code.
pub async fn close_code(tcp: &mut TcpStream) -> u16 {
    close_code_within(tcp, Duration::from_secs(5)).await
}

/// [`close_code`], waiting up to `wait` for each frame.
pub async fn close_code_within(tcp: &mut TcpStream, wait: Duration) -> u16 {
    loop {
        let mut head = [0u8; 2];
        tokio::time::timeout(wait, tcp.read_exact(&mut head))
            .await
            .expect("a frame in time")
            .expect("a close frame before the connection ends");
        let len = usize::from(head[1] & 0x7f);
        let len = match len {
            126 => {
                let mut l = [0u8; 2];
                tcp.read_exact(&mut l).await.unwrap();
                usize::from(u16::from_be_bytes(l))
            }
            n => n,
        };
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
        if head[0] & 0x0f == 0x8 {
            return u16::from_be_bytes([body[0], body[1]]);
        }
    }
}
