//! The registry of live game servers: each heartbeats its public URL,
//! capacity and load; the matchmaker assigns sessions only to servers
//! whose last heartbeat is fresh and that have room.
//!
//! Capacity and load count sessions (shared encounters) a server hosts; a
//! server that reports all its play sockets taken has no room either.
//! Sessions assigned since the server's last report are held as short
//! reservations so that one tick cannot overfill a server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::model::{ms, now_ms};
use crate::redis_util::{Keys, bounded, connect};
use crate::{MatchConfig, MatchError};

use protocol::registry::Heartbeat as Entry;
pub use protocol::registry::ServerInfo;

/// A live server and how many more sessions it can take right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRoom {
    /// The server's last report.
    pub info: ServerInfo,
    /// Sessions assigned to it recently and not yet in its reported load.
    pub reserved: u32,
    /// `capacity - load - reserved`, never below zero; 0 while its play
    /// sockets are all taken.
    pub room: u32,
}

/// The game-server registry, in memory or on Redis. Cheap to clone.
#[derive(Clone)]
pub enum Registry {
    /// One process (`geogame up`).
    Memory(MemoryRegistry),
    /// Shared by every process through Redis.
    Redis(RedisRegistry),
}

/// The in-memory registry.
#[derive(Clone)]
pub struct MemoryRegistry {
    ttl_ms: i64,
    resv_ms: i64,
    inner: Arc<Mutex<MemState>>,
}

#[derive(Default)]
struct MemState {
    servers: HashMap<String, Entry>,
    reservations: HashMap<String, VecDeque<i64>>,
}

/// The Redis registry: a hash of servers and one reservation set each.
#[derive(Clone)]
pub struct RedisRegistry {
    ttl_ms: i64,
    resv_ms: i64,
    timeout: Duration,
    keys: Keys,
    con: ConnectionManager,
}

impl Registry {
    /// An in-memory registry using `cfg.heartbeat_ttl` and
    /// `cfg.reservation_ttl`.
    pub fn memory(cfg: &MatchConfig) -> Self {
        Registry::Memory(MemoryRegistry {
            ttl_ms: ms(cfg.heartbeat_ttl),
            resv_ms: ms(cfg.reservation_ttl),
            inner: Arc::default(),
        })
    }

    /// A registry on Redis at `url`, with keys under `prefix`.
    pub async fn redis(url: &str, prefix: &str, cfg: &MatchConfig) -> Result<Self, MatchError> {
        Ok(Registry::Redis(RedisRegistry {
            ttl_ms: ms(cfg.heartbeat_ttl),
            resv_ms: ms(cfg.reservation_ttl),
            timeout: cfg.redis_timeout,
            keys: Keys::new(prefix),
            con: connect(url, cfg.redis_timeout).await?,
        }))
    }

    /// Records a heartbeat: the server is alive now with this load.
    pub async fn heartbeat(&self, info: &ServerInfo) -> Result<(), MatchError> {
        let entry = Entry {
            info: info.clone(),
            heartbeat_ms: now_ms(),
        };
        match self {
            Registry::Memory(m) => {
                m.lock().servers.insert(info.id.clone(), entry);
                Ok(())
            }
            Registry::Redis(r) => {
                let json = serde_json::to_string(&entry)
                    .map_err(|e| MatchError::Corrupt(e.to_string()))?;
                let mut con = r.con.clone();
                let cmd = redis::cmd("HSET")
                    .arg(r.keys.servers())
                    .arg(&info.id)
                    .arg(json)
                    .to_owned();
                bounded(r.timeout, cmd.query_async::<()>(&mut con)).await
            }
        }
    }

    /// Removes a server at once (e.g. on its graceful shutdown).
    pub async fn deregister(&self, id: &str) -> Result<(), MatchError> {
        match self {
            Registry::Memory(m) => {
                let mut s = m.lock();
                s.servers.remove(id);
                s.reservations.remove(id);
                Ok(())
            }
            Registry::Redis(r) => {
                let mut con = r.con.clone();
                let mut p = redis::pipe();
                p.hdel(r.keys.servers(), id).del(r.keys.reservations(id));
                bounded(r.timeout, p.query_async::<()>(&mut con)).await
            }
        }
    }

    /// Every server whose last heartbeat is younger than `heartbeat_ttl`.
    pub async fn live(&self) -> Result<Vec<ServerInfo>, MatchError> {
        Ok(self.rooms().await?.into_iter().map(|r| r.info).collect())
    }

    /// Every live server with its room, most room first.
    pub async fn rooms(&self) -> Result<Vec<ServerRoom>, MatchError> {
        let now = now_ms();
        let mut rooms = match self {
            Registry::Memory(m) => {
                let mut s = m.lock();
                let entries: Vec<Entry> = s.servers.values().cloned().collect();
                let mut out = Vec::new();
                for e in entries {
                    if now - e.heartbeat_ms >= m.ttl_ms {
                        continue;
                    }
                    let q = s.reservations.entry(e.info.id.clone()).or_default();
                    while q.front().is_some_and(|&at| now - at >= m.resv_ms) {
                        q.pop_front();
                    }
                    out.push(room_of(e.info, q.len()));
                }
                out
            }
            Registry::Redis(r) => r.rooms(now).await?,
        };
        rooms.sort_by(|a, b| b.room.cmp(&a.room).then_with(|| a.info.id.cmp(&b.info.id)));
        for r in &rooms {
            let labels = [("server", r.info.id.clone())];
            metrics::gauge!("geogame_lobby_server_load", &labels).set(f64::from(r.info.load));
            metrics::gauge!("geogame_lobby_server_capacity", &labels)
                .set(f64::from(r.info.capacity));
            metrics::gauge!("geogame_lobby_server_reserved", &labels).set(f64::from(r.reserved));
        }
        Ok(rooms)
    }

