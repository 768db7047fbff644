//! Property tests of the codec, with a fixed seed so every run checks the
//! same cases: round trips are exact, decoding never panics, and positions
//! outside the globe are always refused.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use protocol::lobby::{LobbyClientMessage, LobbyServerMessage, Mode, QueueRequest};
use protocol::play::{
    BossView, CatchOutcome, ClientMessage, CollectedCreature, CreatureRef, CreatureView,
    DespawnReason, LocationUpdate, PoiRef, PoiView, Rarity, ServerMessage, SessionOutcome,
    SpinOutcome, encode_nearby,
};
use protocol::{DecodeErrorKind, ErrorCode};
use serde_json::{Map, Value, json};

fn config() -> Config {
    Config {
        cases: 512,
        rng_seed: RngSeed::Fixed(0x6e0_6a3e),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Ids as clients may send them: any characters at all (quotes,
/// backslashes, control characters, emoji), 1 to 40 of them.
fn id() -> impl Strategy<Value = String> {
    "(?s).{1,40}"
}

fn seq() -> impl Strategy<Value = Option<u64>> {
    proptest::option::of(any::<u64>())
}

/// Finite floats of every magnitude, including subnormals and zero.
fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    (NORMAL | SUBNORMAL | ZERO | POSITIVE | NEGATIVE).prop_filter("finite", |x| x.is_finite())
}

/// A number as the server writes them: a decimal with up to eight
/// places (positions have seven, distances and bearings one), from far
/// below to far above the range the encoder writes without a float
/// formatter, or any float at all.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000_000_000_000i64..10_000_000_000_000, 0i32..=8)
            .prop_map(|(k, places)| k as f64 / 10f64.powi(places)),
        (-1_000_000_000i64..1_000_000_000).prop_map(|k| k as f64 / 1e7),
        finite(),
    ]
}

fn non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![0.0..1.0e4f64, finite().prop_map(f64::abs)]
}

fn location() -> impl Strategy<Value = LocationUpdate> {
    (
        seq(),
        -90.0..=90.0f64,
        -180.0..=180.0f64,
        proptest::option::of(0.0..360.0f64),
        proptest::option::of(non_negative()),
        proptest::option::of(non_negative()),
    )
        .prop_map(|(seq, lat, lon, heading, speed, accuracy)| LocationUpdate {
            seq,
            lat,
            lon,
            heading,
            speed,
            accuracy,
        })
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        id().prop_map(|token| ClientMessage::Hello { token }),
        location().prop_map(ClientMessage::Location),
        (seq(), id()).prop_map(|(seq, creature_id)| ClientMessage::Catch { seq, creature_id }),
        (seq(), id()).prop_map(|(seq, poi_id)| ClientMessage::Spin { seq, poi_id }),
        seq().prop_map(|seq| ClientMessage::Collection { seq }),
        (seq(), id())
            .prop_map(|(seq, session_token)| ClientMessage::JoinSession { seq, session_token }),
        seq().prop_map(|seq| ClientMessage::Attack { seq }),
        seq().prop_map(|seq| ClientMessage::RaidCatch { seq }),
        seq().prop_map(|seq| ClientMessage::LeaveSession { seq }),
        seq().prop_map(|seq| ClientMessage::Ping { seq }),
    ]
}

fn lobby_client_message() -> impl Strategy<Value = LobbyClientMessage> {
    let queue = (
        seq(),
        any::<bool>(),
        proptest::option::of(id()),
        -90.0..=90.0f64,
        -180.0..=180.0f64,
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(id(), 0..=32),
    )
        .prop_map(|(seq, raid, poi, lat, lon, level, party)| {
            let (mode, poi_id) = if raid {
                (Mode::Raid, Some(poi.unwrap_or_else(|| "poi".into())))
            } else {
                (Mode::Pvp, poi)
            };
            LobbyClientMessage::Queue(QueueRequest {
                seq,
                mode,
                poi_id,
                lat,
                lon,
                level,
                party,
            })
        });
    prop_oneof![
        id().prop_map(|token| LobbyClientMessage::Hello { token }),
        queue,
        (seq(), id()).prop_map(|(seq, ticket_id)| LobbyClientMessage::Cancel { seq, ticket_id }),
        seq().prop_map(|seq| LobbyClientMessage::Ping { seq }),
    ]
}

