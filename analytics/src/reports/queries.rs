//! The report queries. One SQL text serves both backends: both accept `$1`
//! placeholders, `COUNT(*) FILTER (WHERE ...)` and integer division, and
//! every count is a `COUNT` so both return 64-bit integers.

use serde::Serialize;
use store::Db;

use crate::error::AnalyticsError;

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds; the body
/// is compiled once per backend.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite(s) => {
                let $pool = s.reader();
                $body
            }
            Db::Postgres($pool) => $body,
        }
    };
}

/// A half-open time range `[from, to)` in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First millisecond included.
    pub from_ms: i64,
    /// First millisecond excluded.
    pub to_ms: i64,
}

impl Range {
    /// Every event.
    pub const ALL: Range = Range {
        from_ms: i64::MIN,
        to_ms: i64::MAX,
    };

    /// The range from unix seconds; a missing end is open.
    pub fn from_secs(from: Option<i64>, to: Option<i64>) -> Range {
        Range {
            from_ms: from.map_or(i64::MIN, |s| s.saturating_mul(1000)),
            to_ms: to.map_or(i64::MAX, |s| s.saturating_mul(1000)),
        }
    }
}

/// `GET /v1/reports/summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Distinct players with any event.
    pub players: i64,
    /// `session_start` events.
    pub sessions: i64,
    /// `spawn` events.
    pub spawns: i64,
    /// `catch` events with outcome `caught`.
    pub catches: i64,
    /// `catch` events of any outcome.
    pub catch_attempts: i64,
    /// `spin` events of any outcome.
    pub spins: i64,
    /// `visit` events.
    pub visits: i64,
    /// `match_formed` events.
    pub matches: i64,
    /// Every event.
    pub events: i64,
}

/// One row of `GET /v1/reports/species`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeciesRow {
    /// The species.
    pub species: String,
    /// `spawn` events of it.
    pub spawned: i64,
    /// `catch` events of it with outcome `caught`.
    pub caught: i64,
    /// `catch` events of it of any outcome.
    pub attempts: i64,
}

/// One row of `GET /v1/reports/pois`, the sponsor's foot-traffic report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoiRow {
    /// The POI id.
    pub poi_id: String,
    /// Its name.
    pub name: String,
    /// Its sponsor, if any.
    pub sponsor: Option<String>,
    /// `visit` events at it plus `spin` events at it whose outcome is not
    /// `too_far` (a spin from too far away is not foot traffic).
    pub visits: i64,
    /// Creatures whose home is this POI caught (`catch`, outcome `caught`).
    pub catches: i64,
}

/// One row of `GET /v1/reports/daily_active`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyActive {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Distinct players with any event that day.
    pub players: i64,
}

/// `GET /v1/reports/session_lengths`, from `session_end` values (seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionLengths {
    /// Sessions that ended with a length.
    pub sessions: i64,
    /// Mean length in seconds.
    pub mean_s: Option<f64>,
    /// Median (nearest rank).
    pub p50_s: Option<f64>,
    /// 90th percentile (nearest rank).
    pub p90_s: Option<f64>,
    /// 99th percentile (nearest rank).
    pub p99_s: Option<f64>,
    /// Longest.
    pub max_s: Option<f64>,
    /// Sessions per length bucket.
    pub buckets: Vec<LengthBucket>,
}

/// Sessions no longer than `le_s` and longer than the previous bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthBucket {
    /// Upper bound in seconds; `None` for the last, open bucket.
    pub le_s: Option<i64>,
    /// Sessions in the bucket.
    pub count: i64,
}

/// One row of `GET /v1/reports/catches_per_hour`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourRow {
    /// Start of the hour, unix seconds.
    pub hour: i64,
    /// `catch` events of any outcome.
    pub attempts: i64,
    /// `catch` events with outcome `caught`.
    pub caught: i64,
}

/// One cell of `GET /v1/reports/heatmap`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeatCell {
    /// Cell centre latitude (cells are 0.01° squares).
    pub lat: f64,
    /// Cell centre longitude.
    pub lon: f64,
    /// Events in the cell.
    pub events: i64,
    /// Distinct players in the cell.
    pub players: i64,
}

/// Session length bucket bounds, seconds.
const LENGTH_BOUNDS: [i64; 7] = [60, 300, 900, 1800, 3600, 7200, 14400];
/// Heatmap cell size: coordinates are rounded to 1/CELLS_PER_DEGREE.
const CELLS_PER_DEGREE: f64 = 100.0;

