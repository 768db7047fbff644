//! Points of interest: the type, GeoJSON import (Feature or FeatureCollection of Points) and export.

use protocol::admin::{
    GeoJsonKind, GeoJsonUpload, MAX_UPLOAD_FEATURES, PoiCollection, PoiFeature, PoiProperties,
    Point,
};
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
    /// The body is not JSON.
    #[error("malformed json: {0}")]
    Malformed(String),
    /// One feature is larger than any POI needs.
    #[error("feature is {bytes} bytes, at most {max} are allowed")]
    FeatureTooLarge {
        /// Its size.
        bytes: usize,
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

const MAX_TEXT: usize = 200;
const MAX_WEIGHT: f64 = 1000.0;
/// Most bytes one POI feature may take; a Point with a name, weight and
/// sponsor is a few hundred.
const MAX_FEATURE_BYTES: usize = 16 * 1024;

/// Parses a GeoJSON Feature or FeatureCollection of Points with `properties.name`,
/// `properties.weight` (> 0, default 1), optional `properties.sponsor` and optional id (from
/// `properties.id` or the Feature's `id`). A collection is all valid or refused, naming the
/// first bad feature.
///
/// The body is never held as a document tree: each feature is parsed and checked on its own
/// (at most 16 KiB each), so memory follows the POIs kept, not the size or shape of the body.
pub fn parse_pois_json(body: &[u8]) -> Result<Vec<PoiSpec>, PoiError> {
    let upload: GeoJsonUpload = match serde_json::from_slice(body) {
        Ok(u) => u,
        // Valid JSON of the wrong shape (an array, or `features` that is not
        // one): say what it is.
        Err(e) if e.is_data() => {
            return Err(PoiError::NotAFeature {
                found: shape_of(body),
            });
        }
        Err(e) => return Err(PoiError::Malformed(e.to_string())),
    };
    let kind = upload
        .kind
        .and_then(|k| serde_json::from_str::<String>(k.get()).ok());
    match (kind.as_deref(), upload.features) {
        (Some("Feature"), _) => Ok(vec![parse_feature_text(body)?]),
        (Some("FeatureCollection"), Some(list)) => {
            if list.count > MAX_UPLOAD_FEATURES {
                return Err(PoiError::TooManyFeatures {
                    count: list.count,
                    max: MAX_UPLOAD_FEATURES,
                });
            }
            list.features
                .iter()
                .enumerate()
                .map(|(index, f)| {
                    parse_feature_text(f.get().as_bytes()).map_err(|e| PoiError::InFeature {
                        index,
                        source: Box::new(e),
                    })
                })
                .collect()
        }
        _ => Err(PoiError::NotAFeature {
            found: shape_of(body),
        }),
    }
}

/// [`parse_pois_json`] of a document already parsed.
pub fn parse_pois(v: &Value) -> Result<Vec<PoiSpec>, PoiError> {
    parse_pois_json(v.to_string().as_bytes())
}

/// One feature's JSON text, bounded in size, parsed and checked.
fn parse_feature_text(text: &[u8]) -> Result<PoiSpec, PoiError> {
    if text.len() > MAX_FEATURE_BYTES {
        return Err(PoiError::FeatureTooLarge {
            bytes: text.len(),
            max: MAX_FEATURE_BYTES,
        });
    }
    let v: Value = serde_json::from_slice(text).map_err(|e| PoiError::Malformed(e.to_string()))?;
    parse_poi_feature(&v)
}

/// What a body that is valid JSON but no POI upload claims to be: its `type`
/// when it is an object with a string one, else its JSON kind (read from
/// its first character, so nothing is built).
fn shape_of(body: &[u8]) -> String {
    if let Ok(GeoJsonKind { kind: Some(k) }) = serde_json::from_slice::<GeoJsonKind>(body)
        && let Ok(t) = serde_json::from_str::<String>(k.get())
    {
        return json::found(&json!({ "type": t }));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
    .to_owned()
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
/// `sponsor` (null when none), ready to be written without a document tree.
/// [`parse_pois_json`] reads it back.
pub fn pois_to_feature_collection<'a>(
    pois: impl IntoIterator<Item = &'a Poi>,
) -> PoiCollection<'a> {
    let features = pois
        .into_iter()
        .map(|p| PoiFeature {
            kind: "Feature",
            id: &p.id,
            geometry: Point {
                kind: "Point",
                coordinates: [p.lon, p.lat],
            },
            properties: PoiProperties {
                id: &p.id,
                name: &p.name,
                weight: p.weight,
                sponsor: p.sponsor.as_deref(),
            },
        })
        .collect();
    PoiCollection {
        kind: "FeatureCollection",
        features,
    }
}
