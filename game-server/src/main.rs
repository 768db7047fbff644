//! `game-server`: one game server on its own (the scaled-out deployment).
//! Everything but flag parsing lives in `game_server::standalone`.

use anyhow::Context;
use clap::Parser;
use game_server::standalone::{Args, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    let args = Args::parse();
    let id = args.server_id.clone();
    let shutdown = service_kit::shutdown::on_signal();
    run(args, shutdown, |addr| {
        println!("game-server {id} listening on http://{addr}");
    })
    .await
    .context("game-server failed")
}
