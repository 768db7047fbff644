//! Push fan-out: which connection was shown which creature, and the
//! bounded queues that carry pushes to each connection.
//!
//! A connection registers as a watcher of every creature it is shown.
//! When a creature goes away, only its watchers get a `despawn`, so a
//! despawn costs work proportional to the players who saw it, not to all
//! players. The watcher map is sharded to keep lock contention low with
//! thousands of players updating at once.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use protocol::play::{DespawnReason, ServerMessage};

/// Identifies one live connection.
pub(crate) type ConnId = u64;

const SHARDS: usize = 32;

/// The sending half a connection registers.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    pub(crate) tx: mpsc::Sender<Utf8Bytes>,
    /// Cancelled when the connection must be dropped because it does not
    /// read its pushes.
    pub(crate) kick: CancellationToken,
}

#[derive(Debug, Default)]
pub(crate) struct Hub {
    next_id: AtomicU64,
    conns: Mutex<HashMap<ConnId, ConnHandle>>,
    watchers: [Mutex<HashMap<String, Vec<ConnId>>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

impl Hub {
    pub(crate) fn register(&self, handle: ConnHandle) -> ConnId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.conns).insert(id, handle);
        id
    }

    /// Forgets a connection and every watch it held.
    pub(crate) fn unregister<'a>(&self, id: ConnId, shown: impl IntoIterator<Item = &'a String>) {
        lock(&self.conns).remove(&id);
        for creature in shown {
            let mut shard = lock(self.shard(creature));
            if let Some(w) = shard.get_mut(creature) {
                w.retain(|c| *c != id);
                if w.is_empty() {
                    shard.remove(creature);
                }
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

    /// Pushes a `despawn` to every connection that was shown the creature,
    /// and forgets its watchers.
    pub(crate) fn despawn(&self, creature: &str, reason: DespawnReason) {
        let watchers = lock(self.shard(creature)).remove(creature);
        let Some(watchers) = watchers else { return };
        let frame: Utf8Bytes = ServerMessage::Despawn {
            creature_id: creature.to_owned(),
            reason,
        }
        .encode()
        .into();
        let conns = lock(&self.conns);
        for id in watchers {
            if let Some(h) = conns.get(&id) {
                push(h, frame.clone());
            }
        }
    }

    /// Pushes one frame to one connection.
    pub(crate) fn send_to(&self, id: ConnId, frame: Utf8Bytes) {
        if let Some(h) = lock(&self.conns).get(&id) {
            push(h, frame);
        }
    }

    pub(crate) fn connections(&self) -> usize {
        lock(&self.conns).len()
    }

    fn shard(&self, creature: &str) -> &Mutex<HashMap<String, Vec<ConnId>>> {
        &self.watchers[(self.hasher.hash_one(creature) as usize) % SHARDS]
    }
}

/// Queues a frame without waiting. A full queue means the client does not
/// read: it is kicked rather than allowed to grow the server's memory.
pub(crate) fn push(h: &ConnHandle, frame: Utf8Bytes) {
    match h.tx.try_send(frame) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            metrics::counter!("geogame_slow_consumer_kicks_total").increment(1);
            h.kick.cancel();
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it:
/// every critical section here leaves the maps consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
