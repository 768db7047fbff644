//! Placement configuration: the species table, rarity tiers, rates, caps and timers.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How rare a species is. The spawner's own copy of the tier, so that the world model does not
/// depend on the wire format; [`From`] converts it to `protocol::play::Rarity`.
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
    /// The tier's lowercase name, as in config files and on the wire.
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

impl From<Rarity> for protocol::play::Rarity {
    fn from(r: Rarity) -> Self {
        match r {
            Rarity::Common => protocol::play::Rarity::Common,
            Rarity::Uncommon => protocol::play::Rarity::Uncommon,
            Rarity::Rare => protocol::play::Rarity::Rare,
            Rarity::Epic => protocol::play::Rarity::Epic,
            Rarity::Legendary => protocol::play::Rarity::Legendary,
        }
    }
}

/// One row of the species table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeciesConfig {
    /// Species name, unique in the table.
    pub name: String,
    /// Rarity tier, shown to players and used for the flee chance.
    pub rarity: Rarity,
    /// Relative draw weight: a species is picked with probability weight / sum of weights.
    pub weight: f64,
}

/// Everything the placement model needs. Deserialised from JSON with every field optional;
/// missing fields take the [`Default`] values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnConfig {
    /// The species table with rarity tiers and draw weights.
    pub species: Vec<SpeciesConfig>,
    /// Length of one placement tick in ms; randomness is keyed by the tick slot `now_ms / tick_ms`.
    pub tick_ms: i64,
    /// Expected spawns per minute at a POI of weight 1 (a POI of weight w gets w times as many).
    pub spawn_rate_per_poi_per_min: f64,
    /// Inner radius of the ring around a POI where creatures appear, in m.
    pub min_offset_m: f64,
    /// Outer radius of that ring, in m.
    pub max_offset_m: f64,
    /// Despawn timer range in ms, inclusive; each creature draws its lifetime uniformly from it.
    pub lifetime_ms: (i64, i64),
    /// h3o resolution of the cells that carry the density cap.
    pub cell_resolution: u8,
    /// Most creatures allowed in one cell; a placement into a full cell is skipped.
    pub max_per_cell: usize,
    /// Most creatures in the whole world, which bounds memory.
    pub max_creatures: usize,
    /// Most tick slots placed by one `tick` call after a stall; older missed slots are dropped.
    pub max_catch_up_ticks: u32,
    /// Offsets tried for one creature before it is skipped because every one fell in a zone.
    pub placement_attempts: u32,
    /// Most creatures one POI may spawn in one tick slot, whatever its weight.
    pub max_spawns_per_poi_tick: u32,
}

/// The largest tick length accepted, one hour.
const MAX_TICK_MS: i64 = 3_600_000;
/// The largest offset ring accepted, 10 km: creatures are meant to be found near their POI.
const MAX_OFFSET_M: f64 = 10_000.0;

impl Default for SpawnConfig {
    fn default() -> Self {
        let sp = |name: &str, rarity, weight| SpeciesConfig {
            name: name.to_owned(),
            rarity,
            weight,
        };
        SpawnConfig {
            species: vec![
                sp("mossling", Rarity::Common, 24.0),
                sp("puddlefin", Rarity::Common, 22.0),
                sp("thistlehog", Rarity::Common, 20.0),
                sp("pebblet", Rarity::Common, 18.0),
                sp("emberkit", Rarity::Uncommon, 8.0),
                sp("gustwing", Rarity::Uncommon, 7.0),
                sp("lanternbug", Rarity::Uncommon, 6.0),
                sp("frostfox", Rarity::Rare, 2.5),
                sp("quartzback", Rarity::Rare, 2.0),
                sp("stormray", Rarity::Epic, 0.7),
                sp("umbralynx", Rarity::Epic, 0.5),
                sp("aurorath", Rarity::Legendary, 0.1),
            ],
            tick_ms: 1000,
            spawn_rate_per_poi_per_min: 2.0,
            min_offset_m: 5.0,
            max_offset_m: 60.0,
            lifetime_ms: (180_000, 480_000),
            cell_resolution: 9,
            // A weight-1 POI holds about rate × mean lifetime = 2 × 5.5 = 11 creatures in steady
            // state, and a sponsor of weight 3 about 33. The cap sits above that so that it
            // limits clusters of POIs in one cell without flattening sponsor weights.
            max_per_cell: 40,
            max_creatures: 1_000_000,
            max_catch_up_ticks: 5,
            placement_attempts: 6,
            max_spawns_per_poi_tick: 16,
        }
    }
}

