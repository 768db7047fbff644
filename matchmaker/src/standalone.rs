//! The standalone `matchmaker` process: flags (parsed in two phases, raw
//! then validated), metrics, and serving the lobby until shutdown.
//!
//! The standalone process exists to scale out, so it always keeps its
//! state on Redis; `geogame up` runs the in-memory matchmaker instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
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
    /// Token signing secret shared with the game servers (at least 32
    /// bytes), as `game-server` takes it.
    #[arg(long, env = "GEOGAME_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// File holding the token signing secret, instead of --token-secret.
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
    /// Flags every listener shares (`--cors-origin`).
    #[command(flatten)]
    pub http: service_kit::HttpFlags,
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
    /// A `--cors-origin` is not an origin, or `--tls-cert`/`--tls-key`
    /// do not load.
    #[error("{0}")]
    Cors(String),
    /// No secret given.
    #[error(
        "no token secret: pass --token-secret, --token-secret-file PATH or set GEOGAME_TOKEN_SECRET"
    )]
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
    /// Origins whose pages may call this service.
    pub cors: service_kit::Cors,
    /// HTTPS and wss:// when given.
    pub tls: Option<service_kit::tls::TlsFiles>,
}

impl Args {
    /// Checks the flags.
    pub fn settings(self) -> Result<Settings, SettingsError> {
        let redis_url = self
            .redis_url
            .filter(|u| !u.is_empty())
            .ok_or(SettingsError::NoRedis)?;
        let database_url = self
            .database_url
            .filter(|u| !u.is_empty())
            .ok_or(SettingsError::NoDatabase)?;
        let secret = match (&self.token_secret_file, self.token_secret.clone()) {
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
        let cors = self.http.cors().map_err(SettingsError::Cors)?;
        let tls = self.http.tls().map_err(SettingsError::Cors)?;
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
            cors,
            tls,
        })
    }
}

/// Serves the lobby on Redis until `shutdown`, then closes sockets with
/// 1001 and returns. `on_bound` hears the bound address (port 0 works).
pub async fn serve(
    s: Settings,
    pois: Arc<PoiTable>,
    db: store::Db,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), MatchError> {
    let _ = service_kit::telemetry::prometheus();
    let registry = Registry::redis(&s.redis_url, &s.redis_prefix, &s.cfg).await?;
    let backend = Backend::Redis {
        url: s.redis_url.clone(),
        prefix: s.redis_prefix.clone(),
    };
    // Regression: the standalone matchmaker used to only log a formed
    // match, so `summary.matches` stayed 0 when scaled out.
    let on_match = crate::outbox_log(db, s.server_id.clone());
    let lobby = Lobby::new(s.cfg, backend, registry, s.key, pois, on_match, s.server_id).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(service_kit::telemetry::metrics_handler))
        .merge(lobby.router());
    let app = s.cors.apply(app);
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .map_err(|e| MatchError::Config(format!("cannot listen on {}: {e}", s.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| MatchError::Config(format!("cannot read the bound address: {e}")))?;
    tracing::info!(%addr, "matchmaker listening");
    on_bound(addr);
    let http = tokio::spawn(service_kit::serve_with(
        listener,
        app,
        shutdown.clone(),
        Duration::from_secs(8),
        s.tls.clone(),
    ));
    lobby.run(shutdown).await;
    let _ = http.await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["matchmaker"];
        v.extend_from_slice(extra);
        let mut a = Args::try_parse_from(v).unwrap();
        // The environment of the test process must not supply a secret.
        if !extra.contains(&"--token-secret") {
            a.token_secret = None;
        }
        a
    }

    fn with_secret(mut a: Args, secret: Option<&str>) -> Args {
        a.token_secret = secret.map(str::to_owned);
        a
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn refuses_to_start_without_redis() {
        let a = args(&["--database-url", "postgres://x"]);
        let e = with_secret(a, Some(SECRET)).settings().unwrap_err();
        assert!(matches!(e, SettingsError::NoRedis));
        assert!(e.to_string().contains("--redis-url"));
    }

    #[test]
    fn needs_a_database_and_a_strong_secret() {
        let a = args(&["--redis-url", "redis://x"]);
        assert!(matches!(
            with_secret(a, Some(SECRET)).settings(),
            Err(SettingsError::NoDatabase)
        ));
        let a = args(&["--redis-url", "redis://x", "--database-url", "postgres://x"]);
        assert!(matches!(
            with_secret(a, None).settings(),
            Err(SettingsError::NoSecret)
        ));
        let a = args(&["--redis-url", "redis://x", "--database-url", "postgres://x"]);
        assert!(matches!(
            with_secret(a, Some("short")).settings(),
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
        let s = with_secret(a, Some(SECRET)).settings().unwrap();
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
            with_secret(a, Some(SECRET)).settings(),
            Err(SettingsError::Rules(_))
        ));
    }
}
