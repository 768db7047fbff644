//! The standalone matchmaker: `/v1/lobby` on Redis, for scale-out. Reads
//! raid POIs from the database and reloads them periodically.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use matchmaker::PoiTable;
use matchmaker::standalone::{self, Args};
use tokio_util::sync::CancellationToken;

async fn load_pois(db: &store::Db, table: &PoiTable) -> anyhow::Result<()> {
    let rows = db.list_pois().await.context("listing POIs")?;
    table.replace(rows.into_iter().map(|p| (p.id, p.lat, p.lon)));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = Args::parse()
        .settings(std::env::var("GEOGAME_TOKEN_SECRET").ok())
        .context("invalid configuration")?;
    let db = match settings.database_url.strip_prefix("sqlite:") {
        Some(path) => store::Db::open_sqlite(path.as_ref()).await,
        None => store::Db::connect_postgres(&settings.database_url).await,
    }
    .context("opening the database")?;
    let pois = Arc::new(PoiTable::default());
    load_pois(&db, &pois).await?;
    tracing::info!(pois = pois.len(), "raid POIs loaded");
    let shutdown = CancellationToken::new();
    standalone::cancel_on_signal(shutdown.clone());
    let (db2, table) = (db.clone(), pois.clone());
    standalone::every(settings.poi_refresh, shutdown.clone(), move || {
        let (db, table) = (db2.clone(), table.clone());
        async move {
            if let Err(e) = load_pois(&db, &table).await {
                tracing::warn!(error = %format!("{e:#}"), "POI reload failed; keeping the old table");
            }
        }
    });
    let metrics = standalone::install_metrics()?;
    standalone::serve(settings, pois, metrics, shutdown)
        .await
        .context("matchmaker failed")?;
    db.close().await;
    Ok(())
}