const RANGE: &str = "at_ms >= $1 AND at_ms < $2";

/// Counts for the summary report.
pub async fn summary(db: &Db, r: Range) -> Result<Summary, AnalyticsError> {
    let sql = format!(
        "SELECT COUNT(DISTINCT player_id),
                COUNT(*) FILTER (WHERE kind = 'session_start'),
                COUNT(*) FILTER (WHERE kind = 'spawn'),
                COUNT(*) FILTER (WHERE kind = 'catch' AND outcome = 'caught'),
                COUNT(*) FILTER (WHERE kind = 'catch'),
                COUNT(*) FILTER (WHERE kind = 'spin'),
                COUNT(*) FILTER (WHERE kind = 'visit'),
                COUNT(*) FILTER (WHERE kind = 'match_formed'),
                COUNT(*)
         FROM events WHERE {RANGE}"
    );
    type Row = (i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let row: Row =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_one(p).await)?;
    Ok(Summary {
        players: row.0,
        sessions: row.1,
        spawns: row.2,
        catches: row.3,
        catch_attempts: row.4,
        spins: row.5,
        visits: row.6,
        matches: row.7,
        events: row.8,
    })
}

/// Spawns and catches per species, by species name.
pub async fn species(db: &Db, r: Range) -> Result<Vec<SpeciesRow>, AnalyticsError> {
    let sql = format!(
        "SELECT species,
                COUNT(*) FILTER (WHERE kind = 'spawn'),
                COUNT(*) FILTER (WHERE kind = 'catch' AND outcome = 'caught'),
                COUNT(*) FILTER (WHERE kind = 'catch')
         FROM events
         WHERE species IS NOT NULL AND kind IN ('spawn', 'catch') AND {RANGE}
         GROUP BY species ORDER BY species"
    );
    let rows: Vec<(String, i64, i64, i64)> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(species, spawned, caught, attempts)| SpeciesRow {
            species,
            spawned,
            caught,
            attempts,
        })
        .collect())
}

/// Foot traffic and catches for every POI, by POI id, zero rows included.
pub async fn pois(db: &Db, r: Range) -> Result<Vec<PoiRow>, AnalyticsError> {
    // Events are aggregated per POI in one pass, then joined to the (small)
    // POI table, so that neither backend needs an index on events.poi_id
    // and a POI without events in the range still gets its row of zeros.
    let sql = format!(
        "SELECT p.id, p.name, p.sponsor, COALESCE(t.visits, 0), COALESCE(t.catches, 0)
         FROM pois p
         LEFT JOIN (
             SELECT poi_id,
                    COUNT(*) FILTER (WHERE kind = 'visit'
                        OR (kind = 'spin' AND COALESCE(outcome, '') <> 'too_far')) AS visits,
                    COUNT(*) FILTER (WHERE kind = 'catch' AND outcome = 'caught') AS catches
             FROM events
             WHERE poi_id IS NOT NULL AND kind IN ('visit', 'spin', 'catch') AND {RANGE}
             GROUP BY poi_id
         ) t ON t.poi_id = p.id
         ORDER BY p.id"
    );
    let rows: Vec<(String, String, Option<String>, i64, i64)> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(poi_id, name, sponsor, visits, catches)| PoiRow {
            poi_id,
            name,
            sponsor,
            visits,
            catches,
        })
        .collect())
}

/// Distinct players per UTC day.
pub async fn daily_active(db: &Db, r: Range) -> Result<Vec<DailyActive>, AnalyticsError> {
    let sql = format!(
        "SELECT at_ms / 86400000 AS day, COUNT(DISTINCT player_id)
         FROM events WHERE player_id IS NOT NULL AND {RANGE}
         GROUP BY day ORDER BY day"
    );
    let rows: Vec<(i64, i64)> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(day, players)| DailyActive {
            day: crate::calendar::ymd(day),
            players,
        })
        .collect())
}

