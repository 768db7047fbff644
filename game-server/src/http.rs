//! The public HTTP surface: health, metrics, guest and account auth
//! (`accounts`), the play
//! socket upgrade, and the web pages (`web`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::http::{GuestAuthRequest, GuestAuthResponse};
use service_kit::{ApiError, json_response};

use crate::clock::now_s;
use crate::state::GameState;

/// `/healthz`, `/metrics`, `/v1/auth/guest` and `/v1/play`.
pub(crate) fn router(state: Arc<GameState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/auth/guest", post(guest))
        .route("/v1/auth/register", post(crate::accounts::register))
        .route("/v1/auth/login", post(crate::accounts::login))
        .route("/v1/auth/refresh", post(crate::accounts::refresh))
        .route("/v1/play", get(play))
        .with_state(state.clone())
        .merge(crate::web::router(state))
}

/// `GET /healthz`: 200 once the process serves.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

async fn metrics_text(State(state): State<Arc<GameState>>) -> Response {
    metrics::gauge!("geogame_players_connected").set(state.connections() as f64);
    metrics::gauge!("geogame_sign_ins_in_flight").set(state.admission.sign_ins_in_flight() as f64);
    service_kit::telemetry::metrics_handler().await
}

async fn guest(State(state): State<Arc<GameState>>, body: Bytes) -> Result<Response, ApiError> {
    let req: GuestAuthRequest = protocol::http::parse_object(&body).map_err(|e| {
        ApiError::bad_request(format!("body must be {{\"device_id\": \"...\"}}: {e}"))
    })?;
    req.validate().map_err(ApiError::bad_request)?;
    let _slot = state.admission.sign_in()?;
    let player_id = state
        .arrivals
        .player_for_device(&req.device_id)
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                ApiError::unavailable("storage is unavailable; try again")
            } else {
                tracing::error!(error = %e, "guest auth failed");
                ApiError::internal("could not sign in")
            }
        })?;
    let (token, expires_at) = state
        .key
        .mint_player(&player_id, now_s(), state.cfg.token_ttl_s);
    Ok(json_response(
        StatusCode::OK,
        &GuestAuthResponse {
            player_id,
            token,
            expires_at,
        },
    ))
}

async fn play(State(state): State<Arc<GameState>>, mut parts: Parts) -> Response {
    let upgrade = match crate::upgrade::check(&mut parts) {
        Ok(u) => u,
        Err(refused) => return refused.into_response(),
    };
    if state.shutdown.is_cancelled() {
        return ApiError::unavailable("server shutting down").into_response();
    }
    let Ok(permit) = state.sockets.clone().try_acquire_owned() else {
        metrics::counter!("geogame_errors_total", "code" => "capacity").increment(1);
        return ApiError::unavailable("server is full; try another").into_response();
    };
    upgrade.accept(state, permit)
}
