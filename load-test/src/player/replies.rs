//! Reply handling of a player: match replies to requests by `seq`, record
//! latency and outcomes, and learn the world from `nearby`.

use protocol::ErrorCode;
use protocol::peek::{ReplyPeek as Reply, head_seq};
use protocol::play::ClientMessage;
use tokio::time::Instant;

use super::{CHASE_RANGE_M, LOOK_EVERY, Player, SeenCreature};
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
                    self.rec.reply(kind, p.at, now);
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
            // Timing needs only the seq; the echo's reply is the update as
            // sent, so it gets the same lean reading as a `nearby`.
            if let Some(seq) = head_seq(text, "location") {
                self.finish(Some(seq), Kind::Location, now);
                return;
            }
            match ClientMessage::decode(text) {
                Ok(ClientMessage::Location(l)) => {
                    self.finish(l.seq, Kind::Location, now);
                }
                _ => self.rec.error(None, "unexpected_echo"),
            }
            return;
        }
        if let Some(seq) = head_seq(text, "nearby")
            && self
                .looked_at
                .is_some_and(|t| now.duration_since(t) < LOOK_EVERY)
        {
            self.finish(Some(seq), Kind::Location, now);
            return;
        }
        let reply: Reply<'_> = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(_) => return self.rec.error(None, "undecodable_reply"),
        };
        match reply.kind.as_ref() {
            "nearby" => {
                if !self.finish(reply.seq, Kind::Location, now) {
                    return;
                }
                self.looked_at = Some(now);
                self.creatures.clear();
                let seen = reply.creatures.0.into_iter().map(|c| SeenCreature {
                    pos: LatLon::new(c.lat, c.lon),
                    id: c.id.into_owned(),
                });
                self.creatures.extend(seen);
                for p in &reply.pois {
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
            result @ ("catch_result" | "spin_result") => {
                let (kind, name): (Kind, fn(&str) -> &'static str) = if result == "catch_result" {
                    (Kind::Catch, catch_outcome)
                } else {
                    (Kind::Spin, spin_outcome)
                };
                if self.finish(reply.seq, kind, now) {
                    let outcome = reply.outcome.as_deref().map_or("missing", name);
                    self.rec.outcome(kind, outcome);
                }
            }
            "despawn" => {
                if let Some(id) = reply.creature_id {
                    self.creatures.retain(|c| c.id != id);
                }
            }
            "session_ended" => {
                if let Some(lobby) = &mut self.lobby {
                    lobby.raid_over(now, self.walker.rng());
                }
            }
            "session_joined" if reply.seq.is_none() => self.on_session_rejoined(),
            "session_joined" | "attack_result" => {
                self.raid_answered(reply.seq);
            }
            "error"
                if reply
                    .seq
                    .is_some_and(|s| self.raid_seqs.iter().any(|r| r.0 == s)) =>
            {
                let join = self.raid_answered(reply.seq);
                match reply.code {
                    // The boss fell (or time ran out) while this attack was
                    // on its way: the end of the raid, not a fault.
                    Some(ErrorCode::Conflict | ErrorCode::NotFound) if !join => {}
                    code => {
                        let code = code.map_or("unknown", |c| c.as_str());
                        self.rec.error(None, code);
                    }
                }
                if let Some(lobby) = &mut self.lobby {
                    lobby.raid_over(now, self.walker.rng());
                }
            }
            "error" => {
                let code = reply.code.map_or("unknown", |c| c.as_str());
                let matched = reply
                    .seq
                    .and_then(|s| self.inflight.binary_search_by_key(&s, |p| p.seq).ok());
                match matched.and_then(|i| self.inflight.remove(i)) {
                    Some(p) => self.rec.error(Some(p.kind), code),
                    None => self.rec.error(None, code),
                }
            }
            // Welcome repeats, session traffic, pongs and shutdown notices
            // carry nothing to measure.
            _ => {}
        }
    }
}

impl Player<'_> {
    /// Forgets an answered raid request; true when it was the join.
    fn raid_answered(&mut self, seq: Option<u64>) -> bool {
        let found = seq.and_then(|s| self.raid_seqs.iter().position(|r| r.0 == s));
        found
            .and_then(|i| self.raid_seqs.remove(i))
            .is_some_and(|r| r.1)
    }
}

fn catch_outcome(o: &str) -> &'static str {
    match o {
        "caught" => "caught",
        "fled" => "fled",
        "gone" => "gone",
        "too_far" => "too_far",
        _ => "unknown",
    }
}

