//! The flags of every binary that runs a game server (`game-server` and
//! `geogame up`), parsed in two phases: raw flags here, then validated
//! [`AppOptions`]. One struct, flattened into both, so the same thing has
//! the same flag everywhere.

use std::net::SocketAddr;
use std::path::PathBuf;

use spawner::Poi;

use crate::app::{AppError, AppOptions, parse_world};
use crate::config::ServerConfig;

/// The Redis key prefix game servers heartbeat under, and the matchmaker
/// reads, unless `--redis-prefix` says otherwise.
pub use matchmaker::standalone::DEFAULT_REDIS_PREFIX;

/// What every process that holds the world shares (game servers, the
/// spawner, `geogame up`): storage, Redis, secrets and the world's seed
/// data.
#[derive(Debug, Clone, clap::Args)]
pub struct StackFlags {
    /// Directory for SQLite, the token secret and the admin token.
    #[arg(long, default_value = "./geogame-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://…) or SQLite (sqlite:PATH) instead of
    /// <data-dir>/geogame.db.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Redis URL: the event stream, world sync and the matchmaker's registry.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Key prefix on Redis (the matchmaker's registry, and the world-sync
    /// channel `<prefix>:world`); every service of one deployment shares it.
    #[arg(long, default_value = DEFAULT_REDIS_PREFIX)]
    pub redis_prefix: String,
    /// The Redis stream analytics events go to (the analytics service's
    /// `--stream-key`).
    #[arg(long, default_value = "geogame:events")]
    pub stream_key: String,
    /// Token signing secret (at least 32 bytes), shared by every server;
    /// generated into <data-dir>/token-secret when unset.
    #[arg(long, env = "GEOGAME_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Operator bearer token; generated into <data-dir>/admin-token when unset.
    #[arg(long, env = "GEOGAME_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// POIs (GeoJSON) stored when the database has none.
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Species and placement config (JSON).
    #[arg(long)]
    pub spawn_config: Option<PathBuf>,
    /// Placement seed; every server of one world must use the same.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// Flags of a game server, as clap parses them.
#[derive(Debug, Clone, clap::Args)]
pub struct GameFlags {
    /// Storage, Redis, secrets and the world.
    #[command(flatten)]
    pub stack: StackFlags,
    /// The URL players reach this server at, when it differs from the
    /// listener (behind a proxy).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Sustained messages per second allowed per play socket.
    #[arg(long, default_value_t = 20.0)]
    pub rate_limit: f64,
    /// Lifetime of a player token in seconds; accounts renew it with their
    /// refresh token, guests by signing in again.
    #[arg(long, default_value_t = ServerConfig::default().token_ttl_s)]
    pub token_ttl: i64,
    /// Password sign-ins (register, login) one client address may make per
    /// minute; 0 for no limit.
    #[arg(long, default_value_t = ServerConfig::default().sign_ins_per_address)]
    pub sign_ins_per_address: usize,
    /// A load balancer's address, or a network of them (`10.0.0.0/8`, the
    /// pod network behind a Kubernetes ingress), whose `X-Forwarded-For`
    /// names the client (repeatable); requests from others are counted by
    /// their own address.
    #[arg(long = "trusted-proxy", value_parser = service_kit::parse_trusted_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sign-ins (guest, register, login, refresh) worked on at once; one
    /// more gets 503 with `Retry-After`.
    #[arg(long, default_value_t = ServerConfig::default().max_pending_sign_ins)]
    pub max_pending_sign_ins: usize,
    /// Play sockets arriving (between `hello` and `welcome`) at once; one
    /// more is closed with 1013, try again later.
    #[arg(long, default_value_t = ServerConfig::default().max_pending_hellos)]
    pub max_pending_hellos: usize,
    /// Shed new sign-ins and hellos while the runtime runs timers more
    /// than this many milliseconds late (saturated); 0 never sheds on lag.
    #[arg(long, default_value_t = 50)]
    pub shed_lag_ms: u64,
    /// Play sockets this server holds at once; one more gets 503.
    #[arg(long, default_value_t = ServerConfig::default().capacity)]
    pub capacity: usize,
    /// Serve `/v1/admin/*` only on this separate address (e.g. loopback),
    /// not on the main listener.
    #[arg(long)]
    pub admin_listen: Option<SocketAddr>,
    /// Serve no `/v1/admin/*` at all: operators use the `spawner` service,
    /// the world's authority when scaled out, and this server follows the
    /// changes it announces on Redis.
    #[arg(long, conflicts_with = "admin_listen")]
    pub follow_spawner: bool,
    /// Map tiles for the web pages, as a `{z}/{x}/{y}` URL template; `none`
    /// draws plain maps. Tiles are decoration: the pages work without them.
    #[arg(long, default_value = crate::config::DEFAULT_TILE_URL)]
    pub tile_url: String,
    /// The lobby's WebSocket URL the web client uses, when the matchmaker
    /// is not on this server's origin.
    #[arg(long)]
    pub lobby_url: Option<String>,
}

impl GameFlags {
    /// Validates the flags into options for a server listening on
    /// `listen` with id `server_id`. `default_world` seeds the POIs when
    /// no `--world` is given.
    pub fn options(
        &self,
        listen: SocketAddr,
        server_id: &str,
        default_world: Option<&str>,
    ) -> Result<AppOptions, AppError> {
        let bad = |m: &str| Err(AppError::Config(m.to_owned()));
        if !(self.rate_limit.is_finite() && self.rate_limit > 0.0) {
            return bad("--rate-limit must be a positive number");
        }
        if self.capacity == 0 {
            return bad("--capacity must be at least 1");
        }
        if self.max_pending_sign_ins == 0 || self.max_pending_hellos == 0 {
            return bad("--max-pending-sign-ins and --max-pending-hellos must be at least 1");
        }
        if !(60..=30 * 86_400).contains(&self.token_ttl) {
            return bad("--token-ttl must be between 60 seconds and 30 days");
        }
        let tile_url = match self.tile_url.trim() {
            "" | "none" => None,
            t if t.contains("{z}") && t.contains("{x}") && t.contains("{y}") => Some(t.to_owned()),
            _ => return bad("--tile-url must contain {z}, {x} and {y}, or be `none`"),
        };
        let lobby_url = match self.lobby_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if u.starts_with("ws://") || u.starts_with("wss://") => Some(u.to_owned()),
            Some(_) => return bad("--lobby-url must be a ws:// or wss:// URL"),
        };
        let server = ServerConfig {
            server_id: server_id.to_owned(),
            public_ws_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("ws://{listen}/v1/play")),
            rate_per_s: self.rate_limit,
            rate_burst: (self.rate_limit * 2.0).max(10.0),
            capacity: self.capacity,
            token_ttl_s: self.token_ttl,
            sign_ins_per_address: self.sign_ins_per_address,
            max_pending_sign_ins: self.max_pending_sign_ins,
            max_pending_hellos: self.max_pending_hellos,
            shed_lag: std::time::Duration::from_millis(self.shed_lag_ms),
            trusted_proxies: self.trusted_proxies.clone(),
            tile_url,
            lobby_url,
            ..ServerConfig::default()
        };
        self.stack.options(server, default_world)
    }
}

