//! `analytics`: the standalone analytics service (stream consumer plus
//! reports). All logic lives in `analytics::service`.

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = analytics::service::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let service = analytics::service::Service::start(&args)
        .await
        .context("analytics cannot start")?;
    let addr = service.local_addr().context("no local address")?;
    println!("analytics serving reports on http://{addr}");

    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        analytics::service::shutdown_signal().await;
        tracing::info!("shutdown requested");
        signal.cancel();
    });
    service.run(shutdown).await.context("analytics failed")?;
    Ok(())
}
