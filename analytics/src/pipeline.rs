//! [`Pipeline`]: the task that drains an [`EventSink`]'s queue in batches
//! (into SQL when embedded, into the Redis stream when scaled out) and
//! relays the transactional outbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use protocol::event::Event;
use redis::aio::ConnectionManager;
use store::Db;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::AnalyticsConfig;
use crate::error::AnalyticsError;
use crate::outbox::{self, Relay};
use crate::sink::{DROPPED_METRIC, EventSink};
use crate::stream;
use service_kit::Backoff;

/// Histogram of seconds from an event's `at_ms` to its SQL commit.
pub const LAG_METRIC: &str = "geogame_analytics_lag_seconds";

/// Where a batch of best-effort events goes.
enum Target {
    /// Straight into the SQL `events` table (embedded deployment).
    Sql(Db),
    /// XADD to the Redis stream (game servers of the scaled-out one).
    Stream {
        conn: ConnectionManager,
        key: String,
    },
}

/// The background half of an [`EventSink`]: call [`Pipeline::run`] once.
pub struct Pipeline {
    rx: mpsc::Receiver<Event>,
    dropped: Arc<AtomicU64>,
    target: Target,
    relay: Relay,
    cfg: AnalyticsConfig,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match self.target {
            Target::Sql(_) => "sql",
            Target::Stream { .. } => "redis",
        };
        f.debug_struct("Pipeline").field("target", &target).finish()
    }
}

impl Pipeline {
    /// The embedded pipeline: a bounded queue drained into `db` in batches
    /// (one transaction per batch), and the outbox moved into `events`
    /// locally.
    pub fn embedded(db: Db, cfg: AnalyticsConfig) -> (EventSink, Pipeline) {
        let cfg = cfg.sanitized();
        let (sink, rx) = EventSink::bounded(cfg.queue_capacity);
        let pipeline = Pipeline {
            rx,
            dropped: sink.dropped_counter(),
            target: Target::Sql(db.clone()),
            relay: Relay::Local(db),
            cfg,
        };
        (sink, pipeline)
    }

    /// The producer side of the scaled-out deployment: a bounded queue
    /// drained into the Redis stream with pipelined XADDs, and the outbox
    /// relayed to the same stream (rows are deleted only after their XADD
    /// succeeded).
    pub async fn redis_producer(
        redis_url: &str,
        db: Db,
        cfg: AnalyticsConfig,
    ) -> Result<(EventSink, Pipeline), AnalyticsError> {
        let cfg = cfg.sanitized();
        if cfg.stream_key.is_empty() {
            return Err(AnalyticsError::Config("empty stream key".into()));
        }
        let conn = stream::manager(redis_url).await?;
        let (sink, rx) = EventSink::bounded(cfg.queue_capacity);
        let pipeline = Pipeline {
            rx,
            dropped: sink.dropped_counter(),
            target: Target::Stream {
                conn: conn.clone(),
                key: cfg.stream_key.clone(),
            },
            relay: Relay::Stream {
                db,
                conn,
                key: cfg.stream_key.clone(),
                linger: cfg.outbox_linger,
            },
            cfg,
        };
        Ok((sink, pipeline))
    }

    /// Runs until `shutdown`, then writes what is still queued (within
    /// `flush_timeout`), runs a last outbox pass, and returns.
    ///
    /// Once this returns, further [`EventSink::emit`] calls count as dropped.
    pub async fn run(self, shutdown: CancellationToken) {
        let Pipeline {
            mut rx,
            dropped,
            mut target,
            relay,
            cfg,
        } = self;
        let relay_task = tokio::spawn(outbox::relay_loop(relay, cfg.clone(), shutdown.clone()));

        let mut buf = Vec::with_capacity(cfg.batch_max);
        let mut backoff = Backoff::new(cfg.retry_min, cfg.retry_max);
        let mut open = true;
        while open && !shutdown.is_cancelled() {
            open = fill_batch(&mut rx, &mut buf, &cfg, &shutdown).await;
            if buf.is_empty() {
                continue;
            }
            // Retry until the batch is written; meanwhile the queue fills
            // up and `emit` drops (and counts) rather than blocking.
            // A batch still unwritten at shutdown is kept for `flush`.
            loop {
                match write(&mut target, &buf).await {
                    Ok(()) => {
                        backoff.reset();
                        buf.clear();
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, batch = buf.len(), "analytics batch write failed, retrying");
                        if !backoff.wait(&shutdown).await {
                            break;
                        }
                    }
                }
            }
        }
        if !open {
            // Every sink is gone; nothing more can arrive, but the outbox
            // relay keeps working until shutdown.
            shutdown.cancelled().await;
        }
        flush(rx, buf, &mut target, &dropped, &cfg).await;
        if let Err(e) = relay_task.await {
            tracing::error!(error = %e, "outbox relay task failed");
        }
    }
}

