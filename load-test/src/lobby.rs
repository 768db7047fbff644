//! A player's lobby socket: queue for a raid at a nearby POI, measure
//! `queue` to `queued` and `queue` to `match_found`, then queue again after
//! a while.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage, Mode, QueueRequest};
use rand::Rng;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::conn::Ws;
use crate::geo::LatLon;
use crate::stats::{Kind, Recorder};
use crate::walker::Walker;

/// How close (m) to a POI a player must be to queue for its raid; the
/// server's default raid radius is 300 m, so this leaves room for jitter.
const QUEUE_RANGE_M: f64 = 250.0;

#[derive(Debug)]
enum State {
    /// Not queued; may queue from `next_try` on.
    Idle { next_try: Instant },
    /// `queue` sent, waiting for `queued`.
    Queuing { seq: u64, at: Instant },
    /// Ticket in the queue, waiting for `match_found`.
    Waiting { ticket_id: String, since: Instant },
    /// Matched: in the raid on the game server until it ends (the lobby
    /// refuses a new ticket meanwhile). `token` waits to be sent in a
    /// `join_session` on the play socket.
    Raiding { token: Option<String> },
}

/// One player's lobby connection and its queueing state.
#[derive(Debug)]
pub(crate) struct Lobby {
    ws: Ws,
    state: State,
    seq: u64,
}

fn after(now: Instant, rng: &mut impl Rng, lo: f64, hi: f64) -> Instant {
    now + Duration::from_secs_f64(rng.random_range(lo..hi))
}

impl Lobby {
    /// Wraps an authenticated lobby socket; the first queue attempt comes
    /// after a short random delay so players do not queue in lockstep.
    pub(crate) fn new(ws: Ws, now: Instant, rng: &mut impl Rng) -> Lobby {
        Lobby {
            ws,
            state: State::Idle {
                next_try: after(now, rng, 0.2, 2.0),
            },
            seq: 0,
        }
    }

    /// The next frame of the lobby socket, or never when there is none.
    pub(crate) async fn next(
        lobby: &mut Option<Lobby>,
    ) -> Option<Result<Message, tungstenite::Error>> {
        match lobby {
            Some(l) => l.ws.next().await,
            None => std::future::pending().await,
        }
    }

    /// Handles one text frame from the lobby.
    pub(crate) fn on_text(
        &mut self,
        text: &str,
        now: Instant,
        rec: &Recorder<'_>,
        rng: &mut impl Rng,
    ) {
        let msg = match LobbyServerMessage::decode(text) {
            Ok(m) => m,
            Err(_) => {
                rec.error(None, "undecodable_lobby_reply");
                return;
            }
        };
        match (msg, &self.state) {
            (LobbyServerMessage::Queued { seq, ticket_id }, State::Queuing { seq: want, at })
                if seq == Some(*want) =>
            {
                rec.reply(Kind::Queue, *at, now);
                rec.sent_unscheduled(Kind::Match);
                self.state = State::Waiting {
                    ticket_id,
                    since: *at,
                };
            }
            (
                LobbyServerMessage::MatchFound {
                    ticket_id,
                    session_token,
                    ..
                },
                State::Waiting {
                    ticket_id: want,
                    since,
                },
            ) if ticket_id == *want => {
                rec.reply(Kind::Match, *since, now);
                // A real player joins the raid on its game socket and fights
                // until it ends; only then does it look for the next one.
                self.state = State::Raiding {
                    token: Some(session_token),
                };
            }
            (
                LobbyServerMessage::Expired { ticket_id },
                State::Waiting {
                    ticket_id: want, ..
                },
            ) if ticket_id == *want => {
                rec.error(Some(Kind::Match), "expired");
                self.state = State::Idle {
                    next_try: after(now, rng, 2.0, 10.0),
                };
            }
            (LobbyServerMessage::Error { seq, code, .. }, State::Queuing { seq: want, .. })
                if seq == Some(*want) =>
            {
                rec.error(Some(Kind::Queue), code.as_str());
                self.state = State::Idle {
                    next_try: after(now, rng, 5.0, 15.0),
                };
            }
            (LobbyServerMessage::Error { code, .. }, _) => rec.error(None, code.as_str()),
            // Pushes for other tickets (a party member's) and pongs.
            _ => {}
        }
    }

    /// The session token to join with, once, right after a match.
    pub(crate) fn take_join(&mut self) -> Option<String> {
        match &mut self.state {
            State::Raiding { token } => token.take(),
            _ => None,
        }
    }

    /// Whether the player is in a raid it has joined.
    pub(crate) fn raiding(&self) -> bool {
        matches!(self.state, State::Raiding { token: None })
    }

    /// The raid is over (ended, or the join was refused): back to idle,
    /// queueing again some time later.
    pub(crate) fn raid_over(&mut self, now: Instant, rng: &mut impl Rng) {
        if matches!(self.state, State::Raiding { .. }) {
            self.state = State::Idle {
                next_try: after(now, rng, 20.0, 60.0),
            };
        }
    }

    /// Queues for a raid at the nearest known POI when the player is idle,
    /// near one, and its back-off has passed; also expires a `queue` that
    /// got no `queued` within `timeout`. Errs when the socket is broken.
    pub(crate) async fn tick(
        &mut self,
        now: Instant,
        walker: &mut Walker,
        reported: LatLon,
        rec: &Recorder<'_>,
        timeout: Duration,
    ) -> Result<(), tungstenite::Error> {
        match self.state {
            State::Queuing { at, .. } if now.duration_since(at) >= timeout => {
                rec.timeout(Kind::Queue, at, now);
                self.state = State::Idle {
                    next_try: after(now, walker.rng(), 5.0, 15.0),
                };
                Ok(())
            }
            State::Idle { next_try } if now >= next_try => {
                let nearest = walker
                    .pois()
                    .iter()
                    .map(|p| (p, reported.distance_m(p.pos)))
                    .filter(|&(_, d)| d <= QUEUE_RANGE_M)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(p, _)| p.id.clone());
                let Some(poi_id) = nearest else {
                    self.state = State::Idle {
                        next_try: after(now, walker.rng(), 2.0, 5.0),
                    };
                    return Ok(());
                };
                self.seq += 1;
                let msg = LobbyClientMessage::Queue(QueueRequest {
                    seq: Some(self.seq),
                    mode: Mode::Raid,
                    poi_id: Some(poi_id),
                    lat: reported.lat,
                    lon: reported.lon,
                    level: Some(walker.rng().random_range(1..=40)),
                    party: Vec::new(),
                });
                rec.sent_unscheduled(Kind::Queue);
                let at = Instant::now();
                self.state = State::Queuing { seq: self.seq, at };
                self.ws.send(Message::text(msg.encode())).await
            }
            _ => Ok(()),
        }
    }

    /// Settles the state at the end of the run: an unanswered `queue` is a
    /// timeout, a waiting ticket is pending (and cancelled, to be polite),
    /// then the socket closes.
    pub(crate) async fn finish(mut self, rec: &Recorder<'_>) {
        let now = Instant::now();
        match std::mem::replace(&mut self.state, State::Idle { next_try: now }) {
            State::Queuing { at, .. } => rec.timeout(Kind::Queue, at, now),
            State::Waiting { ticket_id, .. } => {
                rec.pending(Kind::Match);
                self.seq += 1;
                let cancel = LobbyClientMessage::Cancel {
                    seq: Some(self.seq),
                    ticket_id,
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    self.ws.send(Message::text(cancel.encode())),
                )
                .await;
            }
            State::Idle { .. } | State::Raiding { .. } => {}
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}
