//! Raid rules as a pure state machine: a boss, its members and how the
//! fight ends, driven by `session.rs` with plain data in and decisions out.
//!
//! Nothing here reads the clock, rolls dice or does I/O. The caller passes
//! `now_ms` and the random rolls in, then performs the returned
//! [`Effects`] (pushes, analytics, telling the matchmaker), so the rules
//! can be tested without a database, token key, event sink or hub.

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

use protocol::ErrorCode;
use protocol::play::{BossView, CatchOutcome, ServerMessage, SessionOutcome};
use spawner::Rarity;

/// How long an ended session stays, so members can still `raid_catch`.
pub(crate) const LINGER_MS: i64 = 60_000;

/// How long a member whose socket dropped keeps their seat: back within
/// this, they are put back into the raid; after it, they have left.
pub(crate) const RESUME_GRACE_MS: i64 = 60_000;

/// What one attack rolls; the damage dealt is the roll capped at the hp left.
pub(crate) const DAMAGE: RangeInclusive<u32> = 10..=30;

/// Bosses by session, picked by a hash of the session id.
const BOSSES: &[(&str, Rarity)] = &[
    ("Cinderhorn", Rarity::Epic),
    ("Tidecaller", Rarity::Epic),
    ("Stormwing", Rarity::Legendary),
    ("Mossback", Rarity::Rare),
];

/// The boss of a session: every server that hosts it picks the same one.
fn boss_for(session_id: &str) -> (&'static str, Rarity) {
    let h = session_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    BOSSES[h as usize % BOSSES.len()]
}

/// The settings a new raid starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RaidRules {
    /// Boss hit points per player the session token names.
    pub(crate) hp_per_member: u32,
    /// How long the raid runs before it times out.
    pub(crate) duration_ms: i64,
}

/// A `join_session` whose token the caller has already verified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinRequest<'a, C> {
    pub(crate) session_id: &'a str,
    pub(crate) poi_id: Option<&'a str>,
    /// How many players the token names; the boss's hp scales with it.
    pub(crate) players: usize,
    pub(crate) player_id: &'a str,
    pub(crate) conn: C,
    /// The session the connection is in already, if any.
    pub(crate) current: Option<&'a str>,
}

/// A session action, as analytics logs it and members see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionAction {
    Joined,
    Attack { damage: u32 },
    Victory,
    Timeout,
    Caught,
    Fled,
    Left,
}

impl SessionAction {
    /// The name on the wire and in analytics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SessionAction::Joined => "joined",
            SessionAction::Attack { .. } => "attack",
            SessionAction::Victory => "victory",
            SessionAction::Timeout => "timeout",
            SessionAction::Caught => "caught",
            SessionAction::Fled => "fled",
            SessionAction::Left => "left",
        }
    }

    /// The damage dealt, for attacks.
    pub(crate) fn damage(self) -> Option<u32> {
        match self {
            SessionAction::Attack { damage } => Some(damage),
            _ => None,
        }
    }
}

/// Why a request was refused; [`Refusal::code`] and the message are what
/// the player sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("not in a session")]
    NotInSession,
    #[error("already in another session; leave it first")]
    InAnotherSession,
    /// The session is unknown here, or over when someone tries to join.
    #[error("the session is over")]
    Gone,
    /// The session is still known but has ended.
    #[error("the session is over")]
    Over,
    #[error("the boss has not fallen")]
    BossStanding,
    #[error("one catch attempt per member")]
    CatchTried,
}

impl Refusal {
    /// The error code sent with the message.
    pub(crate) fn code(self) -> ErrorCode {
        match self {
            Refusal::NotInSession | Refusal::Gone => ErrorCode::NotFound,
            Refusal::InAnotherSession
            | Refusal::Over
            | Refusal::BossStanding
            | Refusal::CatchTried => ErrorCode::Conflict,
        }
    }
}

