//! Messages of the `/v1/play` socket, between a player's app and a game
//! server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DecodeError, ErrorCode, decode, encode};

/// A message from a player's app to the game server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// The first frame: authenticates the socket.
    Hello {
        /// The token from `POST /v1/auth/guest`.
        token: String,
    },
    /// Where the player is now.
    Location(LocationUpdate),
    /// Throw at a creature.
    Catch {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
        /// The creature's id as shown in `nearby`.
        creature_id: String,
    },
    /// Visit a point of interest.
    Spin {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
        /// The POI's id as shown in `nearby`.
        poi_id: String,
    },
    /// Fetch the player's collection.
    Collection {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
    /// Join a matched session with the token from the lobby.
    JoinSession {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
        /// The `session_token` from `match_found`.
        session_token: String,
    },
    /// Attack the boss of the session the player has joined.
    Attack {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
    /// Try to catch the defeated boss of the player's session.
    RaidCatch {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
    /// Leave the session the player has joined.
    LeaveSession {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
    /// Application-level keepalive; answered with `pong`.
    Ping {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
    /// The player confirms they are a passenger, not the driver: catches
    /// and spins are allowed above the passenger speed until they slow
    /// down again. Answered with `passenger_confirmed`.
    Passenger {
        /// Request sequence number, echoed in the reply.
        seq: Option<u64>,
    },
}

impl ClientMessage {
    /// Decodes one text frame strictly.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode::decode_play(text)
    }

    /// The request's `seq`, when it has one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ClientMessage::Hello { .. } => None,
            ClientMessage::Location(l) => l.seq,
            ClientMessage::Catch { seq, .. }
            | ClientMessage::Spin { seq, .. }
            | ClientMessage::Collection { seq }
            | ClientMessage::JoinSession { seq, .. }
            | ClientMessage::Attack { seq }
            | ClientMessage::RaidCatch { seq }
            | ClientMessage::LeaveSession { seq }
            | ClientMessage::Ping { seq }
            | ClientMessage::Passenger { seq } => *seq,
        }
    }

    /// The message's `type` on the wire, for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Location(_) => "location",
            ClientMessage::Catch { .. } => "catch",
            ClientMessage::Spin { .. } => "spin",
            ClientMessage::Collection { .. } => "collection",
            ClientMessage::JoinSession { .. } => "join_session",
            ClientMessage::Attack { .. } => "attack",
            ClientMessage::RaidCatch { .. } => "raid_catch",
            ClientMessage::LeaveSession { .. } => "leave_session",
            ClientMessage::Ping { .. } => "ping",
            ClientMessage::Passenger { .. } => "passenger",
        }
    }

    /// Encodes the message as a client would send it (used by tests and the
    /// load generator).
    pub fn encode(&self) -> String {
        encode::encode_play_client(self)
    }
}

/// A validated location update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocationUpdate {
    /// Request sequence number, echoed in the reply.
    pub seq: Option<u64>,
    /// Latitude in degrees, within [-90, 90].
    pub lat: f64,
    /// Longitude in degrees, within [-180, 180].
    pub lon: f64,
    /// Heading in degrees clockwise from north, within [0, 360).
    pub heading: Option<f64>,
    /// Speed in m/s, at least 0.
    pub speed: Option<f64>,
    /// Horizontal accuracy in m, at least 0.
    pub accuracy: Option<f64>,
}

/// How rare a species is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rarity {
    /// Seen everywhere.
    Common,
    /// Seen often.
    Uncommon,
    /// Seen now and then.
    Rare,
    /// Seen seldom.
    Epic,
    /// Seen almost never.
    Legendary,
}

impl Rarity {
    /// The rarity as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Rarity::Common => "common",
            Rarity::Uncommon => "uncommon",
            Rarity::Rare => "rare",
            Rarity::Epic => "epic",
            Rarity::Legendary => "legendary",
        }
    }
}

/// A creature as one player sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatureView {
    /// Stable creature id.
    pub id: String,
    /// Species name.
    pub species: String,
    /// Rarity tier.
    pub rarity: Rarity,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Great-circle distance from the player, in m.
    pub distance_m: f64,
    /// Initial bearing from the player, in degrees clockwise from north.
    pub bearing_deg: f64,
    /// When the creature despawns, in unix seconds.
    pub expires_at: i64,
}

/// A point of interest as one player sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoiView {
    /// Stable POI id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Great-circle distance from the player, in m.
    pub distance_m: f64,
    /// The sponsor, for sponsored places.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sponsor: Option<String>,
}

/// A creature of a `nearby` reply, borrowed from the server's world.
///
/// It encodes exactly as the [`CreatureView`] with the same values, but
/// needs no owned strings: a server answering thousands of `location`
/// updates a second writes each reply straight from its world (see
/// [`encode_nearby`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CreatureRef<'a> {
    /// Stable creature id.
    pub id: &'a str,
    /// Species name.
    pub species: &'a str,
    /// Rarity tier.
    pub rarity: Rarity,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Great-circle distance from the player, in m.
    pub distance_m: f64,
    /// Initial bearing from the player, in degrees clockwise from north.
    pub bearing_deg: f64,
    /// When the creature despawns, in unix seconds.
    pub expires_at: i64,
}

