//! Every `/v1/play` server message encodes to exactly the field names of
//! the public contract.

use std::collections::{BTreeMap, BTreeSet};

use protocol::play::{
    BossView, CatchOutcome, CollectedCreature, CreatureView, DespawnReason, PoiView, Rarity,
    ServerMessage, SessionOutcome, SpinOutcome,
};
use protocol::{ErrorCode, PROTOCOL_VERSION};
use serde_json::{Value, json};

fn value(msg: &ServerMessage) -> Value {
    let text = msg.encode();
    // Every frame is one JSON object, and it decodes back to itself.
    assert_eq!(&ServerMessage::decode(&text).unwrap(), msg, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

fn creature(id: &str, distance_m: f64) -> CreatureView {
    CreatureView {
        id: id.into(),
        species: "sprigling".into(),
        rarity: Rarity::Uncommon,
        lat: 47.6171,
        lon: -122.0352,
        distance_m,
        bearing_deg: 31.0,
        expires_at: 1_795_000_000,
    }
}

#[test]
fn welcome_carries_protocol_version() {
    let v = value(&ServerMessage::Welcome {
        player_id: "p1".into(),
        server_id: "gs-1".into(),
        protocol: PROTOCOL_VERSION,
    });
    assert_eq!(
        keys(&v),
        set(&["type", "player_id", "server_id", "protocol"])
    );
    assert_eq!(v["type"], "welcome");
    assert_eq!(v["protocol"], 1);
}

#[test]
fn nearby_has_contract_shape() {
    let v = value(&ServerMessage::Nearby {
        seq: Some(7),
        creatures: vec![creature("c1", 12.5), creature("c2", 80.0)],
        pois: vec![
            PoiView {
                id: "poi1".into(),
                name: "Coffee".into(),
                lat: 47.6,
                lon: -122.0,
                distance_m: 40.0,
                sponsor: Some("Beans Inc".into()),
            },
            PoiView {
                id: "poi2".into(),
                name: "Grocery".into(),
                lat: 47.61,
                lon: -122.01,
                distance_m: 150.0,
                sponsor: None,
            },
        ],
    });
    assert_eq!(keys(&v), set(&["type", "seq", "creatures", "pois"]));
    assert_eq!(v["type"], "nearby");
    assert_eq!(v["seq"], 7);
    let c = &v["creatures"][0];
    assert_eq!(
        keys(c),
        set(&[
            "id",
            "species",
            "rarity",
            "lat",
            "lon",
            "distance_m",
            "bearing_deg",
            "expires_at"
        ])
    );
    assert_eq!(c["id"], "c1");
    assert_eq!(c["rarity"], "uncommon");
    assert_eq!(c["distance_m"], 12.5);
    assert_eq!(c["expires_at"], 1_795_000_000i64);
    assert_eq!(v["creatures"][1]["id"], "c2");
    let p = &v["pois"][0];
    assert_eq!(
        keys(p),
        set(&["id", "name", "lat", "lon", "distance_m", "sponsor"])
    );
    assert_eq!(p["sponsor"], "Beans Inc");
    // An unsponsored POI has no `sponsor` key at all, not `null`.
    assert_eq!(
        keys(&v["pois"][1]),
        set(&["id", "name", "lat", "lon", "distance_m"])
    );
}

#[test]
fn empty_nearby_keeps_empty_arrays() {
    let v = value(&ServerMessage::Nearby {
        seq: None,
        creatures: vec![],
        pois: vec![],
    });
    assert_eq!(v, json!({"type": "nearby", "creatures": [], "pois": []}));
}

#[test]
fn catch_result_outcomes() {
    for (outcome, wire) in [
        (CatchOutcome::Caught, "caught"),
        (CatchOutcome::Fled, "fled"),
        (CatchOutcome::Gone, "gone"),
        (CatchOutcome::TooFar, "too_far"),
    ] {
        let v = value(&ServerMessage::CatchResult {
            seq: Some(3),
            creature_id: "c1".into(),
            outcome,
        });
        assert_eq!(
            v,
            json!({"type": "catch_result", "seq": 3, "creature_id": "c1", "outcome": wire})
        );
    }
}

#[test]
fn spin_result_outcomes_and_items() {
    let items = BTreeMap::from([("ball".to_string(), 3u32), ("berry".to_string(), 1)]);
    let v = value(&ServerMessage::SpinResult {
        seq: Some(4),
        poi_id: "poi1".into(),
        outcome: SpinOutcome::Ok,
        items,
    });
    assert_eq!(
        v,
        json!({"type": "spin_result", "seq": 4, "poi_id": "poi1", "outcome": "ok",
               "items": {"ball": 3, "berry": 1}})
    );
    for (outcome, wire) in [
        (SpinOutcome::Cooldown, "cooldown"),
        (SpinOutcome::TooFar, "too_far"),
    ] {
        let v = value(&ServerMessage::SpinResult {
            seq: None,
            poi_id: "poi1".into(),
            outcome,
            items: BTreeMap::new(),
        });
        assert_eq!(v["outcome"], wire);
        assert_eq!(v["items"], json!({}));
        assert!(v.get("seq").is_none());
    }
}

#[test]
fn despawn_reasons() {
    for (reason, wire) in [
        (DespawnReason::Caught, "caught"),
        (DespawnReason::Expired, "expired"),
        (DespawnReason::Excluded, "excluded"),
    ] {
        let v = value(&ServerMessage::Despawn {
            creature_id: "c9".into(),
            reason,
        });
        assert_eq!(
            v,
            json!({"type": "despawn", "creature_id": "c9", "reason": wire})
        );
    }
}

#[test]
fn collection_shape() {
    let v = value(&ServerMessage::Collection {
        seq: Some(5),
        creatures: vec![CollectedCreature {
            id: "c1".into(),
            species: "sprigling".into(),
            rarity: Rarity::Legendary,
            caught_at: 1_795_000_100,
        }],
        items: BTreeMap::from([("ball".to_string(), 12u64)]),
    });
    assert_eq!(keys(&v), set(&["type", "seq", "creatures", "items"]));
    assert_eq!(v["type"], "collection");
    assert_eq!(
        v["creatures"][0],
        json!({"id": "c1", "species": "sprigling", "rarity": "legendary", "caught_at": 1_795_000_100i64})
    );
    assert_eq!(v["items"], json!({"ball": 12}));
}

#[test]
fn error_codes_on_the_wire() {
    let codes = [
        (ErrorCode::InvalidMessage, "invalid_message"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::TooFast, "too_fast"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::Unavailable, "unavailable"),
        (ErrorCode::Internal, "internal"),
        (ErrorCode::TooFar, "too_far"),
        (ErrorCode::Conflict, "conflict"),
    ];
    for (code, wire) in codes {
        let v = value(&ServerMessage::error(Some(8), code, "why"));
        assert_eq!(
            v,
            json!({"type": "error", "seq": 8, "code": wire, "message": "why"})
        );
        assert_eq!(code.as_str(), wire);
        assert_eq!(code.to_string(), wire);
    }
    // Without a readable seq the key is absent.
    let v = value(&ServerMessage::error(None, ErrorCode::InvalidMessage, "x"));
    assert_eq!(keys(&v), set(&["type", "code", "message"]));
}

#[test]
fn session_messages_shape() {
    let boss = BossView {
        species: "thunderhoof".into(),
        rarity: Rarity::Epic,
        hp: 900,
        max_hp: 1000,
    };
    let v = value(&ServerMessage::SessionJoined {
        seq: Some(1),
        session_id: "s1".into(),
        boss,
        members: vec!["p1".into(), "p2".into()],
        ends_at: 1_795_000_300,
    });
    assert_eq!(
        keys(&v),
        set(&["type", "seq", "session_id", "boss", "members", "ends_at"])
    );
    assert_eq!(v["type"], "session_joined");
    assert_eq!(
        v["boss"],
        json!({"species": "thunderhoof", "rarity": "epic", "hp": 900, "max_hp": 1000})
    );

    let v = value(&ServerMessage::SessionEvent {
        session_id: "s1".into(),
        player_id: "p2".into(),
        action: "attack".into(),
        damage: Some(40),
        boss_hp: 860,
    });
    assert_eq!(
        v,
        json!({"type": "session_event", "session_id": "s1", "player_id": "p2",
               "action": "attack", "damage": 40, "boss_hp": 860})
    );
    let v = value(&ServerMessage::SessionEvent {
        session_id: "s1".into(),
        player_id: "p2".into(),
        action: "joined".into(),
        damage: None,
        boss_hp: 860,
    });
    assert!(v.get("damage").is_none());

    let v = value(&ServerMessage::AttackResult {
        seq: Some(2),
        damage: 55,
        boss_hp: 805,
    });
    assert_eq!(
        v,
        json!({"type": "attack_result", "seq": 2, "damage": 55, "boss_hp": 805})
    );

    for (outcome, wire) in [
        (SessionOutcome::Victory, "victory"),
        (SessionOutcome::Timeout, "timeout"),
    ] {
        let v = value(&ServerMessage::SessionEnded {
            session_id: "s1".into(),
            outcome,
        });
        assert_eq!(
            v,
            json!({"type": "session_ended", "session_id": "s1", "outcome": wire})
        );
    }

    let v = value(&ServerMessage::SessionLeft {
        seq: Some(3),
        session_id: "s1".into(),
    });
    assert_eq!(
        v,
        json!({"type": "session_left", "seq": 3, "session_id": "s1"})
    );
}

#[test]
fn pong_and_shutdown_shape() {
    let v = value(&ServerMessage::Pong { seq: Some(9) });
    assert_eq!(v, json!({"type": "pong", "seq": 9}));
    let v = value(&ServerMessage::Shutdown { in_s: 10 });
    assert_eq!(v, json!({"type": "shutdown", "in_s": 10}));
}

#[test]
fn rarity_as_str_matches_wire() {
    for r in [
        Rarity::Common,
        Rarity::Uncommon,
        Rarity::Rare,
        Rarity::Epic,
        Rarity::Legendary,
    ] {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    // Rarity orders from common to legendary, which servers rely on when
    // they scale flee chance by tier.
    assert!(Rarity::Common < Rarity::Legendary);
}

#[test]
fn type_comes_first_in_every_server_frame() {
    let text = ServerMessage::Nearby {
        seq: Some(1),
        creatures: vec![creature("c1", 1.0)],
        pois: vec![],
    }
    .encode();
    assert!(text.starts_with(r#"{"type":"nearby","seq":1,"#), "{text}");
}

#[test]
fn unknown_server_type_fails_to_decode() {
    assert!(ServerMessage::decode(r#"{"type":"teleported"}"#).is_err());
    // Clients ignore unknown extra fields in server frames too.
    let m = ServerMessage::decode(r#"{"type":"pong","seq":1,"new_field":true}"#).unwrap();
    assert_eq!(m, ServerMessage::Pong { seq: Some(1) });
}

#[test]
fn borrowed_nearby_matches_the_owned_encoding_on_escapes_and_odd_numbers() {
    use protocol::play::{CreatureRef, PoiRef, encode_nearby};
    // Every character JSON escapes, some it does not (DEL, non-ASCII), and
    // floats that are not finite, negative zero, huge and tiny.
    let names = [
        "plain",
        "quote\"d",
        "back\\slash",
        "new\nline",
        "ctl\u{1}\u{1f}",
        "del\u{7f}",
        "café ☕ 🐉",
        "",
    ];
    let numbers = [
        0.0,
        -0.0,
        47.6160379,
        -122.0341158,
        1e300,
        -2.5e-300,
        f64::NAN,
        f64::INFINITY,
    ];
    let owned_creatures: Vec<CreatureView> = names
        .iter()
        .zip(numbers)
        .map(|(name, x)| CreatureView {
            id: (*name).into(),
            species: format!("{name}{name}"),
            rarity: Rarity::Legendary,
            lat: x,
            lon: -x,
            distance_m: x,
            bearing_deg: x,
            expires_at: i64::MIN,
        })
        .collect();
    let owned_pois: Vec<PoiView> = names
        .iter()
        .zip(numbers)
        .enumerate()
        .map(|(i, (name, x))| PoiView {
            id: (*name).into(),
            name: format!("{name}!"),
            lat: x,
            lon: x,
            distance_m: x,
            sponsor: (i % 2 == 0).then(|| (*name).into()),
        })
        .collect();
    let creatures: Vec<CreatureRef> = owned_creatures.iter().map(CreatureView::borrowed).collect();
    let pois: Vec<PoiRef> = owned_pois.iter().map(PoiView::borrowed).collect();
    for seq in [None, Some(0), Some(u64::MAX)] {
        let owned = ServerMessage::Nearby {
            seq,
            creatures: owned_creatures.clone(),
            pois: owned_pois.clone(),
        }
        .encode();
        assert_eq!(encode_nearby(seq, &creatures, &pois), owned);
    }
    // And with nothing around.
    let empty = ServerMessage::Nearby {
        seq: Some(3),
        creatures: vec![],
        pois: vec![],
    };
    assert_eq!(encode_nearby(Some(3), &[], &[]), empty.encode());
}
