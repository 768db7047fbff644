//! The `/v1/lobby` messages: strict decoding of client frames and the
//! contract shape of the matchmaker's replies and pushes.

use std::collections::BTreeSet;

use protocol::lobby::{LobbyClientMessage, LobbyServerMessage, Mode, QueueRequest};
use protocol::{DecodeError, DecodeErrorKind as K, ErrorCode, MAX_ID_LEN, PROTOCOL_VERSION};
use serde_json::{Value, json};

fn ok(text: &str) -> LobbyClientMessage {
    LobbyClientMessage::decode(text).unwrap_or_else(|e| panic!("{text} should decode: {e:?}"))
}

fn err(text: &str) -> DecodeError {
    match LobbyClientMessage::decode(text) {
        Ok(m) => panic!("{text} should be refused, got {m:?}"),
        Err(e) => e,
    }
}

fn value(msg: &LobbyServerMessage) -> Value {
    let text = msg.encode();
    assert_eq!(&LobbyServerMessage::decode(&text).unwrap(), msg, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn party(n: usize) -> String {
    let ids: Vec<String> = (0..n).map(|i| format!("\"p{i}\"")).collect();
    format!("[{}]", ids.join(","))
}

#[test]
fn raid_queue_decodes() {
    let m = ok(
        r#"{"type":"queue","seq":2,"mode":"raid","poi_id":"poi-1","lat":47.6,"lon":-122.03,"level":12,"party":["p2","p3"]}"#,
    );
    assert_eq!(
        m,
        LobbyClientMessage::Queue(QueueRequest {
            seq: Some(2),
            mode: Mode::Raid,
            poi_id: Some("poi-1".into()),
            lat: 47.6,
            lon: -122.03,
            level: Some(12),
            party: vec!["p2".into(), "p3".into()],
        })
    );
    assert_eq!(m.seq(), Some(2));
}

#[test]
fn pvp_queue_needs_no_poi() {
    let m = ok(r#"{"type":"queue","seq":3,"mode":"pvp","lat":1,"lon":2}"#);
    assert_eq!(
        m,
        LobbyClientMessage::Queue(QueueRequest {
            seq: Some(3),
            mode: Mode::Pvp,
            poi_id: None,
            lat: 1.0,
            lon: 2.0,
            level: None,
            party: vec![],
        })
    );
}

#[test]
fn hello_cancel_ping_decode() {
    assert_eq!(
        ok(r#"{"type":"hello","token":"t"}"#),
        LobbyClientMessage::Hello { token: "t".into() }
    );
    assert_eq!(
        ok(r#"{"type":"cancel","seq":4,"ticket_id":"tk-1"}"#),
        LobbyClientMessage::Cancel {
            seq: Some(4),
            ticket_id: "tk-1".into()
        }
    );
    assert_eq!(
        ok(r#"{"type":"ping","seq":5}"#),
        LobbyClientMessage::Ping { seq: Some(5) }
    );
}

#[test]
fn raid_without_poi_is_missing_field() {
    let e = err(r#"{"type":"queue","seq":6,"mode":"raid","lat":1,"lon":2}"#);
    assert_eq!(
        e.kind,
        K::MissingField {
            ty: "queue",
            field: "poi_id"
        }
    );
    assert_eq!(e.seq, Some(6));
}

#[test]
fn bad_or_missing_mode() {
    let e = err(r#"{"type":"queue","seq":7,"mode":"coop","poi_id":"x","lat":1,"lon":2}"#);
    assert!(
        matches!(e.kind, K::OutOfRange { field: "mode", .. }),
        "{e:?}"
    );
    assert_eq!(e.seq, Some(7));
    let e = err(r#"{"type":"queue","seq":7,"poi_id":"x","lat":1,"lon":2}"#);
    assert_eq!(
        e.kind,
        K::MissingField {
            ty: "queue",
            field: "mode"
        }
    );
    // Mode names are case-sensitive.
    let e = err(r#"{"type":"queue","mode":"Raid","poi_id":"x","lat":1,"lon":2}"#);
    assert!(matches!(e.kind, K::OutOfRange { field: "mode", .. }));
}

#[test]
fn party_size_is_capped() {
    let e = err(&format!(
        r#"{{"type":"queue","seq":8,"mode":"raid","poi_id":"x","lat":1,"lon":2,"party":{}}}"#,
        party(33)
    ));
    assert!(
        matches!(e.kind, K::OutOfRange { field: "party", .. }),
        "{e:?}"
    );
    assert_eq!(e.seq, Some(8));
    let m = ok(&format!(
        r#"{{"type":"queue","mode":"raid","poi_id":"x","lat":1,"lon":2,"party":{}}}"#,
        party(32)
    ));
    let LobbyClientMessage::Queue(q) = m else {
        panic!("not a queue")
    };
    assert_eq!(q.party.len(), 32);
}

#[test]
fn party_ids_and_other_ids_have_lengths() {
    let e = err(r#"{"type":"queue","mode":"raid","poi_id":"x","lat":1,"lon":2,"party":["p1",""]}"#);
    assert_eq!(
        e.kind,
        K::BadLength {
            field: "party",
            max: MAX_ID_LEN
        }
    );
    let e = err(r#"{"type":"queue","mode":"raid","poi_id":"","lat":1,"lon":2}"#);
    assert!(matches!(
        e.kind,
        K::BadLength {
            field: "poi_id",
            ..
        }
    ));
    // A pvp ticket may name a place, but then the id must be sane too.
    let e = err(r#"{"type":"queue","mode":"pvp","poi_id":"","lat":1,"lon":2}"#);
    assert!(matches!(
        e.kind,
        K::BadLength {
            field: "poi_id",
            ..
        }
    ));
    let e = err(r#"{"type":"cancel","seq":1,"ticket_id":""}"#);
    assert!(matches!(
        e.kind,
        K::BadLength {
            field: "ticket_id",
            ..
        }
    ));
    let e = err(r#"{"type":"cancel","seq":1}"#);
    assert_eq!(
        e.kind,
        K::MissingField {
            ty: "cancel",
            field: "ticket_id"
        }
    );
}

#[test]
fn queue_position_is_range_checked() {
    let e = err(r#"{"type":"queue","seq":9,"mode":"pvp","lat":-91,"lon":2}"#);
    assert!(matches!(e.kind, K::OutOfRange { field: "lat", .. }));
    assert_eq!(e.seq, Some(9));
    let e = err(r#"{"type":"queue","mode":"pvp","lat":0,"lon":181}"#);
    assert!(matches!(e.kind, K::OutOfRange { field: "lon", .. }));
    let e = err(r#"{"type":"queue","mode":"pvp","lat":0}"#);
    assert_eq!(
        e.kind,
        K::MissingField {
            ty: "queue",
            field: "lon"
        }
    );
    let e = err(r#"{"type":"queue","seq":10,"mode":"pvp","lat":0,"lon":0,"level":-1}"#);
    assert!(matches!(e.kind, K::Json(_)));
    assert_eq!(e.seq, Some(10));
}

#[test]
fn play_types_are_unknown_in_the_lobby() {
    let e = err(r#"{"type":"location","seq":1,"lat":0,"lon":0}"#);
    assert_eq!(e.kind, K::UnknownType("location".into()));
    assert_eq!(e.seq, Some(1));
    assert_eq!(err(r#"{"seq":2}"#).kind, K::MissingType);
    assert!(matches!(err("[]").kind, K::Json(_)));
    assert!(matches!(err("{").kind, K::Json(_)));
}

#[test]
fn extra_fields_are_ignored() {
    let m = ok(r#"{"type":"ping","seq":1,"client":"ios","tags":[1,{"a":2}]}"#);
    assert_eq!(m, LobbyClientMessage::Ping { seq: Some(1) });
}

#[test]
fn mode_as_str_matches_wire() {
    for m in [Mode::Raid, Mode::Pvp] {
        assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
    }
}

#[test]
fn server_messages_have_contract_shape() {
    let v = value(&LobbyServerMessage::Welcome {
        player_id: "p1".into(),
        server_id: "mm-1".into(),
        protocol: PROTOCOL_VERSION,
    });
    assert_eq!(
        v,
        json!({"type": "welcome", "player_id": "p1", "server_id": "mm-1", "protocol": 1})
    );
    let v = value(&LobbyServerMessage::Queued {
        seq: Some(2),
        ticket_id: "tk-1".into(),
    });
    assert_eq!(v, json!({"type": "queued", "seq": 2, "ticket_id": "tk-1"}));
    let v = value(&LobbyServerMessage::Cancelled {
        seq: Some(3),
        ticket_id: "tk-1".into(),
    });
    assert_eq!(
        v,
        json!({"type": "cancelled", "seq": 3, "ticket_id": "tk-1"})
    );
    let v = value(&LobbyServerMessage::MatchFound {
        ticket_id: "tk-1".into(),
        session_id: "s-1".into(),
        players: vec!["p1".into(), "p2".into()],
        server: "ws://127.0.0.1:8080/v1/play".into(),
        session_token: "a.b.c".into(),
    });
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "type",
            "ticket_id",
            "session_id",
            "players",
            "server",
            "session_token"
        ])
    );
    assert_eq!(v["type"], "match_found");
    assert_eq!(v["players"], json!(["p1", "p2"]));
    let v = value(&LobbyServerMessage::Expired {
        ticket_id: "tk-1".into(),
    });
    assert_eq!(v, json!({"type": "expired", "ticket_id": "tk-1"}));
    let v = value(&LobbyServerMessage::Pong { seq: None });
    assert_eq!(v, json!({"type": "pong"}));
    let v = value(&LobbyServerMessage::error(
        Some(4),
        ErrorCode::TooFar,
        "beyond the raid radius",
    ));
    assert_eq!(
        v,
        json!({"type": "error", "seq": 4, "code": "too_far", "message": "beyond the raid radius"})
    );
}
