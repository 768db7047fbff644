//! The standalone matchmaker: `/v1/lobby` on Redis, for scale-out. Reads
//! raid POIs from the database and reloads them periodically.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use matchmaker::PoiTable;
use matchmaker::standalone::{self, Args};

async fn load_pois(db: &store::Db, table: &PoiTable) -> anyhow::Result<()> {
    let rows = db.list_pois().await.context("listing POIs")?;
    table.replace(rows.into_iter().map(|p| (p.id, p.lat, p.lon)));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let settings = Args::parse().settings().context("invalid configuration")?;
    let db = store::Db::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let pois = Arc::new(PoiTable::default());
    load_pois(&db, &pois).await?;
    tracing::info!(pois = pois.len(), "raid POIs loaded");
    let shutdown = service_kit::shutdown::on_signal();
    let tasks = service_kit::Tasks::new();
    let (db2, table) = (db.clone(), pois.clone());
    service_kit::every(&tasks, settings.poi_refresh, shutdown.clone(), move || {
        let (db, table) = (db2.clone(), table.clone());
        async move {
            if let Err(e) = load_pois(&db, &table).await {
                tracing::warn!(error = %format!("{e:#}"), "POI reload failed; keeping the old table");
            }
        }
    });
    standalone::serve(settings, pois, db.clone(), shutdown, |addr| {
        println!("matchmaker listening on http://{addr}");
    })
    .await
    .context("matchmaker failed")?;
    tasks.drain(std::time::Duration::from_secs(2)).await;
    db.close().await;
    Ok(())
}
