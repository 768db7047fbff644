//! GeoJSON to validated [`ZoneSpec`]: structure, ring rules, coordinate ranges, properties.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};

use super::ZoneSpec;
use super::error::{Axis, RingRef, ZoneError};
use super::prepared;
use crate::json;

/// The most positions one zone may have. It bounds the validation work and the exact-test cost
/// (which is linear in the positions of the zones near a point).
pub const MAX_ZONE_POSITIONS: usize = 10_000;
/// The most features a bulk import may hold.
const MAX_FEATURES: usize = 100_000;
const MAX_NAME_CHARS: usize = 200;
const MAX_REASON_CHARS: usize = 1000;
const MAX_BUFFER_M: f64 = 10_000.0;

/// Parses one GeoJSON Feature with a Polygon or MultiPolygon geometry (holes allowed) and
/// `properties.name`, optional `reason`, `buffer_m` (metres, 0 to 10000, default 0) and
/// `expires_at` (unix seconds).
pub fn parse_zone_feature(v: &Value) -> Result<ZoneSpec, ZoneError> {
    let Some(feature) = v.as_object().filter(|_| json::is_type(v, "Feature")) else {
        return Err(ZoneError::NotAFeature {
            found: json::found(v),
        });
    };
    let empty = Map::new();
    let props = json::properties(feature)
        .map_err(|found| ZoneError::BadProperties { found })?
        .unwrap_or(&empty);
    let name = match props.get("name") {
        None | Some(Value::Null) => return Err(ZoneError::MissingName),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= MAX_NAME_CHARS => {
            s.clone()
        }
        Some(_) => return Err(ZoneError::BadName),
    };
    let reason = match props.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= MAX_REASON_CHARS => s.clone(),
        Some(_) => return Err(ZoneError::BadReason),
    };
    let buffer_m = match props.get("buffer_m") {
        None | Some(Value::Null) => 0.0,
        Some(b) => match b.as_f64() {
            Some(x) if (0.0..=MAX_BUFFER_M).contains(&x) => x,
            _ => {
                return Err(ZoneError::BadBufferM {
                    value: json::short(b),
                });
            }
        },
    };
    let expires_at = match props.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(e) => match e.as_i64() {
            Some(s) if s > 0 => Some(s),
            _ => {
                return Err(ZoneError::BadExpiresAt {
                    value: json::short(e),
                });
            }
        },
    };
    let geometry = parse_geometry(feature.get("geometry"))?;
    prepared::validate(&geometry)?;
    Ok(ZoneSpec {
        name,
        reason,
        geometry,
        buffer_m,
        expires_at,
    })
}

/// Parses a GeoJSON FeatureCollection of zones. Either every feature is valid and all are
/// returned in order, or the error names the first bad feature's index.
pub fn parse_zone_collection(v: &Value) -> Result<Vec<ZoneSpec>, ZoneError> {
    let features = v
        .as_object()
        .filter(|_| json::is_type(v, "FeatureCollection"))
        .and_then(|o| o.get("features"))
        .and_then(Value::as_array)
        .ok_or_else(|| ZoneError::NotAFeatureCollection {
            found: json::found(v),
        })?;
    if features.len() > MAX_FEATURES {
        return Err(ZoneError::TooManyFeatures {
            count: features.len(),
            max: MAX_FEATURES,
        });
    }
    features
        .iter()
        .enumerate()
        .map(|(index, f)| {
            parse_zone_feature(f).map_err(|e| ZoneError::InFeature {
                index,
                source: Box::new(e),
            })
        })
        .collect()
}

fn malformed(at: String, expected: &'static str) -> ZoneError {
    ZoneError::MalformedCoordinates { at, expected }
}

