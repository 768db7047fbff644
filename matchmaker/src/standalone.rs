//! The standalone `matchmaker` process: flags (parsed in two phases, raw
//! then validated), metrics, and serving the lobby until shutdown.
//!
//! The standalone process exists to scale out, so it always keeps its
//! state on Redis; `geogame up` runs the in-memory matchmaker instead.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use protocol::token::TokenKey;
use tokio_util::sync::CancellationToken;

use crate::{Backend, Lobby, MatchConfig, MatchError, PoiTable, Registry};

/// The Redis key prefix shared by matchmakers and game servers by default.
pub const DEFAULT_REDIS_PREFIX: &str = "geogame:mm";

/// Raw command-line flags.
#[derive(Debug, clap::Parser)]
#[command(
    name = "matchmaker",
    version,
    about = "geogame matchmaker: the /v1/lobby socket, raids and pvp, sessions assigned to game servers (on Redis, for scale-out)"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub listen: SocketAddr,
    /// Redis holding tickets, sessions and the game-server registry (required).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Key prefix on Redis; game servers must heartbeat under the same one.
    #[arg(long, default_value = DEFAULT_REDIS_PREFIX)]
    pub redis_prefix: String,
    /// PostgreSQL (or `sqlite:PATH`) database the POIs are read from (required).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// File holding the token signing secret (else env GEOGAME_TOKEN_SECRET).
    #[arg(long)]
    pub token_secret_file: Option<PathBuf>,
    /// Id of this process, sent in `welcome` (default: random).
    #[arg(long)]
    pub server_id: Option<String>,
    /// Seconds between reloads of the POI table.
    #[arg(long, default_value_t = 30)]
    pub poi_refresh_s: u64,
    /// Fewest players a raid starts with.
    #[arg(long, default_value_t = 2)]
    pub raid_min: usize,
    /// Most players in a raid.
    #[arg(long, default_value_t = 20)]
    pub raid_max: usize,
    /// Raid radius around the POI, metres.
    #[arg(long, default_value_t = 300.0)]
    pub raid_radius_m: f64,
    /// Lobby wait before a raid starts below its maximum, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub lobby_wait_s: f64,
    /// Ticket lifetime, seconds.
    #[arg(long, default_value_t = 120.0)]
    pub ticket_ttl_s: f64,
    /// Interval of the matching loop, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub tick_ms: u64,
}

/// Why the flags cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// No Redis given.
    #[error(
        "the standalone matchmaker needs --redis-url (or REDIS_URL): it exists to scale out over a shared Redis; run `geogame up` for a single in-memory process"
    )]
    NoRedis,
    /// No database given.
    #[error("--database-url (or DATABASE_URL) is required: raid POIs are read from it")]
    NoDatabase,
    /// No secret given.
    #[error("no token secret: pass --token-secret-file PATH or set GEOGAME_TOKEN_SECRET")]
    NoSecret,
    /// The secret file could not be read.
    #[error("cannot read token secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The secret is unusable.
    #[error("token secret: {0}")]
    Secret(protocol::token::TokenError),
    /// A rule value is unusable.
    #[error(transparent)]
    Rules(#[from] MatchError),
    /// A duration flag is negative or not a number.
    #[error("durations must be finite and >= 0")]
    BadDuration,
}

/// Validated settings of the standalone process.
#[derive(Debug)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Redis URL.
    pub redis_url: String,
    /// Redis key prefix.
    pub redis_prefix: String,
    /// Database URL.
    pub database_url: String,
    /// Token key.
    pub key: TokenKey,
    /// This process's id.
    pub server_id: String,
    /// Period of POI reloads.
    pub poi_refresh: Duration,
    /// Rules and bounds.
    pub cfg: MatchConfig,
}

