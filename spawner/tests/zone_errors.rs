//! Every way a zone body can be refused, through the public parsers, with the message checked.

use serde_json::{Value, json};
use spawner::{Axis, RingRef, ZoneError, parse_zone_collection, parse_zone_feature};

fn square() -> Value {
    json!([[
        [0.0, 0.0],
        [0.01, 0.0],
        [0.01, 0.01],
        [0.0, 0.01],
        [0.0, 0.0]
    ]])
}

fn feature_with(geometry: Value, properties: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

fn polygon(coords: Value) -> Value {
    feature_with(
        json!({"type": "Polygon", "coordinates": coords}),
        json!({"name": "z"}),
    )
}

fn props(p: Value) -> Value {
    feature_with(json!({"type": "Polygon", "coordinates": square()}), p)
}

/// Parses and returns the error and its message, checking the message style on the way.
fn refuse(v: &Value) -> (ZoneError, String) {
    let e = parse_zone_feature(v).expect_err("must be refused");
    let msg = e.to_string();
    assert!(
        msg.chars().next().is_some_and(|c| !c.is_uppercase()),
        "lowercase: {msg}"
    );
    assert!(!msg.ends_with('.'), "no trailing period: {msg}");
    (e, msg)
}

const EXT0: RingRef = RingRef {
    polygon: 0,
    ring: 0,
};

#[test]
fn not_a_feature() {
    let (e, msg) = refuse(&json!({"type": "Point", "coordinates": [0, 0]}));
    assert!(matches!(e, ZoneError::NotAFeature { .. }));
    assert!(
        msg.contains("expected a geojson Feature") && msg.contains("Point"),
        "{msg}"
    );
    let (e, msg) = refuse(&json!([1, 2]));
    assert!(matches!(e, ZoneError::NotAFeature { .. }));
    assert!(msg.contains("an array"), "{msg}");
}

#[test]
fn not_a_polygon() {
    for g in [
        json!({"type": "Point", "coordinates": [0, 0]}),
        json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
    ] {
        let (e, msg) = refuse(&feature_with(g, json!({"name": "z"})));
        assert!(matches!(e, ZoneError::NotAPolygon { .. }), "{e:?}");
        assert!(msg.contains("must be a Polygon or MultiPolygon"), "{msg}");
    }
}

#[test]
fn missing_geometry() {
    let (e, _) = refuse(&json!({"type": "Feature", "properties": {"name": "z"}}));
    assert_eq!(e, ZoneError::MissingGeometry);
    let (e, msg) = refuse(&feature_with(Value::Null, json!({"name": "z"})));
    assert_eq!(e, ZoneError::MissingGeometry);
    assert_eq!(msg, "feature has no geometry");
}

#[test]
fn unclosed_ring() {
    let (e, msg) = refuse(&polygon(json!([[
        [0, 0],
        [1, 0],
        [1, 1],
        [0, 1],
        [0, 0.5]
    ]])));
    assert_eq!(e, ZoneError::UnclosedRing { ring: EXT0 });
    assert!(
        msg.contains("exterior ring of polygon 0 is not closed"),
        "{msg}"
    );
    // A hole is named as such.
    let (e, msg) = refuse(&polygon(json!([
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[2, 2], [3, 2], [3, 3], [2, 3], [2, 2.5]]
    ])));
    assert_eq!(
        e,
        ZoneError::UnclosedRing {
            ring: RingRef {
                polygon: 0,
                ring: 1
            }
        }
    );
    assert!(msg.contains("ring 1 (a hole) of polygon 0"), "{msg}");
}

#[test]
fn fewer_than_four_positions() {
    let (e, msg) = refuse(&polygon(json!([[[0, 0], [1, 0], [0, 0]]])));
    assert_eq!(
        e,
        ZoneError::TooFewPositions {
            ring: EXT0,
            count: 3
        }
    );
    assert!(
        msg.contains("has 3 positions, a ring needs at least 4"),
        "{msg}"
    );
}

#[test]
fn coordinate_out_of_range_names_the_axis() {
    let (e, msg) = refuse(&polygon(json!([[[0, 0], [1, 95], [1, 1], [0, 0]]])));
    assert_eq!(
        e,
        ZoneError::CoordinateOutOfRange {
            ring: EXT0,
            position: 1,
            axis: Axis::Latitude,
            value: 95.0
        }
    );
    assert!(
        msg.contains("latitude 95 at position 1") && msg.contains("[-90, 90]"),
        "{msg}"
    );
    let (e, msg) = refuse(&polygon(json!([[[0, 0], [1, 0], [-180.5, 1], [0, 0]]])));
    assert!(matches!(
        e,
        ZoneError::CoordinateOutOfRange {
            axis: Axis::Longitude,
            position: 2,
            ..
        }
    ));
    assert!(
        msg.contains("longitude -180.5") && msg.contains("[-180, 180]"),
        "{msg}"
    );
}

