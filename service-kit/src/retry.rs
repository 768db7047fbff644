//! Exponential retry delays for anything that reconnects (Redis, the SQL
//! sink, pub/sub).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Doubling delays between `min` and `max`, reset after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay to wait now; the following one is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Back to `min`, after a success.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// Sleeps for the next delay; returns false when `shutdown` fired first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let d = self.next_delay();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(35));
        assert_eq!(b.next_delay(), Duration::from_millis(10));
        assert_eq!(b.next_delay(), Duration::from_millis(20));
        assert_eq!(b.next_delay(), Duration::from_millis(35));
        assert_eq!(b.next_delay(), Duration::from_millis(35));
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_returns_false_on_shutdown() {
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(!b.wait(&stop).await);
        assert!(b.wait(&CancellationToken::new()).await);
    }
}
