//! `analytics`: the standalone analytics service (stream consumer plus
//! reports). All logic lives in `analytics::service`.

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let args = analytics::service::Args::parse();
    let service = analytics::service::Service::start(&args)
        .await
        .context("analytics cannot start")?;
    let addr = service.local_addr().context("no local address")?;
    println!("analytics serving reports on http://{addr}");
    let shutdown = service_kit::shutdown::on_signal();
    service.run(shutdown).await.context("analytics failed")?;
    Ok(())
}
