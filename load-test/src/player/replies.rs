//! Reply handling of a player: match replies to requests by `seq`, record
//! latency and outcomes, and learn the world from `nearby`.

use protocol::play::{CatchOutcome, ClientMessage, ServerMessage, SpinOutcome};
use tokio::time::Instant;

use super::{CHASE_RANGE_M, MAX_SEEN_CREATURES, Player, SeenCreature};
use crate::geo::LatLon;
use crate::stats::Kind;

impl Player<'_> {
    /// Matches a reply to its request and records it.
    pub(super) fn finish(&mut self, seq: Option<u64>, kind: Kind, now: Instant) -> bool {
        let Some(seq) = seq else {
            self.rec.error(Some(kind), "reply_without_seq");
            return false;
        };
        match self.inflight.binary_search_by_key(&seq, |p| p.seq) {
            Ok(i) => {
                let Some(p) = self.inflight.remove(i) else {
                    return false;
                };
                if p.kind == kind {
                    self.rec.reply(kind, now - p.at);
                    true
                } else {
                    self.rec.error(Some(p.kind), "wrong_reply_type");
                    false
                }
            }
            Err(_) if seq <= self.seq => {
                self.rec.late_reply();
                false
            }
            Err(_) => {
                self.rec.error(None, "unknown_seq");
                false
            }
        }
    }

    pub(super) fn on_play_text(&mut self, text: &str, now: Instant) {
        if self.echo {
            match ClientMessage::decode(text) {
                Ok(ClientMessage::Location(l)) => {
                    self.finish(l.seq, Kind::Location, now);
                }
                _ => self.rec.error(None, "unexpected_echo"),
            }
            return;
        }
        let msg = match ServerMessage::decode(text) {
            Ok(m) => m,
            Err(_) => return self.rec.error(None, "undecodable_reply"),
        };
        match msg {
            ServerMessage::Nearby {
                seq,
                creatures,
                pois,
            } => {
                if !self.finish(seq, Kind::Location, now) {
                    return;
                }
                self.creatures.clear();
                let seen = creatures
                    .into_iter()
                    .take(MAX_SEEN_CREATURES)
                    .map(|c| SeenCreature {
                        pos: LatLon::new(c.lat, c.lon),
                        id: c.id,
                    });
                self.creatures.extend(seen);
                for p in &pois {
                    self.walker.learn_poi(&p.id, LatLon::new(p.lat, p.lon));
                }
                // Go for the nearest creature in sight (the list is sorted
                // by distance), as a player would.
                if let Some(c) = self.creatures.first()
                    && self.walker.true_pos().distance_m(c.pos) <= CHASE_RANGE_M
                {
                    self.walker.chase(c.pos);
                }
            }
            ServerMessage::CatchResult { seq, outcome, .. } => {
                let matched = self.finish(seq, Kind::Catch, now);
                if matched {
                    self.rec.outcome(Kind::Catch, catch_outcome(outcome));
                }
            }
            ServerMessage::SpinResult { seq, outcome, .. } => {
                let matched = self.finish(seq, Kind::Spin, now);
                if matched {
                    self.rec.outcome(Kind::Spin, spin_outcome(outcome));
                }
            }
            ServerMessage::Despawn { creature_id, .. } => {
                self.creatures.retain(|c| c.id != creature_id)
            }
            ServerMessage::Error { seq, code, .. } => {
                let matched =
                    seq.and_then(|s| self.inflight.binary_search_by_key(&s, |p| p.seq).ok());
                match matched.and_then(|i| self.inflight.remove(i)) {
                    Some(p) => self.rec.error(Some(p.kind), code.as_str()),
                    None => self.rec.error(None, code.as_str()),
                }
            }
            // Welcome repeats, session traffic, pongs and shutdown notices
            // carry nothing to measure.
            _ => {}
        }
    }
}

fn catch_outcome(o: CatchOutcome) -> &'static str {
    use CatchOutcome::*;
    match o {
        Caught => "caught",
        Fled => "fled",
        Gone => "gone",
        TooFar => "too_far",
    }
}

fn spin_outcome(o: SpinOutcome) -> &'static str {
    use SpinOutcome::*;
    match o {
        Ok => "ok",
        Cooldown => "cooldown",
        TooFar => "too_far",
    }
}
