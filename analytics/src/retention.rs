//! Raw location events are personal data: they are kept for a number of
//! days (`--location-retention`) and then deleted, in short batches so
//! that ingest and the reports wait little behind each. The reports'
//! other counts (catches, spins, visits) keep their events.

use std::time::Duration;

use store::{Db, StoreError};
use tokio_util::sync::CancellationToken;

/// Days a raw location event is kept when no flag says otherwise.
pub const DEFAULT_DAYS: u32 = 30;

/// How the expiry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long a raw location event is kept.
    pub keep: Duration,
    /// Most rows deleted per statement.
    pub batch: i64,
    /// Time between sweeps.
    pub interval: Duration,
}

impl Retention {
    /// Keeps locations `days` days, sweeping every ten minutes in batches
    /// of 5,000 rows.
    pub fn days(days: u32) -> Retention {
        Retention {
            keep: Duration::from_secs(u64::from(days) * 86_400),
            batch: 5_000,
            interval: Duration::from_secs(600),
        }
    }
}

/// Deletes every location event older than `now_ms - keep`, batch after
/// batch; returns how many went.
pub async fn sweep(db: &Db, r: &Retention, now_ms: i64) -> Result<u64, StoreError> {
    let keep_ms = i64::try_from(r.keep.as_millis()).unwrap_or(i64::MAX);
    let before = now_ms.saturating_sub(keep_ms);
    let mut total = 0;
    loop {
        let n = db.expire_locations(before, r.batch).await?;
        total += n;
        if n < u64::try_from(r.batch).unwrap_or(u64::MAX) {
            return Ok(total);
        }
        // Let ingest and the reports in between batches.
        tokio::task::yield_now().await;
    }
}

/// Sweeps at once and then every `interval` until `shutdown`; a failed
/// sweep is logged and tried again next time.
pub async fn run(db: Db, r: Retention, shutdown: CancellationToken) {
    loop {
        match sweep(&db, &r, crate::now_ms()).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("geogame_locations_expired_total").increment(n);
                tracing::info!(deleted = n, "expired raw location events");
            }
            Err(e) => tracing::warn!(error = %e, "location retention sweep failed; retrying later"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(r.interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::{Event, EventKind};

    use super::*;

    const DAY_MS: i64 = 86_400_000;

    #[tokio::test]
    async fn a_sweep_deletes_old_locations_batch_after_batch_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("a.db")).await.unwrap();
        let now = 100 * DAY_MS;
        let at = |i: i64, days_ago: i64, kind: EventKind| {
            Event::new(format!("e{i}"), now - days_ago * DAY_MS, kind, "s".into())
        };
        let mut events: Vec<Event> = (0..11).map(|i| at(i, 31, EventKind::Location)).collect();
        events.push(at(11, 29, EventKind::Location));
        events.push(at(12, 31, EventKind::Spin));
        db.insert_events(&events).await.unwrap();
        let r = Retention {
            batch: 4,
            ..Retention::days(30)
        };
        assert_eq!(sweep(&db, &r, now).await.unwrap(), 11);
        assert_eq!(
            db.count_events().await.unwrap(),
            2,
            "the recent location and the spin stay"
        );
        assert_eq!(sweep(&db, &r, now).await.unwrap(), 0);
    }
}