impl CreatureView {
    /// The same creature, borrowed, for [`encode_nearby`].
    pub fn borrowed(&self) -> CreatureRef<'_> {
        CreatureRef {
            id: &self.id,
            species: &self.species,
            rarity: self.rarity,
            lat: self.lat,
            lon: self.lon,
            distance_m: self.distance_m,
            bearing_deg: self.bearing_deg,
            expires_at: self.expires_at,
        }
    }
}

impl PoiView {
    /// The same POI, borrowed, for [`encode_nearby`].
    pub fn borrowed(&self) -> PoiRef<'_> {
        PoiRef {
            id: &self.id,
            name: &self.name,
            lat: self.lat,
            lon: self.lon,
            distance_m: self.distance_m,
            sponsor: self.sponsor.as_deref(),
        }
    }
}

/// A point of interest of a `nearby` reply, borrowed from the server's
/// world; it encodes exactly as the [`PoiView`] with the same values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoiRef<'a> {
    /// Stable POI id.
    pub id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// Great-circle distance from the player, in m.
    pub distance_m: f64,
    /// The sponsor, for sponsored places.
    pub sponsor: Option<&'a str>,
}

/// Bytes reserved per listed creature or POI, so that a typical reply is
/// written into one allocation without regrowing.
const BYTES_PER_ITEM: usize = 192;

