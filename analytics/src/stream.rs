//! Redis Streams plumbing shared by the producer and the consumer: how an
//! event is laid out in a stream entry, publishing batches, and creating
//! the consumer group.

use std::time::Duration;

use protocol::event::Event;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisError};

use crate::error::AnalyticsError;

/// The field of a stream entry that holds the event's JSON.
pub const EVENT_FIELD: &str = "e";

/// Response timeout for ordinary (non-blocking) commands such as a
/// pipeline of a few thousand XADDs.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting to Redis may take before it counts as a failure.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Opens a client for `url`, mapping a malformed URL to a config error.
pub(crate) fn client(url: &str) -> Result<Client, AnalyticsError> {
    Client::open(url).map_err(|e| AnalyticsError::Config(format!("bad redis url: {e}")))
}

/// A reconnecting connection for producers (XADD) and relays.
pub(crate) async fn manager(url: &str) -> Result<ConnectionManager, AnalyticsError> {
    let cfg = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(2);
    Ok(client(url)?.get_connection_manager_with_config(cfg).await?)
}

/// A dedicated connection for one consumer's blocking reads.
///
/// The redis crate's default response timeout (500 ms) would fail every
/// `XREADGROUP ... BLOCK` longer than that, so this connection waits for
/// `block` plus a margin instead. It is not shared with other tasks,
/// because a blocked read holds up whatever is queued behind it.
pub(crate) async fn blocking_connection(
    client: &Client,
    block: Duration,
) -> Result<MultiplexedConnection, RedisError> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(block + COMMAND_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
}

/// XADDs every event of `batch` to `key` in one pipelined round trip.
///
/// A failure may leave part of the batch added; retrying adds those again,
/// which is harmless because the SQL sink stores each `event_id` once.
pub(crate) async fn publish<C>(conn: &mut C, key: &str, batch: &[Event]) -> Result<(), RedisError>
where
    C: redis::aio::ConnectionLike + Send,
{
    if batch.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for e in batch {
        pipe.cmd("XADD")
            .arg(key)
            .arg("*")
            .arg(EVENT_FIELD)
            .arg(e.encode())
            .ignore();
    }
    pipe.query_async::<()>(conn).await
}

/// Creates the consumer group (and the stream) unless it exists.
///
/// The group starts at id `0`, so events published before any consumer
/// existed are consumed too.
pub(crate) async fn ensure_group<C>(conn: &mut C, key: &str, group: &str) -> Result<(), RedisError>
where
    C: redis::aio::ConnectionLike + Send,
{
    let res: Result<(), RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match res {
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}
