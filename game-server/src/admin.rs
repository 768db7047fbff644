//! The operator API: exclusion zones, points of interest, operator
//! accounts and the audit log, for operators only (the admin token or an
//! operator account's token; see `analytics::access`).
//!
//! Every change is validated in full before anything is touched, written
//! to SQL together with its audit row, and only then applied to the live
//! world, so a refused or failed request changes nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Router};
use protocol::play::DespawnReason;
use serde_json::{Value, json};
use spawner::{Poi, Zone};
use store::{Operator, PoiRow, ZoneRow};

use protocol::admin::{AuditRow, FeatureCollection};
use protocol::sync::WorldChange;
use service_kit::{ApiError, json_response};

use crate::audit::{audit_entry, store_error};
use crate::clock::{now_ms, now_s};
use crate::state::GameState;
use crate::world::{poi_row, zone_row};

/// Bulk imports may be large; single features are small.
const ADMIN_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The admin routes, guarded by the bearer token.
pub(crate) fn router(state: Arc<GameState>) -> Router {
    Router::new()
        .route(
            "/v1/admin/zones",
            get(list_zones).post(create_zone).put(replace_zones),
        )
        .route("/v1/admin/zones/{id}", delete(delete_zone))
        .route("/v1/admin/pois", get(list_pois).post(upsert_pois))
        .route("/v1/admin/audit", get(audit))
        .route(
            "/v1/admin/operators",
            get(list_operators).post(add_operator),
        )
        .route(
            "/v1/admin/players/{id}/strikes",
            get(player_strikes).post(issue_strike),
        )
        .route(
            "/v1/admin/players/{id}/strikes/{strike}",
            delete(lift_strike),
        )
        .route(
            "/v1/admin/operators/{name}",
            delete(crate::erasure::revoke_operator),
        )
        .route(
            "/v1/admin/players/{id}",
            delete(crate::erasure::erase_player),
        )
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            one_write_at_a_time,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .with_state(state)
}

/// What a game server started with `--follow-spawner` answers on
/// `/v1/admin/*`: the spawner service serves those routes.
pub(crate) fn followed_router() -> Router {
    let elsewhere = || async {
        ApiError::not_found(
            "this game server follows the spawner (--follow-spawner): send operator requests to the spawner service",
        )
    };
    Router::new()
        .route("/v1/admin", axum::routing::any(elsewhere))
        .route("/v1/admin/{*rest}", axum::routing::any(elsewhere))
}

/// Operator writes are applied one at a time, in the order they are let
/// in, so the stored world, the live world and the order of the changes
/// announced to other servers agree; reads go on meanwhile.
async fn one_write_at_a_time(
    State(state): State<Arc<GameState>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let _turn = state.admin_writes.lock().await;
    next.run(req).await
}

/// Lets operators in (the admin token, or an operator account's token);
/// analysts and sponsors get 403. The caller goes on as an
/// `Extension<Operator>`, whose name the audit log records.
async fn require_admin(
    State(state): State<Arc<GameState>>,
    mut req: Request,
    next: Next,
) -> Response {
    match state.access.operator(req.headers()).await {
        Ok(op) => {
            req.extensions_mut().insert(op);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed json: {e}")))
}

/// Runs CPU-heavy admin work (parsing and validating large GeoJSON,
/// encoding long lists) on the blocking pool, so the runtime's workers go
/// on serving players meanwhile.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "admin work failed");
        ApiError::internal("the request could not be processed")
    })
}

fn new_zone_id() -> String {
    format!("z_{}", uuid::Uuid::new_v4().simple())
}

async fn list_zones(State(state): State<Arc<GameState>>) -> Result<Response, ApiError> {
    // A copy under the lock, the JSON after it is released.
    let zones: Vec<Zone> = state.world.read().zones().cloned().collect();
    off_runtime(move || {
        let features: Vec<Value> = zones.iter().map(Zone::to_feature).collect();
        json_response(StatusCode::OK, &FeatureCollection::new(features))
    })
    .await
}

