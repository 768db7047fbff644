//! A per-connection token bucket with flood detection.

use tokio::time::Instant;

/// What the limiter decided for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit.
    Allow,
    /// Over the limit: refuse this message with `rate_limited`.
    Refuse,
    /// The flood went on after `rate_limited`: close with 1008.
    Disconnect,
}

/// Token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    strikes: u32,
    max_strikes: u32,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64, max_strikes: u32, now: Instant) -> Self {
        RateLimiter {
            rate,
            burst,
            tokens: burst,
            last: now,
            strikes: 0,
            max_strikes,
        }
    }

    /// Messages refused in the current run of refusals.
    pub fn strikes(&self) -> u32 {
        self.strikes
    }

    /// Takes one token for a message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> RateDecision {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            // A client that calmed down is forgiven over time.
            if self.tokens >= self.burst / 2.0 {
                self.strikes = 0;
            }
            return RateDecision::Allow;
        }
        self.strikes += 1;
        if self.strikes > self.max_strikes {
            RateDecision::Disconnect
        } else {
            RateDecision::Refuse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refuse_then_disconnect() {
        let t = Instant::now();
        let mut r = RateLimiter::new(10.0, 5.0, 3, t);
        for _ in 0..5 {
            assert_eq!(r.check(t), RateDecision::Allow);
        }
        for _ in 0..3 {
            assert_eq!(r.check(t), RateDecision::Refuse);
        }
        assert_eq!(r.check(t), RateDecision::Disconnect);
    }

    #[test]
    fn steady_rate_within_limit_is_always_allowed() {
        let mut t = Instant::now();
        let mut r = RateLimiter::new(10.0, 5.0, 3, t);
        for _ in 0..1000 {
            t += Duration::from_millis(100);
            assert_eq!(r.check(t), RateDecision::Allow);
        }
    }

    #[test]
    fn calm_client_is_forgiven() {
        let mut t = Instant::now();
        let mut r = RateLimiter::new(10.0, 4.0, 2, t);
        for _ in 0..4 {
            r.check(t);
        }
        assert_eq!(r.check(t), RateDecision::Refuse);
        t += Duration::from_secs(2);
        assert_eq!(r.check(t), RateDecision::Allow);
        for _ in 0..3 {
            r.check(t);
        }
        assert_eq!(r.check(t), RateDecision::Refuse);
        assert_eq!(r.check(t), RateDecision::Refuse);
    }
}
