//! Shared encounters: a raid boss fought by the players the matchmaker
//! grouped into one session.
//!
//! A session exists on the server named in its token from the first
//! `join_session` on. Members attack; every action is pushed to the other
//! members at once. When the boss falls, each member gets one
//! `raid_catch`. The session ends on victory or when its time is up, and
//! the matchmaker is told so it can release the players.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use protocol::ErrorCode;
use protocol::event::EventKind;
use protocol::play::{BossView, CatchOutcome, ServerMessage, SessionOutcome};
use rand::Rng;

use crate::conn::Conn;
use crate::hub::lock;
use crate::state::{GameState, now_ms, now_s};

/// How long an ended session stays, so members can still `raid_catch`.
const LINGER_MS: i64 = 60_000;

/// Bosses by session, picked by a hash of the session id.
const BOSSES: &[(&str, spawner::Rarity)] = &[
    ("Cinderhorn", spawner::Rarity::Epic),
    ("Tidecaller", spawner::Rarity::Epic),
    ("Stormwing", spawner::Rarity::Legendary),
    ("Mossback", spawner::Rarity::Rare),
];

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    inner: Mutex<HashMap<String, Encounter>>,
}

#[derive(Debug)]
struct Encounter {
    poi_id: Option<String>,
    species: &'static str,
    rarity: spawner::Rarity,
    hp: u32,
    max_hp: u32,
    members: HashMap<String, crate::hub::ConnId>,
    ends_at_ms: i64,
    ended: Option<(SessionOutcome, i64)>,
    catch_tried: HashSet<String>,
}

impl Encounter {
    fn boss(&self) -> BossView {
        BossView {
            species: self.species.into(),
            rarity: protocol::play::Rarity::from(self.rarity),
            hp: self.hp,
            max_hp: self.max_hp,
        }
    }

    /// Pushes a frame to every member except `except`.
    fn broadcast(&self, state: &GameState, msg: &ServerMessage, except: Option<&str>) {
        let frame: tokio_tungstenite::tungstenite::Utf8Bytes = msg.encode().into();
        for (player, conn) in &self.members {
            if Some(player.as_str()) != except {
                state.hub.send_to(*conn, frame.clone());
            }
        }
    }
}

fn boss_for(session_id: &str) -> (&'static str, spawner::Rarity) {
    let h = session_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    BOSSES[h as usize % BOSSES.len()]
}

fn action_event(
    state: &GameState,
    session_id: &str,
    player: Option<&str>,
    action: &str,
    value: Option<f64>,
) {
    let mut ev = state.event(EventKind::SessionAction, player);
    ev.session_id = Some(session_id.to_owned());
    ev.outcome = Some(action.to_owned());
    ev.value = value;
    state.emit(ev);
}

pub(crate) fn join(
    state: &Arc<GameState>,
    conn: &mut Conn,
    seq: Option<u64>,
    token: &str,
) -> ServerMessage {
    let claims = match state.key.verify_session(token) {
        Ok(c) => c,
        Err(e) => {
            return ServerMessage::error(
                seq,
                ErrorCode::Unauthorized,
                format!("session token refused: {e}"),
            );
        }
    };
    if claims.server != state.cfg.server_id {
        return ServerMessage::error(
            seq,
            ErrorCode::Unauthorized,
            "session token is for another game server",
        );
    }
    if !claims.players.contains(&conn.player_id) {
        return ServerMessage::error(
            seq,
            ErrorCode::Unauthorized,
            "session token does not name this player",
        );
    }
    if conn
        .session
        .as_ref()
        .is_some_and(|current| *current != claims.sid)
    {
        return ServerMessage::error(
            seq,
            ErrorCode::Conflict,
            "already in another session; leave it first",
        );
    }
    let mut sessions = lock(&state.sessions.inner);
    let enc = sessions.entry(claims.sid.clone()).or_insert_with(|| {
        let (species, rarity) = boss_for(&claims.sid);
        let max_hp = state.cfg.boss_hp_per_member * claims.players.len().max(1) as u32;
        Encounter {
            poi_id: claims.poi_id.clone(),
            species,
            rarity,
            hp: max_hp,
            max_hp,
            members: HashMap::new(),
            ends_at_ms: now_ms() + state.cfg.session_duration.as_millis() as i64,
            ended: None,
            catch_tried: HashSet::new(),
        }
    });
    if enc.ended.is_some() {
        return ServerMessage::error(seq, ErrorCode::NotFound, "the session is over");
    }
    enc.members.insert(conn.player_id.clone(), conn.id);
    conn.session = Some(claims.sid.clone());
    let joined = ServerMessage::SessionEvent {
        session_id: claims.sid.clone(),
        player_id: conn.player_id.clone(),
        action: "joined".into(),
        damage: None,
        boss_hp: enc.hp,
    };
    enc.broadcast(state, &joined, Some(&conn.player_id));
    let reply = ServerMessage::SessionJoined {
        seq,
        session_id: claims.sid.clone(),
        boss: enc.boss(),
        members: enc.members.keys().cloned().collect(),
        ends_at: enc.ends_at_ms / 1000,
    };
    drop(sessions);
    action_event(state, &claims.sid, Some(&conn.player_id), "joined", None);
    reply
}