async fn create_zone(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = off_runtime(move || {
        spawner::parse_zone_feature(&parse_body(&body)?)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    })
    .await??;
    if spec.expires_at.is_some_and(|t| t <= now_s()) {
        return Err(ApiError::bad_request(
            "properties.expires_at is in the past",
        ));
    }
    let zone = Zone {
        id: new_zone_id(),
        spec,
        created_at: now_s(),
    };
    let row = zone_row(&zone);
    let detail = json!({"name": zone.spec.name, "reason": zone.spec.reason}).to_string();
    state
        .db
        .insert_zone(&row, &audit_entry(&op, "zone.create", &zone.id, detail))
        .await
        .map_err(store_error)?;
    let feature = zone.to_feature();
    apply_zones(&state, |w, now| w.add_zone(zone, now));
    state.sync.announce(WorldChange::Zones);
    Ok(json_response(StatusCode::CREATED, &feature))
}

async fn replace_zones(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let specs = off_runtime(move || {
        spawner::parse_zone_collection(&parse_body(&body)?)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    })
    .await??;
    let now = now_s();
    let zones: Vec<Zone> = specs
        .into_iter()
        .map(|spec| Zone {
            id: new_zone_id(),
            spec,
            created_at: now,
        })
        .collect();
    let rows: Vec<ZoneRow> = zones.iter().map(zone_row).collect();
    let detail = json!({"count": rows.len()}).to_string();
    state
        .db
        .replace_zones(&rows, &audit_entry(&op, "zone.replace_all", "*", detail))
        .await
        .map_err(store_error)?;
    let features: Vec<Value> = zones.iter().map(Zone::to_feature).collect();
    apply_zones(&state, |w, now| w.replace_zones(zones, now));
    state.sync.announce(WorldChange::Zones);
    Ok(json_response(
        StatusCode::OK,
        &FeatureCollection::new(features),
    ))
}

async fn delete_zone(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let audit = audit_entry(&op, "zone.delete", &id, String::new());
    if !state
        .db
        .delete_zone(&id, &audit)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::not_found(format!("no zone with id {id}")));
    }
    state.world.remove_zone(&id);
    state.sync.announce(WorldChange::Zones);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies a zone change to the live world and pushes `excluded` despawns
/// for the creatures it removed.
fn apply_zones(
    state: &GameState,
    change: impl FnOnce(&mut spawner::World, i64) -> Vec<spawner::Creature>,
) {
    let removed = state.world.change_zones(now_ms(), change);
    crate::tick::gone(state, &removed, DespawnReason::Excluded, true);
}

async fn list_pois(State(state): State<Arc<GameState>>) -> Result<Response, ApiError> {
    // A copy under the lock (the tick's write lock waits for it), the JSON
    // after it is released.
    let pois: Vec<Poi> = state.world.read().pois().cloned().collect();
    off_runtime(move || {
        json_response(
            StatusCode::OK,
            &spawner::pois_to_feature_collection(pois.iter()),
        )
    })
    .await
}

async fn upsert_pois(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (pois, rows, detail) = off_runtime(move || {
        let specs =
            spawner::parse_pois_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let pois: Vec<Poi> = specs.into_iter().map(spawner::PoiSpec::into_poi).collect();
        let rows: Vec<PoiRow> = pois.iter().map(poi_row).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let detail = json!({"ids": ids}).to_string();
        Ok::<_, ApiError>((pois, rows, detail))
    })
    .await??;
    state
        .db
        .upsert_pois(
            &rows,
            &audit_entry(&op, "poi.upsert", &format!("{} pois", rows.len()), detail),
        )
        .await
        .map_err(store_error)?;
    drop(rows);
    let (reply, pois) = off_runtime(move || {
        let fc = spawner::pois_to_feature_collection(pois.iter());
        (json_response(StatusCode::CREATED, &fc), pois)
    })
    .await?;
    state.world.upsert_pois(pois).await;
    state.sync.announce(WorldChange::Pois);
    Ok(reply)
}

