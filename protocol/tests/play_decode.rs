//! Strict decoding of `/v1/play` client frames: every message type from a
//! real frame, and every way a frame can be wrong.

use protocol::play::{ClientMessage, LocationUpdate};
use protocol::{DecodeError, DecodeErrorKind as K, ErrorCode, MAX_ID_LEN};

fn ok(text: &str) -> ClientMessage {
    ClientMessage::decode(text).unwrap_or_else(|e| panic!("{text} should decode: {e:?}"))
}

fn err(text: &str) -> DecodeError {
    match ClientMessage::decode(text) {
        Ok(m) => panic!("{text} should be refused, got {m:?}"),
        Err(e) => e,
    }
}

fn out_of_range(text: &str, field: &str) -> DecodeError {
    let e = err(text);
    match &e.kind {
        K::OutOfRange { field: f, .. } => assert_eq!(*f, field, "{text}"),
        other => panic!("{text}: expected OutOfRange({field}), got {other:?}"),
    }
    e
}

fn is_json(e: &DecodeError) -> bool {
    matches!(e.kind, K::Json(_))
}

#[test]
fn hello_decodes() {
    let m = ok(r#"{"type":"hello","token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}"#);
    assert_eq!(
        m,
        ClientMessage::Hello {
            token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into()
        }
    );
    assert_eq!(m.kind(), "hello");
    assert_eq!(m.seq(), None);
}

#[test]
fn full_location_decodes() {
    let m = ok(
        r#"{"type":"location","seq":17,"lat":47.6168,"lon":-122.0355,"heading":92.5,"speed":1.4,"accuracy":6.0}"#,
    );
    assert_eq!(
        m,
        ClientMessage::Location(LocationUpdate {
            seq: Some(17),
            lat: 47.6168,
            lon: -122.0355,
            heading: Some(92.5),
            speed: Some(1.4),
            accuracy: Some(6.0),
        })
    );
    assert_eq!(m.seq(), Some(17));
    assert_eq!(m.kind(), "location");
}

#[test]
fn minimal_location_decodes_with_optionals_absent() {
    let m = ok(r#"{"type":"location","lat":0,"lon":0}"#);
    assert_eq!(
        m,
        ClientMessage::Location(LocationUpdate {
            seq: None,
            lat: 0.0,
            lon: 0.0,
            heading: None,
            speed: None,
            accuracy: None,
        })
    );
}

#[test]
fn explicit_null_optional_is_absent() {
    let m = ok(r#"{"type":"location","seq":1,"lat":1,"lon":2,"heading":null}"#);
    let ClientMessage::Location(l) = m else {
        panic!("not a location")
    };
    assert_eq!(l.heading, None);
}

#[test]
fn request_messages_decode() {
    let cases = [
        (
            r#"{"type":"catch","seq":18,"creature_id":"c-8f2a"}"#,
            ClientMessage::Catch {
                seq: Some(18),
                creature_id: "c-8f2a".into(),
            },
        ),
        (
            r#"{"type":"spin","seq":19,"poi_id":"poi-blackbird"}"#,
            ClientMessage::Spin {
                seq: Some(19),
                poi_id: "poi-blackbird".into(),
            },
        ),
        (
            r#"{"type":"collection","seq":20}"#,
            ClientMessage::Collection { seq: Some(20) },
        ),
        (
            r#"{"type":"join_session","seq":21,"session_token":"abc.def.ghi"}"#,
            ClientMessage::JoinSession {
                seq: Some(21),
                session_token: "abc.def.ghi".into(),
            },
        ),
        (
            r#"{"type":"attack","seq":22}"#,
            ClientMessage::Attack { seq: Some(22) },
        ),
        (
            r#"{"type":"raid_catch","seq":23}"#,
            ClientMessage::RaidCatch { seq: Some(23) },
        ),
        (
            r#"{"type":"leave_session","seq":24}"#,
            ClientMessage::LeaveSession { seq: Some(24) },
        ),
        (
            r#"{"type":"ping","seq":25}"#,
            ClientMessage::Ping { seq: Some(25) },
        ),
        (r#"{"type":"ping"}"#, ClientMessage::Ping { seq: None }),
    ];
    for (text, want) in cases {
        let got = ok(text);
        assert_eq!(got, want, "{text}");
        // The `type` on the wire is what `kind()` reports for metrics.
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["type"], got.kind());
    }
}

#[test]
fn escaped_strings_are_unescaped() {
    let m = ok(r#"{"type":"catch","seq":1,"creature_id":"a\"b\\c\u00e9"}"#);
    assert_eq!(
        m,
        ClientMessage::Catch {
            seq: Some(1),
            creature_id: "a\"b\\cé".into()
        }
    );
}

#[test]
fn unknown_extra_fields_are_ignored() {
    let m = ok(
        r#"{"type":"catch","seq":5,"creature_id":"c1","ball":"ultra","meta":{"a":[1,2,{"b":null}]},"x":1e400}"#,
    );
    assert_eq!(
        m,
        ClientMessage::Catch {
            seq: Some(5),
            creature_id: "c1".into()
        }
    );
}

#[test]
fn malformed_json_is_json_error_without_seq() {
    for text in ["not json", r#"{"type":"location","seq":1,"#, "", "{", "{}}"] {
        let e = err(text);
        assert!(is_json(&e), "{text}: {e:?}");
        assert_eq!(e.seq, None, "{text}");
        assert_eq!(e.code(), ErrorCode::InvalidMessage);
    }
}

#[test]
fn non_object_json_is_refused() {
    for text in ["[1,2]", r#""location""#, "42", "null", "true", "[]"] {
        let e = err(text);
        assert!(is_json(&e), "{text}: {e:?}");
        assert_eq!(e.seq, None);
    }
}

#[test]
fn unknown_type_is_named_and_seq_echoed() {
    let e = err(r#"{"type":"teleport","seq":3}"#);
    assert_eq!(e.kind, K::UnknownType("teleport".into()));
    assert_eq!(e.seq, Some(3));
    // Lobby-only types are unknown on the play socket.
    let e = err(r#"{"type":"queue","seq":4,"mode":"raid"}"#);
    assert_eq!(e.kind, K::UnknownType("queue".into()));
}

#[test]
fn huge_unknown_type_is_truncated_in_the_error() {
    let ty = "x".repeat(10_000);
    let e = err(&format!(r#"{{"type":"{ty}"}}"#));
    match e.kind {
        K::UnknownType(t) => assert_eq!(t.len(), 64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_type_echoes_seq() {
    let e = err(r#"{"seq":4,"lat":1,"lon":2}"#);
    assert_eq!(e.kind, K::MissingType);
    assert_eq!(e.seq, Some(4));
    assert_eq!(err("{}").kind, K::MissingType);
}

#[test]
fn type_of_wrong_json_type_is_json_error() {
    let e = err(r#"{"type":5,"seq":6}"#);
    assert!(is_json(&e));
    assert_eq!(e.seq, Some(6));
}

#[test]
fn missing_fields_are_named() {
    let cases = [
        (r#"{"type":"hello"}"#, "hello", "token"),
        (r#"{"type":"location","seq":1,"lon":2}"#, "location", "lat"),
        (r#"{"type":"location","seq":1,"lat":2}"#, "location", "lon"),
        (r#"{"type":"catch","seq":1}"#, "catch", "creature_id"),
        (r#"{"type":"spin","seq":1}"#, "spin", "poi_id"),
        (
            r#"{"type":"join_session","seq":1}"#,
            "join_session",
            "session_token",
        ),
        (
            r#"{"type":"location","seq":1,"lat":null,"lon":2}"#,
            "location",
            "lat",
        ),
    ];
    for (text, ty, field) in cases {
        let e = err(text);
        assert_eq!(e.kind, K::MissingField { ty, field }, "{text}");
        if ty != "hello" {
            assert_eq!(e.seq, Some(1), "{text}");
        }
    }
}

#[test]
fn latitude_out_of_range() {
    let e = out_of_range(
        r#"{"type":"location","seq":9,"lat":90.0001,"lon":0}"#,
        "lat",
    );
    assert_eq!(e.seq, Some(9));
    out_of_range(r#"{"type":"location","seq":9,"lat":-91,"lon":0}"#, "lat");
    // The poles themselves are places.
    ok(r#"{"type":"location","lat":90,"lon":0}"#);
    ok(r#"{"type":"location","lat":-90,"lon":0}"#);
}

#[test]
fn longitude_out_of_range() {
    let e = out_of_range(r#"{"type":"location","seq":10,"lat":0,"lon":181}"#, "lon");
    assert_eq!(e.seq, Some(10));
    out_of_range(r#"{"type":"location","lat":0,"lon":-180.5}"#, "lon");
    ok(r#"{"type":"location","lat":0,"lon":180}"#);
    ok(r#"{"type":"location","lat":0,"lon":-180}"#);
}

#[test]
fn heading_must_be_in_zero_to_360() {
    out_of_range(
        r#"{"type":"location","seq":1,"lat":0,"lon":0,"heading":360}"#,
        "heading",
    );
    out_of_range(
        r#"{"type":"location","seq":1,"lat":0,"lon":0,"heading":-1}"#,
        "heading",
    );
    ok(r#"{"type":"location","lat":0,"lon":0,"heading":0}"#);
    ok(r#"{"type":"location","lat":0,"lon":0,"heading":359.999}"#);
}

#[test]
fn negative_speed_or_accuracy_is_refused() {
    out_of_range(
        r#"{"type":"location","seq":1,"lat":0,"lon":0,"speed":-0.1}"#,
        "speed",
    );
    out_of_range(
        r#"{"type":"location","seq":1,"lat":0,"lon":0,"accuracy":-5}"#,
        "accuracy",
    );
    ok(r#"{"type":"location","lat":0,"lon":0,"speed":0,"accuracy":0}"#);
}

#[test]
fn wrong_json_type_is_json_error_with_seq() {
    for text in [
        r#"{"type":"location","seq":11,"lat":"47.6","lon":0}"#,
        r#"{"type":"catch","seq":11,"creature_id":42}"#,
        r#"{"type":"location","seq":11,"lat":1,"lon":2,"speed":true}"#,
    ] {
        let e = err(text);
        assert!(is_json(&e), "{text}: {e:?}");
        assert_eq!(e.seq, Some(11), "{text}");
    }
}

#[test]
fn huge_exponent_is_refused_with_seq() {
    let e = err(r#"{"type":"location","seq":12,"lat":1e400,"lon":0}"#);
    assert!(is_json(&e), "{e:?}");
    assert_eq!(e.seq, Some(12));
    let e = err(r#"{"type":"location","seq":12,"lat":0,"lon":-1e400}"#);
    assert!(is_json(&e), "{e:?}");
}

#[test]
fn unreadable_seq_is_not_echoed() {
    for text in [
        r#"{"type":"ping","seq":-1}"#,
        r#"{"type":"ping","seq":"7"}"#,
        r#"{"type":"ping","seq":1.5}"#,
    ] {
        let e = err(text);
        assert!(is_json(&e), "{text}");
        assert_eq!(e.seq, None, "{text}");
    }
}

#[test]
fn seq_is_echoed_when_a_later_field_is_bad() {
    // `seq` comes first on the wire here, and the bad field after it.
    let e = err(r#"{"type":"location","seq":13,"lat":0,"lon":0,"heading":400}"#);
    assert_eq!(e.seq, Some(13));
    let e = err(r#"{"seq":14,"type":"catch","creature_id":""}"#);
    assert_eq!(e.seq, Some(14));
    // And when `seq` comes last, after the bad field.
    let e = err(r#"{"type":"location","lat":95,"lon":0,"seq":15}"#);
    assert_eq!(e.seq, Some(15));
}

#[test]
fn ids_must_be_1_to_max_bytes() {
    let e = err(r#"{"type":"catch","seq":2,"creature_id":""}"#);
    assert_eq!(
        e.kind,
        K::BadLength {
            field: "creature_id",
            max: MAX_ID_LEN
        }
    );
    let long = "c".repeat(MAX_ID_LEN + 1);
    let e = err(&format!(r#"{{"type":"spin","seq":2,"poi_id":"{long}"}}"#));
    assert_eq!(
        e.kind,
        K::BadLength {
            field: "poi_id",
            max: MAX_ID_LEN
        }
    );
    let e = err(r#"{"type":"hello","token":""}"#);
    assert!(matches!(e.kind, K::BadLength { field: "token", .. }));
    let e = err(r#"{"type":"join_session","seq":3,"session_token":""}"#);
    assert!(matches!(
        e.kind,
        K::BadLength {
            field: "session_token",
            ..
        }
    ));
    let exact = "c".repeat(MAX_ID_LEN);
    ok(&format!(r#"{{"type":"catch","creature_id":"{exact}"}}"#));
}

#[test]
fn duplicate_field_is_refused() {
    let e = err(r#"{"type":"location","seq":1,"lat":1,"lat":2,"lon":0}"#);
    assert!(is_json(&e), "{e:?}");
}

#[test]
fn error_messages_are_lowercase_and_name_the_field() {
    let e = err(r#"{"type":"location","seq":1,"lat":0,"lon":0,"heading":360}"#);
    assert_eq!(
        e.to_string(),
        "field `heading` out of range: must be within [0, 360)"
    );
    let e = err(r#"{"type":"catch"}"#);
    assert_eq!(e.to_string(), "`catch` needs field `creature_id`");
}
