//! `geogame`: the all-in-one binary (see the library for the logic).

use clap::Parser;
use geogame::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::logging::init();
    match Cli::parse().command {
        Command::Up(args) => {
            let cfg = geogame::up::UpConfig::from_args(*args)?;
            let shutdown = service_kit::shutdown::on_signal();
            let (http, ws) = if cfg.tls_enabled() {
                ("https", "wss")
            } else {
                ("http", "ws")
            };
            geogame::up::run(cfg, shutdown, move |addr, token, token_file| {
                println!("geogame is up at {http}://{addr}  (play: {ws}://{addr}/v1/play, lobby: {ws}://{addr}/v1/lobby)");
                match token_file {
                    Some(p) => println!("admin token: {token}  (stored in {})", p.display()),
                    None => println!("admin token: as given by --admin-token / GEOGAME_ADMIN_TOKEN"),
                }
            })
            .await
        }
        Command::Admin(args) => geogame::admin_cli::run(args).await,
    }
}