async fn audit(State(state): State<Arc<GameState>>) -> Result<Response, ApiError> {
    let entries = state.db.list_audit(10_000).await.map_err(store_error)?;
    let list: Vec<AuditRow> = entries
        .into_iter()
        .map(|a| AuditRow {
            at: a.at / 1000,
            at_ms: a.at,
            actor: a.actor,
            action: a.action,
            target: a.target,
            detail: a.detail,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

/// `POST /v1/admin/operators` with `{"name", "role"}`: creates the account
/// (or gives it a new role and token) and returns its bearer token, the
/// only time it is shown.
async fn add_operator(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: protocol::admin::NewOperator = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body must be {{\"name\", \"role\"}}: {e}")))?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name == analytics::access::ADMIN_NAME {
        return Err(ApiError::bad_request(
            "name must be 1 to 64 characters and not `admin`",
        ));
    }
    let role = store::Role::parse(req.role.trim()).map_err(ApiError::bad_request)?;
    let token = service_kit::random_token("gop_");
    let audit = audit_entry(&op, "operator.put", name, role.label());
    state
        .db
        .put_operator(name, &role, &store::token_hash(&token), &audit)
        .await
        .map_err(store_error)?;
    Ok(json_response(
        StatusCode::CREATED,
        &protocol::admin::OperatorToken {
            name: name.to_owned(),
            role: role.label(),
            token,
        },
    ))
}

/// `GET /v1/admin/operators`: every account's name and role (no tokens).
async fn list_operators(State(state): State<Arc<GameState>>) -> Result<Response, ApiError> {
    let ops = state.db.list_operators().await.map_err(store_error)?;
    let rows: Vec<protocol::admin::OperatorRow> = ops
        .into_iter()
        .map(|o| protocol::admin::OperatorRow {
            name: o.name,
            role: o.role.label(),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &rows))
}

/// `GET /v1/admin/players/{id}/strikes`.
async fn player_strikes(
    State(state): State<Arc<GameState>>,
    Path(player): Path<String>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &strikes_view(&state, &player).await?,
    ))
}

async fn strikes_view(
    state: &GameState,
    player: &str,
) -> Result<protocol::admin::PlayerStrikes, ApiError> {
    use crate::strikes::Standing;
    let (rows, erased) = state.db.standing_facts(player).await.map_err(store_error)?;
    let standing = crate::strikes::Standing::of(&state.cfg.strike_ladder, &rows, erased, now_ms());
    let (standing, until) = match standing {
        Standing::Clear => ("clear", None),
        Standing::Warned { until_ms } => ("warned", Some(until_ms / 1000)),
        Standing::Suspended { until_ms } => ("suspended", Some(until_ms / 1000)),
        Standing::Banned => ("banned", None),
        Standing::Erased => ("erased", None),
    };
    Ok(protocol::admin::PlayerStrikes {
        player_id: player.to_owned(),
        standing: standing.into(),
        until,
        strikes: rows
            .into_iter()
            .map(|r| protocol::admin::StrikeView {
                id: r.id,
                at: r.at_ms,
                reason: r.reason,
                actor: r.actor,
                lifted_at: r.lifted_at_ms,
            })
            .collect(),
    })
}

/// `POST /v1/admin/players/{id}/strikes` with `{"reason"}`: issues a
/// strike (audited) and applies the new standing at once; returns the
/// player's strikes.
async fn issue_strike(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    Path(player): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: protocol::admin::NewStrike = protocol::http::parse_object(&body)
        .map_err(|e| ApiError::bad_request(format!("body must be {{\"reason\"}}: {e}")))?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::bad_request("reason must be 1 to 200 characters"));
    }
    let audit = audit_entry(&op, "strike.issue", &player, reason.to_owned());
    state
        .db
        .add_strike(&player, audit.at, reason, &op.name, Some(&audit))
        .await
        .map_err(store_error)?;
    crate::arrival::apply_standing(&state, &player).await;
    Ok(json_response(
        StatusCode::CREATED,
        &strikes_view(&state, &player).await?,
    ))
}

/// `DELETE /v1/admin/players/{id}/strikes/{strike}`: lifts a strike
/// (audited); 404 for an unknown or already lifted one.
async fn lift_strike(
    State(state): State<Arc<GameState>>,
    Extension(op): Extension<Operator>,
    Path((player, strike)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let audit = audit_entry(&op, "strike.lift", &player, format!("strike {strike}"));
    let lifted = state
        .db
        .lift_strike(&player, strike, audit.at, &audit)
        .await
        .map_err(store_error)?;
    if !lifted {
        return Err(ApiError::not_found("no such standing strike"));
    }
    crate::arrival::apply_standing(&state, &player).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