pub(crate) fn attack(state: &Arc<GameState>, conn: &Conn, seq: Option<u64>) -> ServerMessage {
    let Some(sid) = conn.session.clone() else {
        return ServerMessage::error(seq, ErrorCode::NotFound, "not in a session");
    };
    let mut sessions = lock(&state.sessions.inner);
    let Some(enc) = sessions.get_mut(&sid) else {
        return ServerMessage::error(seq, ErrorCode::NotFound, "the session is over");
    };
    if enc.ended.is_some() {
        return ServerMessage::error(seq, ErrorCode::Conflict, "the session is over");
    }
    let damage = rand::rng().random_range(10..=30).min(enc.hp);
    enc.hp -= damage;
    let event = ServerMessage::SessionEvent {
        session_id: sid.clone(),
        player_id: conn.player_id.clone(),
        action: "attack".into(),
        damage: Some(damage),
        boss_hp: enc.hp,
    };
    enc.broadcast(state, &event, Some(&conn.player_id));
    let won = enc.hp == 0;
    if won {
        enc.ended = Some((SessionOutcome::Victory, now_ms()));
        let ended = ServerMessage::SessionEnded {
            session_id: sid.clone(),
            outcome: SessionOutcome::Victory,
        };
        enc.broadcast(state, &ended, None);
    }
    let reply = ServerMessage::AttackResult {
        seq,
        damage,
        boss_hp: enc.hp,
    };
    drop(sessions);
    action_event(
        state,
        &sid,
        Some(&conn.player_id),
        "attack",
        Some(f64::from(damage)),
    );
    if won {
        action_event(state, &sid, Some(&conn.player_id), "victory", None);
        if let Some(hook) = &state.on_session_end {
            hook(&sid);
        }
    }
    reply
}

