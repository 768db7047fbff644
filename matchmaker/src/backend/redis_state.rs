//! The Redis state store: tickets and sessions in hashes, one lock key per
//! player, a matching lease, and an event stream that every matchmaker
//! process reads to push results to the sockets it holds.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::StreamReadReply;
use redis::{Script, Value};

use super::{Formed, scripts};
use crate::model::{HubEvent, SessionRec, Ticket, ms};
use crate::redis_util::{Keys, bounded, connect};
use crate::{MatchConfig, MatchError};

/// Groups (or tickets) per script call: keeps each script short, since
/// Redis runs nothing else while a script runs.
const SCRIPT_CHUNK: usize = 256;
/// Ticket records fetched per HMGET.
const FETCH_CHUNK: usize = 1000;

pub(crate) struct RedisState {
    con: ConnectionManager,
    keys: Keys,
    timeout: Duration,
    /// This process's lease identity.
    me: String,
    lease_ms: i64,
    ticket_lock_ms: i64,
    session_lock_ms: i64,
    max_open: usize,
    stream_maxlen: usize,
    enqueue: Script,
    drop: Script,
    commit: Script,
    end: Script,
    lease: Script,
    release: Script,
    /// Tickets already decoded, by id; records never change once written,
    /// so each tick fetches only ids it has not seen.
    cache: Mutex<HashMap<String, Arc<Ticket>>>,
    reader: Mutex<Option<EventReader>>,
}

/// Reads the shared event stream from where this process started.
pub(crate) struct EventReader {
    con: ConnectionManager,
    key: String,
    last_id: String,
    block_ms: u64,
    batch: usize,
    deadline: Duration,
}