impl Args {
    /// Checks the flags; `env_secret` is `GEOGAME_TOKEN_SECRET`, if set.
    pub fn settings(self, env_secret: Option<String>) -> Result<Settings, SettingsError> {
        let redis_url = self
            .redis_url
            .filter(|u| !u.is_empty())
            .ok_or(SettingsError::NoRedis)?;
        let database_url = self
            .database_url
            .filter(|u| !u.is_empty())
            .ok_or(SettingsError::NoDatabase)?;
        let secret = match (&self.token_secret_file, env_secret) {
            (Some(path), _) => std::fs::read(path)
                .map(|mut b| {
                    // A trailing newline from `echo` is not part of the secret.
                    while b.last().is_some_and(u8::is_ascii_whitespace) {
                        b.pop();
                    }
                    b
                })
                .map_err(|source| SettingsError::SecretFile {
                    path: path.clone(),
                    source,
                })?,
            (None, Some(s)) if !s.is_empty() => s.into_bytes(),
            _ => return Err(SettingsError::NoSecret),
        };
        let key = TokenKey::new(&secret).map_err(SettingsError::Secret)?;
        let secs = |s: f64| Duration::try_from_secs_f64(s).map_err(|_| SettingsError::BadDuration);
        let cfg = MatchConfig {
            raid_min: self.raid_min,
            raid_max: self.raid_max,
            raid_radius_m: self.raid_radius_m,
            lobby_wait: secs(self.lobby_wait_s)?,
            ticket_ttl: secs(self.ticket_ttl_s)?,
            tick: Duration::from_millis(self.tick_ms),
            ..MatchConfig::default()
        };
        cfg.validate()?;
        Ok(Settings {
            listen: self.listen,
            redis_url,
            redis_prefix: self.redis_prefix,
            database_url,
            key,
            server_id: self
                .server_id
                .unwrap_or_else(|| format!("matchmaker-{}", uuid::Uuid::new_v4().simple())),
            poi_refresh: Duration::from_secs(self.poi_refresh_s.max(1)),
            cfg,
        })
    }
}

/// Installs the Prometheus recorder, with real buckets for the lobby's
/// histograms.
pub fn install_metrics() -> Result<PrometheusHandle, MatchError> {
    let seconds = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Prefix("geogame_".into()), &seconds)
        .and_then(|b| b.install_recorder())
        .map_err(|e| MatchError::Config(format!("metrics: {e}")))
}

/// Serves the lobby on Redis until `shutdown`, then closes sockets with
/// 1001 and returns.
pub async fn serve(
    s: Settings,
    pois: Arc<PoiTable>,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), MatchError> {
    let registry = Registry::redis(&s.redis_url, &s.redis_prefix, &s.cfg).await?;
    let backend = Backend::Redis {
        url: s.redis_url.clone(),
        prefix: s.redis_prefix.clone(),
    };
    let on_match = Arc::new(|m: &crate::MatchRecord| {
        tracing::info!(session = %m.session_id, players = m.players.len(), server = %m.server_id, "session formed");
    });
    let lobby = Lobby::new(s.cfg, backend, registry, s.key, pois, on_match, s.server_id).await?;
    let upkeep = metrics.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(move || async move { metrics.render() }))
        .merge(lobby.router());
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .map_err(|e| MatchError::Config(format!("cannot listen on {}: {e}", s.listen)))?;
    tracing::info!(addr = %s.listen, "matchmaker listening");
    let http = tokio::spawn({
        let stop = shutdown.clone();
        async move {
            // Lobby pushes are small frames; see the game server's listener
            // on why Nagle's algorithm is off.
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    });
    every(Duration::from_secs(5), shutdown.clone(), move || {
        upkeep.run_upkeep();
        async {}
    });
    lobby.run(shutdown).await;
    let _ = http.await;
    Ok(())
}

/// Runs `f` every `period` until `shutdown` (e.g. POI reloads).
pub fn every<F, Fut>(period: Duration, shutdown: CancellationToken, mut f: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = interval.tick() => f().await,
            }
        }
    });
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        shutdown.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["matchmaker"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn refuses_to_start_without_redis() {
        let a = args(&["--database-url", "postgres://x"]);
        let e = a.settings(Some(SECRET.into())).unwrap_err();
        assert!(matches!(e, SettingsError::NoRedis));
        assert!(e.to_string().contains("--redis-url"));
    }

    #[test]
    fn needs_a_database_and_a_strong_secret() {
        let a = args(&["--redis-url", "redis://x"]);
        assert!(matches!(
            a.settings(Some(SECRET.into())),
            Err(SettingsError::NoDatabase)
        ));
        let a = args(&["--redis-url", "redis://x", "--database-url", "postgres://x"]);
        assert!(matches!(a.settings(None), Err(SettingsError::NoSecret)));
        let a = args(&["--redis-url", "redis://x", "--database-url", "postgres://x"]);
        assert!(matches!(
            a.settings(Some("short".into())),
            Err(SettingsError::Secret(_))
        ));
    }

    #[test]
    fn good_flags_give_settings_with_the_rules() {
        let a = args(&[
            "--redis-url",
            "redis://x",
            "--database-url",
            "postgres://x",
            "--raid-max",
            "10",
            "--lobby-wait-s",
            "5",
        ]);
        let s = a.settings(Some(SECRET.into())).unwrap();
        assert_eq!(s.cfg.raid_max, 10);
        assert_eq!(s.cfg.lobby_wait, Duration::from_secs(5));
        let a = args(&[
            "--redis-url",
            "r",
            "--database-url",
            "d",
            "--raid-min",
            "30",
        ]);
        assert!(matches!(
            a.settings(Some(SECRET.into())),
            Err(SettingsError::Rules(_))
        ));
    }
}
