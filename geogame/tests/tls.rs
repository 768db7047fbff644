//! `geogame up --tls-cert --tls-key`: guest sign-in over HTTPS and a game
//! over wss:// on the one port. (Renewal while serving is tested in
//! `service-kit/tests/tls.rs`.)

mod common;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;

fn connector(der: &[u8]) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(der.to_vec())).unwrap();
    let cfg = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

async fn tls(addr: std::net::SocketAddr, der: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    connector(der)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_https_and_wss_on_one_port() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let up = common::up(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    let der = ck.cert.der().to_vec();

    // Guest sign-in over HTTPS.
    let mut s = tls(up.addr, &der).await;
    let body = json!({"device_id": "tls-phone"}).to_string();
    let req = format!(
        "POST /v1/auth/guest HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let auth: Value = serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap()).unwrap();

    // The game over wss://.
    let (mut ws, _) =
        tokio_tungstenite::client_async("wss://localhost/v1/play", tls(up.addr, &der).await)
            .await
            .unwrap();
    ws.send(Message::Text(
        json!({"type": "hello", "token": auth["token"]})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(w))) = ws.next().await else {
        panic!("no welcome")
    };
    let w: Value = serde_json::from_str(&w).unwrap();
    assert_eq!(w["type"], "welcome", "{w}");

    // Plain HTTP on the TLS port gets nothing useful.
    let r = reqwest::get(format!("http://{}/healthz", up.addr)).await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_test_plays_over_https_and_wss_with_a_private_ca() {
    use load_test::config::{Target, parse_url};
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let up = common::up(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    let url = format!("https://localhost:{}", up.addr.port());
    let (http_base, ws_base) = parse_url(&url).unwrap();
    assert_eq!(ws_base, format!("wss://localhost:{}", up.addr.port()));
    let run = |ca_certs: Vec<std::path::PathBuf>| {
        let mut cfg = load_test::Config::new(
            Target::Game {
                http_base: http_base.clone(),
                ws_base: ws_base.clone(),
            },
            5,
            2.0,
            std::time::Duration::from_secs(3),
        );
        cfg.device_prefix = "tls-walker".into();
        cfg.ca_certs = ca_certs;
        load_test::run(cfg, std::future::pending(), |_| {})
    };
    // Trusting the server's CA: every player signs in over HTTPS and plays
    // over wss://.
    let report = run(vec![cert.clone()]).await.unwrap();
    assert_eq!(report.connected, 5, "{:?}", report.connect_failures);
    assert!(
        report.latency_ms.location.count >= 10,
        "{:?}",
        report.latency_ms.location
    );
    // Without it the certificate is refused: nobody connects.
    let refused = run(Vec::new()).await.unwrap();
    assert_eq!(refused.connected, 0);
    assert_eq!(
        refused.connect_failures.get("auth_request"),
        Some(&5),
        "{:?}",
        refused.connect_failures
    );
    up.stop().await;
}