/// Waits for at least one event (or shutdown). A full batch goes at once;
/// otherwise it lingers `batch_interval` and takes what arrived meanwhile,
/// up to `batch_max`. Returns false once every sender is gone.
async fn fill_batch(
    rx: &mut mpsc::Receiver<Event>,
    buf: &mut Vec<Event>,
    cfg: &AnalyticsConfig,
    shutdown: &CancellationToken,
) -> bool {
    let n = tokio::select! {
        biased;
        _ = shutdown.cancelled() => return true,
        n = rx.recv_many(buf, cfg.batch_max) => n,
    };
    if n == 0 {
        return false;
    }
    if buf.len() >= cfg.batch_max {
        // A backlog: write at once, no linger.
        return true;
    }
    // Linger for the rest of the batch without waking per event: one sleep,
    // then take what arrived meanwhile. The queue holds far more than a
    // batch, so nothing is dropped while the writer sleeps.
    tokio::select! {
        biased;
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(cfg.batch_interval) => {}
    }
    while buf.len() < cfg.batch_max {
        match rx.try_recv() {
            Ok(e) => buf.push(e),
            Err(mpsc::error::TryRecvError::Empty) => break,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// Writes one batch to its target and records how it went.
async fn write(target: &mut Target, batch: &[Event]) -> Result<(), AnalyticsError> {
    let started = std::time::Instant::now();
    match target {
        Target::Sql(db) => {
            db.insert_events(batch).await?;
            record_lag(batch);
            metrics::counter!("geogame_events_written_total").increment(batch.len() as u64);
        }
        Target::Stream { conn, key } => {
            stream::publish(conn, key, batch).await?;
            metrics::counter!("geogame_events_published_total").increment(batch.len() as u64);
        }
    }
    metrics::histogram!("geogame_analytics_batch_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("geogame_analytics_batch_size").record(batch.len() as f64);
    Ok(())
}

/// Records, per event, the time from its `at_ms` to now (its commit).
pub(crate) fn record_lag(batch: &[Event]) {
    let now = crate::now_ms();
    let h = metrics::histogram!(LAG_METRIC);
    for e in batch {
        h.record((now - e.at_ms).max(0) as f64 / 1000.0);
    }
}

/// After shutdown: closes the queue and writes what it still holds, giving
/// up (and counting the rest as dropped) at the `flush_timeout` deadline.
async fn flush(
    mut rx: mpsc::Receiver<Event>,
    mut buf: Vec<Event>,
    target: &mut Target,
    dropped: &AtomicU64,
    cfg: &AnalyticsConfig,
) {
    // Closing first means nothing new is accepted; what is already queued
    // can still be received below.
    rx.close();
    let deadline = Instant::now() + cfg.flush_timeout;
    let mut backoff = Backoff::new(cfg.retry_min, cfg.retry_max);
    let mut flushed = 0usize;
    loop {
        while buf.len() < cfg.batch_max {
            match rx.try_recv() {
                Ok(e) => buf.push(e),
                Err(_) => break,
            }
        }
        if buf.is_empty() {
            break;
        }
        let written = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, write(target, &buf)).await {
                Ok(Ok(())) => break true,
                Ok(Err(e)) => tracing::warn!(error = %e, "flush write failed"),
                Err(_) => break false,
            }
            let pause = backoff.next_delay();
            if Instant::now() + pause >= deadline {
                break false;
            }
            tokio::time::sleep(pause).await;
        };
        if !written {
            let lost = buf.len() + drain_count(&mut rx);
            dropped.fetch_add(lost as u64, Ordering::Relaxed);
            metrics::counter!(DROPPED_METRIC).increment(lost as u64);
            tracing::error!(lost, "analytics flush deadline passed, events dropped");
            return;
        }
        flushed += buf.len();
        buf.clear();
    }
    tracing::info!(flushed, "analytics pipeline flushed");
}

fn drain_count(rx: &mut mpsc::Receiver<Event>) -> usize {
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    n
}

/// Converts a duration to whole milliseconds for Redis arguments.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
