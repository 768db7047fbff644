//! The operator API: exclusion zones, points of interest and the audit
//! log, behind the admin bearer token.
//!
//! Every change is validated in full before anything is touched, written
//! to SQL together with its audit row, and only then applied to the live
//! world, so a refused or failed request changes nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use protocol::play::DespawnReason;
use serde_json::{Value, json};
use spawner::{Poi, Zone};
use store::{AuditEntry, PoiRow, StoreError, ZoneRow};

use crate::http::{ApiError, json_response};
use crate::state::{GameState, now_ms, now_s};
use crate::sync::Change;

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
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .with_state(state)
}

async fn require_admin(State(state): State<Arc<GameState>>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), state.admin_token.as_bytes()));
    if !ok {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin bearer token required",
        )
        .into_response();
    }
    next.run(req).await
}

/// Compares secrets without leaking the position of the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn actor(headers: &HeaderMap) -> String {
    headers
        .get("x-geogame-actor")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(64).collect::<String>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "admin".into())
}

fn audit_entry(headers: &HeaderMap, action: &str, target: &str, detail: String) -> AuditEntry {
    AuditEntry {
        at: now_ms(),
        actor: actor(headers),
        action: action.into(),
        target: target.into(),
        detail,
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed json: {e}")))
}

fn store_error(e: StoreError) -> ApiError {
    if e.is_unavailable() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "storage is unavailable; nothing changed",
        )
    } else {
        tracing::error!(error = %e, "admin change failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "storage error; nothing changed",
        )
    }
}

fn new_zone_id() -> String {
    format!("z_{}", uuid::Uuid::new_v4().simple())
}

fn zone_row(z: &Zone) -> ZoneRow {
    ZoneRow {
        id: z.id.clone(),
        name: z.spec.name.clone(),
        reason: z.spec.reason.clone(),
        geojson: z.to_feature().to_string(),
        created_at: z.created_at,
        expires_at: z.spec.expires_at,
    }
}

async fn list_zones(State(state): State<Arc<GameState>>) -> Response {
    let features: Vec<Value> = state.world_read().zones().map(Zone::to_feature).collect();
    json_response(
        StatusCode::OK,
        &json!({"type": "FeatureCollection", "features": features}),
    )
}

async fn create_zone(
    State(state): State<Arc<GameState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let spec = spawner::parse_zone_feature(&v).map_err(|e| ApiError::bad_request(e.to_string()))?;
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
        .insert_zone(
            &row,
            &audit_entry(&headers, "zone.create", &zone.id, detail),
        )
        .await
        .map_err(store_error)?;
    let feature = zone.to_feature();
    apply_zones(&state, |w, now| w.add_zone(zone, now));
    state.sync.announce(Change::Zones);
    Ok(json_response(StatusCode::CREATED, &feature))
}

async fn replace_zones(
    State(state): State<Arc<GameState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let specs =
        spawner::parse_zone_collection(&v).map_err(|e| ApiError::bad_request(e.to_string()))?;
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
        .replace_zones(
            &rows,
            &audit_entry(&headers, "zone.replace_all", "*", detail),
        )
        .await
        .map_err(store_error)?;
    let features: Vec<Value> = zones.iter().map(Zone::to_feature).collect();
    apply_zones(&state, |w, now| w.replace_zones(zones, now));
    state.sync.announce(Change::Zones);
    Ok(json_response(
        StatusCode::OK,
        &json!({"type": "FeatureCollection", "features": features}),
    ))
}

async fn delete_zone(
    State(state): State<Arc<GameState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let audit = audit_entry(&headers, "zone.delete", &id, String::new());
    if !state
        .db
        .delete_zone(&id, &audit)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no zone with id {id}"),
        ));
    }
    state.world_write().remove_zone(&id);
    state.sync.announce(Change::Zones);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies a zone change to the live world and pushes `excluded` despawns
/// for the creatures it removed.
pub(crate) fn apply_zones(
    state: &GameState,
    change: impl FnOnce(&mut spawner::World, i64) -> Vec<spawner::Creature>,
) {
    let removed = {
        let mut w = state.world_write();
        change(&mut w, now_ms())
    };
    for c in &removed {
        state.hub.despawn(&c.id, DespawnReason::Excluded);
        let mut ev = state.event(protocol::event::EventKind::Despawn, None);
        crate::play::fill_creature(&mut ev, c);
        ev.outcome = Some("excluded".into());
        state.emit(ev);
    }
    metrics::counter!("geogame_zone_changes_total").increment(1);
}

async fn list_pois(State(state): State<Arc<GameState>>) -> Response {
    let fc = spawner::pois_to_feature_collection(state.world_read().pois());
    json_response(StatusCode::OK, &fc)
}

async fn upsert_pois(
    State(state): State<Arc<GameState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let v = parse_body(&body)?;
    let specs = spawner::parse_pois(&v).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let pois: Vec<Poi> = specs.into_iter().map(spawner::PoiSpec::into_poi).collect();
    let rows: Vec<PoiRow> = pois.iter().map(poi_row).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let detail = json!({"ids": ids}).to_string();
    state
        .db
        .upsert_pois(
            &rows,
            &audit_entry(
                &headers,
                "poi.upsert",
                &format!("{} pois", rows.len()),
                detail,
            ),
        )
        .await
        .map_err(store_error)?;
    let fc = spawner::pois_to_feature_collection(pois.iter());
    state.world_write().upsert_pois(pois);
    state.sync.announce(Change::Pois);
    Ok(json_response(StatusCode::CREATED, &fc))
}

/// The SQL row of a POI.
pub(crate) fn poi_row(p: &Poi) -> PoiRow {
    PoiRow {
        id: p.id.clone(),
        name: p.name.clone(),
        lat: p.lat,
        lon: p.lon,
        weight: p.weight,
        sponsor: p.sponsor.clone(),
    }
}

async fn audit(State(state): State<Arc<GameState>>) -> Result<Response, ApiError> {
    let entries = state.db.list_audit(10_000).await.map_err(store_error)?;
    let list: Vec<Value> = entries
        .into_iter()
        .map(|a| json!({"at": a.at / 1000, "at_ms": a.at, "actor": a.actor, "action": a.action, "target": a.target, "detail": a.detail}))
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(list)))
}
