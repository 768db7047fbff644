//! The report queries. One SQL text serves both backends: both accept `$1`
//! placeholders, `COUNT(*) FILTER (WHERE ...)` and integer division, and
//! every count is a `COUNT` so both return 64-bit integers.

pub use protocol::reports::{
    DailyActive, HeatCell, HourRow, LengthBucket, PoiHourRow, PoiRow, SessionLengths, SpeciesRow,
    Summary,
};
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

/// Session length bucket bounds, seconds.
const LENGTH_BOUNDS: [i64; 7] = [60, 300, 900, 1800, 3600, 7200, 14400];
/// Heatmap cell size: coordinates are rounded to 1/CELLS_PER_DEGREE.
const CELLS_PER_DEGREE: f64 = 100.0;

const RANGE: &str = "at_ms >= $1 AND at_ms < $2";

/// An event that is foot traffic: a `visit` (in range of a POI), or a spin
/// that was not `too_far`.
const IS_VISIT: &str = "(kind = 'visit' OR (kind = 'spin' AND COALESCE(outcome, '') <> 'too_far'))";
/// What makes one visit: one player at one POI in one clock hour (UTC).
/// Counting distinct keys makes walking up and spinning one visit, and an
/// event delivered twice (a replay after a crash) still one.
const VISIT_KEY: &str = "poi_id || '|' || player_id || '|' || CAST(at_ms / 3600000 AS TEXT)";

/// Counts for the summary report.
pub async fn summary(db: &Db, r: Range) -> Result<Summary, AnalyticsError> {
    let sql = format!(
        "SELECT COUNT(DISTINCT player_id),
                COUNT(*) FILTER (WHERE kind = 'session_start'),
                COUNT(*) FILTER (WHERE kind = 'spawn'),
                COUNT(*) FILTER (WHERE kind = 'catch' AND outcome = 'caught'),
                COUNT(*) FILTER (WHERE kind = 'catch'),
                COUNT(*) FILTER (WHERE kind = 'spin'),
                COUNT(DISTINCT CASE WHEN {IS_VISIT} AND poi_id IS NOT NULL THEN {VISIT_KEY} END),
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
        "SELECT p.id, p.name, p.sponsor, COALESCE(t.visits, 0), COALESCE(t.players, 0),
                COALESCE(t.catches, 0)
         FROM pois p
         LEFT JOIN (
             SELECT poi_id,
                    COUNT(DISTINCT CASE WHEN {IS_VISIT} THEN {VISIT_KEY} END) AS visits,
                    COUNT(DISTINCT CASE WHEN {IS_VISIT} THEN player_id END) AS players,
                    COUNT(*) FILTER (WHERE kind = 'catch' AND outcome = 'caught') AS catches
             FROM events
             WHERE poi_id IS NOT NULL AND kind IN ('visit', 'spin', 'catch') AND {RANGE}
             GROUP BY poi_id
         ) t ON t.poi_id = p.id
         ORDER BY p.id"
    );
    let rows: Vec<(String, String, Option<String>, i64, i64, i64)> =
        with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(
            |(poi_id, name, sponsor, visits, unique_players, catches)| PoiRow {
                poi_id,
                name,
                sponsor,
                visits,
                unique_players,
                catches,
            },
        )
        .collect())
}

/// Visits per POI and clock hour, for the POIs with any; `poi_id`
/// restricts it to one POI and `sponsor` to that sponsor's POIs. In one
/// hour a player visits a POI at most once, so an hour's visits are its
/// distinct visitors.
pub async fn poi_hours(
    db: &Db,
    r: Range,
    poi_id: Option<&str>,
    sponsor: Option<&str>,
) -> Result<Vec<PoiHourRow>, AnalyticsError> {
    let sql = format!(
        "SELECT poi_id, at_ms / 3600000 AS hour, COUNT(DISTINCT player_id)
         FROM events
         WHERE poi_id IS NOT NULL AND player_id IS NOT NULL AND kind IN ('visit', 'spin')
               AND {IS_VISIT} AND ($3 = '' OR poi_id = $3)
               AND ($4 = '' OR poi_id IN (SELECT id FROM pois WHERE sponsor = $4)) AND {RANGE}
         GROUP BY poi_id, hour ORDER BY poi_id, hour"
    );
    let (poi, sponsor) = (poi_id.unwrap_or(""), sponsor.unwrap_or(""));
    let rows: Vec<(String, i64, i64)> = with_pool!(db, p => sqlx::query_as(&sql)
        .bind(r.from_ms).bind(r.to_ms).bind(poi).bind(sponsor).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(poi_id, hour, visits)| PoiHourRow {
            poi_id,
            hour: hour * 3600,
            visits,
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
///
/// A cell with fewer than `min_players` distinct players is left out, so
/// the map never shows where one person (or a handful) goes.
pub async fn heatmap(
    db: &Db,
    r: Range,
    kind: Option<&str>,
    limit: i64,
    min_players: i64,
) -> Result<Vec<HeatCell>, AnalyticsError> {
    let sql = format!(
        "SELECT CAST(ROUND(lat * {CELLS_PER_DEGREE}) AS BIGINT) AS cy,
                CAST(ROUND(lon * {CELLS_PER_DEGREE}) AS BIGINT) AS cx,
                COUNT(*) AS n, COUNT(DISTINCT player_id)
         FROM events
         WHERE lat IS NOT NULL AND lon IS NOT NULL AND {RANGE}
           AND ($3 IS NULL OR kind = $3)
         GROUP BY cy, cx HAVING COUNT(DISTINCT player_id) >= $5
         ORDER BY n DESC, cy, cx LIMIT $4"
    );
    let kind = kind.map(str::to_owned);
    let rows: Vec<(i64, i64, i64, i64)> = with_pool!(db, p => sqlx::query_as(&sql).bind(r.from_ms).bind(r.to_ms).bind(kind.clone()).bind(limit).bind(min_players).fetch_all(p).await)?;
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
