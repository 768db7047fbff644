//! Shared encounters: a raid boss fought by the players the matchmaker
//! grouped into one session.
//!
//! A session exists on the server named in its token from the first
//! `join_session` on. Members attack; every action is pushed to the other
//! members at once. When the boss falls, each member gets one
//! `raid_catch`. The session ends on victory or when its time is up, and
//! the matchmaker is told so it can release the players.
//!
//! The rules live in `encounter`; this file is the I/O around them: it
//! verifies session tokens, reads the clock, rolls the dice, stores raid
//! catches and performs the effects the state machine returns.

use std::sync::Arc;

use protocol::ErrorCode;
use protocol::play::ServerMessage;
use rand::Rng;

use crate::clock::{now_ms, now_s};
use crate::encounter::{
    self, CatchEnd, CatchTicket, Effects, JoinRequest, Push, RaidRules, Refusal,
};
use crate::events::RaidBoss;
use crate::hub::{ConnId, lock};
use crate::player::Player;
use crate::state::GameState;

/// The error reply for a refusal the rules gave.
fn refused(seq: Option<u64>, r: Refusal) -> ServerMessage {
    ServerMessage::error(seq, r.code(), r.to_string())
}

/// Sends the pushes of a transition. Called with the sessions lock held,
/// so that every member sees a session's events in the order they
/// happened (and boss hp never appears to go back up).
fn push(state: &GameState, pushes: &[Push<ConnId>]) {
    for p in pushes {
        let frame: tokio_tungstenite::tungstenite::Utf8Bytes = p.msg.encode().into();
        for conn in &p.to {
            state.hub.send_to(*conn, frame.clone());
        }
    }
}

/// Logs a transition's analytics and tells the matchmaker when the session
/// ended. Called after the sessions lock is released, so that the lock
/// covers only the state change and its pushes.
fn report(state: &GameState, fx: &Effects<ConnId>) {
    for (player, action) in &fx.actions {
        let ev = state
            .stamp()
            .session_action(&fx.session_id, player.as_deref(), *action);
        state.emit(ev);
    }
    if fx.ended
        && let Some(hook) = &state.on_session_end
    {
        hook(&fx.session_id);
    }
}

pub(crate) fn join(
    state: &Arc<GameState>,
    conn: &mut Player,
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
    let rules = RaidRules {
        hp_per_member: state.cfg.boss_hp_per_member,
        duration_ms: i64::try_from(state.cfg.session_duration.as_millis()).unwrap_or(i64::MAX),
    };
    let req = JoinRequest {
        session_id: &claims.sid,
        poi_id: claims.poi_id.as_deref(),
        players: claims.players.len(),
        player_id: &conn.player_id,
        conn: conn.id,
        current: conn.session.as_deref(),
    };
    let now = now_ms();
    let mut sessions = lock(&state.sessions);
    let joined = match sessions.join(req, rules, now) {
        Ok(j) => j,
        Err(r) => return refused(seq, r),
    };
    push(state, &joined.effects.pushes);
    drop(sessions);
    conn.session = Some(claims.sid.clone());
    report(state, &joined.effects);
    ServerMessage::SessionJoined {
        seq,
        session_id: claims.sid,
        boss: joined.boss,
        members: joined.members,
        ends_at: joined.ends_at_s,
    }
}

pub(crate) fn attack(state: &Arc<GameState>, conn: &Player, seq: Option<u64>) -> ServerMessage {
    let roll = rand::rng().random_range(encounter::DAMAGE);
    let now = now_ms();
    let mut sessions = lock(&state.sessions);
    let hit = match sessions.attack(conn.session.as_deref(), &conn.player_id, roll, now) {
        Ok(hit) => hit,
        Err(r) => return refused(seq, r),
    };
    push(state, &hit.effects.pushes);
    drop(sessions);
    report(state, &hit.effects);
    ServerMessage::AttackResult {
        seq,
        damage: hit.damage,
        boss_hp: hit.boss_hp,
    }
}