/// One message for some connections.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Push<C> {
    pub(crate) to: Vec<C>,
    pub(crate) msg: ServerMessage,
}

/// What the caller must do after a transition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Effects<C> {
    pub(crate) session_id: String,
    /// Messages to push, in order.
    pub(crate) pushes: Vec<Push<C>>,
    /// Analytics actions to log, in order, with who acted (nobody for a
    /// timeout).
    pub(crate) actions: Vec<(Option<String>, SessionAction)>,
    /// Whether the session just ended; true once per session, so the
    /// matchmaker is told exactly once.
    pub(crate) ended: bool,
}

impl<C> Effects<C> {
    fn new(session_id: &str) -> Self {
        Effects {
            session_id: session_id.to_owned(),
            pushes: Vec::new(),
            actions: Vec::new(),
            ended: false,
        }
    }
}

/// A member is in: what their `session_joined` shows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Joined<C> {
    pub(crate) boss: BossView,
    pub(crate) members: Vec<String>,
    /// When the session times out, in unix seconds.
    pub(crate) ends_at_s: i64,
    pub(crate) effects: Effects<C>,
}

/// An attack landed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attacked<C> {
    pub(crate) damage: u32,
    pub(crate) boss_hp: u32,
    pub(crate) effects: Effects<C>,
}

/// A raid catch attempt that is allowed and now counts as tried; what the
/// caller needs to store the catch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CatchTicket {
    pub(crate) session_id: String,
    pub(crate) player_id: String,
    pub(crate) creature_id: String,
    pub(crate) species: &'static str,
    pub(crate) rarity: Rarity,
    pub(crate) poi_id: Option<String>,
}

/// How an attempt from [`Sessions::begin_raid_catch`] came out, once any
/// storing is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CatchEnd {
    /// The flee roll said the boss got away.
    Fled,
    /// The catch was stored.
    Caught,
    /// The store already held this creature.
    Gone,
}

impl From<CatchEnd> for CatchOutcome {
    fn from(end: CatchEnd) -> Self {
        match end {
            CatchEnd::Fled => CatchOutcome::Fled,
            CatchEnd::Caught => CatchOutcome::Caught,
            CatchEnd::Gone => CatchOutcome::Gone,
        }
    }
}

/// One raid: the boss, who is in and how it ended.
#[derive(Debug)]
struct Encounter<C> {
    session_id: String,
    poi_id: Option<String>,
    species: &'static str,
    rarity: Rarity,
    hp: u32,
    max_hp: u32,
    members: HashMap<String, C>,
    /// Members whose socket dropped, with since when (unix ms); see
    /// [`RESUME_GRACE_MS`].
    away: HashMap<String, i64>,
    ends_at_ms: i64,
    ended: Option<(SessionOutcome, i64)>,
    catch_tried: HashSet<String>,
}

impl<C: Copy> Encounter<C> {
    fn new(req: &JoinRequest<'_, C>, rules: RaidRules, now_ms: i64) -> Self {
        let (species, rarity) = boss_for(req.session_id);
        let players = u32::try_from(req.players.max(1)).unwrap_or(u32::MAX);
        let max_hp = rules.hp_per_member.saturating_mul(players);
        Encounter {
            session_id: req.session_id.to_owned(),
            poi_id: req.poi_id.map(str::to_owned),
            species,
            rarity,
            hp: max_hp,
            max_hp,
            members: HashMap::new(),
            away: HashMap::new(),
            ends_at_ms: now_ms.saturating_add(rules.duration_ms),
            ended: None,
            catch_tried: HashSet::new(),
        }
    }

    fn boss(&self) -> BossView {
        BossView {
            species: self.species.into(),
            rarity: protocol::play::Rarity::from(self.rarity),
            hp: self.hp,
            max_hp: self.max_hp,
        }
    }

