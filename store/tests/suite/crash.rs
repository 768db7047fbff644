//! A catch acknowledged by the SQLite store survives the process dying
//! without any shutdown: the test re-runs its own binary as a child that
//! records a catch and then aborts.

use std::path::Path;

use store::{CaughtCreature, Db};

const DB_ENV: &str = "GEOGAME_STORE_CRASH_DB";

fn creature() -> CaughtCreature {
    CaughtCreature {
        player_id: "p1".to_string(),
        creature_id: "acked-then-crashed".to_string(),
        species: "pidge".to_string(),
        rarity: "epic".to_string(),
        poi_id: None,
        lat: 10.0,
        lon: 20.0,
        caught_at: 42,
    }
}

/// The child half: does nothing unless started by the parent below.
#[tokio::test]
async fn crash_child() {
    let Ok(path) = std::env::var(DB_ENV) else {
        return;
    };
    let db = Db::open_sqlite(Path::new(&path)).await.unwrap();
    assert!(db.record_catch(&creature(), &[]).await.unwrap());
    // No close, no checkpoint, no destructors: the process just dies.
    std::process::abort();
}

#[tokio::test]
async fn catch_survives_process_abort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash::crash_child", "--test-threads=1"])
        .env(DB_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the child should have aborted: {status:?}"
    );
    let db = Db::open_sqlite(&path).await.unwrap();
    assert_eq!(db.collection("p1").await.unwrap().0, vec![creature()]);
}
