//! The command-line program behind `main.rs`: validates flags, raises the
//! open-file limit, runs the test on a runtime sized by `--threads`, prints
//! progress and the summary, writes the report and plot, and picks the exit
//! code (0 ok, 1 SLO missed, 2 usage or connection error).

use std::io::Write;

use crate::clock::TimerGrid;
use crate::config::{Cli, Command, Config, Target};
use crate::error::LoadTestError;
use crate::report::Report;
use crate::runner::{self, Phase, Progress};

/// Exit code when everything went fine.
pub const EXIT_OK: u8 = 0;
/// Exit code when the SLO was missed.
pub const EXIT_SLO_MISSED: u8 = 1;
/// Exit code for usage errors and unreachable targets.
pub const EXIT_USAGE: u8 = 2;

/// File descriptors kept free for the runtime, logs and outputs.
const SPARE_FDS: u64 = 256;

/// Runs the program; `out` gets the summary, `err` progress and warnings.
/// `err_is_terminal` selects a live progress line over periodic lines.
pub fn execute(
    cli: Cli,
    out: &mut dyn Write,
    err: &mut dyn Write,
    err_is_terminal: bool,
) -> Result<u8, LoadTestError> {
    if let Some(Command::EchoServer { listen }) = cli.command {
        return echo_server(&listen, out).map(|()| EXIT_OK);
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let cfg = match cli.run.validate(now_ms) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "load-test: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    raise_fd_limit(&cfg, err);
    let before = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .map_err(LoadTestError::Runtime)?;
    let after = std::time::Instant::now();
    let grid = if cfg.coarse_timer {
        None
    } else {
        TimerGrid::around_runtime_build(before, after)
    };
    let interval = cfg.progress_interval.as_secs_f64();
    let mut last_print = f64::NEG_INFINITY;
    let report = runtime.block_on(runner::run_on_grid(
        cfg.clone(),
        grid,
        shutdown_signal(),
        |p: &Progress| {
            if err_is_terminal {
                let _ = write!(err, "\r{}\x1b[K", p.line());
                let _ = err.flush();
            } else if p.elapsed_s - last_print >= interval - 0.01
                || p.phase == Phase::Drain && last_print < 0.0
            {
                last_print = p.elapsed_s;
                let _ = writeln!(err, "{}", p.line());
            }
        },
    ))?;
    if err_is_terminal {
        let _ = writeln!(err);
    }
    // Shut the runtime down without waiting for sockets still closing.
    runtime.shutdown_background();
    finish(&cfg, &report, out, err)
}

fn finish(
    cfg: &Config,
    report: &Report,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, LoadTestError> {
    let _ = write!(out, "{}", report.summary_table());
    if let Some(path) = &cfg.out {
        report.write_json(path)?;
        let _ = writeln!(out, "report written to {}", path.display());
    }
    if let Some(path) = &cfg.plot {
        crate::plot::write_svg(report, path)?;
        let _ = writeln!(out, "plot written to {}", path.display());
    }
    if report.connected == 0 {
        let reasons: Vec<String> = report
            .connect_failures
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        let e = LoadTestError::NoConnection {
            url: report.target.clone(),
            reasons: reasons.join(" "),
        };
        let _ = writeln!(err, "load-test: {e}");
        return Ok(EXIT_USAGE);
    }
    Ok(if report.slo_missed() {
        EXIT_SLO_MISSED
    } else {
        EXIT_OK
    })
}

/// Raises the soft open-file limit to the hard limit and warns when even
/// that is too low for one socket per player (two for lobby players).
fn raise_fd_limit(cfg: &Config, err: &mut dyn Write) {
    let players = cfg.players as u64;
    let needed = match cfg.target {
        // Both ends of every socket live in this process.
        Target::Calibrate => 2 * players + SPARE_FDS,
        Target::Echo { .. } => players + SPARE_FDS,
        Target::Game { .. } => {
            players + (players as f64 * cfg.mix.lobby_share).ceil() as u64 + SPARE_FDS
        }
    };
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => {
            let _ = writeln!(
                err,
                "load-test: warning: open-file limit is {limit}, about {needed} needed; raise the hard limit (ulimit -Hn){}",
                if cfg.target == Target::Calibrate {
                    " or run `load-test echo-server` in another process"
                } else {
                    ""
                }
            );
        }
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(
                err,
                "load-test: warning: could not raise the open-file limit: {e}"
            );
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn echo_server(listen: &str, out: &mut dyn Write) -> Result<(), LoadTestError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LoadTestError::Runtime)?;
    runtime.block_on(async {
        let listener = crate::echo::bind(listen).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| LoadTestError::Echo {
                addr: listen.to_owned(),
                source,
            })?;
        let _ = writeln!(out, "echo server listening on ws://{addr} (Ctrl-C to stop)");
        let _ = out.flush();
        crate::echo::serve(listener, shutdown_signal()).await;
        Ok(())
    })
}
