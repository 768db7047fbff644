//! A player arriving on and leaving this server: the one-live-socket
//! claim and the movement guard a new socket carries on with, and what a
//! closing socket leaves behind (its track, its raid seat).

use std::sync::Arc;

use protocol::play::ServerMessage;
use protocol::sync::WorldChange;
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::hub::{ConnId, Outbox};
use crate::movement::{MovementGuard, SharedGuard};
use crate::player::Player;
use crate::state::GameState;
use crate::strikes::Standing;

/// Makes socket `id` the player's one live socket: an older one, on this
/// server or another, closes with 4001. Returns the player's movement
/// guard, which carries on from their last accepted position (from another
/// server's track, when scaled out and newer).
pub(crate) async fn take_over(
    state: &GameState,
    player_id: &str,
    id: ConnId,
    outbox: &Arc<Outbox>,
    standing: Standing,
) -> SharedGuard {
    if state.presence.claim(player_id, id, outbox.clone()) {
        metrics::counter!("geogame_sockets_replaced_total").increment(1);
    }
    state.sync.announce(WorldChange::Claimed {
        player_id: player_id.to_owned(),
    });
    let guard = state.presence.guard(player_id, Instant::now(), || {
        MovementGuard::new(
            state.cfg.max_speed_mps,
            state.cfg.jitter_allowance_m,
            state.cfg.jump_cooldowns.clone(),
        )
    });
    if let Some(track) = state.sync.load_track(player_id).await {
        guard.adopt(track, Instant::now(), now_ms());
    }
    if let Standing::Warned { until_ms } = standing {
        guard.hide_rare_until(until_ms);
    }
    guard
}

/// Where the player stands on the strike ladder now (or erased). The
/// store being away lets the player in (and says so in the log): a game
/// that cannot read strikes should not lock everyone out.
pub(crate) async fn standing(state: &GameState, player_id: &str) -> Standing {
    match state.arrivals.standing_facts(player_id).await {
        Ok((strikes, erased)) => Standing::of(&state.cfg.strike_ladder, &strikes, erased, now_ms()),
        Err(e) => {
            tracing::warn!(error = %e, "strikes not read; letting the player in");
            Standing::Clear
        }
    }
}

/// Records a strike against `player_id` (by `actor`, with `audit` when an
/// operator issued it), in the background, and applies the new standing.
pub(crate) fn strike(
    state: Arc<GameState>,
    player_id: &str,
    reason: &str,
    actor: &str,
    audit: Option<store::AuditEntry>,
) {
    let (player, reason, actor) = (player_id.to_owned(), reason.to_owned(), actor.to_owned());
    tokio::spawn(async move {
        let at = now_ms();
        if let Err(e) = state
            .db
            .add_strike(&player, at, &reason, &actor, audit.as_ref())
            .await
        {
            tracing::warn!(error = %e, player = %player, "strike not recorded");
            return;
        }
        metrics::counter!("geogame_strikes_total").increment(1);
        apply_standing(&state, &player).await;
    });
}

/// Makes the player's new standing take effect on every server: here, and
/// (scaled out) on the others through a `Standing` world message.
pub(crate) async fn apply_standing(state: &GameState, player_id: &str) -> Standing {
    state.sync.announce(WorldChange::Standing {
        player_id: player_id.to_owned(),
    });
    apply_standing_here(state, player_id).await
}

/// Makes the player's standing take effect here: a warning hides rare
/// creatures; a suspension or ban closes their socket with 1008 after an
/// error saying why; a clear standing shows everything again.
pub(crate) async fn apply_standing_here(state: &GameState, player_id: &str) -> Standing {
    let standing = standing(state, player_id).await;
    if let Some(guard) = state.presence.existing_guard(player_id) {
        guard.hide_rare_until(match standing {
            Standing::Warned { until_ms } => until_ms,
            _ => 0,
        });
    }
    if let Some((code, why)) = standing.refusal() {
        let frame = ServerMessage::error(None, code, why).encode();
        state
            .presence
            .close_player(player_id, standing.close_code(), frame);
    }
    standing
}

/// A socket of the player closed: it stops watching, its raid seat is
/// kept for a while, and its track stays for the player's next socket,
/// here or elsewhere.
pub(crate) fn depart(state: &GameState, conn: &mut Player) {
    crate::session::drop_conn(state, conn);
    state.hub.unregister(conn.id, conn.shown.iter());
    let now = Instant::now();
    if let Some(track) = conn.movement.track(now, now_ms()) {
        state.sync.save_track(&conn.player_id, track);
    }
    state.presence.release(&conn.player_id, conn.id, now);
}
