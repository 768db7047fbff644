//! The analytics events a game server logs, one typed builder each: the
//! outcome of an event is a protocol enum, never a string typed at the
//! call site, and the creature fields are filled in one place.

use protocol::ErrorCode;
use protocol::event::{Event, EventKind};
use protocol::play::{CatchOutcome, DespawnReason, Rarity, SpinOutcome};
use spawner::Creature;

use crate::encounter::SessionAction;

/// Who logs an event and when: every event is stamped with both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub(crate) server_id: &'a str,
    pub(crate) at_ms: i64,
}

impl Stamp<'_> {
    fn event(&self, kind: EventKind, player: Option<&str>) -> Event {
        let mut e = Event::new(
            uuid::Uuid::now_v7().to_string(),
            self.at_ms,
            kind,
            self.server_id.to_owned(),
        );
        e.player_id = player.map(str::to_owned);
        e
    }

    /// A creature appeared. Its id is the creature's: every game server
    /// places the same creature, and a restart's warm-up places it again,
    /// but the sink stores one event per id, so each creature is counted
    /// as spawned once.
    pub(crate) fn spawn(&self, c: &Creature) -> Event {
        let mut ev = self.event(EventKind::Spawn, None);
        ev.event_id = format!("spawn:{}", c.id);
        fill_creature(&mut ev, c);
        ev
    }

    /// A creature went away other than by a catch. One event per creature,
    /// as for [`Stamp::spawn`], though every server that held it logs one.
    pub(crate) fn despawn(&self, c: &Creature, reason: DespawnReason) -> Event {
        let mut ev = self.event(EventKind::Despawn, None);
        ev.event_id = format!("despawn:{}", c.id);
        fill_creature(&mut ev, c);
        ev.outcome = Some(reason.as_str().into());
        ev
    }

    /// A throw at a world creature, with its outcome.
    pub(crate) fn catch(&self, player: &str, c: &Creature, outcome: CatchOutcome) -> Event {
        let mut ev = self.event(EventKind::Catch, Some(player));
        fill_creature(&mut ev, c);
        ev.outcome = Some(outcome.as_str().into());
        ev
    }

    /// A raid member's catch of the fallen boss.
    pub(crate) fn raid_catch(&self, player: &str, boss: &RaidBoss<'_>) -> Event {
        let mut ev = self.event(EventKind::Catch, Some(player));
        ev.session_id = Some(boss.session_id.to_owned());
        ev.creature_id = Some(boss.creature_id.to_owned());
        ev.species = Some(boss.species.to_owned());
        ev.rarity = Some(boss.rarity);
        ev.poi_id = boss.poi_id.map(str::to_owned);
        ev.outcome = Some(CatchOutcome::Caught.as_str().into());
        ev
    }

    /// A spin of a POI at (`lat`, `lon`).
    pub(crate) fn spin(
        &self,
        player: &str,
        poi_id: &str,
        pos: (f64, f64),
        o: SpinOutcome,
    ) -> Event {
        let mut ev = self.event(EventKind::Spin, Some(player));
        ev.poi_id = Some(poi_id.to_owned());
        (ev.lat, ev.lon) = (Some(pos.0), Some(pos.1));
        ev.outcome = Some(o.as_str().into());
        ev
    }

    /// A player near a POI: foot traffic.
    pub(crate) fn visit(&self, player: &str, poi_id: &str, pos: (f64, f64)) -> Event {
        let mut ev = self.event(EventKind::Visit, Some(player));
        ev.poi_id = Some(poi_id.to_owned());
        (ev.lat, ev.lon) = (Some(pos.0), Some(pos.1));
        ev
    }

    /// Where a player is.
    pub(crate) fn location(&self, player: &str, pos: (f64, f64)) -> Event {
        let mut ev = self.event(EventKind::Location, Some(player));
        (ev.lat, ev.lon) = (Some(pos.0), Some(pos.1));
        ev
    }

    /// A refused frame (`invalid_message`, `too_fast`), where it came from.
    pub(crate) fn refused(&self, player: &str, code: ErrorCode, pos: Option<(f64, f64)>) -> Event {
        let mut ev = self.event(EventKind::ProtocolError, Some(player));
        ev.outcome = Some(code.as_str().into());
        (ev.lat, ev.lon) = (pos.map(|p| p.0), pos.map(|p| p.1));
        ev
    }

    /// A play socket was welcomed.
    pub(crate) fn socket_opened(&self, player: &str) -> Event {
        self.event(EventKind::SessionStart, Some(player))
    }

    /// A play socket closed after `seconds`.
    pub(crate) fn socket_closed(&self, player: &str, seconds: f64) -> Event {
        let mut ev = self.event(EventKind::SessionEnd, Some(player));
        ev.value = Some(seconds);
        ev
    }

    /// Something happened in a raid.
    pub(crate) fn session_action(
        &self,
        session_id: &str,
        player: Option<&str>,
        action: SessionAction,
    ) -> Event {
        let mut ev = self.event(EventKind::SessionAction, player);
        ev.session_id = Some(session_id.to_owned());
        ev.outcome = Some(action.as_str().to_owned());
        ev.value = action.damage().map(f64::from);
        ev
    }
}