    /// Queues `msg` for every member except `except`.
    fn push(&self, fx: &mut Effects<C>, msg: ServerMessage, except: Option<&str>) {
        let to = self
            .members
            .iter()
            .filter(|(player, _)| Some(player.as_str()) != except)
            .map(|(_, conn)| *conn)
            .collect();
        fx.pushes.push(Push { to, msg });
    }

    fn event(&self, player: &str, action: SessionAction) -> ServerMessage {
        ServerMessage::SessionEvent {
            session_id: self.session_id.clone(),
            player_id: player.to_owned(),
            action: action.as_str().into(),
            damage: action.damage(),
            boss_hp: self.hp,
        }
    }

    /// Ends the session and tells every member, the actor included.
    fn end(&mut self, fx: &mut Effects<C>, outcome: SessionOutcome, now_ms: i64) {
        self.ended = Some((outcome, now_ms));
        let msg = ServerMessage::SessionEnded {
            session_id: self.session_id.clone(),
            outcome,
        };
        self.push(fx, msg, None);
        fx.ended = true;
    }

    fn join(&mut self, player: &str, conn: C) -> Result<Joined<C>, Refusal> {
        if self.ended.is_some() {
            return Err(Refusal::Gone);
        }
        // A member who joins again (a new connection) replaces the old one.
        self.members.insert(player.to_owned(), conn);
        let mut fx = Effects::new(&self.session_id);
        self.push(
            &mut fx,
            self.event(player, SessionAction::Joined),
            Some(player),
        );
        fx.actions
            .push((Some(player.to_owned()), SessionAction::Joined));
        Ok(Joined {
            boss: self.boss(),
            members: self.members.keys().cloned().collect(),
            ends_at_s: self.ends_at_ms / 1000,
            effects: fx,
        })
    }

    fn attack(&mut self, player: &str, roll: u32, now_ms: i64) -> Result<Attacked<C>, Refusal> {
        if self.ended.is_some() {
            return Err(Refusal::Over);
        }
        let damage = roll.min(self.hp);
        self.hp -= damage;
        let action = SessionAction::Attack { damage };
        let mut fx = Effects::new(&self.session_id);
        // The attacker learns the result from its reply, not a push.
        self.push(&mut fx, self.event(player, action), Some(player));
        fx.actions.push((Some(player.to_owned()), action));
        if self.hp == 0 {
            self.end(&mut fx, SessionOutcome::Victory, now_ms);
            fx.actions
                .push((Some(player.to_owned()), SessionAction::Victory));
        }
        Ok(Attacked {
            damage,
            boss_hp: self.hp,
            effects: fx,
        })
    }

    fn begin_catch(&mut self, player: &str) -> Result<CatchTicket, Refusal> {
        if !matches!(self.ended, Some((SessionOutcome::Victory, _))) {
            return Err(Refusal::BossStanding);
        }
        if !self.catch_tried.insert(player.to_owned()) {
            return Err(Refusal::CatchTried);
        }
        Ok(CatchTicket {
            session_id: self.session_id.clone(),
            player_id: player.to_owned(),
            creature_id: format!("{}:{player}", self.session_id),
            species: self.species,
            rarity: self.rarity,
            poi_id: self.poi_id.clone(),
        })
    }

    /// Ends the session if its time is up; `None` if it goes on or had
    /// already ended.
    fn time_out(&mut self, now_ms: i64) -> Option<Effects<C>> {
        if self.ended.is_some() || now_ms < self.ends_at_ms {
            return None;
        }
        let mut fx = Effects::new(&self.session_id);
        self.end(&mut fx, SessionOutcome::Timeout, now_ms);
        fx.actions.push((None, SessionAction::Timeout));
        Some(fx)
    }

    /// Whether the session ended longer than the linger ago.
    fn lingered(&self, now_ms: i64) -> bool {
        matches!(self.ended, Some((_, at)) if now_ms - at > LINGER_MS)
    }
}

mod sessions;

pub(crate) use sessions::Sessions;

#[cfg(test)]
mod tests;
