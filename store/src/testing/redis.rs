//! A redis-server of a test's own, on a free port, that the test may kill
//! and restart (the machine's shared Redis is never stopped).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A throwaway redis-server with an fsync-always append-only file, so a
/// restart keeps what it acknowledged. Killed and its files removed on
/// drop.
#[derive(Debug)]
pub struct ThrowawayRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl ThrowawayRedis {
    /// Starts one and waits until it answers. `None` when redis-server is
    /// not installed outside CI (under `CI=true` that fails the test).
    pub fn start() -> Option<ThrowawayRedis> {
        if !Path::new(REDIS_SERVER).exists() {
            super::service_missing(&format!("{REDIS_SERVER} is not installed"));
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("geogame-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a directory for the throwaway redis");
        let child = spawn(port, &dir);
        let r = ThrowawayRedis { child, port, dir };
        r.wait_ready();
        Some(r)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL) and waits for it to go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and files, and waits until it
    /// answers.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.dir);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if ping(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the throwaway redis on port {} did not start", self.port);
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(port: u16, dir: &Path) -> Child {
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
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting redis-server")
}

/// Whether a Redis answers PING on the port.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
