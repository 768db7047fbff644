//! Points of interest: the type, GeoJSON import (Feature or FeatureCollection of Points) and export.

use serde_json::{Map, Value, json};

use crate::hash::StableHasher;
use crate::json;
use crate::zone::Axis;

/// A point of interest where creatures spawn. Sponsored places carry a higher weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Poi {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Spawn weight, above 0: a POI of weight w spawns w times as often as one of weight 1.
    pub weight: f64,
    /// Sponsor name, when someone pays for the foot traffic.
    pub sponsor: Option<String>,
}

/// A POI as imported, before it has an id when none was given.
#[derive(Debug, Clone, PartialEq)]
pub struct PoiSpec {
    /// Id from `properties.id` or the Feature's `id`, if any.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Spawn weight, above 0 (default 1).
    pub weight: f64,
    /// Sponsor name.
    pub sponsor: Option<String>,
}

impl PoiSpec {
    /// Turns the spec into a [`Poi`], deriving the id with [`poi_id_for`] when none was given.
    pub fn into_poi(self) -> Poi {
        let id = self
            .id
            .unwrap_or_else(|| poi_id_for(&self.name, self.lat, self.lon));
        Poi {
            id,
            name: self.name,
            lat: self.lat,
            lon: self.lon,
            weight: self.weight,
            sponsor: self.sponsor,
        }
    }
}

/// Why a POI import was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoiError {
    /// The value is neither a Feature nor a FeatureCollection.
    #[error("expected a geojson Feature or FeatureCollection of Points, found {found}")]
    NotAFeature {
        /// What was found instead.
        found: String,
    },
    /// A collection holds more features than allowed.
    #[error("feature collection has {count} features, at most {max} are allowed")]
    TooManyFeatures {
        /// Features given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The feature has no geometry.
    #[error("feature has no geometry")]
    MissingGeometry,
    /// The geometry is not a Point.
    #[error("geometry must be a Point, found {found}")]
    NotAPoint {
        /// What was found instead.
        found: String,
    },
    /// The coordinates are not a position.
    #[error("point coordinates must be [longitude, latitude] numbers")]
    MalformedCoordinates,
    /// A coordinate is out of range.
    #[error("{axis} {value} is out of range")]
    CoordinateOutOfRange {
        /// Which coordinate.
        axis: Axis,
        /// The value given.
        value: f64,
    },
    /// `properties` is present but not an object.
    #[error("properties must be an object, found {found}")]
    BadProperties {
        /// What was found instead.
        found: String,
    },
    /// `properties.name` is absent.
    #[error("properties.name is missing")]
    MissingName,
    /// `properties.name` is not a usable string.
    #[error("properties.name must be a non-empty string of at most 200 characters")]
    BadName,
    /// `properties.weight` is not a number in (0, 1000].
    #[error("properties.weight must be a number above 0 and at most 1000, got {value}")]
    BadWeight {
        /// The value given, rendered as JSON.
        value: String,
    },
    /// `properties.sponsor` is not a usable string.
    #[error("properties.sponsor must be a string of at most 200 characters, or null")]
    BadSponsor,
    /// The id is not a usable string.
    #[error("the poi id must be a non-empty string of at most 200 characters")]
    BadId,
    /// A feature of a collection is invalid.
    #[error("feature {index}: {source}")]
    InFeature {
        /// Index of the feature in the collection.
        index: usize,
        /// What is wrong with it.
        source: Box<PoiError>,
    },
}

const MAX_POIS: usize = 100_000;
const MAX_TEXT: usize = 200;
const MAX_WEIGHT: f64 = 1000.0;

