//! `geogame admin`: POI and zone files to and from a running server, and
//! operator accounts, over its operator API, so changes take effect live.

use anyhow::{Context, bail};
use reqwest::Method;

use crate::cli::{AdminArgs, AdminTask};

/// Runs one operator task and prints the server's answer.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let token = match args.admin_token {
        Some(t) => t,
        None => {
            let path = args.data_dir.join("admin-token");
            std::fs::read_to_string(&path)
                .with_context(|| format!("no --admin-token and cannot read {}", path.display()))?
                .trim()
                .to_owned()
        }
    };
    let base = args.url.trim_end_matches('/');
    let (method, path, body) = match &args.task {
        AdminTask::ImportPois { file } => {
            (Method::POST, "/v1/admin/pois".to_owned(), Some(read(file)?))
        }
        AdminTask::ExportPois => (Method::GET, "/v1/admin/pois".to_owned(), None),
        AdminTask::ImportZones { file } => {
            (Method::PUT, "/v1/admin/zones".to_owned(), Some(read(file)?))
        }
        AdminTask::ExportZones => (Method::GET, "/v1/admin/zones".to_owned(), None),
        AdminTask::AddOperator { name, role } => {
            let body = serde_json::json!({"name": name, "role": role}).to_string();
            (Method::POST, "/v1/admin/operators".to_owned(), Some(body))
        }
        AdminTask::ListOperators => (Method::GET, "/v1/admin/operators".to_owned(), None),
        AdminTask::RevokeOperator { name } => (
            Method::DELETE,
            format!("/v1/admin/operators/{}", segment(name)),
            None,
        ),
        AdminTask::ErasePlayer { player_id } => (
            Method::DELETE,
            format!("/v1/admin/players/{}", segment(player_id)),
            None,
        ),
    };
    let client = reqwest::Client::new();
    let mut req = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = resp.status();
    let text = resp.text().await.context("reading the reply")?;
    if !status.is_success() {
        bail!("server refused ({status}): {text}");
    }
    if matches!(args.task, AdminTask::AddOperator { .. }) {
        // Just the token, so that `TOKEN=$(geogame admin add-operator …)` works.
        let v: serde_json::Value = serde_json::from_str(&text).context("reading the reply")?;
        let token = v["token"].as_str().context("the reply has no token")?;
        println!("{token}");
    } else if !text.is_empty() {
        println!("{text}");
    }
    Ok(())
}

/// `s` as one percent-encoded path segment (a name may hold spaces or
/// slashes), by the URL parser's own rules.
fn segment(s: &str) -> String {
    let mut u = reqwest::Url::parse("http://segment/").expect("a valid base");
    u.path_segments_mut().expect("a base with a path").push(s);
    u.path()[1..].to_owned()
}

fn read(file: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}
