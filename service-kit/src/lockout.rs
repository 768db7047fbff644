//! Counting failures per key (an email's wrong passwords) within a sliding
//! window, to lock the key out once there are too many.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Recent failures by key: `max` failures within `window` lock a key until
/// the oldest of them is older than `window`. At most `capacity` keys are
/// tracked; when full, keys with no recent failure are dropped first, and
/// a new key is not tracked while every slot is recent.
#[derive(Debug)]
pub struct Lockout {
    keys: Mutex<HashMap<String, VecDeque<Instant>>>,
    max: usize,
    window: Duration,
    capacity: usize,
}

impl Lockout {
    /// A lockout after `max` failures within `window`, over at most
    /// `capacity` keys.
    pub fn new(max: usize, window: Duration, capacity: usize) -> Self {
        Lockout {
            keys: Mutex::new(HashMap::new()),
            max: max.max(1),
            window,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // Plain timestamps: a panic elsewhere leaves nothing half-written.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `key` is locked out at `now`.
    pub fn locked(&self, key: &str, now: Instant) -> bool {
        let mut map = self.lock();
        let Some(q) = map.get_mut(key) else {
            return false;
        };
        while q
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.is_empty() {
            map.remove(key);
            return false;
        }
        q.len() >= self.max
    }

    /// Notes a failure for `key` at `now`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < window)
            });
            if map.len() >= self.capacity {
                return;
            }
        }
        let q = map.entry(key.to_owned()).or_default();
        q.push_back(now);
        while q.len() > self.max {
            q.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_minute_lock_a_key_until_the_minute_passes() {
        let f = Lockout::new(5, Duration::from_secs(60), 100);
        let t0 = Instant::now();
        for i in 0..4 {
            f.fail("a@x.io", t0 + Duration::from_secs(i));
        }
        assert!(!f.locked("a@x.io", t0 + Duration::from_secs(5)));
        f.fail("a@x.io", t0 + Duration::from_secs(5));
        assert!(f.locked("a@x.io", t0 + Duration::from_secs(6)));
        assert!(!f.locked("b@x.io", t0 + Duration::from_secs(6)), "per key");
        // The first failure is a minute old: four remain, not locked.
        assert!(!f.locked("a@x.io", t0 + Duration::from_secs(60)));
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let f = Lockout::new(2, Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c", "d"] {
            f.fail(k, t0);
        }
        assert_eq!(
            f.lock().len(),
            3,
            "d is not tracked while a, b, c are recent"
        );
        // A minute on, old keys make room.
        f.fail("d", t0 + Duration::from_secs(61));
        assert_eq!(f.lock().len(), 1);
    }
}