    /// Counts these sessions against their servers' room until the
    /// servers' own reports include them.
    pub async fn reserve(&self, assignments: &[(String, String)]) -> Result<(), MatchError> {
        if assignments.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        match self {
            Registry::Memory(m) => {
                let mut s = m.lock();
                for (server, _) in assignments {
                    s.reservations
                        .entry(server.clone())
                        .or_default()
                        .push_back(now);
                }
                Ok(())
            }
            Registry::Redis(r) => {
                let mut p = redis::pipe();
                for (server, session) in assignments {
                    let key = r.keys.reservations(server);
                    p.zadd(&key, session, now).ignore();
                    p.pexpire(&key, r.resv_ms.saturating_mul(2)).ignore();
                }
                let mut con = r.con.clone();
                bounded(r.timeout, p.query_async::<()>(&mut con)).await
            }
        }
    }
}

fn room_of(info: ServerInfo, reserved: usize) -> ServerRoom {
    let reserved = u32::try_from(reserved).unwrap_or(u32::MAX);
    // A server whose play sockets are all taken would refuse the players
    // of any session sent to it (503), whatever its session room.
    let sockets_full = info.socket_capacity > 0 && info.sockets >= info.socket_capacity;
    let room = if sockets_full {
        0
    } else {
        info.capacity
            .saturating_sub(info.load)
            .saturating_sub(reserved)
    };
    ServerRoom {
        info,
        reserved,
        room,
    }
}

impl MemoryRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemState> {
        // The state stays consistent between statements, so a panic in
        // another holder leaves nothing half-written worth refusing.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RedisRegistry {
    async fn rooms(&self, now: i64) -> Result<Vec<ServerRoom>, MatchError> {
        let mut con = self.con.clone();
        let all: HashMap<String, String> = bounded(
            self.timeout,
            redis::cmd("HGETALL")
                .arg(self.keys.servers())
                .query_async(&mut con),
        )
        .await?;
        let mut live = Vec::new();
        for (id, json) in all {
            match serde_json::from_str::<Entry>(&json) {
                Ok(e) if now - e.heartbeat_ms < self.ttl_ms => live.push(e.info),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(server = %id, error = %e, "skipping unreadable registry entry")
                }
            }
        }
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for info in &live {
            let key = self.keys.reservations(&info.id);
            p.cmd("ZREMRANGEBYSCORE")
                .arg(&key)
                .arg("-inf")
                .arg(now - self.resv_ms)
                .ignore();
            p.zcard(&key);
        }
        let counts: Vec<usize> = bounded(self.timeout, p.query_async(&mut con)).await?;
        Ok(live
            .into_iter()
            .zip(counts)
            .map(|(i, n)| room_of(i, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, capacity: u32, load: u32) -> ServerInfo {
        ServerInfo {
            id: id.into(),
            ws_url: format!("ws://{id}/v1/play"),
            capacity,
            load,
            socket_capacity: 0,
            sockets: 0,
        }
    }

    #[tokio::test]
    async fn room_is_capacity_minus_load_minus_reservations() {
        let r = Registry::memory(&MatchConfig::default());
        r.heartbeat(&info("a", 5, 2)).await.unwrap();
        r.reserve(&[("a".into(), "s1".into())]).await.unwrap();
        let rooms = r.rooms().await.unwrap();
        assert_eq!(rooms.len(), 1);
        assert_eq!((rooms[0].reserved, rooms[0].room), (1, 2));
        r.deregister("a").await.unwrap();
        assert!(r.live().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_server_with_every_socket_taken_has_no_room() {
        let r = Registry::memory(&MatchConfig::default());
        let full = ServerInfo {
            socket_capacity: 3,
            sockets: 3,
            ..info("a", 5, 0)
        };
        r.heartbeat(&full).await.unwrap();
        assert_eq!(r.rooms().await.unwrap()[0].room, 0);
        let one_free = ServerInfo { sockets: 2, ..full };
        r.heartbeat(&one_free).await.unwrap();
        assert_eq!(r.rooms().await.unwrap()[0].room, 5);
    }

    #[tokio::test]
    async fn a_stale_heartbeat_means_dead() {
        let cfg = MatchConfig {
            heartbeat_ttl: Duration::from_millis(50),
            ..MatchConfig::default()
        };
        let r = Registry::memory(&cfg);
        r.heartbeat(&info("a", 5, 0)).await.unwrap();
        assert_eq!(r.live().await.unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(r.live().await.unwrap().is_empty());
        r.heartbeat(&info("a", 5, 0)).await.unwrap();
        assert_eq!(
            r.live().await.unwrap().len(),
            1,
            "a fresh heartbeat revives it"
        );
    }
}