#[test]
fn self_intersecting() {
    let (e, msg) = refuse(&polygon(json!([[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]])));
    assert_eq!(e, ZoneError::SelfIntersecting { ring: EXT0 });
    assert_eq!(msg, "exterior ring of polygon 0 is self-intersecting");
    // The second polygon of a MultiPolygon is named.
    let mp = feature_with(
        json!({"type": "MultiPolygon", "coordinates": [square(), [[[5, 5], [6, 6], [6, 5], [5, 6], [5, 5]]]]}),
        json!({"name": "z"}),
    );
    let (e, _) = refuse(&mp);
    assert_eq!(
        e,
        ZoneError::SelfIntersecting {
            ring: RingRef {
                polygon: 1,
                ring: 0
            }
        }
    );
}

#[test]
fn degenerate_ring() {
    let (e, msg) = refuse(&polygon(json!([[[0, 0], [1, 1], [1, 1], [0, 0]]])));
    assert!(
        matches!(
            e,
            ZoneError::DegenerateRing { .. } | ZoneError::SelfIntersecting { .. }
        ),
        "{e:?}"
    );
    assert!(msg.contains("exterior ring of polygon 0"), "{msg}");
}

#[test]
fn hole_outside_exterior() {
    let (e, msg) = refuse(&polygon(json!([
        [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
        [[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]
    ])));
    assert_eq!(
        e,
        ZoneError::HoleOutsideExterior {
            ring: RingRef {
                polygon: 0,
                ring: 1
            }
        }
    );
    assert!(msg.contains("is not inside the exterior ring"), "{msg}");
}

#[test]
fn rings_intersect() {
    let (e, msg) = refuse(&polygon(json!([
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]],
        [[3, 3], [5, 3], [5, 5], [3, 5], [3, 3]]
    ])));
    assert!(matches!(e, ZoneError::RingsIntersect { .. }), "{e:?}");
    assert!(msg.contains("intersect"), "{msg}");
}

#[test]
fn winds_around_the_globe() {
    let (e, msg) = refuse(&polygon(json!([[
        [0, 80],
        [120, 80],
        [-120, 80],
        [0, 80],
        [120, 81],
        [-120, 81],
        [0, 80]
    ]])));
    assert_eq!(e, ZoneError::WindsAroundGlobe { ring: EXT0 });
    assert!(msg.contains("more than once"), "{msg}");
}

#[test]
fn malformed_coordinates() {
    for coords in [
        json!("x"),
        json!([[[0, 0], ["a", 1], [1, 1], [0, 0]]]),
        json!([[1, 2]]),
    ] {
        let (e, msg) = refuse(&polygon(coords));
        assert!(matches!(e, ZoneError::MalformedCoordinates { .. }), "{e:?}");
        assert!(msg.starts_with("malformed coordinates at"), "{msg}");
    }
    let (e, _) = refuse(&feature_with(
        json!({"type": "Polygon"}),
        json!({"name": "z"}),
    ));
    assert!(matches!(e, ZoneError::MalformedCoordinates { .. }));
}

#[test]
fn empty_geometry() {
    let (e, msg) = refuse(&polygon(json!([])));
    assert!(matches!(e, ZoneError::EmptyGeometry { .. }));
    assert!(msg.contains("polygon 0 has no rings"), "{msg}");
    let (e, _) = refuse(&feature_with(
        json!({"type": "MultiPolygon", "coordinates": []}),
        json!({"name": "z"}),
    ));
    assert!(matches!(e, ZoneError::EmptyGeometry { .. }));
}

#[test]
fn too_many_positions() {
    let mut ring: Vec<Value> = (0..10_001)
        .map(|i| json!([f64::from(i) * 1e-5, 0.0]))
        .collect();
    ring.push(json!([0.0, 0.0]));
    let (e, msg) = refuse(&polygon(json!([ring])));
    assert!(
        matches!(
            e,
            ZoneError::TooManyPositions {
                count: 10_002,
                max: 10_000
            }
        ),
        "{e:?}"
    );
    assert!(msg.contains("at most 10000"), "{msg}");
}

