//! HTTPS and `wss://` on a service's one port (`--tls-cert`, `--tls-key`),
//! with certificate renewal picked up while running.
//!
//! The files are read at start (a bad pair stops the process with the
//! reason) and checked every [`RELOAD_EVERY`]: when they change and still
//! form a valid pair, new connections get the new certificate; open
//! connections keep theirs and are never dropped. A pair that fails to load
//! (say, the key written a moment after the certificate) leaves the old
//! one serving until the next check.
//!
//! Handshakes run in their own tasks, each under [`HANDSHAKE_TIMEOUT`], so
//! a client that connects and stalls cannot hold up anyone else's accept.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How often the certificate files are checked for a renewal.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// The longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the HTTP server to take them.
const READY_QUEUE: usize = 1024;

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (leaf first).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks the pair into a rustls configuration (HTTP/1.1).
    pub fn load(&self) -> Result<Arc<ServerConfig>, String> {
        let what = |f: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", f.display());
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| what(&self.cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| what(&self.cert, &e))?;
        if certs.is_empty() {
            return Err(what(&self.cert, &"no certificate in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| what(&self.key, &e))?;
        let mut cfg = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} and {}: {e}", self.cert.display(), self.key.display()))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// What tells a renewal: each file's modification time and length.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let one = |p: &Path| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        };
        Some([one(&self.cert)?, one(&self.key)?])
    }
}

/// A listener that hands axum TLS streams, handshaken elsewhere.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Serves TLS over `tcp` with `files` until `shutdown`; fails when the
    /// files do not form a valid pair.
    pub(crate) fn start(
        tcp: TcpListener,
        files: TlsFiles,
        shutdown: CancellationToken,
    ) -> io::Result<TlsListener> {
        let config = files
            .load()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let local = tcp.local_addr()?;
        let current = Arc::new(RwLock::new(config));
        tokio::spawn(reload(files, current.clone(), shutdown.clone()));
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept(tcp, current, tx, shutdown));
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (shutdown): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn current(config: &RwLock<Arc<ServerConfig>>) -> Arc<ServerConfig> {
    config
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

async fn accept(
    tcp: TcpListener,
    config: Arc<RwLock<Arc<ServerConfig>>>,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = tcp.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let acceptor = TlsAcceptor::from(current(&config));
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

async fn reload(
    files: TlsFiles,
    config: Arc<RwLock<Arc<ServerConfig>>>,
    shutdown: CancellationToken,
) {
    let mut seen = files.stamp();
    let mut every = tokio::time::interval(RELOAD_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = files.stamp();
        if now.is_none() || now == seen {
            continue;
        }
        match files.load() {
            Ok(fresh) => {
                *config
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
                seen = now;
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            // Keep serving the old pair; try again at the next check.
            Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded"),
        }
    }
}
