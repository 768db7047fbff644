//! Shared Redis plumbing: connecting with short timeouts, failing fast,
//! and key names under one configurable prefix.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::MatchError;

/// Opens a self-reconnecting connection whose calls fail within `timeout`
/// when Redis is gone, instead of hanging.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, MatchError> {
    let client =
        redis::Client::open(url).map_err(|e| MatchError::Config(format!("redis url: {e}")))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        // Few, quick retries: a caller waits at most a few timeouts, and the
        // next call starts a fresh reconnect anyway.
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(200));
    bounded(
        timeout * 4,
        ConnectionManager::new_with_config(client, config),
    )
    .await
}

/// Runs one Redis call under a hard deadline, mapping every failure to
/// [`MatchError::Unavailable`].
pub(crate) async fn bounded<T>(
    deadline: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, MatchError> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            metrics::counter!("geogame_lobby_redis_errors_total").increment(1);
            Err(e.into())
        }
        Err(_) => {
            metrics::counter!("geogame_lobby_redis_errors_total").increment(1);
            Err(MatchError::Unavailable("redis call timed out".into()))
        }
    }
}

/// Key names, all under one hash tag so that multi-key scripts stay valid
/// on a Redis Cluster too.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    tag: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            tag: format!("{{{prefix}}}"),
        }
    }

    pub(crate) fn tickets(&self) -> String {
        format!("{}:tickets", self.tag)
    }

    pub(crate) fn sessions(&self) -> String {
        format!("{}:sessions", self.tag)
    }

    pub(crate) fn events(&self) -> String {
        format!("{}:events", self.tag)
    }

    pub(crate) fn lease(&self) -> String {
        format!("{}:lease", self.tag)
    }

    pub(crate) fn lock(&self, player: &str) -> String {
        format!("{}:lock:{player}", self.tag)
    }

    pub(crate) fn servers(&self) -> String {
        format!("{}:servers", self.tag)
    }

    pub(crate) fn reservations(&self, server: &str) -> String {
        format!("{}:resv:{server}", self.tag)
    }
}
