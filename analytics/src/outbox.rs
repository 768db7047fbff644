//! The outbox relay: moves acknowledged events (catch, spin, match), which
//! the store writes into the `outbox` table in the same transaction as the
//! game state, on to the analytics `events` table.
//!
//! - Embedded: [`store::Db::relay_outbox_locally`] copies rows into
//!   `events` and deletes them from `outbox` in one transaction, so a crash
//!   leaves each row either still in the outbox or already in `events`.
//! - Scaled out: rows are XADDed to the stream and marked as sent; they
//!   stay in the outbox until the sink stores their events, and the sink
//!   deletes them in that same transaction
//!   ([`store::Db::insert_events_settling_outbox`]). A row still there
//!   `outbox_linger` after it was sent (Redis restarted and lost the
//!   stream, say) is sent again. Nothing acknowledged depends on Redis
//!   keeping it: the sink stores each `event_id` once, so a resent event
//!   still counts once.

use std::time::Duration;

use redis::aio::ConnectionManager;
use store::Db;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::AnalyticsConfig;
use crate::error::AnalyticsError;
use crate::stream;
use service_kit::Backoff;

/// Where the outbox goes.
pub(crate) enum Relay {
    /// Into the same database's `events` table.
    Local(Db),
    /// Into the Redis stream.
    Stream {
        db: Db,
        conn: ConnectionManager,
        key: String,
        /// How long a sent row may wait for the sink before it is resent.
        linger: Duration,
    },
}

impl Relay {
    /// Relays up to `limit` rows; returns how many were relayed.
    pub(crate) async fn step(&mut self, limit: usize) -> Result<u64, AnalyticsError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let moved = match self {
            Relay::Local(db) => db.relay_outbox_locally(limit).await?,
            Relay::Stream {
                db,
                conn,
                key,
                linger,
            } => {
                let now = crate::now_ms();
                let linger_ms = i64::try_from(linger.as_millis()).unwrap_or(i64::MAX);
                let rows = db.outbox_due(limit, now.saturating_sub(linger_ms)).await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let (ids, events): (Vec<i64>, Vec<_>) = rows.into_iter().unzip();
                stream::publish(conn, key, &events).await?;
                // A crash here sends these rows again after restart; the
                // sink stores each event_id once.
                db.outbox_mark_relayed(&ids, now).await?;
                ids.len() as u64
            }
        };
        if moved > 0 {
            metrics::counter!("geogame_outbox_relayed_total").increment(moved);
        }
        Ok(moved)
    }
}

/// Relays the outbox until `shutdown`, then makes a last pass (bounded by
/// `flush_timeout`) so that what was acknowledged just before shutdown goes
/// out now rather than at the next start.
pub(crate) async fn relay_loop(
    mut relay: Relay,
    cfg: AnalyticsConfig,
    shutdown: CancellationToken,
) {
    let limit = cfg.outbox_batch;
    let mut backoff = Backoff::new(cfg.retry_min, cfg.retry_max);
    while !shutdown.is_cancelled() {
        match relay.step(limit).await {
            Ok(n) => {
                backoff.reset();
                // A full batch means more rows are probably waiting.
                if n as usize >= limit {
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(cfg.outbox_interval) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay failed, retrying");
                backoff.wait(&shutdown).await;
            }
        }
    }
    final_pass(&mut relay, limit, cfg.flush_timeout).await;
}

async fn final_pass(relay: &mut Relay, limit: usize, budget: Duration) {
    let deadline = Instant::now() + budget;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, relay.step(limit)).await {
            Ok(Ok(n)) if (n as usize) < limit => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                // Rows stay in the outbox and go out at the next start.
                tracing::warn!(error = %e, "last outbox pass failed; rows stay in the outbox");
                return;
            }
            Err(_) => {
                tracing::warn!("last outbox pass ran out of time; rows stay in the outbox");
                return;
            }
        }
    }
}