/// Encodes a `nearby` reply from borrowed parts. The text is byte for byte
/// what [`ServerMessage::encode`] gives for the `Nearby` with the same
/// values (a property test holds the two together), without building one.
///
/// This is the server's hottest path, so it is written by hand: the keys
/// are literals rather than strings escaped one by one, and the numbers go
/// through the same formatters serde_json uses (`itoa`, `zmij`).
pub fn encode_nearby(
    seq: Option<u64>,
    creatures: &[CreatureRef<'_>],
    pois: &[PoiRef<'_>],
) -> String {
    let mut out = String::with_capacity(64 + BYTES_PER_ITEM * (creatures.len() + pois.len()));
    out.push_str(r#"{"type":"nearby""#);
    if let Some(seq) = seq {
        out.push_str(r#","seq":"#);
        out.push_str(itoa::Buffer::new().format(seq));
    }
    out.push_str(r#","creatures":["#);
    for (i, c) in creatures.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"id":"#);
        push_str(&mut out, c.id);
        out.push_str(r#","species":"#);
        push_str(&mut out, c.species);
        out.push_str(r#","rarity":""#);
        out.push_str(c.rarity.as_str());
        out.push_str(r#"","lat":"#);
        push_f64(&mut out, c.lat);
        out.push_str(r#","lon":"#);
        push_f64(&mut out, c.lon);
        out.push_str(r#","distance_m":"#);
        push_f64(&mut out, c.distance_m);
        out.push_str(r#","bearing_deg":"#);
        push_f64(&mut out, c.bearing_deg);
        out.push_str(r#","expires_at":"#);
        out.push_str(itoa::Buffer::new().format(c.expires_at));
        out.push('}');
    }
    out.push_str(r#"],"pois":["#);
    for (i, p) in pois.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"id":"#);
        push_str(&mut out, p.id);
        out.push_str(r#","name":"#);
        push_str(&mut out, p.name);
        out.push_str(r#","lat":"#);
        push_f64(&mut out, p.lat);
        out.push_str(r#","lon":"#);
        push_f64(&mut out, p.lon);
        out.push_str(r#","distance_m":"#);
        push_f64(&mut out, p.distance_m);
        if let Some(sponsor) = p.sponsor {
            out.push_str(r#","sponsor":"#);
            push_str(&mut out, sponsor);
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// Appends a JSON string. Ids and names rarely hold a character JSON
/// escapes (a control character, `"` or `\`), so those are copied as they
/// are; the others go through serde_json's escaping.
fn push_str(out: &mut String, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Encoding a string cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Appends a number as serde_json writes an `f64`: shortest round-trip
/// digits, and `null` for a value JSON cannot hold.
fn push_f64(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(x));
    } else {
        out.push_str("null");
    }
}

/// The outcome of a `catch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchOutcome {
    /// The player caught it; it is stored in the collection.
    Caught,
    /// It fled from this player; it stays in the world for everyone else.
    Fled,
    /// It is not there any more (caught by someone else, expired, excluded,
    /// or never existed).
    Gone,
    /// The player is beyond the catch range.
    TooFar,
}

impl CatchOutcome {
    /// The name on the wire, also an analytics event's `outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchOutcome::Caught => "caught",
            CatchOutcome::Fled => "fled",
            CatchOutcome::Gone => "gone",
            CatchOutcome::TooFar => "too_far",
        }
    }
}

/// The outcome of a `spin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpinOutcome {
    /// Items were granted.
    Ok,
    /// The player spun this POI too recently.
    Cooldown,
    /// The player is beyond the spin range.
    TooFar,
}

impl SpinOutcome {
    /// The name on the wire, also an analytics event's `outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpinOutcome::Ok => "ok",
            SpinOutcome::Cooldown => "cooldown",
            SpinOutcome::TooFar => "too_far",
        }
    }
}

/// Why a creature went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DespawnReason {
    /// Someone caught it.
    Caught,
    /// Its timer ran out.
    Expired,
    /// An operator's exclusion zone now covers it.
    Excluded,
}

impl DespawnReason {
    /// The name on the wire, also an analytics despawn's `outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            DespawnReason::Caught => "caught",
            DespawnReason::Expired => "expired",
            DespawnReason::Excluded => "excluded",
        }
    }
}

/// A creature in a player's collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectedCreature {
    /// The creature's id.
    pub id: String,
    /// Species name.
    pub species: String,
    /// Rarity tier.
    pub rarity: Rarity,
    /// When it was caught, in unix seconds.
    pub caught_at: i64,
}

/// A raid boss's public state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BossView {
    /// Species name.
    pub species: String,
    /// Rarity tier.
    pub rarity: Rarity,
    /// Hit points left.
    pub hp: u32,
    /// Hit points at the start.
    pub max_hp: u32,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionOutcome {
    /// The boss fell.
    Victory,
    /// Time ran out first.
    Timeout,
}

/// A message from the game server to a player's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a good `hello`.
    Welcome {
        /// The authenticated player.
        player_id: String,
        /// Which game server holds the socket.
        server_id: String,
        /// [`crate::PROTOCOL_VERSION`].
        protocol: u32,
    },
    /// What is around the player, in answer to `location`.
    Nearby {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// Creatures within the view radius, nearest first.
        creatures: Vec<CreatureView>,
        /// POIs within the view radius, nearest first.
        pois: Vec<PoiView>,
    },
    /// The answer to `catch` and `raid_catch`.
    CatchResult {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The creature thrown at.
        creature_id: String,
        /// What happened.
        outcome: CatchOutcome,
    },
    /// The answer to `spin`.
    SpinResult {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The POI spun.
        poi_id: String,
        /// What happened.
        outcome: SpinOutcome,
        /// Items granted, by name (empty unless `ok`).
        items: BTreeMap<String, u32>,
    },
    /// A creature this client was shown went away.
    Despawn {
        /// The creature.
        creature_id: String,
        /// Why.
        reason: DespawnReason,
    },
    /// The answer to `collection`.
    Collection {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// Creatures caught, oldest first.
        creatures: Vec<CollectedCreature>,
        /// Item counts by name.
        items: BTreeMap<String, u64>,
    },
    /// The answer to `join_session`.
    SessionJoined {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The session.
        session_id: String,
        /// The boss to fight.
        boss: BossView,
        /// Player ids of the members who have joined so far.
        members: Vec<String>,
        /// When the session times out, in unix seconds.
        ends_at: i64,
    },
    /// Something a member did, broadcast to every member.
    SessionEvent {
        /// The session.
        session_id: String,
        /// Who acted.
        player_id: String,
        /// `joined`, `attack`, `left` or `caught`/`fled` for raid catches.
        action: String,
        /// Damage dealt, for attacks.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        damage: Option<u32>,
        /// Boss hit points after the action.
        boss_hp: u32,
    },
    /// The answer to `attack`.
    AttackResult {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// Damage dealt.
        damage: u32,
        /// Boss hit points after the attack.
        boss_hp: u32,
    },
    /// The session is over.
    SessionEnded {
        /// The session.
        session_id: String,
        /// How it ended.
        outcome: SessionOutcome,
    },
    /// The answer to `leave_session`.
    SessionLeft {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// The session left.
        session_id: String,
    },
    /// The answer to `ping`.
    Pong {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
    },
    /// The answer to `passenger`.
    PassengerConfirmed {
        /// Echo of the request's `seq`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
    },
    /// The server is shutting down; the socket closes with 1001 after
    /// `in_s` seconds at the latest.
    Shutdown {
        /// Seconds until the close.
        in_s: u32,
    },
    /// A request failed.
    Error {
        /// Echo of the request's `seq`, when it could be read.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seq: Option<u64>,
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable reason.
        message: String,
    },
}

impl ServerMessage {
    /// Encodes the message as one JSON text frame.
    pub fn encode(&self) -> String {
        // Serialising these plain data types cannot fail: every map key is
        // a string and no value is a non-finite float (the server computes
        // them from validated inputs).
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"encode failed: {e}"}}"#)
        })
    }

    /// Decodes a server frame (used by clients, tests and the load generator).
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// An `error` frame.
    pub fn error(seq: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            seq,
            code,
            message: message.into(),
        }
    }
}