fn rarity() -> impl Strategy<Value = Rarity> {
    prop_oneof![
        Just(Rarity::Common),
        Just(Rarity::Uncommon),
        Just(Rarity::Rare),
        Just(Rarity::Epic),
        Just(Rarity::Legendary),
    ]
}

fn creature() -> BoxedStrategy<CreatureView> {
    (
        id(),
        id(),
        rarity(),
        (number(), number(), number(), number()),
        any::<i64>(),
    )
        .prop_map(
            |(id, species, rarity, (lat, lon, distance_m, bearing_deg), expires_at)| CreatureView {
                id,
                species,
                rarity,
                lat,
                lon,
                distance_m,
                bearing_deg,
                expires_at,
            },
        )
        .boxed()
}

fn poi() -> BoxedStrategy<PoiView> {
    (
        id(),
        id(),
        (number(), number(), number()),
        proptest::option::of(id()),
    )
        .prop_map(|(id, name, (lat, lon, distance_m), sponsor)| PoiView {
            id,
            name,
            lat,
            lon,
            distance_m,
            sponsor,
        })
        .boxed()
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        Just(ErrorCode::InvalidMessage),
        Just(ErrorCode::Unauthorized),
        Just(ErrorCode::RateLimited),
        Just(ErrorCode::TooFast),
        Just(ErrorCode::NotFound),
        Just(ErrorCode::Unavailable),
        Just(ErrorCode::Internal),
        Just(ErrorCode::TooFar),
        Just(ErrorCode::Conflict),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    use proptest::collection::{btree_map, vec};
    let catch = prop_oneof![
        Just(CatchOutcome::Caught),
        Just(CatchOutcome::Fled),
        Just(CatchOutcome::Gone),
        Just(CatchOutcome::TooFar),
    ];
    let spin = prop_oneof![
        Just(SpinOutcome::Ok),
        Just(SpinOutcome::Cooldown),
        Just(SpinOutcome::TooFar),
    ];
    let reason = prop_oneof![
        Just(DespawnReason::Caught),
        Just(DespawnReason::Expired),
        Just(DespawnReason::Excluded),
    ];
    let collected = (id(), id(), rarity(), any::<i64>()).prop_map(|(id, species, rarity, at)| {
        CollectedCreature {
            id,
            species,
            rarity,
            caught_at: at,
        }
    });
    let boss =
        (id(), rarity(), any::<u32>(), any::<u32>()).prop_map(|(species, rarity, hp, max_hp)| {
            BossView {
                species,
                rarity,
                hp,
                max_hp,
            }
        });
    let outcome = prop_oneof![Just(SessionOutcome::Victory), Just(SessionOutcome::Timeout)];
    prop_oneof![
        (id(), id(), any::<u32>()).prop_map(|(player_id, server_id, protocol)| {
            ServerMessage::Welcome {
                player_id,
                server_id,
                protocol,
            }
        }),
        (seq(), vec(creature(), 0..5), vec(poi(), 0..5)).prop_map(|(seq, creatures, pois)| {
            ServerMessage::Nearby {
                seq,
                creatures,
                pois,
            }
        }),
        (seq(), id(), catch).prop_map(|(seq, creature_id, outcome)| ServerMessage::CatchResult {
            seq,
            creature_id,
            outcome
        }),
        (seq(), id(), spin, btree_map(id(), any::<u32>(), 0..4)).prop_map(
            |(seq, poi_id, outcome, items)| ServerMessage::SpinResult {
                seq,
                poi_id,
                outcome,
                items
            }
        ),
        (id(), reason).prop_map(|(creature_id, reason)| ServerMessage::Despawn {
            creature_id,
            reason
        }),
        (
            seq(),
            vec(collected, 0..4),
            btree_map(id(), any::<u64>(), 0..4)
        )
            .prop_map(|(seq, creatures, items)| ServerMessage::Collection {
                seq,
                creatures,
                items
            }),
        (seq(), id(), boss, vec(id(), 0..4), any::<i64>()).prop_map(
            |(seq, session_id, boss, members, ends_at)| ServerMessage::SessionJoined {
                seq,
                session_id,
                boss,
                members,
                ends_at
            }
        ),
        (
            id(),
            id(),
            id(),
            proptest::option::of(any::<u32>()),
            any::<u32>()
        )
            .prop_map(|(session_id, player_id, action, damage, boss_hp)| {
                ServerMessage::SessionEvent {
                    session_id,
                    player_id,
                    action,
                    damage,
                    boss_hp,
                }
            }),
        (seq(), any::<u32>(), any::<u32>()).prop_map(|(seq, damage, boss_hp)| {
            ServerMessage::AttackResult {
                seq,
                damage,
                boss_hp,
            }
        }),
        (id(), outcome).prop_map(|(session_id, outcome)| ServerMessage::SessionEnded {
            session_id,
            outcome
        }),
        (seq(), id()).prop_map(|(seq, session_id)| ServerMessage::SessionLeft { seq, session_id }),
        seq().prop_map(|seq| ServerMessage::Pong { seq }),
        any::<u32>().prop_map(|in_s| ServerMessage::Shutdown { in_s }),
        (seq(), error_code(), id()).prop_map(|(seq, code, message)| ServerMessage::Error {
            seq,
            code,
            message
        }),
    ]
}