/// Why a spawn configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The JSON did not parse or had a field of the wrong type or an unknown field.
    #[error("invalid spawn config json: {0}")]
    Json(#[from] serde_json::Error),
    /// The species table is empty.
    #[error("species table is empty")]
    NoSpecies,
    /// A species has an empty name.
    #[error("species {index} has an empty name")]
    EmptySpeciesName {
        /// Position in the table.
        index: usize,
    },
    /// Two species share a name.
    #[error("species name {name:?} appears more than once")]
    DuplicateSpecies {
        /// The repeated name.
        name: String,
    },
    /// A species weight is not a finite number above 0.
    #[error("species {name:?} has weight {weight}, expected a finite number above 0")]
    BadSpeciesWeight {
        /// Species name.
        name: String,
        /// The weight given.
        weight: f64,
    },
    /// A numeric field is outside its allowed range.
    #[error("{field} is {value}, expected {expected}")]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
}

fn out_of_range(field: &'static str, value: impl ToString, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        field,
        value: value.to_string(),
        expected,
    }
}

impl SpawnConfig {
    /// Parses a JSON config (missing fields take defaults) and validates it.
    pub fn from_json_str(s: &str) -> Result<Self, ConfigError> {
        let config: SpawnConfig = serde_json::from_str(s)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.species.is_empty() {
            return Err(ConfigError::NoSpecies);
        }
        let mut names = std::collections::HashSet::new();
        for (index, s) in self.species.iter().enumerate() {
            if s.name.trim().is_empty() {
                return Err(ConfigError::EmptySpeciesName { index });
            }
            if !names.insert(s.name.as_str()) {
                return Err(ConfigError::DuplicateSpecies {
                    name: s.name.clone(),
                });
            }
            if !(s.weight.is_finite() && s.weight > 0.0) {
                return Err(ConfigError::BadSpeciesWeight {
                    name: s.name.clone(),
                    weight: s.weight,
                });
            }
        }
        if !(1..=MAX_TICK_MS).contains(&self.tick_ms) {
            return Err(out_of_range("tick_ms", self.tick_ms, "1 to 3600000"));
        }
        let rate = self.spawn_rate_per_poi_per_min;
        if !(rate.is_finite() && (0.0..=10_000.0).contains(&rate)) {
            return Err(out_of_range(
                "spawn_rate_per_poi_per_min",
                rate,
                "0 to 10000",
            ));
        }
        if !(self.min_offset_m.is_finite() && (0.0..=MAX_OFFSET_M).contains(&self.min_offset_m)) {
            return Err(out_of_range(
                "min_offset_m",
                self.min_offset_m,
                "0 to 10000",
            ));
        }
        if !(self.max_offset_m.is_finite()
            && self.max_offset_m >= self.min_offset_m
            && self.max_offset_m <= MAX_OFFSET_M)
        {
            return Err(out_of_range(
                "max_offset_m",
                self.max_offset_m,
                "min_offset_m to 10000",
            ));
        }
        let (lo, hi) = self.lifetime_ms;
        if lo < 1 || hi < lo {
            return Err(out_of_range(
                "lifetime_ms",
                format!("[{lo}, {hi}]"),
                "[min, max] with 1 <= min <= max",
            ));
        }
        if self.cell_resolution > 15 {
            return Err(out_of_range(
                "cell_resolution",
                self.cell_resolution,
                "0 to 15",
            ));
        }
        if self.max_per_cell == 0 {
            return Err(out_of_range("max_per_cell", 0, "at least 1"));
        }
        if self.max_creatures == 0 || self.max_creatures > 100_000_000 {
            return Err(out_of_range(
                "max_creatures",
                self.max_creatures,
                "1 to 100000000",
            ));
        }
        if !(1..=1000).contains(&self.max_catch_up_ticks) {
            return Err(out_of_range(
                "max_catch_up_ticks",
                self.max_catch_up_ticks,
                "1 to 1000",
            ));
        }
        if !(1..=64).contains(&self.placement_attempts) {
            return Err(out_of_range(
                "placement_attempts",
                self.placement_attempts,
                "1 to 64",
            ));
        }
        if !(1..=1000).contains(&self.max_spawns_per_poi_tick) {
            return Err(out_of_range(
                "max_spawns_per_poi_tick",
                self.max_spawns_per_poi_tick,
                "1 to 1000",
            ));
        }
        Ok(())
    }

