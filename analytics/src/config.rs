//! Tuning knobs of the analytics pipeline, with defaults that suit one game
//! server on a small machine.

use std::time::Duration;

/// Sizes, intervals and names used by the event pipeline and the stream
/// consumer. Every queue and batch is bounded by a field here.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// Capacity of the in-process event queue behind [`crate::EventSink`].
    /// When it is full, new best-effort events are dropped and counted.
    pub queue_capacity: usize,
    /// Most events written (or XADDed, or consumed) in one batch.
    pub batch_max: usize,
    /// How long a batch that is not full at its first event lingers to
    /// gather more.
    pub batch_interval: Duration,
    /// The Redis stream that carries events in the scaled-out deployment.
    pub stream_key: String,
    /// The consumer group that the analytics services share.
    pub group: String,
    /// This consumer's name in the group; each process needs its own.
    pub consumer: String,
    /// Entries pending longer than this with another consumer are taken
    /// over (XAUTOCLAIM): that consumer is presumed dead.
    pub claim_idle: Duration,
    /// How often the consumer looks for entries to claim.
    pub claim_interval: Duration,
    /// How long one XREADGROUP blocks waiting for entries.
    pub block: Duration,
    /// How often the outbox relay polls when the outbox was empty.
    pub outbox_interval: Duration,
    /// Most outbox rows relayed in one step.
    pub outbox_batch: usize,
    /// Scaled out, an outbox row sent to the stream this long ago and not
    /// yet stored by the sink (which deletes it) is sent again: the stream
    /// lost it. Above `claim_idle`, so a slow consumer is not mistaken for
    /// a lost entry too often (a resend is harmless: the sink stores each
    /// event id once).
    pub outbox_linger: Duration,
    /// How often the consumer trims stream entries that every reader has
    /// acknowledged; `None` keeps them forever.
    pub trim_interval: Option<Duration>,
    /// First retry delay after a Redis or SQL failure; it doubles per retry.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long [`crate::Pipeline::run`] may spend flushing after shutdown.
    pub flush_timeout: Duration,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            queue_capacity: 65_536,
            batch_max: 2_000,
            batch_interval: Duration::from_millis(100),
            stream_key: "geogame:events".to_owned(),
            group: "analytics".to_owned(),
            consumer: default_consumer_name(),
            claim_idle: Duration::from_secs(30),
            claim_interval: Duration::from_secs(5),
            block: Duration::from_secs(2),
            outbox_interval: Duration::from_millis(200),
            outbox_batch: 1_000,
            outbox_linger: Duration::from_secs(60),
            trim_interval: Some(Duration::from_secs(60)),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

impl AnalyticsConfig {
    /// Clamps sizes that would make no sense (zero capacity, empty batches)
    /// to the smallest working value.
    pub(crate) fn sanitized(mut self) -> Self {
        self.queue_capacity = self.queue_capacity.max(1);
        self.batch_max = self.batch_max.max(1);
        self.outbox_batch = self.outbox_batch.max(1);
        if self.retry_max < self.retry_min {
            self.retry_max = self.retry_min;
        }
        self
    }
}

/// A consumer name unique to this process on this host: `HOSTNAME-pid`.
///
/// A stable name (for instance a Kubernetes StatefulSet pod name passed
/// with `--consumer`) is better: after a restart the consumer re-reads its
/// own pending entries at once instead of waiting `claim_idle` for another
/// consumer to claim them.
pub fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "analytics".to_owned());
    format!("{host}-{}", std::process::id())
}
