//! `--admin-listen`: the operator API only on its own (loopback) address.

use clap::Parser;
use geogame::cli::{Cli, Command};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_admin_api_moves_to_its_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let cli = Cli::parse_from([
        "geogame",
        "up",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        &admin_addr,
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--admin-token",
        "only-here",
    ]);
    let Command::Up(args) = cli.command else {
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
    let http = reqwest::Client::new();
    let public = http
        .get(format!("http://{addr}/v1/admin/zones"))
        .bearer_auth("only-here")
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "not served on the public listener");
    let private = http
        .get(format!("http://{admin_addr}/v1/admin/zones"))
        .bearer_auth("only-here")
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let healthz = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