impl RedisState {
    pub(crate) async fn open(
        url: &str,
        prefix: &str,
        cfg: &MatchConfig,
    ) -> Result<Self, MatchError> {
        let keys = Keys::new(prefix);
        let con = connect(url, cfg.redis_timeout).await?;
        // The reader blocks on XREAD, so it gets its own connection whose
        // response timeout covers the block.
        let block_ms: u64 = 500;
        let deadline = cfg.redis_timeout + Duration::from_millis(block_ms);
        let mut reader_con = connect(url, deadline).await?;
        // Start right after the newest event, so a restart of this process
        // does not replay old pushes, but nothing published from now on is
        // missed, even across a Redis outage.
        let newest: Vec<(String, HashMap<String, Value>)> = bounded(
            cfg.redis_timeout,
            redis::cmd("XREVRANGE")
                .arg(keys.events())
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut reader_con),
        )
        .await?;
        let last_id = newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
        let ticket_ttl = ms(cfg.ticket_ttl);
        Ok(RedisState {
            reader: Mutex::new(Some(EventReader {
                con: reader_con,
                key: keys.events(),
                last_id,
                block_ms,
                batch: cfg.event_batch,
                deadline: deadline + cfg.redis_timeout,
            })),
            con,
            keys,
            timeout: cfg.redis_timeout,
            me: uuid::Uuid::new_v4().to_string(),
            lease_ms: ms(cfg.lease_ttl),
            // A ticket's lock outlives it by far: the lease holder removes
            // both together, and the TTL only guards against a lock leaked
            // by a bug.
            ticket_lock_ms: ticket_ttl.saturating_mul(2).saturating_add(60_000),
            session_lock_ms: ms(cfg.session_max),
            max_open: cfg.max_open_tickets,
            stream_maxlen: cfg.event_stream_maxlen,
            enqueue: Script::new(scripts::ENQUEUE),
            drop: Script::new(scripts::DROP_TICKETS),
            commit: Script::new(scripts::COMMIT),
            end: Script::new(scripts::END_SESSIONS),
            lease: Script::new(scripts::LEASE),
            release: Script::new(scripts::RELEASE),
            cache: Mutex::default(),
        })
    }

    pub(crate) fn take_reader(&self) -> Option<EventReader> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Ticket>>> {
        // The cache is only an optimisation; a poisoned one is still valid.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn enqueue(&self, t: &Ticket) -> Result<(), MatchError> {
        let json = encode(t)?;
        let members: Vec<&String> = t.members().collect();
        let mut inv = self.enqueue.prepare_invoke();
        inv.key(self.keys.tickets());
        for p in &members {
            inv.key(self.keys.lock(p));
        }
        inv.arg(&t.id)
            .arg(json)
            .arg(self.ticket_lock_ms)
            .arg(self.max_open);
        let mut con = self.con.clone();
        let reply: Vec<String> = bounded(self.timeout, inv.invoke_async(&mut con)).await?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(()),
            Some("full") => Err(MatchError::QueueFull),
            Some("conflict") => {
                let idx: usize = reply.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
                let player = members
                    .get(idx.saturating_sub(1))
                    .map_or("?", |p| p.as_str());
                let what = match reply.get(2) {
                    Some(l) if l.starts_with("s:") => "is in a running session",
                    _ => "already has an open ticket",
                };
                Err(MatchError::Conflict(format!("player {player} {what}")))
            }
            _ => Err(MatchError::Corrupt("unexpected enqueue reply".into())),
        }
    }

    pub(crate) async fn ticket(&self, id: &str) -> Result<Option<Arc<Ticket>>, MatchError> {
        let mut con = self.con.clone();
        let json: Option<String> = bounded(
            self.timeout,
            redis::cmd("HGET")
                .arg(self.keys.tickets())
                .arg(id)
                .query_async(&mut con),
        )
        .await?;
        json.map(|j| decode::<Ticket>(&j).map(Arc::new)).transpose()
    }

    pub(crate) async fn drop_tickets(
        &self,
        tickets: &[(Arc<Ticket>, Option<HubEvent>)],
    ) -> Result<Vec<bool>, MatchError> {
        let mut out = Vec::with_capacity(tickets.len());
        for chunk in tickets.chunks(SCRIPT_CHUNK) {
            let mut inv = self.drop.prepare_invoke();
            inv.key(self.keys.tickets()).key(self.keys.events());
            inv.arg(self.stream_maxlen).arg(chunk.len());
            for (t, ev) in chunk {
                let ev = ev.as_ref().map(encode).transpose()?.unwrap_or_default();
                inv.arg(&t.id).arg(ev).arg(t.size());
                for p in t.members() {
                    inv.key(self.keys.lock(p));
                }
            }
            let mut con = self.con.clone();
            let done: Vec<i64> = bounded(self.timeout, inv.invoke_async(&mut con)).await?;
            out.extend(done.into_iter().map(|d| d == 1));
        }
        let mut cache = self.cache();
        for (t, _) in tickets {
            cache.remove(&t.id);
        }
        Ok(out)
    }

    pub(crate) async fn open_tickets(&self) -> Result<Vec<Arc<Ticket>>, MatchError> {
        let mut con = self.con.clone();
        let ids: Vec<String> = bounded(
            self.timeout,
            redis::cmd("HKEYS")
                .arg(self.keys.tickets())
                .query_async(&mut con),
        )
        .await?;
        let missing: Vec<String> = {
            let mut cache = self.cache();
            let live: HashSet<&String> = ids.iter().collect();
            cache.retain(|id, _| live.contains(id));
            ids.iter()
                .filter(|id| !cache.contains_key(*id))
                .cloned()
                .collect()
        };
        let mut fetched = Vec::with_capacity(missing.len());
        for chunk in missing.chunks(FETCH_CHUNK) {
            let jsons: Vec<Option<String>> = bounded(
                self.timeout,
                redis::cmd("HMGET")
                    .arg(self.keys.tickets())
                    .arg(chunk)
                    .query_async(&mut con),
            )
            .await?;
            for json in jsons.into_iter().flatten() {
                match decode::<Ticket>(&json) {
                    Ok(t) => fetched.push(Arc::new(t)),
                    Err(e) => tracing::warn!(error = %e, "skipping unreadable ticket"),
                }
            }
        }
        let mut cache = self.cache();
        for t in fetched {
            cache.insert(t.id.clone(), t);
        }
        Ok(cache.values().cloned().collect())
    }

    pub(crate) async fn commit(&self, groups: &[Formed]) -> Result<Vec<bool>, MatchError> {
        let mut out = Vec::with_capacity(groups.len());
        for chunk in groups.chunks(SCRIPT_CHUNK) {
            let mut inv = self.commit.prepare_invoke();
            inv.key(self.keys.tickets())
                .key(self.keys.sessions())
                .key(self.keys.events());
            inv.arg(self.stream_maxlen)
                .arg(self.session_lock_ms)
                .arg(chunk.len());
            for g in chunk {
                inv.arg(&g.session.id)
                    .arg(encode(&g.session)?)
                    .arg(encode(&g.event)?)
                    .arg(g.tickets.len());
                for t in &g.tickets {
                    inv.arg(&t.id);
                }
                inv.arg(g.session.players.len());
                for p in &g.session.players {
                    inv.key(self.keys.lock(p));
                }
            }
            let mut con = self.con.clone();
            let done: Vec<i64> = bounded(self.timeout, inv.invoke_async(&mut con)).await?;
            out.extend(done.into_iter().map(|d| d == 1));
        }
        let mut cache = self.cache();
        for t in groups.iter().flat_map(|g| &g.tickets) {
            cache.remove(&t.id);
        }
        Ok(out)
    }

    pub(crate) async fn sessions(&self) -> Result<Vec<SessionRec>, MatchError> {
        let mut con = self.con.clone();
        let all: HashMap<String, String> = bounded(
            self.timeout,
            redis::cmd("HGETALL")
                .arg(self.keys.sessions())
                .query_async(&mut con),
        )
        .await?;
        Ok(all
            .into_values()
            .filter_map(|j| match decode::<SessionRec>(&j) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "skipping unreadable session");
                    None
                }
            })
            .collect())
    }

    pub(crate) async fn session(&self, id: &str) -> Result<Option<SessionRec>, MatchError> {
        let mut con = self.con.clone();
        let json: Option<String> = bounded(
            self.timeout,
            redis::cmd("HGET")
                .arg(self.keys.sessions())
                .arg(id)
                .query_async(&mut con),
        )
        .await?;
        json.map(|j| decode(&j)).transpose()
    }

    pub(crate) async fn end_sessions(
        &self,
        sessions: &[SessionRec],
    ) -> Result<Vec<bool>, MatchError> {
        let mut out = Vec::with_capacity(sessions.len());
        for chunk in sessions.chunks(SCRIPT_CHUNK) {
            let mut inv = self.end.prepare_invoke();
            inv.key(self.keys.sessions()).arg(chunk.len());
            for s in chunk {
                inv.arg(&s.id).arg(s.players.len());
                for p in &s.players {
                    inv.key(self.keys.lock(p));
                }
            }
            let mut con = self.con.clone();
            let done: Vec<i64> = bounded(self.timeout, inv.invoke_async(&mut con)).await?;
            out.extend(done.into_iter().map(|d| d == 1));
        }
        Ok(out)
    }

    pub(crate) async fn try_lead(&self) -> Result<bool, MatchError> {
        let mut inv = self.lease.prepare_invoke();
        inv.key(self.keys.lease()).arg(&self.me).arg(self.lease_ms);
        let mut con = self.con.clone();
        let held: i64 = bounded(self.timeout, inv.invoke_async(&mut con)).await?;
        Ok(held == 1)
    }

    pub(crate) async fn release_lead(&self) {
        let mut inv = self.release.prepare_invoke();
        inv.key(self.keys.lease()).arg(&self.me);
        let mut con = self.con.clone();
        if let Err(e) = bounded::<i64>(self.timeout, inv.invoke_async(&mut con)).await {
            tracing::debug!(error = %e, "could not release the matching lease");
        }
    }
}

impl EventReader {
    /// Waits up to the block time for new events and returns them in order.
    pub(crate) async fn next_batch(&mut self) -> Result<Vec<HubEvent>, MatchError> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(self.batch)
            .arg("BLOCK")
            .arg(self.block_ms)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&self.last_id);
        let call = cmd.query_async::<Option<StreamReadReply>>(&mut self.con);
        let Some(reply) = bounded(self.deadline, call).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
            match entry.get::<String>("e").map(|j| decode::<HubEvent>(&j)) {
                Some(Ok(ev)) => out.push(ev),
                _ => tracing::warn!(id = %entry.id, "skipping unreadable lobby event"),
            }
            self.last_id = entry.id;
        }
        Ok(out)
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, MatchError> {
    serde_json::to_string(v).map_err(|e| MatchError::Corrupt(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, MatchError> {
    serde_json::from_str(json).map_err(|e| MatchError::Corrupt(e.to_string()))
}

#[cfg(test)]
#[path = "redis_state_tests.rs"]
mod tests;
