//! The operator API's bodies under `/v1/admin`: the audit log's rows and
//! the GeoJSON FeatureCollection that zones and POIs are listed in. The
//! features themselves are GeoJSON, which the spawner validates.

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One row of `GET /v1/admin/audit`: an operator change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// When, unix seconds.
    pub at: i64,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Who made the change.
    pub actor: String,
    /// What kind of change, e.g. `zone.create`.
    pub action: String,
    /// What it was made to, e.g. a zone id.
    pub target: String,
    /// More about it (JSON text, or empty).
    pub detail: String,
}

/// A GeoJSON FeatureCollection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureCollection {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The features.
    pub features: Vec<serde_json::Value>,
}

impl FeatureCollection {
    /// A collection of `features`.
    pub fn new(features: Vec<serde_json::Value>) -> Self {
        FeatureCollection {
            kind: "FeatureCollection".into(),
            features,
        }
    }
}

/// A GeoJSON upload (`POST /v1/admin/pois`, the world file) read without
/// building a document tree: only `type` is read, and each feature is kept
/// as its own slice of the body, to be parsed and checked one at a time.
/// Members other than these are skipped, not stored.
#[derive(Debug, Deserialize)]
pub struct GeoJsonUpload<'a> {
    /// The object's `type`, as written (any JSON).
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a RawValue>,
    /// A FeatureCollection's `features`, each as written.
    #[serde(borrow, default)]
    pub features: Option<FeatureList<'a>>,
}

/// Just the `type` of a GeoJSON object, for saying what an upload that is
/// not a valid collection claims to be.
#[derive(Debug, Deserialize)]
pub struct GeoJsonKind<'a> {
    /// The object's `type`, as written (any JSON).
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<&'a RawValue>,
}

/// Most features one upload may hold.
pub const MAX_UPLOAD_FEATURES: usize = 100_000;

/// A FeatureCollection's `features`: the first [`MAX_UPLOAD_FEATURES`] as
/// written, and how many there were in all (the rest are counted, not
/// kept, so a huge array costs no memory).
#[derive(Debug)]
pub struct FeatureList<'a> {
    /// The features kept, each as written.
    pub features: Vec<&'a RawValue>,
    /// How many the array held.
    pub count: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for FeatureList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Features<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Features<'a> {
            type Value = FeatureList<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of features")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut features = Vec::new();
                while features.len() < MAX_UPLOAD_FEATURES {
                    match seq.next_element::<&'a RawValue>()? {
                        Some(f) => features.push(f),
                        None => {
                            let count = features.len();
                            return Ok(FeatureList { features, count });
                        }
                    }
                }
                let mut count = features.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(FeatureList { features, count })
            }
        }
        d.deserialize_seq(Features(std::marker::PhantomData))
    }
}

/// A GeoJSON FeatureCollection of POIs, written straight from the POIs
/// (`GET /v1/admin/pois`, and the reply to an upload).
#[derive(Debug, Serialize)]
pub struct PoiCollection<'a> {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The POIs.
    pub features: Vec<PoiFeature<'a>>,
}

/// One POI as a GeoJSON Point Feature.
#[derive(Debug, Serialize)]
pub struct PoiFeature<'a> {
    /// Always `Feature`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The POI's id.
    pub id: &'a str,
    /// Its position.
    pub geometry: Point,
    /// Its id, name, weight and sponsor.
    pub properties: PoiProperties<'a>,
}

/// A GeoJSON Point.
#[derive(Debug, Serialize)]
pub struct Point {
    /// Always `Point`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `[lon, lat]`.
    pub coordinates: [f64; 2],
}

/// A POI feature's properties.
#[derive(Debug, Serialize)]
pub struct PoiProperties<'a> {
    /// The POI's id.
    pub id: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Spawn weight.
    pub weight: f64,
    /// Sponsor, or null.
    pub sponsor: Option<&'a str>,
}

/// `POST /v1/admin/operators` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOperator {
    /// The account's name, as the audit log shows it.
    pub name: String,
    /// `operator`, `analyst` or `sponsor:SPONSOR`.
    pub role: String,
}

/// `POST /v1/admin/operators` reply: the account and its bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorToken {
    /// The account's name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its bearer token, shown only here.
    pub token: String,
}

/// One row of `GET /v1/admin/operators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRow {
    /// The account's name.
    pub name: String,
    /// Its role.
    pub role: String,
}

/// The answer to `DELETE /v1/admin/players/{id}`: what was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerErased {
    /// The erased player.
    pub player_id: String,
    /// Rows of the player's own data deleted (sign-in, account, tokens,
    /// collection, inventory, spins, strikes).
    pub rows_deleted: u64,
    /// Analytics events kept under a pseudonym, without coordinates.
    pub events_pseudonymised: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_contract_shape() {
        let row = AuditRow {
            at: 1,
            at_ms: 1_500,
            actor: "admin".into(),
            action: "zone.delete".into(),
            target: "z_1".into(),
            detail: String::new(),
        };
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            serde_json::json!({"at":1,"at_ms":1500,"actor":"admin","action":"zone.delete","target":"z_1","detail":""})
        );
        let fc = FeatureCollection::new(vec![serde_json::json!({"type":"Feature"})]);
        assert_eq!(
            serde_json::to_string(&fc).unwrap(),
            r#"{"type":"FeatureCollection","features":[{"type":"Feature"}]}"#
        );
    }
}

/// `GET /v1/admin/players/{id}/strikes`: a player's standing and strikes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerStrikes {
    /// The player.
    pub player_id: String,
    /// `clear`, `warned`, `suspended` or `banned`.
    pub standing: String,
    /// When a warning or suspension ends, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub until: Option<i64>,
    /// Every strike, lifted ones included, oldest first.
    pub strikes: Vec<StrikeView>,
}

/// One strike, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrikeView {
    /// Its id (for lifting it).
    pub id: i64,
    /// When, unix milliseconds.
    pub at: i64,
    /// Why.
    pub reason: String,
    /// `server`, or the operator who issued it.
    pub actor: String,
    /// When it was lifted, unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lifted_at: Option<i64>,
}

/// `POST /v1/admin/players/{id}/strikes` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStrike {
    /// Why, as the player and the audit log will see it.
    pub reason: String,
}
