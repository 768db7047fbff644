//! `geogame admin add-operator` against a running `geogame up`: it prints
//! a token that signs that person in with their role, and the reports
//! honour it.

mod common;

use serde_json::Value;

async fn add_operator(base: &str, admin: &str, name: &str, role: &str) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args([
            "admin",
            "--url",
            base,
            "--admin-token",
            admin,
            "add-operator",
            name,
            "--role",
            role,
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{token:?}"
    );
    token
}

async fn get(url: String, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_operator_prints_a_token_that_signs_in_with_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let up = common::up(dir.path(), &["--admin-token", "ops-admin"]).await;
    let base = format!("http://{}", up.addr);

    let analyst = add_operator(&base, "ops-admin", "ann", "analyst").await;
    let sponsor = add_operator(&base, "ops-admin", "starbucks", "sponsor:Starbucks").await;
    assert_ne!(analyst, sponsor);

    assert_eq!(
        get(format!("{base}/v1/reports/summary"), &analyst).await.0,
        200
    );
    assert_eq!(
        get(format!("{base}/v1/admin/zones"), &analyst).await.0,
        403,
        "analysts read, never write"
    );
    // The demo world's one sponsored POI is the Starbucks at the Highlands.
    let (s, rows) = get(format!("{base}/v1/reports/pois"), &sponsor).await;
    assert_eq!(s, 200);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["sponsor"] == "Starbucks"), "{rows:?}");
    assert_eq!(
        get(format!("{base}/v1/reports/species"), &sponsor).await.0,
        403
    );

    // A bad role is refused with the server's reason, and no token.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_geogame"))
        .args([
            "admin",
            "--url",
            &base,
            "--admin-token",
            "ops-admin",
            "add-operator",
            "x",
            "--role",
            "root",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
    up.stop().await;
}
