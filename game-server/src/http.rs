//! The public HTTP surface: health, metrics, guest auth and the play
//! socket upgrade, plus the JSON error shape every endpoint shares.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::http::{ErrorBody, GuestAuthRequest, GuestAuthResponse};

use crate::state::{GameState, now_s};

/// The transport's own frame limit. Frames between the protocol limit and
/// this are read and answered with close 1009; beyond it the transport
/// refuses to buffer them at all.
const TRANSPORT_MAX_MESSAGE: usize = 64 * 1024;

/// Per-socket read buffer of the transport, allocated for the life of the
/// socket. Client frames are 100 to 300 bytes, so one read still takes
/// several.
const READ_BUFFER: usize = 1024;

/// Queued output beyond which the transport writes to the socket without
/// waiting for a flush. It is a threshold, not an allocation: a player at
/// one update a second never has more than one reply queued, while a busy
/// socket's batch of replies goes out in fewer writes.
const WRITE_THRESHOLD: usize = 16 * 1024;

/// The most a socket's unsent output may grow to before writes fail.
const MAX_WRITE_BUFFER: usize = 256 * 1024;

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

async fn play(State(state): State<Arc<GameState>>, ws: WebSocketUpgrade) -> Response {
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
    // tungstenite's default read buffer is 128 KiB per socket; the small one
    // above is most of the memory saved per player (docs/benchmarks.md).
    // The write buffer is capped so a client that does not read cannot grow
    // it.
    ws.max_message_size(TRANSPORT_MAX_MESSAGE)
        .max_frame_size(TRANSPORT_MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_THRESHOLD)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| async move {
            crate::conn::serve(state, socket).await;
            drop(permit);
        })
}