/// Parses a GeoJSON Feature or FeatureCollection of Points with `properties.name`,
/// `properties.weight` (> 0, default 1), optional `properties.sponsor` and optional id (from
/// `properties.id` or the Feature's `id`). A collection is all valid or refused, naming the
/// first bad feature.
pub fn parse_pois(v: &Value) -> Result<Vec<PoiSpec>, PoiError> {
    if json::is_type(v, "Feature") {
        return Ok(vec![parse_poi_feature(v)?]);
    }
    let features = v
        .as_object()
        .filter(|_| json::is_type(v, "FeatureCollection"))
        .and_then(|o| o.get("features"))
        .and_then(Value::as_array)
        .ok_or_else(|| PoiError::NotAFeature {
            found: json::found(v),
        })?;
    if features.len() > MAX_POIS {
        return Err(PoiError::TooManyFeatures {
            count: features.len(),
            max: MAX_POIS,
        });
    }
    features
        .iter()
        .enumerate()
        .map(|(index, f)| {
            parse_poi_feature(f).map_err(|e| PoiError::InFeature {
                index,
                source: Box::new(e),
            })
        })
        .collect()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.chars().count() <= MAX_TEXT => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn parse_poi_feature(v: &Value) -> Result<PoiSpec, PoiError> {
    let Some(feature) = v.as_object().filter(|_| json::is_type(v, "Feature")) else {
        return Err(PoiError::NotAFeature {
            found: json::found(v),
        });
    };
    let empty = Map::new();
    let props = json::properties(feature)
        .map_err(|found| PoiError::BadProperties { found })?
        .unwrap_or(&empty);
    let name = match props.get("name") {
        None | Some(Value::Null) => return Err(PoiError::MissingName),
        Some(n) => text(n).ok_or(PoiError::BadName)?,
    };
    let weight = match props.get("weight") {
        None | Some(Value::Null) => 1.0,
        Some(w) => match w.as_f64() {
            Some(x) if x > 0.0 && x <= MAX_WEIGHT => x,
            _ => {
                return Err(PoiError::BadWeight {
                    value: json::short(w),
                });
            }
        },
    };
    let sponsor = match props.get("sponsor") {
        None | Some(Value::Null) => None,
        Some(s) => Some(text(s).ok_or(PoiError::BadSponsor)?),
    };
    let id = match props
        .get("id")
        .filter(|i| !i.is_null())
        .or_else(|| feature.get("id").filter(|i| !i.is_null()))
    {
        None => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(i) => Some(text(i).ok_or(PoiError::BadId)?),
    };
    let geometry = match feature.get("geometry") {
        None | Some(Value::Null) => return Err(PoiError::MissingGeometry),
        Some(g) => g,
    };
    if !json::is_type(geometry, "Point") {
        return Err(PoiError::NotAPoint {
            found: json::found(geometry),
        });
    }
    let (lon, lat) = geometry
        .get("coordinates")
        .and_then(json::position)
        .ok_or(PoiError::MalformedCoordinates)?;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(PoiError::CoordinateOutOfRange {
            axis: Axis::Longitude,
            value: lon,
        });
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(PoiError::CoordinateOutOfRange {
            axis: Axis::Latitude,
            value: lat,
        });
    }
    Ok(PoiSpec {
        id,
        name,
        lat,
        lon,
        weight,
        sponsor,
    })
}

/// A deterministic id for a POI imported without one: `"poi-"` and 16 hex digits of a stable
/// hash of the name and the position rounded to 1e-6 degrees (about 10 cm), so that importing
/// the same file twice updates rather than duplicates.
pub fn poi_id_for(name: &str, lat: f64, lon: f64) -> String {
    let micro = |x: f64| (x * 1e6).round() as i64;
    let h = StableHasher::new("poi")
        .str(name)
        .i64(micro(lat))
        .i64(micro(lon))
        .finish();
    format!("poi-{h:016x}")
}

/// POIs as a GeoJSON FeatureCollection of Points with properties `id`, `name`, `weight` and
/// `sponsor` (null when none). [`parse_pois`] reads it back.
pub fn pois_to_feature_collection<'a>(pois: impl IntoIterator<Item = &'a Poi>) -> Value {
    let features: Vec<Value> = pois
        .into_iter()
        .map(|p| {
            json!({
                "type": "Feature",
                "id": p.id,
                "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
                "properties": {"id": p.id, "name": p.name, "weight": p.weight, "sponsor": p.sponsor},
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}