#[test]
fn missing_or_bad_name() {
    let (e, msg) = refuse(&props(json!({})));
    assert_eq!(e, ZoneError::MissingName);
    assert_eq!(msg, "properties.name is missing");
    let (e, _) = refuse(&feature_with(
        json!({"type": "Polygon", "coordinates": square()}),
        Value::Null,
    ));
    assert_eq!(e, ZoneError::MissingName);
    for bad in [json!(""), json!("   "), json!(7), json!("x".repeat(201))] {
        let (e, _) = refuse(&props(json!({"name": bad})));
        assert_eq!(e, ZoneError::BadName);
    }
}

#[test]
fn bad_properties_and_reason() {
    let (e, msg) = refuse(&feature_with(
        json!({"type": "Polygon", "coordinates": square()}),
        json!(5),
    ));
    assert!(matches!(e, ZoneError::BadProperties { .. }));
    assert!(
        msg.contains("properties must be an object, found a number"),
        "{msg}"
    );
    let (e, _) = refuse(&props(json!({"name": "z", "reason": 3})));
    assert_eq!(e, ZoneError::BadReason);
}

#[test]
fn bad_buffer_m() {
    for bad in [json!(-1), json!("10"), json!(10_000.5), json!(true)] {
        let (e, msg) = refuse(&props(json!({"name": "z", "buffer_m": bad})));
        assert!(matches!(e, ZoneError::BadBufferM { .. }), "{e:?}");
        assert!(
            msg.starts_with("properties.buffer_m must be a number from 0 to 10000"),
            "{msg}"
        );
    }
    let ok = parse_zone_feature(&props(json!({"name": "z", "buffer_m": 25}))).unwrap();
    assert_eq!(ok.buffer_m, 25.0);
}

#[test]
fn bad_expires_at() {
    for bad in [json!(-5), json!(0), json!(1.5), json!("tomorrow")] {
        let (e, msg) = refuse(&props(json!({"name": "z", "expires_at": bad})));
        assert!(matches!(e, ZoneError::BadExpiresAt { .. }), "{e:?}");
        assert!(
            msg.starts_with("properties.expires_at must be a unix time in seconds"),
            "{msg}"
        );
    }
    let ok = parse_zone_feature(&props(json!({"name": "z", "expires_at": 1_900_000_000}))).unwrap();
    assert_eq!(ok.expires_at, Some(1_900_000_000));
}

#[test]
fn collection_names_the_bad_feature() {
    let good = polygon(square());
    let bad = polygon(json!([[[0, 0], [1, 0], [0, 0]]]));
    let fc = json!({"type": "FeatureCollection", "features": [good.clone(), bad, good.clone()]});
    let e = parse_zone_collection(&fc).unwrap_err();
    assert!(matches!(&e, ZoneError::InFeature { index: 1, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "feature 1: exterior ring of polygon 0 has 3 positions, a ring needs at least 4"
    );

    let ok = parse_zone_collection(
        &json!({"type": "FeatureCollection", "features": [good.clone(), good]}),
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    assert!(
        parse_zone_collection(&json!({"type": "FeatureCollection", "features": []}))
            .unwrap()
            .is_empty()
    );

    let e = parse_zone_collection(&polygon(square())).unwrap_err();
    assert!(matches!(e, ZoneError::NotAFeatureCollection { .. }));
    assert!(
        e.to_string()
            .contains("expected a geojson FeatureCollection")
    );

    let many: Vec<Value> = vec![Value::Null; 100_001];
    let e =
        parse_zone_collection(&json!({"type": "FeatureCollection", "features": many})).unwrap_err();
    assert!(matches!(e, ZoneError::TooManyFeatures { .. }));
}

#[test]
fn valid_shapes_are_accepted() {
    // A polygon with a hole, a MultiPolygon, one crossing the antimeridian, and one round a pole.
    let with_hole = polygon(json!([
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]
    ]));
    assert_eq!(
        parse_zone_feature(&with_hole).unwrap().geometry.0[0]
            .interiors()
            .len(),
        1
    );
    let across = polygon(json!([[
        [179.5, -1],
        [-179.5, -1],
        [-179.5, 1],
        [179.5, 1],
        [179.5, -1]
    ]]));
    parse_zone_feature(&across).unwrap();
    let pole = polygon(json!([[
        [0, -89],
        [-90, -89],
        [180, -89],
        [90, -89],
        [0, -89]
    ]]));
    parse_zone_feature(&pole).unwrap();
}
