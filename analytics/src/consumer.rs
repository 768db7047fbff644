//! The stream consumer of the scaled-out deployment: reads the event
//! stream as one member of a consumer group, stores batches in SQL, and
//! acknowledges entries only after the SQL commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::event::Event;
use redis::aio::MultiplexedConnection;
use redis::{Client, Value};
use store::Db;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::AnalyticsConfig;
use crate::entries::{self, Entry};
use crate::error::AnalyticsError;
use crate::pipeline::{millis, record_lag};
use crate::stream;
use service_kit::Backoff;

/// Running totals of one consumer, for tests and operators.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Entries this consumer received (read, re-read or claimed).
    pub received: AtomicU64,
    /// Entries acknowledged after their batch was committed.
    pub acked: AtomicU64,
    /// Entries taken over from other consumers with XAUTOCLAIM.
    pub claimed: AtomicU64,
    /// Entries that held no valid event; logged, acknowledged, not stored.
    pub invalid: AtomicU64,
    /// Times a batch insert failed and was retried.
    pub sql_retries: AtomicU64,
}

/// One member of the analytics consumer group.
pub struct Consumer {
    client: Client,
    db: Db,
    cfg: AnalyticsConfig,
    stats: Arc<ConsumerStats>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("stream", &self.cfg.stream_key)
            .field("group", &self.cfg.group)
            .field("consumer", &self.cfg.consumer)
            .finish()
    }
}

/// What the consumer does next.
struct State {
    /// Re-read this consumer's own pending entries (after a start or a lost
    /// connection) before reading new ones.
    own_pending: bool,
    claim_cursor: String,
    next_claim: Instant,
    next_trim: Option<Instant>,
}

/// How a batch ended.
enum Outcome {
    Done,
    /// Shutdown came while the SQL write was being retried; the entries
    /// stay pending.
    Abandoned,
}

impl Consumer {
    /// A consumer for `redis_url`; nothing is connected until
    /// [`Consumer::run`].
    pub fn new(redis_url: &str, db: Db, cfg: AnalyticsConfig) -> Result<Self, AnalyticsError> {
        let cfg = cfg.sanitized();
        if cfg.stream_key.is_empty() || cfg.group.is_empty() || cfg.consumer.is_empty() {
            return Err(AnalyticsError::Config(
                "stream key, group and consumer name must not be empty".into(),
            ));
        }
        Ok(Consumer {
            client: stream::client(redis_url)?,
            db,
            cfg,
            stats: Arc::new(ConsumerStats::default()),
        })
    }

    /// This consumer's running totals.
    pub fn stats(&self) -> Arc<ConsumerStats> {
        Arc::clone(&self.stats)
    }

