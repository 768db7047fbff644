//! The standalone `analytics` service: flags, start-up checks, and the run
//! loop that consumes the stream and serves the reports. `main.rs` only
//! parses flags, sets up logging and waits for a signal.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use store::Db;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{AnalyticsConfig, default_consumer_name};
use crate::consumer::Consumer;
use crate::reports::reports_router;

/// Command-line flags of `analytics`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "analytics",
    version,
    about = "geogame analytics: consumes game events from a Redis stream into SQL and serves the reports",
    long_about = "geogame analytics: consumes game events from a Redis stream (consumer group) into \
SQL (PostgreSQL, or SQLite) and serves GET /v1/reports/*. Run several instances with the same \
--group and different --consumer names to share the stream's load."
)]
pub struct Args {
    /// Redis holding the event stream, e.g. redis://127.0.0.1:6379
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: String,
    /// SQL database: postgres://user@host/db, or sqlite:PATH
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Address to serve the reports, /healthz and /metrics on
    #[arg(long, default_value = "127.0.0.1:8083", env = "ANALYTICS_LISTEN")]
    pub listen: SocketAddr,
    /// This instance's consumer name in the group (default: HOSTNAME-pid);
    /// keep it stable across restarts to resume pending entries at once
    #[arg(long, env = "ANALYTICS_CONSUMER")]
    pub consumer: Option<String>,
    /// The Redis stream key
    #[arg(long, default_value = "geogame:events")]
    pub stream_key: String,
    /// The consumer group
    #[arg(long, default_value = "analytics")]
    pub group: String,
    /// Claim entries another consumer left pending this long (ms)
    #[arg(long, default_value_t = 30_000)]
    pub claim_idle_ms: u64,
    /// Most entries stored per SQL transaction
    #[arg(long, default_value_t = 2_000)]
    pub batch_max: usize,
    /// The admin bearer token, which reads every report like an operator;
    /// operator accounts' tokens work without it.
    #[arg(long, env = "GEOGAME_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Days raw location events are kept before they are deleted (in
    /// batches); the other events stay
    #[arg(long, value_name = "DAYS", default_value_t = crate::retention::DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub location_retention: u32,
    /// Flags every listener shares (`--cors-origin`).
    #[command(flatten)]
    pub http: service_kit::HttpFlags,
}

impl Args {
    /// The pipeline configuration these flags describe.
    pub fn config(&self) -> AnalyticsConfig {
        AnalyticsConfig {
            stream_key: self.stream_key.clone(),
            group: self.group.clone(),
            consumer: self.consumer.clone().unwrap_or_else(default_consumer_name),
            claim_idle: Duration::from_millis(self.claim_idle_ms),
            claim_interval: Duration::from_millis(self.claim_idle_ms.clamp(100, 5_000)),
            batch_max: self.batch_max,
            ..AnalyticsConfig::default()
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The SQL database could not be opened or reached.
    #[error("cannot open the database at {url}: {source}")]
    Database {
        /// The URL with any password removed.
        url: String,
        /// The store's error.
        source: store::StoreError,
    },
    /// Redis could not be reached.
    #[error("cannot reach redis at {url}: {source} (is redis running?)")]
    Redis {
        /// The URL with any password removed.
        url: String,
        /// The client's error.
        source: redis::RedisError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The consumer configuration is unusable.
    #[error(transparent)]
    Analytics(#[from] crate::AnalyticsError),
    /// A `--cors-origin` is not an origin, or `--tls-cert`/`--tls-key`
    /// do not load.
    #[error("{0}")]
    Cors(String),
    /// Serving HTTP failed.
    #[error("http server failed: {0}")]
    Serve(std::io::Error),
}

/// A started service: database open, Redis reachable, listener bound.
pub struct Service {
    listener: TcpListener,
    cors: service_kit::Cors,
    tls: Option<service_kit::tls::TlsFiles>,
    access: crate::access::Access,
    db: Db,
    consumer: Consumer,
    retention: crate::retention::Retention,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("listener", &self.listener)
            .finish()
    }
}

impl Service {
    /// Checks both backends and binds the listener, failing fast with a
    /// clear message when one is missing.
    pub async fn start(args: &Args) -> Result<Service, ServiceError> {
        let cors = args.http.cors().map_err(ServiceError::Cors)?;
        let tls = args.http.tls().map_err(ServiceError::Cors)?;
        let db = Db::open(&args.database_url)
            .await
            .map_err(|source| ServiceError::Database {
                url: store::redact(&args.database_url),
                source,
            })?;
        let client = crate::stream::client(&args.redis_url)?;
        let redis_err = |source| ServiceError::Redis {
            url: store::redact(&args.redis_url),
            source,
        };
        let mut conn = crate::stream::blocking_connection(&client, Duration::from_secs(1))
            .await
            .map_err(redis_err)?;
        redis::cmd("PING")
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_err)?;
        let listener =
            TcpListener::bind(args.listen)
                .await
                .map_err(|source| ServiceError::Listen {
                    addr: args.listen,
                    source,
                })?;
        let consumer = Consumer::new(&args.redis_url, db.clone(), args.config())?;
        // The process's one recorder, with histogram buckets.
        let _ = service_kit::telemetry::prometheus();
        Ok(Service {
            listener,
            cors,
            tls,
            access: crate::access::Access::new(db.clone(), args.admin_token.as_deref()),
            db,
            consumer,
            retention: crate::retention::Retention::days(args.location_retention),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Consumes and serves until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServiceError> {
        let Service {
            listener,
            cors,
            tls,
            access,
            db,
            consumer,
            retention,
        } = self;
        let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));
        let retention_task = tokio::spawn(crate::retention::run(
            db.clone(),
            retention,
            shutdown.clone(),
        ));
        let app: Router = reports_router(db.clone(), access)
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(service_kit::telemetry::metrics_handler));
        let app = cors.apply(app);
        let served =
            service_kit::serve_with(listener, app, shutdown.clone(), Duration::from_secs(5), tls)
                .await;
        // The HTTP server may also stop on its own error; stop the consumer.
        shutdown.cancel();
        match consumer_task.await {
            Ok(Err(e)) => tracing::error!(error = %e, "consumer failed"),
            Err(e) => tracing::error!(error = %e, "consumer task panicked"),
            Ok(Ok(())) => {}
        }
        let _ = retention_task.await;
        db.close().await;
        served.map_err(ServiceError::Serve)
    }
}
