//! The report endpoints under `/v1/reports`, read straight from the SQL
//! `events` and `pois` tables.
//!
//! Every report takes an optional `?from=&to=` range in unix seconds,
//! half-open (`from` included, `to` excluded). Errors use the contract's
//! `{"error": {"code", "message"}}` body: a bad query string is `400
//! bad_request`, an unreachable database `503 unavailable`.

mod queries;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::http::ErrorBody;
use serde::Deserialize;
use store::Db;

use crate::error::AnalyticsError;

pub use queries::{
    DailyActive, HeatCell, HourRow, LengthBucket, PoiRow, Range, SessionLengths, SpeciesRow,
    Summary, catches_per_hour, daily_active, heatmap, pois, session_lengths, species, summary,
};

/// Most heatmap cells returned when `limit` is not given.
const HEATMAP_DEFAULT_LIMIT: i64 = 1_000;
/// Most heatmap cells returned at all.
const HEATMAP_MAX_LIMIT: i64 = 10_000;

/// The report routes; merge them into a service's router.
pub fn reports_router(db: Db) -> Router {
    Router::new()
        .route("/v1/reports/summary", get(get_summary))
        .route("/v1/reports/species", get(get_species))
        .route("/v1/reports/pois", get(get_pois))
        .route("/v1/reports/daily_active", get(get_daily_active))
        .route("/v1/reports/session_lengths", get(get_session_lengths))
        .route("/v1/reports/catches_per_hour", get(get_catches_per_hour))
        .route("/v1/reports/heatmap", get(get_heatmap))
        .with_state(db)
}

/// `?from=&to=` in unix seconds.
#[derive(Debug, Deserialize)]
struct RangeParams {
    from: Option<i64>,
    to: Option<i64>,
}

/// The heatmap's parameters: the range, an event kind, a cell limit.
#[derive(Debug, Deserialize)]
struct HeatmapParams {
    from: Option<i64>,
    to: Option<i64>,
    kind: Option<String>,
    limit: Option<i64>,
}

/// A report failure as an HTTP response.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "report unavailable");
            ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "unavailable",
                message: "the analytics database is unavailable, retry later".into(),
            }
        } else {
            tracing::error!(error = %e, "report query failed");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "report query failed".into(),
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}

fn range(from: Option<i64>, to: Option<i64>) -> Result<Range, ApiError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    Ok(Range::from_secs(from, to))
}

type Params = Result<Query<RangeParams>, QueryRejection>;
type Reply<T> = Result<Json<T>, ApiError>;

async fn get_summary(State(db): State<Db>, q: Params) -> Reply<Summary> {
    let Query(q) = q?;
    Ok(Json(summary(&db, range(q.from, q.to)?).await?))
}

async fn get_species(State(db): State<Db>, q: Params) -> Reply<Vec<SpeciesRow>> {
    let Query(q) = q?;
    Ok(Json(species(&db, range(q.from, q.to)?).await?))
}

async fn get_pois(State(db): State<Db>, q: Params) -> Reply<Vec<PoiRow>> {
    let Query(q) = q?;
    Ok(Json(pois(&db, range(q.from, q.to)?).await?))
}

async fn get_daily_active(State(db): State<Db>, q: Params) -> Reply<Vec<DailyActive>> {
    let Query(q) = q?;
    Ok(Json(daily_active(&db, range(q.from, q.to)?).await?))
}

async fn get_session_lengths(State(db): State<Db>, q: Params) -> Reply<SessionLengths> {
    let Query(q) = q?;
    Ok(Json(session_lengths(&db, range(q.from, q.to)?).await?))
}

async fn get_catches_per_hour(State(db): State<Db>, q: Params) -> Reply<Vec<HourRow>> {
    let Query(q) = q?;
    Ok(Json(catches_per_hour(&db, range(q.from, q.to)?).await?))
}

async fn get_heatmap(
    State(db): State<Db>,
    q: Result<Query<HeatmapParams>, QueryRejection>,
) -> Reply<Vec<HeatCell>> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(HEATMAP_DEFAULT_LIMIT);
    if !(1..=HEATMAP_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {HEATMAP_MAX_LIMIT}"
        )));
    }
    let r = range(q.from, q.to)?;
    Ok(Json(heatmap(&db, r, q.kind.as_deref(), limit).await?))
}