pub(crate) async fn raid_catch(
    state: &Arc<GameState>,
    conn: &Player,
    seq: Option<u64>,
) -> ServerMessage {
    let begun = lock(&state.sessions).begin_raid_catch(conn.session.as_deref(), &conn.player_id);
    let ticket = match begun {
        Ok(t) => t,
        Err(r) => return refused(seq, r),
    };
    let flee_chance = state.cfg.flee_chance(ticket.rarity).clamp(0.0, 1.0);
    let stored = if rand::rng().random_bool(flee_chance) {
        Ok(CatchEnd::Fled)
    } else {
        store_catch(state, &ticket).await
    };
    let fx = {
        let mut sessions = lock(&state.sessions);
        let fx = sessions.finish_raid_catch(&ticket, &stored);
        push(state, &fx.pushes);
        fx
    };
    report(state, &fx);
    match stored {
        Ok(end) => ServerMessage::CatchResult {
            seq,
            creature_id: ticket.creature_id,
            outcome: end.into(),
        },
        Err(e) => {
            let code = if e.is_unavailable() {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Internal
            };
            ServerMessage::error(seq, code, "the catch could not be stored; try again")
        }
    }
}

/// Stores a raid catch with its analytics event; `Gone` if the store
/// already held it.
async fn store_catch(state: &GameState, t: &CatchTicket) -> Result<CatchEnd, store::StoreError> {
    let rarity = protocol::play::Rarity::from(t.rarity);
    let record = store::CaughtCreature {
        player_id: t.player_id.clone(),
        creature_id: t.creature_id.clone(),
        species: t.species.into(),
        rarity: rarity.as_str().into(),
        poi_id: t.poi_id.clone(),
        lat: 0.0,
        lon: 0.0,
        caught_at: now_s(),
    };
    let boss = RaidBoss {
        session_id: &t.session_id,
        creature_id: &t.creature_id,
        species: t.species,
        rarity,
        poi_id: t.poi_id.as_deref(),
    };
    let ev = state.stamp().raid_catch(&t.player_id, &boss);
    let fresh = state
        .db
        .record_catch(&record, std::slice::from_ref(&ev))
        .await?;
    Ok(if fresh {
        CatchEnd::Caught
    } else {
        CatchEnd::Gone
    })
}

pub(crate) fn leave_request(
    state: &Arc<GameState>,
    conn: &mut Player,
    seq: Option<u64>,
) -> ServerMessage {
    match conn.session.clone() {
        None => refused(seq, Refusal::NotInSession),
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
pub(crate) fn leave(state: &GameState, conn: &mut Player) {
    let Some(sid) = conn.session.take() else {
        return;
    };
    let fx = {
        let mut sessions = lock(&state.sessions);
        let fx = sessions.leave(&sid, &conn.player_id);
        push(state, &fx.pushes);
        fx
    };
    report(state, &fx);
}

/// The player's socket closed without `leave_session`: they keep their
/// seat for `encounter::RESUME_GRACE_MS`, and the others are told they left
/// only when it runs out.
pub(crate) fn drop_conn(state: &GameState, conn: &mut Player) {
    if let Some(sid) = conn.session.take() {
        lock(&state.sessions).drop_conn(&sid, &conn.player_id, conn.id, now_ms());
    }
}

/// Puts a player who just said `hello` back into the raid they held a
/// seat in: the `session_joined` push goes to their new socket, and the
/// others see them join again.
pub(crate) fn resume(state: &GameState, conn: &mut Player) {
    let resumed = lock(&state.sessions).resume(&conn.player_id, conn.id);
    let Some((sid, joined)) = resumed else {
        return;
    };
    push(state, &joined.effects.pushes);
    let msg = ServerMessage::SessionJoined {
        seq: None,
        session_id: sid.clone(),
        boss: joined.boss,
        members: joined.members,
        ends_at: joined.ends_at_s,
    };
    state.hub.send_to(conn.id, msg.encode().into());
    conn.session = Some(sid);
    metrics::counter!("geogame_sessions_resumed_total").increment(1);
}

/// Ends sessions whose time is up and forgets ended ones after the
/// linger period. Called from the world tick.
pub(crate) fn tick(state: &GameState) {
    let now = now_ms();
    let ended = {
        let mut sessions = lock(&state.sessions);
        let ended = sessions.tick(now);
        for fx in &ended {
            push(state, &fx.pushes);
        }
        ended
    };
    for fx in &ended {
        report(state, fx);
    }
}