    /// Consumes until `shutdown`. Redis and SQL failures are retried with
    /// backoff; entries are never acknowledged before they are stored.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AnalyticsError> {
        let mut backoff = Backoff::new(self.cfg.retry_min, self.cfg.retry_max);
        let mut conn: Option<MultiplexedConnection> = None;
        let mut state = State {
            own_pending: true,
            claim_cursor: "0-0".into(),
            next_claim: Instant::now(),
            next_trim: self.cfg.trim_interval.map(|d| Instant::now() + d),
        };
        tracing::info!(stream = %self.cfg.stream_key, group = %self.cfg.group, consumer = %self.cfg.consumer, "analytics consumer starting");
        while !shutdown.is_cancelled() {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match self.connect().await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "redis unavailable, retrying");
                        backoff.wait(&shutdown).await;
                        continue;
                    }
                },
            };
            match self.step(c, &mut state, &shutdown).await {
                Ok(()) => backoff.reset(),
                Err(e) => {
                    tracing::warn!(error = %e, "stream consumer step failed, reconnecting");
                    // Whatever was read but not acknowledged is pending with
                    // this consumer; read it again first.
                    conn = None;
                    state.own_pending = true;
                    backoff.wait(&shutdown).await;
                }
            }
        }
        tracing::info!(consumer = %self.cfg.consumer, "analytics consumer stopped");
        Ok(())
    }

    async fn connect(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut c = stream::blocking_connection(&self.client, self.cfg.block).await?;
        stream::ensure_group(&mut c, &self.cfg.stream_key, &self.cfg.group).await?;
        Ok(c)
    }

    /// One read (own pending, claim, or new entries) and its batch.
    async fn step(
        &self,
        c: &mut MultiplexedConnection,
        state: &mut State,
        shutdown: &CancellationToken,
    ) -> Result<(), redis::RedisError> {
        let cfg = &self.cfg;
        if state.own_pending {
            let v: Value = self.xreadgroup("0", None).query_async(c).await?;
            let batch = parse(entries::read_reply(&v))?;
            if batch.is_empty() {
                state.own_pending = false;
            } else {
                self.received(&batch);
                self.handle(c, batch, shutdown).await?;
            }
            return Ok(());
        }
        if Instant::now() >= state.next_claim {
            let v: Value = redis::cmd("XAUTOCLAIM")
                .arg(&cfg.stream_key)
                .arg(&cfg.group)
                .arg(&cfg.consumer)
                .arg(millis(cfg.claim_idle))
                .arg(&state.claim_cursor)
                .arg("COUNT")
                .arg(cfg.batch_max)
                .query_async(c)
                .await?;
            let claimed = parse(entries::autoclaim_reply(&v))?;
            if !claimed.deleted.is_empty() {
                tracing::warn!(
                    count = claimed.deleted.len(),
                    "pending stream entries were deleted before they were stored"
                );
                metrics::counter!("geogame_stream_entries_missing_total")
                    .increment(claimed.deleted.len() as u64);
            }
            state.claim_cursor = claimed.next;
            if state.claim_cursor == "0-0" {
                state.next_claim = Instant::now() + cfg.claim_interval;
            }
            if !claimed.entries.is_empty() {
                let n = claimed.entries.len() as u64;
                tracing::info!(count = n, "claimed entries from an idle consumer");
                self.stats.claimed.fetch_add(n, Ordering::Relaxed);
                metrics::counter!("geogame_stream_claimed_total").increment(n);
                self.received(&claimed.entries);
                self.handle(c, claimed.entries, shutdown).await?;
            }
            return Ok(());
        }
        if let Some(at) = state.next_trim
            && Instant::now() >= at
        {
            state.next_trim = cfg.trim_interval.map(|d| Instant::now() + d);
            if let Err(e) = self.trim(c).await {
                tracing::warn!(error = %e, "stream trim failed");
            }
        }
        // The blocking read is not raced against shutdown: dropping it
        // midway could leave entries delivered to us but never handled,
        // and it returns within `block` anyway.
        let v: Value = self
            .xreadgroup(">", Some(millis(cfg.block)))
            .query_async(c)
            .await?;
        let batch = parse(entries::read_reply(&v))?;
        if !batch.is_empty() {
            self.received(&batch);
            self.handle(c, batch, shutdown).await?;
        }
        Ok(())
    }

    fn xreadgroup(&self, from: &str, block_ms: Option<u64>) -> redis::Cmd {
        let cfg = &self.cfg;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&cfg.group)
            .arg(&cfg.consumer)
            .arg("COUNT")
            .arg(cfg.batch_max);
        if let Some(ms) = block_ms {
            cmd.arg("BLOCK").arg(ms);
        }
        cmd.arg("STREAMS").arg(&cfg.stream_key).arg(from);
        cmd
    }

    fn received(&self, batch: &[Entry]) {
        let n = batch.len() as u64;
        self.stats.received.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("geogame_stream_received_total").increment(n);
    }

    /// Stores a batch (retrying SQL until it commits), then acknowledges it.
    async fn handle(
        &self,
        c: &mut MultiplexedConnection,
        batch: Vec<Entry>,
        shutdown: &CancellationToken,
    ) -> Result<(), redis::RedisError> {
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        let events = self.decode(batch);
        if let Outcome::Abandoned = self.store(&events, shutdown).await {
            return Ok(());
        }
        // Acknowledge only now that the rows are committed. A crash right
        // here redelivers the batch, and the idempotent insert ignores it.
        let _: i64 = redis::cmd("XACK")
            .arg(&self.cfg.stream_key)
            .arg(&self.cfg.group)
            .arg(&ids)
            .query_async(c)
            .await?;
        record_lag(&events);
        self.stats
            .acked
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        metrics::counter!("geogame_stream_acked_total").increment(ids.len() as u64);
        Ok(())
    }

    /// Decodes the entries' events; entries without a valid event are
    /// logged and counted, and acknowledged with the batch, because no
    /// retry can ever store them.
    fn decode(&self, batch: Vec<Entry>) -> Vec<Event> {
        let mut events = Vec::with_capacity(batch.len());
        for entry in batch {
            match entry.payload.as_deref().map(Event::decode) {
                Some(Ok(e)) => events.push(e),
                Some(Err(err)) => self.invalid(&entry.id, &err.to_string()),
                None => self.invalid(&entry.id, "entry has no event field"),
            }
        }
        events
    }

    fn invalid(&self, id: &str, why: &str) {
        tracing::warn!(entry = id, reason = why, "invalid stream entry skipped");
        self.stats.invalid.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("geogame_stream_invalid_total").increment(1);
    }

    async fn store(&self, events: &[Event], shutdown: &CancellationToken) -> Outcome {
        if events.is_empty() {
            return Outcome::Done;
        }
        let mut backoff = Backoff::new(self.cfg.retry_min, self.cfg.retry_max);
        loop {
            match self.db.insert_events_settling_outbox(events).await {
                Ok(_) => {
                    metrics::counter!("geogame_events_written_total")
                        .increment(events.len() as u64);
                    return Outcome::Done;
                }
                Err(e) => {
                    // Nothing is dropped: the entries stay pending in the
                    // stream while SQL is down, and the stream holds the
                    // backlog behind them.
                    self.stats.sql_retries.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("geogame_analytics_sql_retries_total").increment(1);
                    tracing::warn!(error = %e, unavailable = e.is_unavailable(), batch = events.len(), "storing events failed, retrying");
                    if !backoff.wait(shutdown).await {
                        return Outcome::Abandoned;
                    }
                }
            }
        }
    }

    /// Deletes stream entries that every group has acknowledged.
    ///
    /// For each group, everything below both its smallest pending id and
    /// its last delivered id has been delivered and acknowledged, and can
    /// never become pending again; the stream is trimmed (approximately,
    /// so never past that point) to the smallest such bound over all
    /// groups.
    async fn trim(&self, c: &mut MultiplexedConnection) -> Result<(), redis::RedisError> {
        let key = &self.cfg.stream_key;
        let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(key)
            .query_async(c)
            .await?;
        let mut bound: Option<(u64, u64)> = None;
        for g in &groups.groups {
            let v: Value = redis::cmd("XPENDING")
                .arg(key)
                .arg(&g.name)
                .query_async(c)
                .await?;
            let delivered = entries::parse_id(&g.last_delivered_id);
            let pending = entries::pending_min(&v).and_then(|id| entries::parse_id(&id));
            let group_bound = match (delivered, pending) {
                (Some(d), Some(p)) => d.min(p),
                (Some(d), None) => d,
                _ => return Ok(()),
            };
            bound = Some(bound.map_or(group_bound, |b| b.min(group_bound)));
        }
        let Some((ms, seq)) = bound else {
            return Ok(());
        };
        if (ms, seq) == (0, 0) {
            return Ok(());
        }
        let trimmed: i64 = redis::cmd("XTRIM")
            .arg(key)
            .arg("MINID")
            .arg("~")
            .arg(format!("{ms}-{seq}"))
            .query_async(c)
            .await?;
        tracing::debug!(trimmed, "trimmed acknowledged stream entries");
        Ok(())
    }
}

/// Turns a malformed reply into a redis error, so the step is retried on
/// a fresh connection like any other protocol failure.
fn parse<T>(r: Result<T, entries::ReplyError>) -> Result<T, redis::RedisError> {
    r.map_err(|e| {
        redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "bad stream reply",
            e.to_string(),
        ))
    })
}

/// Runs one consumer of the analytics group until `shutdown`; see
/// [`Consumer`].
pub async fn run_consumer(
    redis_url: &str,
    db: Db,
    cfg: AnalyticsConfig,
    shutdown: CancellationToken,
) -> Result<(), AnalyticsError> {
    Consumer::new(redis_url, db, cfg)?.run(shutdown).await
}
