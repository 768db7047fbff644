//! Codec benchmarks: decode and encode of the hot `/v1/play` messages.
//!
//! The target is under 1 µs per ~200-byte message. Each benchmark reports
//! its frame size as throughput, so the larger `nearby` can be compared
//! per byte.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protocol::play::{
    ClientMessage, CreatureRef, CreatureView, LocationUpdate, PoiRef, PoiView, Rarity,
    ServerMessage, encode_nearby,
};

/// A location frame as a phone sends it: full-precision GPS floats and all
/// optional fields, about 200 bytes with the app's extra fields (which the
/// decoder must skip).
const LOCATION: &str = r#"{"type":"location","seq":1048576,"lat":47.616812345678,"lon":-122.035512345678,"heading":92.518,"speed":1.43,"accuracy":6.5,"client_ts":1795000000123,"app":"geogame-android/1.4.2 (Pixel 8a; 15)"}"#;

const CATCH: &str =
    r#"{"type":"catch","seq":1048577,"creature_id":"c-0193f6a2-7c1e-7d3a-9b1f-3e5a2c4d6e8f"}"#;

/// A bad location (latitude out of range): the error path a flood takes.
const BAD_LOCATION: &str =
    r#"{"type":"location","seq":1048578,"lat":91.5,"lon":-122.035512345678,"speed":1.43}"#;

/// `x` to `1 / per_unit`, as the server rounds what it sends (positions to
/// 1e-7 degrees, distances and bearings to 0.1).
fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

/// A creature as the server lists it: id and numbers in the server's form.
fn creature(i: usize) -> CreatureView {
    CreatureView {
        id: format!(
            "c-{:016x}",
            0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1)
        ),
        species: "sprigling".into(),
        rarity: Rarity::Uncommon,
        lat: round_to(47.616_812_345_678 + i as f64 * 1.3e-4, 1e7),
        lon: round_to(-122.035_512_345_678 - i as f64 * 0.7e-4, 1e7),
        distance_m: round_to(12.345_678 + i as f64 * 8.5, 10.0),
        bearing_deg: round_to(31.415_926 + i as f64 * 11.0, 10.0),
        expires_at: 1_795_000_000 + i as i64,
    }
}

fn poi(i: usize) -> PoiView {
    PoiView {
        id: format!("poi-{i:04}"),
        name: "Blackbird Coffee, 228th Ave NE".into(),
        lat: 47.617_1 + i as f64 * 2.0e-4,
        lon: -122.035_9,
        distance_m: 40.25 + i as f64 * 30.0,
        sponsor: (i == 0).then(|| "Blackbird Coffee".into()),
    }
}

fn nearby(creatures: usize, pois: usize) -> ServerMessage {
    ServerMessage::Nearby {
        seq: Some(1_048_576),
        creatures: (0..creatures).map(creature).collect(),
        pois: (0..pois).map(poi).collect(),
    }
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, frame) in [
        ("location", LOCATION),
        ("catch", CATCH),
        ("location_out_of_range", BAD_LOCATION),
    ] {
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("{name}_{}B", frame.len()), |b| {
            b.iter(|| ClientMessage::decode(black_box(frame)))
        });
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let location = ClientMessage::Location(LocationUpdate {
        seq: Some(1_048_576),
        lat: 47.616_812_345_678,
        lon: -122.035_512_345_678,
        heading: Some(92.518),
        speed: Some(1.43),
        accuracy: Some(6.5),
    });
    let cases = [
        ("location_client", Msg::Client(location)),
        ("nearby_1c", Msg::Server(nearby(1, 0))),
        ("nearby_3c_1p", Msg::Server(nearby(3, 1))),
        ("nearby_20c_5p", Msg::Server(nearby(20, 5))),
    ];
    for (name, msg) in &cases {
        let len = msg.encode().len();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("{name}_{len}B"), |b| {
            b.iter(|| black_box(msg).encode())
        });
    }
    g.finish();
}

/// The server's two ways to a `nearby` frame from its world (here the
/// owned views stand in for the world's creatures and POIs): copying into
/// owned views and encoding the `ServerMessage` through serde, as the
/// server did until session 3, against borrowing them into
/// `encode_nearby`.
fn bench_nearby_from_world(c: &mut Criterion) {
    let mut g = c.benchmark_group("nearby_from_world");
    for (creatures, pois) in [(20, 5), (40, 12)] {
        let world_c: Vec<CreatureView> = (0..creatures).map(creature).collect();
        let world_p: Vec<PoiView> = (0..pois).map(poi).collect();
        g.bench_function(format!("owned_serde_{creatures}c_{pois}p"), |b| {
            b.iter(|| {
                ServerMessage::Nearby {
                    seq: Some(1_048_576),
                    creatures: black_box(&world_c).clone(),
                    pois: black_box(&world_p).clone(),
                }
                .encode()
            })
        });
        g.bench_function(format!("borrowed_{creatures}c_{pois}p"), |b| {
            b.iter(|| {
                let cs: Vec<CreatureRef> = black_box(&world_c)
                    .iter()
                    .map(CreatureView::borrowed)
                    .collect();
                let ps: Vec<PoiRef> = black_box(&world_p).iter().map(PoiView::borrowed).collect();
                encode_nearby(Some(1_048_576), &cs, &ps)
            })
        });
    }
    g.finish();
}

/// Either side's message, so both encoders share one loop.
enum Msg {
    Client(ClientMessage),
    Server(ServerMessage),
}

impl Msg {
    fn encode(&self) -> String {
        match self {
            Msg::Client(m) => m.encode(),
            Msg::Server(m) => m.encode(),
        }
    }
}

criterion_group!(benches, bench_decode, bench_encode, bench_nearby_from_world);
criterion_main!(benches);