/// Arbitrary JSON values, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        finite().prop_map(|x| json!(x)),
        "(?s).{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON objects whose keys are mostly the protocol's own field names and
/// whose `type` is mostly a real one, so the checks past parsing are hit.
fn json_object() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("type".to_string()),
        Just("seq".to_string()),
        Just("token".to_string()),
        Just("lat".to_string()),
        Just("lon".to_string()),
        Just("heading".to_string()),
        Just("speed".to_string()),
        Just("accuracy".to_string()),
        Just("creature_id".to_string()),
        Just("poi_id".to_string()),
        Just("session_token".to_string()),
        Just("ticket_id".to_string()),
        Just("mode".to_string()),
        Just("level".to_string()),
        Just("party".to_string()),
        "[a-z]{1,6}",
    ];
    let ty = prop_oneof![
        Just(json!("hello")),
        Just(json!("location")),
        Just(json!("catch")),
        Just(json!("spin")),
        Just(json!("join_session")),
        Just(json!("queue")),
        Just(json!("cancel")),
        Just(json!("ping")),
        json_value(),
    ];
    (
        proptest::collection::btree_map(key, json_value(), 0..8),
        proptest::option::of(ty),
    )
        .prop_map(|(fields, ty)| {
            let mut m: Map<String, Value> = fields.into_iter().collect();
            if let Some(ty) = ty {
                m.insert("type".into(), ty);
            }
            Value::Object(m).to_string()
        })
}

