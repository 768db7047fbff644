//! The operator routes that take something away for good: revoking an
//! operator account, and erasing a player's personal data (the store's
//! `erase_player` says what goes and what stays for the reports).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::{ApiError, json_response};
use store::Operator;

use crate::audit::{audit_entry, store_error};
use crate::clock::now_ms;
use crate::state::GameState;

/// `DELETE /v1/admin/operators/{name}`: the account goes, and its token
/// stops working on the next request (tokens are looked up every time);
/// 404 for an unknown name. The built-in `admin` is not an account.
pub(crate) async fn revoke_operator(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name == analytics::access::ADMIN_NAME {
        return Err(ApiError::bad_request(
            "`admin` is the admin token, not an account: change --admin-token instead",
        ));
    }
    let audit = audit_entry(&op, "operator.revoke", &name, String::new());
    if !state
        .db
        .revoke_operator(&name, &audit)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::not_found("no such operator"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// How long after an erasure its events are looked for again: longer
/// than an event takes from the outbox through the stream into SQL.
const LATE_PASS_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Events of the player still on their way at the erasure (in the outbox
/// or the stream) land under the old id; a second pass a minute later
/// moves them to the same pseudonym. (A process that stops within that
/// minute leaves them; the log says which player to erase again.)
fn late_pass(state: &Arc<GameState>, player: String, pseudonym: String) {
    let db = state.db.clone();
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(LATE_PASS_AFTER) => {}
            _ = shutdown.cancelled() => {
                tracing::warn!(player = %player, "stopping before an erasure's late pass; erase the player again");
                return;
            }
        }
        match db.pseudonymise_events(&player, &pseudonym).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "late events of an erased player pseudonymised"),
            Err(e) => {
                tracing::warn!(error = %e, player = %player, "an erasure's late pass failed; erase the player again")
            }
        }
    });
}

/// `DELETE /v1/admin/players/{id}`: erases the player's personal data
/// (audited), closes their sockets on every server with `unauthorized`,
/// and refuses their old tokens from then on; 404 when nothing of the
/// player is stored.
pub(crate) async fn erase_player(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    Path(player): Path<String>,
) -> Result<Response, ApiError> {
    let audit = audit_entry(&op, "player.erase", &player, String::new());
    let pseudonym = format!("erased_{}", uuid::Uuid::new_v4().simple());
    let erased = state
        .db
        .erase_player(&player, &pseudonym, now_ms(), &audit)
        .await
        .map_err(store_error)?;
    if !erased.found() {
        return Err(ApiError::not_found("no such player"));
    }
    tracing::info!(
        rows = erased.rows_deleted,
        events = erased.events_pseudonymised,
        "player erased"
    );
    crate::arrival::apply_standing(&state, &player).await;
    late_pass(&state, player.clone(), pseudonym);
    Ok(json_response(
        StatusCode::OK,
        &protocol::admin::PlayerErased {
            player_id: player,
            rows_deleted: erased.rows_deleted,
            events_pseudonymised: erased.events_pseudonymised,
        },
    ))
}