/// The boss a raid member caught, for its event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RaidBoss<'a> {
    pub(crate) session_id: &'a str,
    pub(crate) creature_id: &'a str,
    pub(crate) species: &'a str,
    pub(crate) rarity: Rarity,
    pub(crate) poi_id: Option<&'a str>,
}

/// Fills the creature fields of `ev` from `c`.
fn fill_creature(ev: &mut Event, c: &Creature) {
    ev.creature_id = Some(c.id.clone());
    ev.species = Some(c.species.to_string());
    ev.rarity = Some(Rarity::from(c.rarity));
    ev.poi_id = Some(c.poi_id.clone());
    ev.lat = Some(c.lat);
    ev.lon = Some(c.lon);
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Stamp<'static> = Stamp {
        server_id: "gs-9",
        at_ms: 1_234,
    };

    #[test]
    fn outcomes_are_the_protocol_names() {
        let c = Creature {
            id: "c-1".into(),
            species: "Pidge".into(),
            rarity: spawner::Rarity::Rare,
            lat: 1.0,
            lon: 2.0,
            poi_id: "cafe".into(),
            spawned_at_ms: 0,
            expires_at_ms: 9,
        };
        let caught = AT.catch("p", &c, CatchOutcome::Caught);
        assert_eq!(caught.kind, EventKind::Catch);
        assert_eq!(caught.outcome.as_deref(), Some("caught"));
        assert_eq!(caught.species.as_deref(), Some("Pidge"));
        assert_eq!((caught.server_id.as_str(), caught.at_ms), ("gs-9", 1_234));
        assert_eq!(
            AT.catch("p", &c, CatchOutcome::Fled).outcome.as_deref(),
            Some("fled")
        );
        let gone = AT.despawn(&c, DespawnReason::Excluded);
        assert_eq!(gone.outcome.as_deref(), Some("excluded"));
        assert_eq!(gone.player_id, None);
        let spun = AT.spin("p", "cafe", (1.0, 2.0), SpinOutcome::Ok);
        assert_eq!((spun.outcome.as_deref(), spun.lat), (Some("ok"), Some(1.0)));
        let hit = AT.session_action("s", Some("p"), SessionAction::Attack { damage: 12 });
        assert_eq!(
            (hit.outcome.as_deref(), hit.value),
            (Some("attack"), Some(12.0))
        );
        let bad = AT.refused("p", ErrorCode::TooFast, None);
        assert_eq!((bad.outcome.as_deref(), bad.lat), (Some("too_fast"), None));
        assert_eq!(AT.socket_closed("p", 3.5).value, Some(3.5));
    }
}
