//! HTTPS and wss:// on one port, over real sockets: a renewed certificate
//! reaches new connections within 10 s while an open WebSocket stays up,
//! and a broken renewal leaves the old certificate serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use service_kit::tls::TlsFiles;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_util::sync::CancellationToken;

struct Pair {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn pair() -> Pair {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Pair {
        cert_pem: ck.cert.pem(),
        key_pem: ck.key_pair.serialize_pem(),
        der: ck.cert.der().to_vec(),
    }
}

fn write(files: &TlsFiles, p: &Pair) {
    // Written as a renewal tool does: to a temporary name, then renamed.
    for (path, text) in [(&files.cert, &p.cert_pem), (&files.key, &p.key_pem)] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
}

fn connector(trusted: &Pair) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(trusted.der.clone()))
        .unwrap();
    let cfg = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(addr: SocketAddr, trusted: &Pair) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector(trusted).connect(name, tcp).await
}

/// `GET /healthz` over TLS, trusting only `trusted`.
async fn healthz(addr: SocketAddr, trusted: &Pair) -> std::io::Result<String> {
    let mut tls = connect(addr, trusted).await?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await?;
    let mut out = String::new();
    tls.read_to_string(&mut out).await?;
    Ok(out)
}

async fn start(files: TlsFiles) -> (SocketAddr, CancellationToken) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/echo",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut s| async move {
                    while let Some(Ok(Message::Text(t))) = s.recv().await {
                        if s.send(Message::Text(t)).await.is_err() {
                            break;
                        }
                    }
                })
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(service_kit::serve_with(
        listener,
        app,
        stop.clone(),
        Duration::from_secs(1),
        Some(files),
    ));
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_reaches_new_connections_and_open_sockets_stay() {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let (old, new) = (pair(), pair());
    write(&files, &old);
    let (addr, stop) = start(files.clone()).await;

    let reply = healthz(addr, &old).await.unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok"),
        "{reply}"
    );
    assert!(healthz(addr, &new).await.is_err(), "not renewed yet");

    // A wss:// socket opened before the renewal.
    let tls = connect(addr, &old).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/echo", tls)
        .await
        .unwrap();
    ws.send("before".into()).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap().into_text().unwrap(),
        "before"
    );

    // A broken renewal (a certificate with the wrong key) changes nothing.
    std::fs::write(&files.key, pair().key_pem).unwrap();
    tokio::time::sleep(service_kit::tls::RELOAD_EVERY * 2).await;
    assert!(
        healthz(addr, &old).await.is_ok(),
        "the old pair still serves"
    );

    write(&files, &new);
    let renewed = tokio::time::Instant::now();
    loop {
        if healthz(addr, &new).await.is_ok() {
            break;
        }
        assert!(
            renewed.elapsed() < Duration::from_secs(10),
            "no renewal within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        healthz(addr, &old).await.is_err(),
        "new connections get the new certificate"
    );
    // The socket from before is still up.
    ws.send("after".into()).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap().into_text().unwrap(),
        "after"
    );
    stop.cancel();
}

#[test]
fn a_bad_pair_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let e = files.load().unwrap_err();
    assert!(e.contains("cert.pem"), "{e}");
    std::fs::write(&files.cert, pair().cert_pem).unwrap();
    std::fs::write(&files.key, pair().key_pem).unwrap();
    let e = files.load().unwrap_err();
    assert!(
        e.contains("cert.pem") && e.contains("key.pem"),
        "mismatched: {e}"
    );
    std::fs::write(&files.cert, "not pem").unwrap();
    assert!(files.load().is_err());
}
