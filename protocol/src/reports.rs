//! The bodies of the analytics reports under `/v1/reports`: the rows each
//! report returns and the query strings it takes.

use serde::{Deserialize, Serialize};

/// `?from=&to=` in unix seconds, half-open (`from` included, `to` excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQuery {
    /// First second included.
    pub from: Option<i64>,
    /// First second excluded.
    pub to: Option<i64>,
}

/// The hourly foot-traffic query: the range and, optionally, one POI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoiHoursQuery {
    /// First second included.
    pub from: Option<i64>,
    /// First second excluded.
    pub to: Option<i64>,
    /// Only this POI.
    pub poi_id: Option<String>,
}

/// The heatmap's query: the range, an event kind, a cell limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatmapQuery {
    /// First second included.
    pub from: Option<i64>,
    /// First second excluded.
    pub to: Option<i64>,
    /// Only events of this kind.
    pub kind: Option<String>,
    /// Most cells returned.
    pub limit: Option<i64>,
}

/// `GET /v1/reports/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Visits to every POI, counted as in [`PoiRow::visits`].
    pub visits: i64,
    /// `match_formed` events.
    pub matches: i64,
    /// Every event.
    pub events: i64,
}

/// One row of `GET /v1/reports/species`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoiRow {
    /// The POI id.
    pub poi_id: String,
    /// Its name.
    pub name: String,
    /// Its sponsor, if any.
    pub sponsor: Option<String>,
    /// Visits: distinct (player, clock hour) pairs with a `visit` event at
    /// it or a `spin` at it whose outcome is not `too_far`. Walking up and
    /// spinning is one visit; the same player an hour later is another.
    pub visits: i64,
    /// Distinct players who visited it in the range.
    pub unique_players: i64,
    /// Creatures whose home is this POI caught (`catch`, outcome `caught`).
    pub catches: i64,
}

/// One row of `GET /v1/reports/pois/hourly`: a POI's visits in one hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoiHourRow {
    /// The POI id.
    pub poi_id: String,
    /// Start of the hour (UTC), unix seconds.
    pub hour: i64,
    /// Visits in that hour: its distinct visitors.
    pub visits: i64,
}

/// One row of `GET /v1/reports/daily_active`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyActive {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Distinct players with any event that day.
    pub players: i64,
}

/// `GET /v1/reports/session_lengths`, from `session_end` values (seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LengthBucket {
    /// Upper bound in seconds; `None` for the last, open bucket.
    pub le_s: Option<i64>,
    /// Sessions in the bucket.
    pub count: i64,
}

/// One row of `GET /v1/reports/catches_per_hour`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourRow {
    /// Start of the hour, unix seconds.
    pub hour: i64,
    /// `catch` events of any outcome.
    pub attempts: i64,
    /// `catch` events with outcome `caught`.
    pub caught: i64,
}

/// One cell of `GET /v1/reports/heatmap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_poi_report_row_has_the_contract_fields() {
        let row = PoiRow {
            poi_id: "p".into(),
            name: "Cafe".into(),
            sponsor: None,
            visits: 2,
            unique_players: 2,
            catches: 1,
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"poi_id":"p","name":"Cafe","sponsor":null,"visits":2,"unique_players":2,"catches":1})
        );
        assert_eq!(serde_json::from_value::<PoiRow>(v).unwrap(), row);
    }

    #[test]
    fn query_strings_decode_with_every_part_optional() {
        let q: HeatmapQuery = serde_json::from_str(r#"{"kind":"catch"}"#).unwrap();
        assert_eq!(q.kind.as_deref(), Some("catch"));
        assert_eq!((q.from, q.to, q.limit), (None, None, None));
        let r: RangeQuery = serde_json::from_str(r#"{"from":1,"to":2}"#).unwrap();
        assert_eq!(
            r,
            RangeQuery {
                from: Some(1),
                to: Some(2)
            }
        );
    }
}