/// Distribution of session lengths from `session_end` events.
pub async fn session_lengths(db: &Db, r: Range) -> Result<SessionLengths, AnalyticsError> {
    let filter = format!("kind = 'session_end' AND value IS NOT NULL AND {RANGE}");
    let mut cols = String::new();
    let mut lower = None::<i64>;
    for b in LENGTH_BOUNDS {
        let low = lower.map_or(String::new(), |l| format!(" AND value > {l}"));
        cols.push_str(&format!("COUNT(*) FILTER (WHERE value <= {b}{low}), "));
        lower = Some(b);
    }
    let last = LENGTH_BOUNDS[LENGTH_BOUNDS.len() - 1];
    let sql = format!(
        "SELECT {cols}COUNT(*) FILTER (WHERE value > {last}), COUNT(*), AVG(value), MAX(value)
         FROM events WHERE {filter}"
    );
    let row = with_pool!(db, p => {
        let row = sqlx::query(&sql).bind(r.from_ms).bind(r.to_ms).fetch_one(p).await?;
        use sqlx::Row as _;
        let mut counts = Vec::with_capacity(LENGTH_BOUNDS.len() + 1);
        for i in 0..=LENGTH_BOUNDS.len() {
            counts.push(row.try_get::<i64, _>(i)?);
        }
        let n: i64 = row.try_get(LENGTH_BOUNDS.len() + 1)?;
        let mean: Option<f64> = row.try_get(LENGTH_BOUNDS.len() + 2)?;
        let max: Option<f64> = row.try_get(LENGTH_BOUNDS.len() + 3)?;
        Ok::<_, sqlx::Error>((counts, n, mean, max))
    })?;
    let (counts, n, mean_s, max_s) = row;
    let rank_sql =
        format!("SELECT value FROM events WHERE {filter} ORDER BY value LIMIT 1 OFFSET $3");
    let mut pct = [None; 3];
    for (slot, q) in pct.iter_mut().zip([0.50, 0.90, 0.99]) {
        if n == 0 {
            break;
        }
        // Nearest rank: the smallest value with at least q of the sessions
        // at or below it.
        let rank = ((q * n as f64).ceil() as i64).clamp(1, n) - 1;
        let v: Option<f64> = with_pool!(db, p => sqlx::query_scalar(&rank_sql).bind(r.from_ms).bind(r.to_ms).bind(rank).fetch_optional(p).await)?;
        *slot = v;
    }
    let buckets = LENGTH_BOUNDS
        .iter()
        .map(|b| Some(*b))
        .chain([None])
        .zip(counts)
        .map(|(le_s, count)| LengthBucket { le_s, count })
        .collect();
    Ok(SessionLengths {
        sessions: n,
        mean_s,
        p50_s: pct[0],
        p90_s: pct[1],
        p99_s: pct[2],
        max_s,
        buckets,
    })
}

/// Catch attempts and successes per hour.
pub async fn catches_per_hour(db: &Db, r: Range) -> Result<Vec<HourRow>, AnalyticsError> {
    let sql = format!(
        "SELECT at_ms / 3600000 AS hour, COUNT(*),
                COUNT(*) FILTER (WHERE outcome = 'caught')
         FROM events WHERE kind = 'catch' AND {RANGE}
         GROUP BY hour ORDER BY hour"
    );
    let rows: Vec<(i64, i64, i64)> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(hour, attempts, caught)| HourRow {
            hour: hour * 3600,
            attempts,
            caught,
        })
        .collect())
}

/// Events and players per 0.01° cell, busiest first, at most `limit`
/// cells; `kind` restricts it to one event kind.
pub async fn heatmap(
    db: &Db,
    r: Range,
    kind: Option<&str>,
    limit: i64,
) -> Result<Vec<HeatCell>, AnalyticsError> {
    let sql = format!(
        "SELECT CAST(ROUND(lat * {CELLS_PER_DEGREE}) AS BIGINT) AS cy,
                CAST(ROUND(lon * {CELLS_PER_DEGREE}) AS BIGINT) AS cx,
                COUNT(*) AS n, COUNT(DISTINCT player_id)
         FROM events
         WHERE lat IS NOT NULL AND lon IS NOT NULL AND {RANGE}
           AND ($3 IS NULL OR kind = $3)
         GROUP BY cy, cx ORDER BY n DESC, cy, cx LIMIT $4"
    );
    let kind = kind.map(str::to_owned);
    let rows: Vec<(i64, i64, i64, i64)> = with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).bind(kind.clone()).bind(limit).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(cy, cx, events, players)| HeatCell {
            lat: cy as f64 / CELLS_PER_DEGREE,
            lon: cx as f64 / CELLS_PER_DEGREE,
            events,
            players,
        })
        .collect())
}