    /// A copy with every field forced into its valid range, so that a `World` built from an
    /// unvalidated config can never divide by zero or loop forever. Invalid species are dropped.
    pub(crate) fn sanitized(&self) -> SpawnConfig {
        let mut c = self.clone();
        let mut seen = std::collections::HashSet::new();
        c.species.retain(|s| {
            !s.name.trim().is_empty()
                && s.weight.is_finite()
                && s.weight > 0.0
                && seen.insert(s.name.clone())
        });
        c.tick_ms = c.tick_ms.clamp(1, MAX_TICK_MS);
        let rate = c.spawn_rate_per_poi_per_min;
        c.spawn_rate_per_poi_per_min = if rate.is_finite() {
            rate.clamp(0.0, 10_000.0)
        } else {
            0.0
        };
        let fix = |v: f64| {
            if v.is_finite() {
                v.clamp(0.0, MAX_OFFSET_M)
            } else {
                0.0
            }
        };
        c.min_offset_m = fix(c.min_offset_m);
        c.max_offset_m = fix(c.max_offset_m).max(c.min_offset_m);
        let lo = c.lifetime_ms.0.max(1);
        c.lifetime_ms = (lo, c.lifetime_ms.1.max(lo));
        c.cell_resolution = c.cell_resolution.min(15);
        c.max_per_cell = c.max_per_cell.max(1);
        c.max_creatures = c.max_creatures.clamp(1, 100_000_000);
        c.max_catch_up_ticks = c.max_catch_up_ticks.clamp(1, 1000);
        c.placement_attempts = c.placement_attempts.clamp(1, 64);
        c.max_spawns_per_poi_tick = c.max_spawns_per_poi_tick.clamp(1, 1000);
        c
    }
}

/// The species table prepared for drawing: shared names and a cumulative weight column.
#[derive(Debug, Clone)]
pub(crate) struct SpeciesTable {
    names: Vec<Arc<str>>,
    rarities: Vec<Rarity>,
    cumulative: Vec<f64>,
}

