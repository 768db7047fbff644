//! The browser surfaces over real HTTP: the pages and the SDK are served
//! with their content types and revalidate with ETags, `/v1/client-config`
//! tells a page what it needs, and `--cors-origin` grants exactly the
//! listed origins. (The pages themselves are exercised in Chromium by
//! `clients/web/test`.)

mod common;

use reqwest::StatusCode;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ETAG, IF_NONE_MATCH, ORIGIN};
use serde_json::Value;

/// The raw answer to a guest sign-in with a 3 MiB body. The body is
/// written by one task while another reads: the server answers once it
/// has read past its limit and then closes, so a client that only reads
/// after writing everything would find its write refused instead.
async fn too_long_answer(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let len = 3 << 20;
    let head = format!(
        "POST /v1/auth/guest HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        wr.write_all(&vec![b' '; len]).await
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the server closes (or resets, once its answer is in).
    while let Ok(Ok(n @ 1..)) =
        tokio::time::timeout(std::time::Duration::from_secs(10), rd.read(&mut buf)).await
    {
        out.extend_from_slice(&buf[..n]);
    }
    writer.abort();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_sdk_and_client_config_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(
        dir.path(),
        &["--tile-url", "http://127.0.0.1:9/{z}/{x}/{y}.png"],
    )
    .await;
    let base = format!("http://{}", up.addr);
    let http = reqwest::Client::new();

    for (path, ty, needle) in [
        ("/", "text/html", "data-testid=\"status\""),
        ("/console", "text/html", "data-testid=\"sign-in\""),
        (
            "/clients/js/geogame.js",
            "text/javascript",
            "export class GeogameClient",
        ),
        ("/clients/js/geogame.d.ts", "text/plain", "GeogameClient"),
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let ct = r.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with(ty), "{path}: {ct}");
        let etag = r.headers()[ETAG].clone();
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path} lacks {needle}");
        // An unchanged file costs a 304 with no body.
        let again = http
            .get(format!("{base}{path}"))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    // Nothing outside the two folders, and no test file, is served.
    for path in [
        "/web/../../Cargo.toml",
        "/web/test/browser.test.mjs",
        "/clients/js/test",
        "/web/nope.js",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // axum's own rejections have the contract's shape too: a wrong method,
    // an over-long body; and a body must be an object, not an array.
    let r = http.delete(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    // An over-long body is refused from its Content-Length. Sent over raw
    // TCP with the body held back: a client still writing megabytes when
    // the server answers and closes would see its write fail instead.
    let body = too_long_answer(up.addr).await;
    assert!(body.starts_with("HTTP/1.1 413"), "{body}");
    let json: Value = serde_json::from_str(&body[body.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(json["error"]["code"], "too_large", "{json}");
    let r = http
        .post(format!("{base}/v1/auth/guest"))
        .body(r#"["my-device"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Any unknown path answers with the contract's error body.
    let r = http
        .get(format!("{base}/no/such/endpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{body}");

    let cfg: Value = http
        .get(format!("{base}/v1/client-config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["tile_url"], "http://127.0.0.1:9/{z}/{x}/{y}.png");
    assert_eq!(cfg["lobby_url"], Value::Null);
    assert_eq!(cfg["catch_range_m"], 50.0);
    assert_eq!(cfg["view_radius_m"], 200.0);
    // The centre of the demo world's POIs, in Sammamish WA.
    let (lat, lon) = (
        cfg["center"]["lat"].as_f64().unwrap(),
        cfg["center"]["lon"].as_f64().unwrap(),
    );
    assert!(
        (47.5..47.7).contains(&lat) && (-122.1..-122.0).contains(&lon),
        "{cfg}"
    );
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_grants_only_the_listed_origins() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &["--cors-origin", "https://play.example.com"]).await;
    let url = format!("http://{}/v1/auth/guest", up.addr);
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, &url)
            .header(ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };

    let ok = preflight("https://play.example.com").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://play.example.com"
    );
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // The real request from the listed origin carries the grant too.
    let r = http
        .post(&url)
        .header(ORIGIN, "https://play.example.com")
        .json(&serde_json::json!({"device_id": "cors-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://play.example.com"
    );
    up.stop().await;
}

#[tokio::test]
async fn a_bad_cors_origin_or_tile_url_is_refused_at_startup() {
    use clap::Parser;
    use geogame::cli::{Cli, Command};
    for (flag, value) in [
        ("--cors-origin", "play.example.com"),
        ("--cors-origin", "https://x.example.com/app"),
        ("--tile-url", "https://tiles.example.com/tile.png"),
    ] {
        let Command::Up(args) = Cli::parse_from(["geogame", "up", flag, value]).command else {
            unreachable!()
        };
        let e = geogame::up::UpConfig::from_args(*args)
            .unwrap_err()
            .to_string();
        assert!(e.contains(flag), "{flag} {value}: {e}");
    }
}
