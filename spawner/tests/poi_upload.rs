//! POI uploads (`POST /v1/admin/pois`, the world file) read feature by
//! feature: what is accepted, each refusal's words, and the bounds that
//! keep a hostile body from costing memory.

use serde_json::{Value, json};
use spawner::{Poi, PoiError, parse_pois_json, pois_to_feature_collection};

fn point(name: &str, lon: f64, lat: f64) -> Value {
    json!({"type": "Feature", "properties": {"name": name},
           "geometry": {"type": "Point", "coordinates": [lon, lat]}})
}

fn parse(v: &Value) -> Result<Vec<spawner::PoiSpec>, PoiError> {
    parse_pois_json(v.to_string().as_bytes())
}

#[test]
fn a_feature_and_a_collection_are_read_with_their_properties() {
    let one = parse(&point("Cafe", -122.0, 47.6)).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        (one[0].name.as_str(), one[0].lat, one[0].lon),
        ("Cafe", 47.6, -122.0)
    );
    assert_eq!(one[0].weight, 1.0);
    // Members come in any order, and unknown ones are skipped.
    let body = r#"{"features": [
        {"geometry": {"coordinates": [1, 2, 30], "type": "Point"}, "id": 7,
         "properties": {"name": "A", "weight": 2.5, "sponsor": "Acme", "extra": [1, 2]},
         "type": "Feature"},
        {"type": "Feature", "properties": {"name": "B", "id": "b-1"},
         "geometry": {"type": "Point", "coordinates": [3, 4]}}],
        "bbox": [0, 0, 5, 5], "type": "FeatureCollection"}"#;
    let specs = parse_pois_json(body.as_bytes()).unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].id.as_deref(), Some("7"));
    assert_eq!(
        (specs[0].weight, specs[0].sponsor.as_deref()),
        (2.5, Some("Acme"))
    );
    assert_eq!((specs[1].id.as_deref(), specs[1].lat), (Some("b-1"), 4.0));
}

#[test]
fn what_is_written_out_reads_back_the_same() {
    let pois = vec![
        Poi {
            id: "p1".into(),
            name: "Café \"Ü\"".into(),
            lat: 47.61598,
            lon: -122.03412,
            weight: 3.0,
            sponsor: Some("Starbucks".into()),
        },
        Poi {
            id: "p2".into(),
            name: "Park".into(),
            lat: -33.9,
            lon: 151.2,
            weight: 0.5,
            sponsor: None,
        },
    ];
    let text = serde_json::to_string(&pois_to_feature_collection(&pois)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["features"][1]["properties"]["sponsor"], Value::Null);
    assert_eq!(
        v["features"][0]["geometry"]["coordinates"],
        json!([-122.03412, 47.61598])
    );
    let back: Vec<Poi> = parse_pois_json(text.as_bytes())
        .unwrap()
        .into_iter()
        .map(spawner::PoiSpec::into_poi)
        .collect();
    assert_eq!(back, pois);
}

#[test]
fn each_refusal_says_what_is_wrong() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{not json", "malformed json"),
        (b"[1, 2]", "found an array"),
        (b"\"x\"", "found a string"),
        (br#"{"type": "Polygon"}"#, "found type \"Polygon\""),
        (
            br#"{"type": "FeatureCollection", "features": 5}"#,
            "found type \"FeatureCollection\"",
        ),
        (
            br#"{"type": "FeatureCollection"}"#,
            "found type \"FeatureCollection\"",
        ),
        (br#"{"name": "no type"}"#, "found an object"),
    ];
    for (body, words) in cases {
        let e = parse_pois_json(body).unwrap_err().to_string();
        assert!(e.contains(words), "{}: {e}", String::from_utf8_lossy(body));
    }
    let mut bad = point("B", 0.0, 95.0);
    let fc = json!({"type": "FeatureCollection", "features": [point("A", 0.0, 0.0), bad.take()]});
    let e = parse(&fc).unwrap_err().to_string();
    assert!(
        e.starts_with("feature 1: ") && e.contains("latitude 95"),
        "{e}"
    );
}

#[test]
fn a_collection_over_the_limit_is_counted_not_kept() {
    let feature = point("P", 1.0, 2.0).to_string();
    let n = 100_001;
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        vec![feature.as_str(); n].join(",")
    );
    match parse_pois_json(body.as_bytes()) {
        Err(PoiError::TooManyFeatures { count, max }) => assert_eq!((count, max), (n, 100_000)),
        other => panic!("{other:?}"),
    }
    // The limit itself passes.
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        vec![feature.as_str(); 100_000].join(",")
    );
    assert_eq!(parse_pois_json(body.as_bytes()).unwrap().len(), 100_000);
}

#[test]
fn one_huge_feature_is_refused_before_it_is_parsed() {
    // A Point whose coordinates carry a million extra numbers.
    let extra = vec!["0"; 1_000_000].join(",");
    let huge = format!(
        r#"{{"type":"Feature","properties":{{"name":"X"}},"geometry":{{"type":"Point","coordinates":[1,2,{extra}]}}}}"#
    );
    let e = parse_pois_json(huge.as_bytes()).unwrap_err();
    assert!(
        matches!(e, PoiError::FeatureTooLarge { max: 16384, .. }),
        "{e:?}"
    );
    let fc = format!(r#"{{"type":"FeatureCollection","features":[{huge}]}}"#);
    let e = parse_pois_json(fc.as_bytes()).unwrap_err().to_string();
    assert!(e.starts_with("feature 0: feature is "), "{e}");
}
