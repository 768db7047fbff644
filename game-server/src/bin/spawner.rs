//! `spawner`: the world's authority when scaled out (the operator API,
//! zones and POIs). Everything but flag parsing lives in
//! `game_server::authority`.

use anyhow::Context;
use clap::Parser;
use game_server::authority::{Args, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let args = Args::parse();
    let shutdown = service_kit::shutdown::on_signal();
    run(args, shutdown, |addr| {
        println!("spawner listening on http://{addr}");
    })
    .await
    .context("spawner failed")
}