pub(crate) async fn raid_catch(
    state: &Arc<GameState>,
    conn: &Conn,
    seq: Option<u64>,
) -> ServerMessage {
    let Some(sid) = conn.session.clone() else {
        return ServerMessage::error(seq, ErrorCode::NotFound, "not in a session");
    };
    let creature_id = format!("{sid}:{}", conn.player_id);
    let (species, rarity, poi_id) = {
        let mut sessions = lock(&state.sessions.inner);
        let Some(enc) = sessions.get_mut(&sid) else {
            return ServerMessage::error(seq, ErrorCode::NotFound, "the session is over");
        };
        if !matches!(enc.ended, Some((SessionOutcome::Victory, _))) {
            return ServerMessage::error(seq, ErrorCode::Conflict, "the boss has not fallen");
        }
        if !enc.catch_tried.insert(conn.player_id.clone()) {
            return ServerMessage::error(seq, ErrorCode::Conflict, "one catch attempt per member");
        }
        (enc.species, enc.rarity, enc.poi_id.clone())
    };
    let result = |outcome| ServerMessage::CatchResult {
        seq,
        creature_id: creature_id.clone(),
        outcome,
    };
    let outcome = if rand::rng().random_bool(state.cfg.flee_chance(rarity).clamp(0.0, 1.0)) {
        CatchOutcome::Fled
    } else {
        let record = store::CaughtCreature {
            player_id: conn.player_id.clone(),
            creature_id: creature_id.clone(),
            species: species.into(),
            rarity: protocol::play::Rarity::from(rarity).as_str().into(),
            poi_id: poi_id.clone(),
            lat: 0.0,
            lon: 0.0,
            caught_at: now_s(),
        };
        let mut ev = state.event(EventKind::Catch, Some(&conn.player_id));
        ev.session_id = Some(sid.clone());
        ev.creature_id = Some(creature_id.clone());
        ev.species = Some(species.into());
        ev.rarity = Some(protocol::play::Rarity::from(rarity));
        ev.poi_id = poi_id;
        ev.outcome = Some("caught".into());
        match state
            .db
            .record_catch(&record, std::slice::from_ref(&ev))
            .await
        {
            Ok(true) => CatchOutcome::Caught,
            Ok(false) => CatchOutcome::Gone,
            Err(e) => {
                // Let the member try again: the attempt did not happen.
                if let Some(enc) = lock(&state.sessions.inner).get_mut(&sid) {
                    enc.catch_tried.remove(&conn.player_id);
                }
                let code = if e.is_unavailable() {
                    ErrorCode::Unavailable
                } else {
                    ErrorCode::Internal
                };
                return ServerMessage::error(seq, code, "the catch could not be stored; try again");
            }
        }
    };
    let action = if outcome == CatchOutcome::Caught {
        "caught"
    } else {
        "fled"
    };
    if let Some(enc) = lock(&state.sessions.inner).get(&sid) {
        let ev = ServerMessage::SessionEvent {
            session_id: sid.clone(),
            player_id: conn.player_id.clone(),
            action: action.into(),
            damage: None,
            boss_hp: enc.hp,
        };
        enc.broadcast(state, &ev, Some(&conn.player_id));
    }
    action_event(state, &sid, Some(&conn.player_id), action, None);
    result(outcome)
}

pub(crate) fn leave_request(
    state: &Arc<GameState>,
    conn: &mut Conn,
    seq: Option<u64>,
) -> ServerMessage {
    match conn.session.clone() {
        None => ServerMessage::error(seq, ErrorCode::NotFound, "not in a session"),
        Some(sid) => {
            leave(state, conn);
            ServerMessage::SessionLeft {
                seq,
                session_id: sid,
            }
        }
    }
}

/// Removes the player from their session, telling the others.
pub(crate) fn leave(state: &GameState, conn: &mut Conn) {
    let Some(sid) = conn.session.take() else {
        return;
    };
    let mut sessions = lock(&state.sessions.inner);
    if let Some(enc) = sessions.get_mut(&sid) {
        enc.members.remove(&conn.player_id);
        let ev = ServerMessage::SessionEvent {
            session_id: sid.clone(),
            player_id: conn.player_id.clone(),
            action: "left".into(),
            damage: None,
            boss_hp: enc.hp,
        };
        enc.broadcast(state, &ev, None);
    }
}

/// Ends sessions whose time is up and forgets ended ones after the
/// linger period. Called from the world tick.
pub(crate) fn tick(state: &GameState) {
    let now = now_ms();
    let mut timed_out = Vec::new();
    {
        let mut sessions = lock(&state.sessions.inner);
        for (sid, enc) in sessions.iter_mut() {
            if enc.ended.is_none() && now >= enc.ends_at_ms {
                enc.ended = Some((SessionOutcome::Timeout, now));
                let msg = ServerMessage::SessionEnded {
                    session_id: sid.clone(),
                    outcome: SessionOutcome::Timeout,
                };
                enc.broadcast(state, &msg, None);
                timed_out.push(sid.clone());
            }
        }
        sessions.retain(|_, enc| !matches!(enc.ended, Some((_, at)) if now - at > LINGER_MS));
    }
    for sid in timed_out {
        action_event(state, &sid, None, "timeout", None);
        if let Some(hook) = &state.on_session_end {
            hook(&sid);
        }
    }
}

/// Sessions known to this server (running or lingering).
pub(crate) fn count(state: &GameState) -> usize {
    lock(&state.sessions.inner).len()
}