fn parse_geometry(g: Option<&Value>) -> Result<MultiPolygon<f64>, ZoneError> {
    let g = match g {
        None | Some(Value::Null) => return Err(ZoneError::MissingGeometry),
        Some(g) => g,
    };
    let ty = g.get("type").and_then(Value::as_str);
    let coords = g.get("coordinates");
    let polygons: Vec<&Value> = match (ty, coords) {
        (Some("Polygon"), Some(c)) => vec![c],
        (Some("MultiPolygon"), Some(Value::Array(ps))) => {
            if ps.is_empty() {
                return Err(ZoneError::EmptyGeometry {
                    what: "the multipolygon has no polygons".into(),
                });
            }
            ps.iter().collect()
        }
        (Some("MultiPolygon"), Some(_)) => {
            return Err(malformed("coordinates".into(), "an array of polygons"));
        }
        (Some("Polygon" | "MultiPolygon"), None) => {
            return Err(malformed("coordinates".into(), "a coordinates member"));
        }
        _ => {
            return Err(ZoneError::NotAPolygon {
                found: json::found(g),
            });
        }
    };
    let total: usize = polygons
        .iter()
        .filter_map(|p| p.as_array())
        .flatten()
        .filter_map(|r| r.as_array().map(Vec::len))
        .sum();
    if total > MAX_ZONE_POSITIONS {
        return Err(ZoneError::TooManyPositions {
            count: total,
            max: MAX_ZONE_POSITIONS,
        });
    }
    let mut out = Vec::with_capacity(polygons.len());
    for (pi, p) in polygons.into_iter().enumerate() {
        let rings = p
            .as_array()
            .ok_or_else(|| malformed(format!("polygon {pi}"), "an array of rings"))?;
        if rings.is_empty() {
            return Err(ZoneError::EmptyGeometry {
                what: format!("polygon {pi} has no rings"),
            });
        }
        let mut parsed = Vec::with_capacity(rings.len());
        for (ri, r) in rings.iter().enumerate() {
            parsed.push(parse_ring(
                r,
                RingRef {
                    polygon: pi,
                    ring: ri,
                },
            )?);
        }
        let exterior = parsed.remove(0);
        out.push(Polygon::new(exterior, parsed));
    }
    Ok(MultiPolygon(out))
}

fn parse_ring(r: &Value, ring: RingRef) -> Result<LineString<f64>, ZoneError> {
    let positions = r
        .as_array()
        .ok_or_else(|| malformed(ring.to_string(), "an array of positions"))?;
    let mut coords = Vec::with_capacity(positions.len());
    for (position, p) in positions.iter().enumerate() {
        let (lon, lat) = json::position(p).ok_or_else(|| {
            malformed(
                format!("position {position} of {ring}"),
                "[longitude, latitude] numbers",
            )
        })?;
        if !(-180.0..=180.0).contains(&lon) {
            return Err(ZoneError::CoordinateOutOfRange {
                ring,
                position,
                axis: Axis::Longitude,
                value: lon,
            });
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(ZoneError::CoordinateOutOfRange {
                ring,
                position,
                axis: Axis::Latitude,
                value: lat,
            });
        }
        coords.push(Coord { x: lon, y: lat });
    }
    if coords.len() < 4 {
        return Err(ZoneError::TooFewPositions {
            ring,
            count: coords.len(),
        });
    }
    let (first, last) = (coords[0], coords[coords.len() - 1]);
    if first != last {
        return Err(ZoneError::UnclosedRing { ring });
    }
    Ok(LineString(coords))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(coords: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": coords}, "properties": {"name": "x"}})
    }

    #[test]
    fn accepts_a_simple_square_with_defaults() {
        let spec = parse_zone_feature(&feature(json!([[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]])))
            .unwrap();
        assert_eq!(spec.name, "x");
        assert_eq!(spec.reason, "");
        assert_eq!(spec.buffer_m, 0.0);
        assert_eq!(spec.expires_at, None);
        assert_eq!(spec.geometry.0.len(), 1);
        assert_eq!(spec.geometry.0[0].exterior().0.len(), 5);
    }

    #[test]
    fn altitude_members_are_ignored() {
        let spec = parse_zone_feature(&feature(json!([[
            [0, 0, 5],
            [1, 0, 5],
            [1, 1, 5],
            [0, 0, 5]
        ]])))
        .unwrap();
        assert_eq!(spec.geometry.0[0].exterior().0[1], Coord { x: 1.0, y: 0.0 });
    }
}
