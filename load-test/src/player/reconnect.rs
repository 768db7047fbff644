//! A player's drop and resume (`--drop-share`): the socket ends with no
//! close frame, as when a phone loses its network, and the player comes
//! back with the same token, retrying as an app would.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::{Player, Shared};
use crate::conn::{self, Ws};

/// Tries to reconnect this many times before giving up.
const ATTEMPTS: u32 = 4;

impl Player<'_> {
    /// Drops the play socket and opens a new one; false when the player
    /// could not come back (counted by reason).
    pub(super) async fn drop_and_resume(&mut self) -> bool {
        let dropped = Instant::now();
        let resumes = &self.shared.resumes;
        let in_raid = self
            .lobby
            .as_ref()
            .is_some_and(crate::lobby::Lobby::raiding);
        // What was in flight is never answered: counted, not timed out.
        resumes.dropped(self.inflight.len() as u64, in_raid);
        self.inflight.clear();
        self.raid_seqs.clear();
        // A FIN without a close frame; the old stream is dropped once the
        // new one takes its place.
        let _ = self.ws.get_mut().shutdown().await;
        let storm = self.shared.storm.as_ref().filter(|_| self.storm_reconnect);
        match reopen(self.shared, self.token.as_deref()).await {
            Ok(ws) => {
                self.ws = ws;
                resumes.resumed(dropped.elapsed());
                storm.inspect(|s| s.arrived(Instant::now()));
                self.raid_resume_pending = in_raid;
                self.looked_at = None;
                self.creatures.clear();
                true
            }
            Err(reason) => {
                resumes.failed(reason);
                storm.inspect(|s| s.failed());
                false
            }
        }
    }

    /// A `session_joined` pushed without a seq: the server put a dropped
    /// raider back into the raid.
    pub(super) fn on_session_rejoined(&mut self) {
        if std::mem::take(&mut self.raid_resume_pending) {
            self.shared.resumes.raid_rejoined();
        }
    }
}

/// A new play socket, welcomed, within the connect timeout. Failures are
/// retried [`ATTEMPTS`] times; busy answers (shed by a server in a storm)
/// are waited out without counting as attempts.
async fn reopen(shared: &Shared, token: Option<&str>) -> Result<Ws, &'static str> {
    let cfg = &shared.cfg;
    let deadline = Instant::now() + cfg.connect_timeout;
    let mut last = "resume_timeout";
    for attempt in 0..ATTEMPTS {
        let once = super::until_admitted(shared, || async {
            let mut ws = shared.dialer.open(&shared.endpoints.play).await?;
            if let Some(token) = token {
                conn::play_hello(&mut ws, token).await?;
            }
            Ok::<Ws, &'static str>(ws)
        });
        match tokio::time::timeout_at(deadline, once).await {
            Ok(Ok(ws)) => return Ok(ws),
            Ok(Err(reason)) => last = reason,
            Err(_) => return Err("resume_timeout"),
        }
        if attempt + 1 < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }
    Err(last)
}
