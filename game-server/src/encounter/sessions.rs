//! The raids one server hosts, by session id: joining, the fight, and
//! members who drop and come back.

use std::collections::HashMap;

use super::{
    Attacked, CatchEnd, CatchTicket, Effects, Encounter, JoinRequest, Joined, RESUME_GRACE_MS,
    RaidRules, Refusal, SessionAction,
};

/// The raids this server hosts, by session id.
#[derive(Debug)]
pub(crate) struct Sessions<C> {
    by_id: HashMap<String, Encounter<C>>,
}

impl<C> Default for Sessions<C> {
    fn default() -> Self {
        Sessions {
            by_id: HashMap::new(),
        }
    }
}

impl<C: Copy + PartialEq> Sessions<C> {
    /// Adds a member, creating the raid on its first join at `now_ms`. A
    /// raid that is still running holds its members back from another; one
    /// that is over (lingering for its catches) lets them go, and they
    /// leave it.
    pub(crate) fn join(
        &mut self,
        req: JoinRequest<'_, C>,
        rules: RaidRules,
        now_ms: i64,
    ) -> Result<Joined<C>, Refusal> {
        if let Some(current) = req.current.filter(|c| *c != req.session_id)
            && let Some(old) = self.by_id.get_mut(current)
        {
            if old.ended.is_none() {
                return Err(Refusal::InAnotherSession);
            }
            old.members.remove(req.player_id);
            old.away.remove(req.player_id);
        }
        self.by_id
            .entry(req.session_id.to_owned())
            .or_insert_with(|| Encounter::new(&req, rules, now_ms))
            .join(req.player_id, req.conn)
    }

    /// The raid the connection is in.
    fn get(&mut self, session: Option<&str>) -> Result<&mut Encounter<C>, Refusal> {
        let sid = session.ok_or(Refusal::NotInSession)?;
        self.by_id.get_mut(sid).ok_or(Refusal::Gone)
    }

    /// Deals `roll` (drawn from [`DAMAGE`]) to the boss of `session`.
    pub(crate) fn attack(
        &mut self,
        session: Option<&str>,
        player: &str,
        roll: u32,
        now_ms: i64,
    ) -> Result<Attacked<C>, Refusal> {
        self.get(session)?.attack(player, roll, now_ms)
    }

    /// Marks the member's one raid catch as tried. The caller rolls the
    /// flee, stores the catch and then calls [`Sessions::finish_raid_catch`].
    pub(crate) fn begin_raid_catch(
        &mut self,
        session: Option<&str>,
        player: &str,
    ) -> Result<CatchTicket, Refusal> {
        self.get(session)?.begin_catch(player)
    }

    /// Settles an attempt with what storing it gave. On a storage error
    /// the attempt is undone, so the member may try again; otherwise the
    /// others are told.
    pub(crate) fn finish_raid_catch<E>(
        &mut self,
        ticket: &CatchTicket,
        stored: &Result<CatchEnd, E>,
    ) -> Effects<C> {
        let mut fx = Effects::new(&ticket.session_id);
        let enc = self.by_id.get_mut(&ticket.session_id);
        // The others only see whether this member got the boss, so a catch
        // the store already held reads as fled, as it always has.
        let action = match stored {
            Ok(CatchEnd::Caught) => SessionAction::Caught,
            Ok(CatchEnd::Fled | CatchEnd::Gone) => SessionAction::Fled,
            Err(_) => {
                if let Some(enc) = enc {
                    enc.catch_tried.remove(&ticket.player_id);
                }
                return fx;
            }
        };
        // The session may have been forgotten while the catch was stored;
        // then there is nobody left to tell, but the action still happened.
        if let Some(enc) = enc {
            let msg = enc.event(&ticket.player_id, action);
            enc.push(&mut fx, msg, Some(&ticket.player_id));
        }
        fx.actions.push((Some(ticket.player_id.clone()), action));
        fx
    }

    /// Removes the member from `session_id` and tells the others.
    pub(crate) fn leave(&mut self, session_id: &str, player: &str) -> Effects<C> {
        let mut fx = Effects::new(session_id);
        if let Some(enc) = self.by_id.get_mut(session_id) {
            enc.members.remove(player);
            enc.away.remove(player);
            let msg = enc.event(player, SessionAction::Left);
            enc.push(&mut fx, msg, None);
        }
        fx
    }

    /// The member's socket `conn` dropped at `now_ms`: they keep their
    /// seat for [`RESUME_GRACE_MS`]. Nothing changes when another socket
    /// of theirs has taken the seat since.
    pub(crate) fn drop_conn(&mut self, session_id: &str, player: &str, conn: C, now_ms: i64) {
        if let Some(enc) = self.by_id.get_mut(session_id)
            && enc.members.get(player) == Some(&conn)
        {
            enc.members.remove(player);
            enc.away.insert(player.to_owned(), now_ms);
        }
    }

    /// Puts a player back into the raid they hold a seat in (away within
    /// the grace, or still seated on an older socket), on socket `conn`.
    /// Returns the session id and what `session_joined` shows.
    pub(crate) fn resume(&mut self, player: &str, conn: C) -> Option<(String, Joined<C>)> {
        let enc = self
            .by_id
            .values_mut()
            .find(|e| e.members.contains_key(player) || e.away.contains_key(player))?;
        let was_away = enc.away.remove(player).is_some();
        enc.members.insert(player.to_owned(), conn);
        let mut fx = Effects::new(&enc.session_id);
        if was_away {
            let msg = enc.event(player, SessionAction::Joined);
            enc.push(&mut fx, msg, Some(player));
        }
        let joined = Joined {
            boss: enc.boss(),
            members: enc.members.keys().cloned().collect(),
            ends_at_s: enc.ends_at_ms / 1000,
            effects: fx,
        };
        Some((enc.session_id.clone(), joined))
    }

    /// Times out the raids whose time is up at `now_ms`, lets go of the
    /// members away for longer than [`RESUME_GRACE_MS`] (the others see
    /// them leave), and forgets the raids that ended more than
    /// [`LINGER_MS`](super::LINGER_MS) ago.
    pub(crate) fn tick(&mut self, now_ms: i64) -> Vec<Effects<C>> {
        let mut out = Vec::new();
        for enc in self.by_id.values_mut() {
            let gone: Vec<String> = enc
                .away
                .iter()
                .filter(|(_, since)| now_ms - **since > RESUME_GRACE_MS)
                .map(|(p, _)| p.clone())
                .collect();
            if !gone.is_empty() {
                let mut fx = Effects::new(&enc.session_id);
                for p in gone {
                    enc.away.remove(&p);
                    let msg = enc.event(&p, SessionAction::Left);
                    enc.push(&mut fx, msg, None);
                }
                out.push(fx);
            }
            out.extend(enc.time_out(now_ms));
        }
        self.by_id.retain(|_, enc| !enc.lingered(now_ms));
        out
    }

    /// Raids known here, running or lingering.
    pub(crate) fn count(&self) -> usize {
        self.by_id.len()
    }
}
