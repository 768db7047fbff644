//! `--admin-listen`: the operator API only on its own (loopback) address.

mod common;

#[tokio::test]
async fn the_admin_api_moves_to_its_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let up = common::up(
        dir.path(),
        &["--admin-listen", &admin_addr, "--admin-token", "only-here"],
    )
    .await;
    let addr = up.addr;
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
    up.stop().await;
}