fn spin_outcome(o: &str) -> &'static str {
    match o {
        "ok" => "ok",
        "cooldown" => "cooldown",
        "too_far" => "too_far",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use protocol::play::{
        CatchOutcome, CreatureView, DespawnReason, PoiView, Rarity, ServerMessage, SpinOutcome,
    };

    use super::*;

    #[test]
    fn the_seq_of_a_nearby_is_read_from_its_head() {
        let nearby = ServerMessage::Nearby {
            seq: Some(4_294_967_296),
            creatures: vec![],
            pois: vec![],
        }
        .encode();
        assert_eq!(head_seq(&nearby, "nearby"), Some(4_294_967_296));
        assert_eq!(head_seq(&nearby, "location"), None);
        let update = ClientMessage::Location(protocol::play::LocationUpdate {
            seq: Some(12),
            lat: 1.0,
            lon: 2.0,
            heading: None,
            speed: None,
            accuracy: None,
        })
        .encode();
        assert_eq!(head_seq(&update, "location"), Some(12));
        // Anything else gets the full reading.
        let pong = ServerMessage::Pong { seq: Some(3) }.encode();
        let unnumbered = ServerMessage::Nearby {
            seq: None,
            creatures: vec![],
            pois: vec![],
        }
        .encode();
        for other in [
            pong.as_str(),
            &unnumbered,
            r#"{"type":"nearby","seq":x,"#,
            "{}",
        ] {
            assert_eq!(head_seq(other, "nearby"), None, "{other}");
        }
    }

    /// The lean reader must follow the frames the protocol crate writes.
    #[test]
    fn reads_what_the_server_encodes() {
        let nearby = ServerMessage::Nearby {
            seq: Some(7),
            creatures: vec![CreatureView {
                id: "c-\"quoted\"".into(),
                species: "Pidgeo".into(),
                rarity: Rarity::Rare,
                lat: 47.61,
                lon: -122.03,
                distance_m: 12.5,
                bearing_deg: 90.0,
                expires_at: 1,
            }],
            pois: vec![PoiView {
                id: "starbucks".into(),
                name: "Starbucks".into(),
                lat: 47.62,
                lon: -122.04,
                distance_m: 80.0,
                sponsor: Some("Starbucks".into()),
            }],
        }
        .encode();
        let r: Reply<'_> = serde_json::from_str(&nearby).unwrap();
        assert_eq!(r.kind, "nearby");
        assert_eq!(r.seq, Some(7));
        assert_eq!(r.creatures.0[0].id, "c-\"quoted\"");
        assert_eq!(
            (r.creatures.0[0].lat, r.creatures.0[0].lon),
            (47.61, -122.03)
        );
        assert_eq!(r.pois[0].id, "starbucks");

        // A busy place: the nearest few are kept in order, the rest
        // skipped, and what follows the list is still read.
        let many = ServerMessage::Nearby {
            seq: Some(11),
            creatures: (0..30)
                .map(|i| CreatureView {
                    id: format!("c-{i}"),
                    species: "Pidgeo".into(),
                    rarity: Rarity::Common,
                    lat: 47.0 + f64::from(i) * 1e-4,
                    lon: -122.0,
                    distance_m: f64::from(i),
                    bearing_deg: 0.0,
                    expires_at: 1,
                })
                .collect(),
            pois: vec![PoiView {
                id: "after".into(),
                name: "After".into(),
                lat: 1.0,
                lon: 2.0,
                distance_m: 3.0,
                sponsor: None,
            }],
        }
        .encode();
        let r: Reply<'_> = serde_json::from_str(&many).unwrap();
        let ids: Vec<&str> = r.creatures.0.iter().map(|c| c.id.as_ref()).collect();
        assert_eq!(
            ids,
            (0..protocol::peek::NEAREST_KEPT)
                .map(|i| format!("c-{i}"))
                .collect::<Vec<_>>()
        );
        assert_eq!((r.seq, r.pois[0].id.as_ref()), (Some(11), "after"));
        assert!(serde_json::from_str::<Reply<'_>>(&many[..many.len() - 40]).is_err());

        let caught = ServerMessage::CatchResult {
            seq: Some(8),
            creature_id: "c-1".into(),
            outcome: CatchOutcome::TooFar,
        }
        .encode();
        let r: Reply<'_> = serde_json::from_str(&caught).unwrap();
        assert_eq!((r.kind.as_ref(), r.seq), ("catch_result", Some(8)));
        assert_eq!(catch_outcome(r.outcome.as_deref().unwrap()), "too_far");

        let spun = ServerMessage::SpinResult {
            seq: Some(9),
            poi_id: "p".into(),
            outcome: SpinOutcome::Cooldown,
            items: Default::default(),
        }
        .encode();
        let r: Reply<'_> = serde_json::from_str(&spun).unwrap();
        assert_eq!(spin_outcome(r.outcome.as_deref().unwrap()), "cooldown");

        let gone = ServerMessage::Despawn {
            creature_id: "c-2".into(),
            reason: DespawnReason::Expired,
        }
        .encode();
        let r: Reply<'_> = serde_json::from_str(&gone).unwrap();
        assert_eq!(r.creature_id.as_deref(), Some("c-2"));

        let err = ServerMessage::error(None, ErrorCode::TooFast, "slow down").encode();
        let r: Reply<'_> = serde_json::from_str(&err).unwrap();
        assert_eq!((r.kind.as_ref(), r.seq), ("error", None));
        assert_eq!(r.code, Some(ErrorCode::TooFast));
    }
}
