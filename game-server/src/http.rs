//! The public HTTP surface: health, metrics, guest auth and the play
//! socket upgrade, plus the JSON error shape every endpoint shares.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::http::{ErrorBody, GuestAuthRequest, GuestAuthResponse};

use crate::state::{GameState, now_s};

/// An HTTP error in the contract's `{"error": {"code", "message"}}` shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    /// A 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let text = serde_json::to_string(&self.body).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            text,
        )
            .into_response()
    }
}

/// A JSON response with any status.
pub fn json_response(status: StatusCode, v: &impl serde::Serialize) -> Response {
    let text = serde_json::to_string(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `/healthz`, `/metrics`, `/v1/auth/guest` and `/v1/play`.
pub(crate) fn router(state: Arc<GameState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/auth/guest", post(guest))
        .route("/v1/play", get(play))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics_text(State(state): State<Arc<GameState>>) -> Response {
    metrics::gauge!("geogame_players_connected").set(state.connections() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(),
    )
        .into_response()
}

async fn guest(State(state): State<Arc<GameState>>, body: Bytes) -> Result<Response, ApiError> {
    let req: GuestAuthRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("body must be {{\"device_id\": \"...\"}}: {e}"))
    })?;
    req.validate().map_err(ApiError::bad_request)?;
    let player_id = state
        .db
        .player_for_device(&req.device_id)
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unavailable; try again",
                )
            } else {
                tracing::error!(error = %e, "guest auth failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "could not sign in",
                )
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
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "server shutting down",
        )
        .into_response();
    }
    let Ok(permit) = state.sockets.clone().try_acquire_owned() else {
        metrics::counter!("geogame_errors_total", "code" => "capacity").increment(1);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "server is full; try another",
        )
        .into_response();
    };
    upgrade.accept(state, permit)
}