impl StackFlags {
    /// Validates the flags into options for a process with `server`'s
    /// settings. `default_world` seeds the POIs when no `--world` is given.
    pub fn options(
        &self,
        server: ServerConfig,
        default_world: Option<&str>,
    ) -> Result<AppOptions, AppError> {
        let bad = |m: &str| Err(AppError::Config(m.to_owned()));
        if self.redis_prefix.is_empty() {
            return bad("--redis-prefix must not be empty");
        }
        if self.stream_key.is_empty() {
            return bad("--stream-key must not be empty");
        }
        let seed_pois: Vec<Poi> = match (&self.world, default_world) {
            (Some(p), _) => {
                let text = std::fs::read_to_string(p).map_err(|source| AppError::Io {
                    what: format!("reading {}", p.display()),
                    source,
                })?;
                parse_world(&text)?
            }
            (None, Some(text)) => parse_world(text)?,
            (None, None) => Vec::new(),
        };
        Ok(AppOptions {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().filter(|u| !u.is_empty()),
            redis_url: self.redis_url.clone().filter(|u| !u.is_empty()),
            redis_prefix: self.redis_prefix.clone(),
            token_secret: self.token_secret.clone(),
            admin_token: self.admin_token.clone(),
            seed: self.seed,
            spawn_config: self.spawn_config.clone(),
            seed_pois,
            placement: true,
            server,
            analytics: analytics::AnalyticsConfig {
                stream_key: self.stream_key.clone(),
                ..Default::default()
            },
            // The default deployment's channel stays put; another prefix
            // is another deployment on the same Redis.
            sync_channel: if self.redis_prefix == DEFAULT_REDIS_PREFIX {
                "geogame:world".into()
            } else {
                format!("{}:world", self.redis_prefix)
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        game: GameFlags,
    }

    fn options(args: &[&str]) -> Result<AppOptions, AppError> {
        let mut v = vec!["game-server"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap().game.options(
            "127.0.0.1:9000".parse().unwrap(),
            "gs-7",
            None,
        )
    }

    #[test]
    fn capacity_and_rate_limit_reach_the_server_config() {
        // Regression: `--capacity` was parsed and never read, and
        // `game-server` had no `--rate-limit` at all.
        let o = options(&[
            "--capacity",
            "1",
            "--rate-limit",
            "5",
            "--token-ttl",
            "900",
            "--sign-ins-per-address",
            "7",
            "--trusted-proxy",
            "10.0.0.2",
            "--max-pending-sign-ins",
            "3",
            "--max-pending-hellos",
            "4",
            "--shed-lag-ms",
            "0",
        ])
        .unwrap();
        assert!(o.server.shed_lag.is_zero());
        assert_eq!(o.server.max_pending_sign_ins, 3);
        assert_eq!(o.server.max_pending_hellos, 4);
        assert_eq!(o.server.token_ttl_s, 900);
        assert_eq!(o.server.sign_ins_per_address, 7);
        assert_eq!(
            o.server.trusted_proxies,
            vec!["10.0.0.2/32".parse::<ipnet::IpNet>().unwrap()]
        );
        assert_eq!(o.server.capacity, 1);
        assert_eq!(o.server.rate_per_s, 5.0);
        assert_eq!(o.server.rate_burst, 10.0);
        assert_eq!(o.server.server_id, "gs-7");
        assert_eq!(o.server.public_ws_url, "ws://127.0.0.1:9000/v1/play");
    }

    #[test]
    fn the_standalone_flags_match_geogame_up() {
        // Regression: `game-server` lacked --spawn-config, --admin-listen and
        // --redis-prefix that `geogame up` had.
        let o = options(&[
            "--spawn-config",
            "/x/spawn.json",
            "--redis-prefix",
            "t:1",
            "--redis-url",
            "redis://127.0.0.1:1",
        ])
        .unwrap();
        assert_eq!(o.spawn_config, Some(PathBuf::from("/x/spawn.json")));
        assert_eq!(o.redis_prefix, "t:1");
        let cli = Cli::try_parse_from(["g", "--admin-listen", "127.0.0.1:9001"]).unwrap();
        assert_eq!(
            cli.game.admin_listen,
            Some("127.0.0.1:9001".parse().unwrap())
        );
    }

    #[test]
    fn tile_and_lobby_urls_reach_the_web_pages() {
        let o = options(&[]).unwrap();
        assert_eq!(
            o.server.tile_url.as_deref(),
            Some(crate::config::DEFAULT_TILE_URL)
        );
        assert_eq!(o.server.lobby_url, None);
        let o = options(&[
            "--tile-url",
            "none",
            "--lobby-url",
            "wss://lobby.example/v1/lobby",
        ])
        .unwrap();
        assert_eq!(o.server.tile_url, None);
        assert_eq!(
            o.server.lobby_url.as_deref(),
            Some("wss://lobby.example/v1/lobby")
        );
    }

    #[test]
    fn unusable_values_are_refused_with_the_flag_named() {
        for (args, flag) in [
            (&["--capacity", "0"][..], "--capacity"),
            (
                &["--max-pending-sign-ins", "0"][..],
                "--max-pending-sign-ins",
            ),
            (&["--max-pending-hellos", "0"][..], "--max-pending-hellos"),
            (&["--token-ttl", "5"][..], "--token-ttl"),
            (&["--rate-limit", "0"][..], "--rate-limit"),
            (&["--rate-limit", "NaN"][..], "--rate-limit"),
            (&["--redis-prefix", ""][..], "--redis-prefix"),
            (&["--stream-key", ""][..], "--stream-key"),
            (
                &["--tile-url", "https://t.example/tile.png"][..],
                "--tile-url",
            ),
            (&["--lobby-url", "http://lobby"][..], "--lobby-url"),
        ] {
            let e = options(args).unwrap_err().to_string();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
    }
}
