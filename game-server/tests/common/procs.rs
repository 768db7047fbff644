//! Service binaries as child processes, for the tests of the scaled-out
//! deployment (`spawner_service.rs`, `balancer.rs`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A service binary, killed when dropped.
pub struct Service {
    pub child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Starts `bin` with `args` and a data dir of its own; returns once it
    /// printed the URL it serves (pass `--listen`).
    pub fn start(bin: &str, args: &[&str]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("REDIS_URL")
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{bin} printed no URL: {line:?}"))
            .to_owned();
        Service {
            child,
            base,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }
}
