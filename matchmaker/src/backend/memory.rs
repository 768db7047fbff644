//! The in-memory state store: one mutex over tickets, player locks and
//! sessions, so every operation is trivially atomic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Formed;
use crate::model::{HubEvent, SessionRec, Ticket};
use crate::{MatchConfig, MatchError};

/// What a player is bound to: an open ticket or a running session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lock {
    Ticket(String),
    Session(String),
}

#[derive(Default)]
struct Inner {
    tickets: HashMap<String, Arc<Ticket>>,
    locks: HashMap<String, Lock>,
    sessions: HashMap<String, SessionRec>,
}

pub(crate) struct MemoryState {
    max_open: usize,
    inner: Mutex<Inner>,
}

impl MemoryState {
    pub(crate) fn new(cfg: &MatchConfig) -> Self {
        MemoryState {
            max_open: cfg.max_open_tickets,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section checks before it writes, so a panic in one
        // cannot leave half an update behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn enqueue(&self, t: &Ticket) -> Result<(), MatchError> {
        let mut s = self.lock();
        if s.tickets.len() >= self.max_open {
            return Err(MatchError::QueueFull);
        }
        for p in t.members() {
            if let Some(l) = s.locks.get(p) {
                return Err(conflict(p, l));
            }
        }
        for p in t.members() {
            s.locks.insert(p.clone(), Lock::Ticket(t.id.clone()));
        }
        s.tickets.insert(t.id.clone(), Arc::new(t.clone()));
        Ok(())
    }

    pub(crate) fn ticket(&self, id: &str) -> Option<Arc<Ticket>> {
        self.lock().tickets.get(id).cloned()
    }

    pub(crate) fn drop_tickets(&self, tickets: &[(Arc<Ticket>, Option<HubEvent>)]) -> Vec<bool> {
        let mut s = self.lock();
        tickets
            .iter()
            .map(|(t, _)| {
                if s.tickets.remove(&t.id).is_none() {
                    return false;
                }
                let own = Lock::Ticket(t.id.clone());
                for p in t.members() {
                    if s.locks.get(p) == Some(&own) {
                        s.locks.remove(p);
                    }
                }
                true
            })
            .collect()
    }

    pub(crate) fn open_tickets(&self) -> Vec<Arc<Ticket>> {
        self.lock().tickets.values().cloned().collect()
    }

    pub(crate) fn commit(&self, groups: &[Formed]) -> Vec<bool> {
        let mut s = self.lock();
        groups
            .iter()
            .map(|g| {
                if !g.tickets.iter().all(|t| s.tickets.contains_key(&t.id)) {
                    return false;
                }
                for t in &g.tickets {
                    s.tickets.remove(&t.id);
                }
                for p in &g.session.players {
                    s.locks
                        .insert(p.clone(), Lock::Session(g.session.id.clone()));
                }
                s.sessions.insert(g.session.id.clone(), g.session.clone());
                true
            })
            .collect()
    }

    pub(crate) fn sessions(&self) -> Vec<SessionRec> {
        self.lock().sessions.values().cloned().collect()
    }

    pub(crate) fn session(&self, id: &str) -> Option<SessionRec> {
        self.lock().sessions.get(id).cloned()
    }

    pub(crate) fn end_sessions(&self, sessions: &[SessionRec]) -> Vec<bool> {
        let mut s = self.lock();
        sessions
            .iter()
            .map(|rec| {
                let Some(rec) = s.sessions.remove(&rec.id) else {
                    return false;
                };
                let own = Lock::Session(rec.id.clone());
                for p in &rec.players {
                    if s.locks.get(p) == Some(&own) {
                        s.locks.remove(p);
                    }
                }
                true
            })
            .collect()
    }
}

fn conflict(player: &str, lock: &Lock) -> MatchError {
    let what = match lock {
        Lock::Ticket(_) => "already has an open ticket",
        Lock::Session(_) => "is in a running session",
    };
    MatchError::Conflict(format!("player {player} {what}"))
}
