//! The report endpoints under `/v1/reports`, read straight from the SQL
//! `events` and `pois` tables.
//!
//! Every report takes an optional `?from=&to=` range in unix seconds,
//! half-open (`from` included, `to` excluded). Errors use the contract's
//! `{"error": {"code", "message"}}` body: a bad query string is `400
//! bad_request`, an unreachable database `503 unavailable`.
//!
//! Every report needs the bearer token of an operator, an analyst or a
//! sponsor (401 without one, see [`crate::access`]). A sponsor reads only
//! the rows of its own POIs: the two POI reports, filtered; any other
//! report is 403 for it.

mod queries;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use protocol::reports::{HeatmapQuery, PoiHoursQuery, RangeQuery};
use service_kit::ApiError;
use store::{Db, Operator, Role};

use crate::access::{Access, forbidden};
use crate::error::AnalyticsError;

pub use queries::{
    DailyActive, HeatCell, HourRow, LengthBucket, PoiHourRow, PoiRow, Range, SessionLengths,
    SpeciesRow, Summary, catches_per_hour, daily_active, heatmap, poi_hours, pois, session_lengths,
    species, summary,
};

/// Most heatmap cells returned when `limit` is not given.
const HEATMAP_DEFAULT_LIMIT: i64 = 1_000;
/// Fewest distinct players a heatmap cell needs to be shown: fewer, and
/// the cell could show where a single person lives or works.
pub(crate) const HEATMAP_MIN_PLAYERS: i64 = 5;
/// Most heatmap cells returned at all.
const HEATMAP_MAX_LIMIT: i64 = 10_000;

/// The reports a sponsor may read (filtered to its POIs).
const SPONSOR_REPORTS: [&str; 2] = ["/v1/reports/pois", "/v1/reports/pois/hourly"];

/// The report routes, behind `access`; merge them into a service's router.
pub fn reports_router(db: Db, access: Access) -> Router {
    Router::new()
        .route("/v1/reports/summary", get(get_summary))
        .route("/v1/reports/species", get(get_species))
        .route("/v1/reports/pois", get(get_pois))
        .route("/v1/reports/pois/hourly", get(get_poi_hours))
        .route("/v1/reports/daily_active", get(get_daily_active))
        .route("/v1/reports/session_lengths", get(get_session_lengths))
        .route("/v1/reports/catches_per_hour", get(get_catches_per_hour))
        .route("/v1/reports/heatmap", get(get_heatmap))
        .with_state(db)
        .route_layer(middleware::from_fn_with_state(access, require_reader))
}

/// Lets operators, analysts and sponsors in, sponsors only to their POI
/// reports; the caller goes on as an `Extension<Operator>`.
async fn require_reader(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let op = match access.who(req.headers()).await {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    if matches!(op.role, Role::Sponsor(_)) && !SPONSOR_REPORTS.contains(&req.uri().path()) {
        return forbidden(&op, "a sponsor reads only the reports of its POIs").into_response();
    }
    req.extensions_mut().insert(op);
    next.run(req).await
}

/// The sponsor whose rows `op` may read, or none for every row.
fn only_sponsor(op: &Operator) -> Option<&str> {
    match &op.role {
        Role::Sponsor(s) => Some(s),
        Role::Operator | Role::Analyst => None,
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "report unavailable");
            ApiError::unavailable("the analytics database is unavailable, retry later")
        } else {
            tracing::error!(error = %e, "report query failed");
            ApiError::internal("report query failed")
        }
    }
}

/// A query string that does not parse is a 400 with axum's reason.
fn rejected(e: QueryRejection) -> ApiError {
    ApiError::bad_request(e.body_text())
}

fn range(from: Option<i64>, to: Option<i64>) -> Result<Range, ApiError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    Ok(Range::from_secs(from, to))
}

type Params = Result<Query<RangeQuery>, QueryRejection>;
type Reply<T> = Result<Json<T>, ApiError>;

async fn get_summary(State(db): State<Db>, q: Params) -> Reply<Summary> {
    let Query(q) = q.map_err(rejected)?;
    Ok(Json(summary(&db, range(q.from, q.to)?).await?))
}

async fn get_species(State(db): State<Db>, q: Params) -> Reply<Vec<SpeciesRow>> {
    let Query(q) = q.map_err(rejected)?;
    Ok(Json(species(&db, range(q.from, q.to)?).await?))
}

async fn get_pois(
    State(db): State<Db>,
    Extension(op): Extension<Operator>,
    q: Params,
) -> Reply<Vec<PoiRow>> {
    let Query(q) = q.map_err(rejected)?;
    let mut rows = pois(&db, range(q.from, q.to)?).await?;
    if let Some(s) = only_sponsor(&op) {
        rows.retain(|r| r.sponsor.as_deref() == Some(s));
    }
    Ok(Json(rows))
}

async fn get_poi_hours(
    State(db): State<Db>,
    Extension(op): Extension<Operator>,
    q: Result<Query<PoiHoursQuery>, QueryRejection>,
) -> Reply<Vec<PoiHourRow>> {
    let Query(q) = q.map_err(rejected)?;
    let r = range(q.from, q.to)?;
    let rows = poi_hours(&db, r, q.poi_id.as_deref(), only_sponsor(&op)).await?;
    Ok(Json(rows))
}

async fn get_daily_active(State(db): State<Db>, q: Params) -> Reply<Vec<DailyActive>> {
    let Query(q) = q.map_err(rejected)?;
    Ok(Json(daily_active(&db, range(q.from, q.to)?).await?))
}

async fn get_session_lengths(State(db): State<Db>, q: Params) -> Reply<SessionLengths> {
    let Query(q) = q.map_err(rejected)?;
    Ok(Json(session_lengths(&db, range(q.from, q.to)?).await?))
}

async fn get_catches_per_hour(State(db): State<Db>, q: Params) -> Reply<Vec<HourRow>> {
    let Query(q) = q.map_err(rejected)?;
    Ok(Json(catches_per_hour(&db, range(q.from, q.to)?).await?))
}

async fn get_heatmap(
    State(db): State<Db>,
    q: Result<Query<HeatmapQuery>, QueryRejection>,
) -> Reply<Vec<HeatCell>> {
    let Query(q) = q.map_err(rejected)?;
    let limit = q.limit.unwrap_or(HEATMAP_DEFAULT_LIMIT);
    if !(1..=HEATMAP_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {HEATMAP_MAX_LIMIT}"
        )));
    }
    let r = range(q.from, q.to)?;
    let cells = heatmap(&db, r, q.kind.as_deref(), limit, HEATMAP_MIN_PLAYERS).await?;
    Ok(Json(cells))
}
