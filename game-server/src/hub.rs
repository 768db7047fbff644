//! Push fan-out: which connection watches which creature, and the
//! bounded outboxes that carry pushes to each connection.
//!
//! A connection watches the creatures of its latest `nearby` (see
//! `play::rewatch`). When a creature goes away, only its watchers get a
//! `despawn`, so a despawn costs work proportional to the players who see
//! it, not to all players. The watcher map is sharded to keep lock contention low with
//! thousands of players updating at once.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use protocol::play::{DespawnReason, ServerMessage};

/// Identifies one live connection.
pub(crate) type ConnId = u64;

const SHARDS: usize = 32;

/// How many connections one fan-out wakes before it yields to the runtime.
const PUSH_PACE: usize = 32;

/// A connection's bounded queue of pushes, shared between the hub (which
/// fills it) and the connection's task (which drains it onto the socket).
///
/// Pushes are rare next to replies, so the queue is a plain `VecDeque`
/// that holds no memory while empty; a channel would reserve a block of
/// slots for every idle player.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Mutex<VecDeque<Utf8Bytes>>,
    /// Woken on every push and on a kick.
    pub(crate) ready: Notify,
    kicked: AtomicBool,
    /// A close code the connection must close with (4001 when a newer
    /// socket took over, 1008 when the player was suspended); 0 for none.
    closing: AtomicU16,
    capacity: usize,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Outbox {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            kicked: AtomicBool::new(false),
            closing: AtomicU16::new(0),
            capacity: capacity.max(1),
        })
    }

    /// Queues a frame without waiting. A full queue means the client does
    /// not read: it is kicked rather than allowed to grow the server's
    /// memory.
    pub(crate) fn push(&self, frame: Utf8Bytes) {
        if self.kicked.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut q = lock(&self.queue);
            if q.len() >= self.capacity {
                drop(q);
                metrics::counter!("geogame_slow_consumer_kicks_total").increment(1);
                self.kicked.store(true, Ordering::Relaxed);
            } else {
                q.push_back(frame);
                metrics::counter!("geogame_pushes_total").increment(1);
            }
        }
        self.ready.notify_one();
    }

    /// The next queued frame, if any.
    pub(crate) fn pop(&self) -> Option<Utf8Bytes> {
        let mut q = lock(&self.queue);
        let frame = q.pop_front();
        if q.is_empty() && q.capacity() > 4 {
            // A burst is over; give its memory back.
            *q = VecDeque::new();
        }
        frame
    }

    #[cfg(test)]
    fn queue_is_empty(&self) -> bool {
        lock(&self.queue).is_empty()
    }

    /// Whether the connection must be dropped for not reading its pushes.
    pub(crate) fn kicked(&self) -> bool {
        self.kicked.load(Ordering::Relaxed)
    }

    /// Tells the connection that a newer socket of its player took over.
    pub(crate) fn replace(&self) {
        self.close_with(protocol::close::REPLACED);
    }

    /// Tells the connection to close with `code` once the pushes queued
    /// before it are out.
    pub(crate) fn close_with(&self, code: u16) {
        self.closing.store(code, Ordering::Relaxed);
        self.ready.notify_one();
    }

    /// The close code the connection must close with, if any.
    pub(crate) fn closing(&self) -> Option<u16> {
        match self.closing.load(Ordering::Relaxed) {
            0 => None,
            code => Some(code),
        }
    }

    /// Whether the connection must close with 4001.
    #[cfg(test)]
    pub(crate) fn replaced(&self) -> bool {
        self.closing() == Some(protocol::close::REPLACED)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Hub {
    next_id: AtomicU64,
    conns: Mutex<HashMap<ConnId, Arc<Outbox>>>,
    watchers: [Mutex<HashMap<String, Vec<ConnId>>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

impl Hub {
    pub(crate) fn register(&self, handle: Arc<Outbox>) -> ConnId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, handle);
        id
    }

    /// Forgets a connection and every watch it held.
    pub(crate) fn unregister<S: AsRef<str>>(&self, id: ConnId, shown: impl IntoIterator<Item = S>) {
        lock(&self.conns).remove(&id);
        for creature in shown {
            self.unwatch(id, creature.as_ref());
        }
    }

    /// Forgets that `conn` watches `creature`.
    pub(crate) fn unwatch(&self, conn: ConnId, creature: &str) {
        let mut shard = lock(self.shard(creature));
        if let Some(w) = shard.get_mut(creature) {
            w.retain(|c| *c != conn);
            if w.is_empty() {
                shard.remove(creature);
            }
        }
    }

    /// Records that `conn` was shown `creature`.
    pub(crate) fn watch(&self, conn: ConnId, creature: &str) {
        let mut shard = lock(self.shard(creature));
        match shard.get_mut(creature) {
            Some(w) => {
                if !w.contains(&conn) {
                    w.push(conn);
                }
            }
            None => {
                shard.insert(creature.to_owned(), vec![conn]);
            }
        }
    }

    /// Pushes a `despawn` to every connection watching the creature, and
    /// forgets its watchers.
    ///
    /// A creature at a busy place is watched by hundreds of players, and
    /// each push wakes a connection task. Woken all at once they would queue
    /// ahead of every reply due meanwhile, so beyond [`PUSH_PACE`] watchers
    /// the rest are woken by a task that yields to the runtime between
    /// groups: replies interleave with the fan-out instead of waiting for
    /// all of it.
    pub(crate) fn despawn(&self, creature: &str, reason: DespawnReason) {
        let watchers = lock(self.shard(creature)).remove(creature);
        let Some(watchers) = watchers else { return };
        let frame: Utf8Bytes = ServerMessage::Despawn {
            creature_id: creature.to_owned(),
            reason,
        }
        .encode()
        .into();
        let mut now: Vec<Arc<Outbox>> = {
            let conns = lock(&self.conns);
            watchers
                .iter()
                .filter_map(|id| conns.get(id).cloned())
                .collect()
        };
        let later = now.split_off(now.len().min(PUSH_PACE));
        for outbox in &now {
            outbox.push(frame.clone());
        }
        if later.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    for group in later.chunks(PUSH_PACE) {
                        tokio::task::yield_now().await;
                        for outbox in group {
                            outbox.push(frame.clone());
                        }
                    }
                });
            }
            Err(_) => {
                for outbox in &later {
                    outbox.push(frame.clone());
                }
            }
        }
    }

    /// Pushes one frame to one connection.
    pub(crate) fn send_to(&self, id: ConnId, frame: Utf8Bytes) {
        if let Some(h) = lock(&self.conns).get(&id) {
            h.push(frame);
        }
    }

    pub(crate) fn connections(&self) -> usize {
        lock(&self.conns).len()
    }

    fn shard(&self, creature: &str) -> &Mutex<HashMap<String, Vec<ConnId>>> {
        &self.watchers[(self.hasher.hash_one(creature) as usize) % SHARDS]
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it:
/// every critical section here leaves the maps consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize) -> Utf8Bytes {
        format!("frame {i}").into()
    }

    #[test]
    fn an_outbox_keeps_order_and_kicks_when_full() {
        let out = Outbox::new(3);
        for i in 0..3 {
            out.push(frame(i));
        }
        assert!(!out.kicked());
        assert_eq!(out.pop().as_deref(), Some("frame 0"));
        out.push(frame(3));
        assert!(!out.kicked(), "a drained slot takes a new frame");
        // A fourth frame while three wait: the reader is too slow.
        out.push(frame(4));
        assert!(out.kicked());
        let rest: Vec<_> = std::iter::from_fn(|| out.pop()).collect();
        assert_eq!(rest, vec![frame(1), frame(2), frame(3)]);
        out.push(frame(5));
        assert!(out.pop().is_none(), "a kicked outbox takes nothing more");
    }

    #[tokio::test]
    async fn a_push_wakes_the_waiting_connection() {
        let out = Outbox::new(8);
        let waiter = {
            let out = out.clone();
            tokio::spawn(async move {
                out.ready.notified().await;
                out.pop()
            })
        };
        tokio::task::yield_now().await;
        out.push(frame(7));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!(got, Some(frame(7)));
    }

    #[test]
    fn a_push_before_the_wait_is_not_lost() {
        let out = Outbox::new(8);
        out.push(frame(1));
        // The permit stored by the push completes the next wait at once.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(1), out.ready.notified())
                .await
                .expect("a stored wake-up");
        });
        assert_eq!(out.pop(), Some(frame(1)));
    }

    #[test]
    fn despawn_reaches_only_the_watchers() {
        let hub = Hub::default();
        let (a, b) = (Outbox::new(8), Outbox::new(8));
        let ida = hub.register(a.clone());
        let idb = hub.register(b.clone());
        hub.watch(ida, "c-1");
        hub.watch(ida, "c-1");
        hub.despawn("c-1", DespawnReason::Caught);
        assert!(a.pop().is_some_and(|f| f.contains("c-1")));
        assert!(a.pop().is_none(), "one despawn per watcher");
        assert!(b.pop().is_none());
        hub.watch(ida, "c-2");
        hub.watch(idb, "c-2");
        hub.unwatch(ida, "c-2");
        hub.despawn("c-2", DespawnReason::Expired);
        assert!(a.pop().is_none(), "an unwatched creature is not pushed");
        assert!(b.pop().is_some_and(|f| f.contains("c-2")));
        hub.unregister(idb, std::iter::empty::<&str>());
        assert_eq!(hub.connections(), 1);
    }

    /// Registers `n` connections that all watch `creature`.
    fn crowd(hub: &Hub, n: usize, creature: &str) -> Vec<Arc<Outbox>> {
        (0..n)
            .map(|_| {
                let out = Outbox::new(4);
                let id = hub.register(out.clone());
                hub.watch(id, creature);
                out
            })
            .collect()
    }

    #[tokio::test]
    async fn a_large_fan_out_is_paced_but_reaches_every_watcher() {
        let hub = Hub::default();
        let crowd = crowd(&hub, 5 * PUSH_PACE + 3, "c-busy");
        hub.despawn("c-busy", DespawnReason::Caught);
        let at_once = crowd.iter().filter(|o| !o.queue_is_empty()).count();
        assert_eq!(at_once, PUSH_PACE, "the first group is pushed at once");
        // The rest arrive as the pacing task gets its turns.
        for _ in 0..100 {
            if crowd.iter().all(|o| !o.queue_is_empty()) {
                break;
            }
            tokio::task::yield_now().await;
        }
        for out in &crowd {
            assert!(out.pop().is_some_and(|f| f.contains("c-busy")));
            assert!(out.pop().is_none(), "one despawn per watcher");
        }
    }

    #[test]
    fn without_a_runtime_a_fan_out_is_pushed_at_once() {
        let hub = Hub::default();
        let crowd = crowd(&hub, 2 * PUSH_PACE + 1, "c-2");
        hub.despawn("c-2", DespawnReason::Expired);
        assert!(crowd.iter().all(|o| o.pop().is_some()));
    }
}