impl SpeciesTable {
    pub(crate) fn new(species: &[SpeciesConfig]) -> Self {
        let mut total = 0.0;
        let mut table = SpeciesTable {
            names: Vec::new(),
            rarities: Vec::new(),
            cumulative: Vec::new(),
        };
        for s in species {
            total += s.weight;
            table.names.push(Arc::from(s.name.as_str()));
            table.rarities.push(s.rarity);
            table.cumulative.push(total);
        }
        table
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Picks a species from a uniform number `u` in [0, 1).
    pub(crate) fn pick(&self, u: f64) -> Option<(Arc<str>, Rarity)> {
        let total = *self.cumulative.last()?;
        let target = u * total;
        let i = self
            .cumulative
            .partition_point(|&c| c <= target)
            .min(self.names.len() - 1);
        Some((Arc::clone(&self.names[i]), self.rarities[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_has_every_tier() {
        let c = SpawnConfig::default();
        c.validate().unwrap();
        assert_eq!(c.species.len(), 12);
        for r in [
            Rarity::Common,
            Rarity::Uncommon,
            Rarity::Rare,
            Rarity::Epic,
            Rarity::Legendary,
        ] {
            assert!(c.species.iter().any(|s| s.rarity == r), "{r:?}");
        }
    }

    #[test]
    fn json_fills_defaults_and_rejects_bad_values() {
        let c =
            SpawnConfig::from_json_str(r#"{"tick_ms": 500, "lifetime_ms": [1000, 2000]}"#).unwrap();
        assert_eq!(c.tick_ms, 500);
        assert_eq!(c.lifetime_ms, (1000, 2000));
        assert_eq!(c.species, SpawnConfig::default().species);
        let species = r#"{"species": [{"name": "a", "rarity": "epic", "weight": 2}]}"#;
        assert_eq!(
            SpawnConfig::from_json_str(species).unwrap().species[0].rarity,
            Rarity::Epic
        );

        let err = |s: &str| SpawnConfig::from_json_str(s).unwrap_err().to_string();
        assert!(err(r#"{"tick_ms": 0}"#).contains("tick_ms"));
        assert!(err(r#"{"bogus": 1}"#).contains("unknown field"));
        assert!(err(r#"{"species": []}"#).contains("species table is empty"));
        assert!(err(r#"{"min_offset_m": 50, "max_offset_m": 10}"#).contains("max_offset_m"));
        assert!(err(r#"{"lifetime_ms": [5, 1]}"#).contains("lifetime_ms"));
        assert!(err(r#"{"cell_resolution": 16}"#).contains("cell_resolution"));
        assert!(err(r#"{"max_per_cell": 0}"#).contains("max_per_cell"));
        let dup = r#"{"species": [{"name": "a", "rarity": "rare", "weight": 1},
                                  {"name": "a", "rarity": "rare", "weight": 1}]}"#;
        assert!(err(dup).contains("more than once"));
        let w = r#"{"species": [{"name": "a", "rarity": "rare", "weight": 0}]}"#;
        assert!(err(w).contains("weight 0"));
        let bad_tier = r#"{"species": [{"name": "a", "rarity": "mythic", "weight": 1}]}"#;
        assert!(err(bad_tier).contains("unknown variant"));
    }

    #[test]
    fn sanitized_never_produces_unusable_values() {
        let c = SpawnConfig {
            tick_ms: 0,
            min_offset_m: f64::NAN,
            max_offset_m: -3.0,
            lifetime_ms: (-5, -10),
            max_per_cell: 0,
            species: vec![SpeciesConfig {
                name: String::new(),
                rarity: Rarity::Rare,
                weight: 1.0,
            }],
            ..SpawnConfig::default()
        }
        .sanitized();
        assert_eq!(c.tick_ms, 1);
        assert!(c.min_offset_m <= c.max_offset_m);
        assert!(c.lifetime_ms.0 >= 1 && c.lifetime_ms.1 >= c.lifetime_ms.0);
        assert_eq!(c.max_per_cell, 1);
        assert!(c.species.is_empty());
    }

    #[test]
    fn species_pick_follows_weights() {
        let t = SpeciesTable::new(&[
            SpeciesConfig {
                name: "a".into(),
                rarity: Rarity::Common,
                weight: 3.0,
            },
            SpeciesConfig {
                name: "b".into(),
                rarity: Rarity::Rare,
                weight: 1.0,
            },
        ]);
        assert_eq!(&*t.pick(0.0).unwrap().0, "a");
        assert_eq!(&*t.pick(0.74).unwrap().0, "a");
        assert_eq!(&*t.pick(0.76).unwrap().0, "b");
        assert_eq!(&*t.pick(0.999_999).unwrap().0, "b");
        assert!(SpeciesTable::new(&[]).pick(0.5).is_none());
    }
}
