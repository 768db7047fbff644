//! How a game server tells the matchmaker that a session is over, so that
//! its players may queue again at once: one type, with an in-process side
//! (`geogame up`, where the lobby runs beside the game server) and a Redis
//! side (scaled out, where the lobby's state lives on Redis).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use service_kit::Backoff;

use crate::backend::{Backend, State};
use crate::engine::Lobby;
use crate::{MatchConfig, MatchError};

/// Attempts at releasing one session before the matchmaker's own sweep of
/// over-long sessions is left to do it.
const ATTEMPTS: usize = 6;

/// Where a session's end is reported. Cheap to clone.
#[derive(Clone)]
pub struct SessionRelease {
    to: To,
}

#[derive(Clone)]
enum To {
    /// The lobby of this process, once it exists (the lobby and the game
    /// server refer to each other, so the cell is filled after both start).
    Lobby(Arc<OnceLock<Lobby>>),
    /// The lobby's state on Redis.
    Redis(Arc<State>),
}

impl std::fmt::Debug for SessionRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.to {
            To::Lobby(_) => "SessionRelease::Lobby",
            To::Redis(_) => "SessionRelease::Redis",
        })
    }
}

impl SessionRelease {
    /// Reports to the lobby set into `cell` (in-process deployment).
    pub fn in_process(cell: Arc<OnceLock<Lobby>>) -> Self {
        SessionRelease {
            to: To::Lobby(cell),
        }
    }

    /// Reports to the lobby state on Redis under `prefix` (the prefix the
    /// matchmakers use).
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, MatchError> {
        let backend = Backend::Redis {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        };
        let state = State::open(&backend, &MatchConfig::default()).await?;
        Ok(SessionRelease {
            to: To::Redis(Arc::new(state)),
        })
    }

    /// Ends session `sid`, releasing its players; returns whether it was
    /// running.
    pub async fn end(&self, sid: &str) -> Result<bool, MatchError> {
        match &self.to {
            To::Lobby(cell) => match cell.get() {
                Some(lobby) => lobby.end_session(sid).await,
                None => Ok(false),
            },
            To::Redis(state) => end_in(state, sid).await,
        }
    }

    /// Ends session `sid` in the background, retrying with backoff while
    /// the matchmaker's state is unreachable. For callers that must not
    /// wait (the game server's tick).
    pub fn end_soon(&self, sid: &str) {
        let (me, sid) = (self.clone(), sid.to_owned());
        tokio::spawn(async move {
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            for _ in 0..ATTEMPTS {
                match me.end(&sid).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, session = %sid, "session end not reported yet; retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
            tracing::error!(session = %sid, "session end not reported; the lobby's sweep will release its players");
        });
    }
}

/// Ends a session in `state`; the one implementation the lobby and the
/// Redis side share.
pub(crate) async fn end_in(state: &State, sid: &str) -> Result<bool, MatchError> {
    let Some(s) = state.session(sid).await? else {
        return Ok(false);
    };
    let ended = state.end_sessions(&[s]).await?.first() == Some(&true);
    if ended {
        metrics::gauge!("geogame_lobby_sessions_running").decrement(1.0);
    }
    Ok(ended)
}
