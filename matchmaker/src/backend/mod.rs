//! Where the matchmaker's state lives: tickets, player locks, sessions and
//! the matching lease. One enum, two implementations with the same
//! atomic operations, so the engine has a single code path.
//!
//! Every state change that must not race (queue, cancel, expire, commit a
//! match, end a session) is one atomic step: a mutex section in memory, a
//! Lua script on Redis.

mod memory;
mod redis_state;
mod scripts;

use std::sync::Arc;

use crate::model::{HubEvent, SessionRec, Ticket};
use crate::{MatchConfig, MatchError};

/// Which backend to keep matchmaking state in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In this process only (`geogame up`).
    Memory,
    /// On Redis, shared by every matchmaker process using `prefix`.
    Redis {
        /// `redis://host:port`.
        url: String,
        /// Key prefix; processes with the same prefix share one queue.
        prefix: String,
    },
}

/// A group of tickets ready to become a session.
#[derive(Debug, Clone)]
pub(crate) struct Formed {
    pub(crate) session: SessionRec,
    pub(crate) tickets: Vec<Arc<Ticket>>,
    pub(crate) event: HubEvent,
}

/// The state store behind a [`crate::Lobby`].
pub(crate) enum State {
    Memory(memory::MemoryState),
    // Boxed: the Redis side is much larger, and there is one per lobby.
    Redis(Box<redis_state::RedisState>),
}

impl State {
    pub(crate) async fn open(backend: &Backend, cfg: &MatchConfig) -> Result<Self, MatchError> {
        Ok(match backend {
            Backend::Memory => State::Memory(memory::MemoryState::new(cfg)),
            Backend::Redis { url, prefix } => State::Redis(Box::new(
                redis_state::RedisState::open(url, prefix, cfg).await?,
            )),
        })
    }

    /// Whether committed events reach sockets through the backend (a Redis
    /// stream every process reads) rather than directly from the committer.
    pub(crate) fn shares_events(&self) -> bool {
        matches!(self, State::Redis(_))
    }

    /// Adds a ticket unless a member already holds a ticket or a session.
    pub(crate) async fn enqueue(&self, t: &Ticket) -> Result<(), MatchError> {
        match self {
            State::Memory(m) => m.enqueue(t),
            State::Redis(r) => r.enqueue(t).await,
        }
    }

    /// The open ticket with this id, if any.
    pub(crate) async fn ticket(&self, id: &str) -> Result<Option<Arc<Ticket>>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.ticket(id)),
            State::Redis(r) => r.ticket(id).await,
        }
    }

    /// Removes tickets (cancel or expiry), releasing their players. Each
    /// entry of the result says whether that ticket was still open; the
    /// event, when given, is published only for tickets this call removed.
    pub(crate) async fn drop_tickets(
        &self,
        tickets: &[(Arc<Ticket>, Option<HubEvent>)],
    ) -> Result<Vec<bool>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.drop_tickets(tickets)),
            State::Redis(r) => r.drop_tickets(tickets).await,
        }
    }

    /// Every open ticket.
    pub(crate) async fn open_tickets(&self) -> Result<Vec<Arc<Ticket>>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.open_tickets()),
            State::Redis(r) => r.open_tickets().await,
        }
    }

    /// Turns groups into sessions. A group commits only if every one of its
    /// tickets is still open, all at once; the result says which did.
    pub(crate) async fn commit(&self, groups: &[Formed]) -> Result<Vec<bool>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.commit(groups)),
            State::Redis(r) => r.commit(groups).await,
        }
    }

    /// Every running session.
    pub(crate) async fn sessions(&self) -> Result<Vec<SessionRec>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.sessions()),
            State::Redis(r) => r.sessions().await,
        }
    }

    /// The running session with this id, if any.
    pub(crate) async fn session(&self, id: &str) -> Result<Option<SessionRec>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.session(id)),
            State::Redis(r) => r.session(id).await,
        }
    }

    /// Ends sessions, releasing their players; says which were running.
    pub(crate) async fn end_sessions(
        &self,
        sessions: &[SessionRec],
    ) -> Result<Vec<bool>, MatchError> {
        match self {
            State::Memory(m) => Ok(m.end_sessions(sessions)),
            State::Redis(r) => r.end_sessions(sessions).await,
        }
    }

    /// Takes or renews the matching lease; only its holder runs a tick's
    /// matching and expiry. In memory this process always holds it.
    pub(crate) async fn try_lead(&self) -> Result<bool, MatchError> {
        match self {
            State::Memory(_) => Ok(true),
            State::Redis(r) => r.try_lead().await,
        }
    }

    /// Gives the lease up so that another process takes over at once.
    pub(crate) async fn release_lead(&self) {
        if let State::Redis(r) = self {
            r.release_lead().await;
        }
    }

    /// The reader of the shared event stream (Redis only), handed out
    /// once to the process's delivery task.
    pub(crate) fn take_reader(&self) -> Option<EventReader> {
        match self {
            State::Redis(r) => r.take_reader(),
            State::Memory(_) => None,
        }
    }
}

pub(crate) use redis_state::EventReader;
