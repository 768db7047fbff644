//! The `load-test` binary: parses flags and hands over to [`load_test::app`].

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = load_test::Cli::parse();
    // Logs go to stderr at `warn` by default so they do not break the live
    // progress line; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let err_is_terminal = std::io::stderr().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    match load_test::app::execute(cli, &mut out, &mut err, err_is_terminal) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let e = anyhow::Error::new(e).context("load test failed");
            eprintln!("load-test: {e:#}");
            ExitCode::from(load_test::app::EXIT_USAGE)
        }
    }
}