/// A float strictly beyond `limit` in magnitude, on either side.
fn beyond(limit: f64) -> impl Strategy<Value = f64> {
    (
        prop_oneof![limit..1.0e300f64, limit..limit + 1.0],
        any::<bool>(),
    )
        .prop_filter_map("strictly beyond", move |(x, neg)| {
            (x > limit).then_some(if neg { -x } else { x })
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn location_round_trips(l in location()) {
        let msg = ClientMessage::Location(l);
        prop_assert_eq!(ClientMessage::decode(&msg.encode()).unwrap(), msg);
    }

    #[test]
    fn client_message_round_trips(msg in client_message()) {
        let text = msg.encode();
        prop_assert_eq!(ClientMessage::decode(&text).unwrap(), msg);
    }

    #[test]
    fn lobby_client_message_round_trips(msg in lobby_client_message()) {
        let text = msg.encode();
        prop_assert_eq!(LobbyClientMessage::decode(&text).unwrap(), msg);
    }

    #[test]
    fn server_message_round_trips(msg in server_message()) {
        let text = msg.encode();
        prop_assert_eq!(ServerMessage::decode(&text).unwrap(), msg);
    }

    #[test]
    fn borrowed_nearby_encodes_byte_for_byte_like_the_owned_one(
        seq in seq(),
        creatures in proptest::collection::vec(creature(), 0..6),
        pois in proptest::collection::vec(poi(), 0..4),
    ) {
        let refs: Vec<CreatureRef> = creatures.iter().map(CreatureView::borrowed).collect();
        let poi_refs: Vec<PoiRef> = pois.iter().map(PoiView::borrowed).collect();
        let owned = ServerMessage::Nearby { seq, creatures: creatures.clone(), pois: pois.clone() }.encode();
        prop_assert_eq!(encode_nearby(seq, &refs, &poi_refs), owned);
    }

    #[test]
    fn decode_never_panics_on_strings(text in "(?s).{0,300}") {
        // Reaching the end without a panic is the property; a success must
        // also survive a second trip.
        if let Ok(m) = ClientMessage::decode(&text) {
            prop_assert_eq!(ClientMessage::decode(&m.encode()).unwrap(), m);
        }
        if let Ok(m) = LobbyClientMessage::decode(&text) {
            prop_assert_eq!(LobbyClientMessage::decode(&m.encode()).unwrap(), m);
        }
        let _ = ServerMessage::decode(&text);
        let _ = LobbyServerMessage::decode(&text);
    }

    #[test]
    fn decode_never_panics_on_json_objects(text in json_object()) {
        if let Ok(m) = ClientMessage::decode(&text) {
            prop_assert_eq!(ClientMessage::decode(&m.encode()).unwrap(), m);
        }
        if let Ok(m) = LobbyClientMessage::decode(&text) {
            prop_assert_eq!(LobbyClientMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn latitude_outside_range_is_refused(lat in beyond(90.0), lon in -180.0..=180.0f64, s in any::<u64>()) {
        let text = json!({"type": "location", "seq": s, "lat": lat, "lon": lon}).to_string();
        let e = ClientMessage::decode(&text).unwrap_err();
        prop_assert!(matches!(e.kind, DecodeErrorKind::OutOfRange { field: "lat", .. }), "{:?}", e);
        prop_assert_eq!(e.seq, Some(s));
        let text = json!({"type": "queue", "mode": "pvp", "lat": lat, "lon": lon}).to_string();
        prop_assert!(LobbyClientMessage::decode(&text).is_err());
    }

    #[test]
    fn longitude_outside_range_is_refused(lon in beyond(180.0), lat in -90.0..=90.0f64, s in any::<u64>()) {
        let text = json!({"type": "location", "seq": s, "lat": lat, "lon": lon}).to_string();
        let e = ClientMessage::decode(&text).unwrap_err();
        prop_assert!(matches!(e.kind, DecodeErrorKind::OutOfRange { field: "lon", .. }), "{:?}", e);
        prop_assert_eq!(e.seq, Some(s));
        let text = json!({"type": "queue", "mode": "pvp", "lat": lat, "lon": lon}).to_string();
        prop_assert!(LobbyClientMessage::decode(&text).is_err());
    }

    #[test]
    fn heading_outside_range_is_refused(h in prop_oneof![360.0..1.0e6f64, -1.0e6..-1.0e-9f64]) {
        let text = json!({"type": "location", "seq": 1, "lat": 0, "lon": 0, "heading": h}).to_string();
        let e = ClientMessage::decode(&text).unwrap_err();
        prop_assert!(matches!(e.kind, DecodeErrorKind::OutOfRange { field: "heading", .. }), "{:?}", e);
    }
}

#[test]
fn strategies_cover_every_variant() {
    // Guards the generators above: if a variant were dropped from them,
    // the round-trip properties would silently stop covering it.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config());
    let mut kinds = BTreeMap::new();
    let strat = client_message();
    for _ in 0..2000 {
        let m = strat.new_tree(&mut runner).unwrap().current();
        *kinds.entry(m.kind()).or_insert(0) += 1;
    }
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    let mut types = BTreeMap::new();
    let strat = server_message();
    for _ in 0..2000 {
        let m = strat.new_tree(&mut runner).unwrap().current();
        let v: Value = serde_json::from_str(&m.encode()).unwrap();
        *types
            .entry(v["type"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(types.len(), 14, "{types:?}");
    // The arbitrary objects reach past parsing: some decode, and some fail
    // the field checks rather than the JSON parse.
    let (mut decoded, mut checked) = (0, 0);
    let strat = json_object();
    for _ in 0..2000 {
        let text = strat.new_tree(&mut runner).unwrap().current();
        match ClientMessage::decode(&text) {
            Ok(_) => decoded += 1,
            Err(e) if !matches!(e.kind, DecodeErrorKind::Json(_)) => checked += 1,
            Err(_) => {}
        }
    }
    assert!(
        decoded > 5 && checked > 50,
        "{decoded} decoded, {checked} checked"
    );
}
