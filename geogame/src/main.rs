//! `geogame`: the all-in-one binary (see the library for the logic).

use clap::Parser;
use geogame::cli::{Cli, Command};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up(args) => {
            let cfg = geogame::up::UpConfig::from_args(args)?;
            let shutdown = CancellationToken::new();
            matchmaker::standalone::cancel_on_signal(shutdown.clone());
            geogame::up::run(cfg, shutdown, |addr, token, token_file| {
                println!("geogame is up at http://{addr}  (play: ws://{addr}/v1/play, lobby: ws://{addr}/v1/lobby)");
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
