//! Why a zone was refused: every message names what is wrong and where.

use std::fmt;

/// Which ring of which polygon a problem is in, with GeoJSON indices: ring 0 is the exterior,
/// ring k >= 1 is the k-th hole. For a plain Polygon geometry the polygon index is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingRef {
    /// Index of the polygon within a MultiPolygon (0 for a Polygon).
    pub polygon: usize,
    /// Index of the ring within that polygon.
    pub ring: usize,
}

impl fmt::Display for RingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ring == 0 {
            write!(f, "exterior ring of polygon {}", self.polygon)
        } else {
            write!(f, "ring {} (a hole) of polygon {}", self.ring, self.polygon)
        }
    }
}

/// Which coordinate of a position is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The first member of a GeoJSON position, within [-180, 180].
    Longitude,
    /// The second member of a GeoJSON position, within [-90, 90].
    Latitude,
}

impl fmt::Display for Axis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Axis::Longitude => "longitude",
            Axis::Latitude => "latitude",
        })
    }
}

impl Axis {
    fn range(self) -> &'static str {
        match self {
            Axis::Longitude => "[-180, 180]",
            Axis::Latitude => "[-90, 90]",
        }
    }
}

/// Why a zone Feature or FeatureCollection was refused. Messages are lowercase and name the
/// problem, so that the admin API can return them verbatim in a 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZoneError {
    /// The value is not a GeoJSON Feature.
    #[error("expected a geojson Feature, found {found}")]
    NotAFeature {
        /// What was found instead.
        found: String,
    },
    /// The value is not a GeoJSON FeatureCollection.
    #[error("expected a geojson FeatureCollection, found {found}")]
    NotAFeatureCollection {
        /// What was found instead.
        found: String,
    },
    /// A collection holds more features than allowed.
    #[error("feature collection has {count} features, at most {max} are allowed")]
    TooManyFeatures {
        /// Features given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `properties` is present but not an object.
    #[error("properties must be an object, found {found}")]
    BadProperties {
        /// What was found instead.
        found: String,
    },
    /// `properties.name` is absent.
    #[error("properties.name is missing")]
    MissingName,
    /// `properties.name` is not a usable string.
    #[error("properties.name must be a non-empty string of at most 200 characters")]
    BadName,
    /// `properties.reason` is not a usable string.
    #[error("properties.reason must be a string of at most 1000 characters")]
    BadReason,
    /// `properties.buffer_m` is not a number within range.
    #[error("properties.buffer_m must be a number from 0 to 10000 (metres), got {value}")]
    BadBufferM {
        /// The value given, rendered as JSON.
        value: String,
    },
    /// `properties.expires_at` is not a positive integer.
    #[error(
        "properties.expires_at must be a unix time in seconds (a positive integer), got {value}"
    )]
    BadExpiresAt {
        /// The value given, rendered as JSON.
        value: String,
    },
    /// The feature has no geometry.
    #[error("feature has no geometry")]
    MissingGeometry,
    /// The geometry is neither a Polygon nor a MultiPolygon.
    #[error("geometry must be a Polygon or MultiPolygon, found {found}")]
    NotAPolygon {
        /// What was found instead.
        found: String,
    },
    /// The coordinates array does not have the nesting a Polygon or MultiPolygon needs.
    #[error("malformed coordinates at {at}: expected {expected}")]
    MalformedCoordinates {
        /// Where, e.g. "position 3 of exterior ring of polygon 0".
        at: String,
        /// What shape was expected there.
        expected: &'static str,
    },
    /// The geometry has no polygons, or a polygon has no rings.
    #[error("geometry is empty: {what}")]
    EmptyGeometry {
        /// What is empty.
        what: String,
    },
    /// The geometry has more positions than allowed.
    #[error("geometry has {count} positions, at most {max} are allowed")]
    TooManyPositions {
        /// Positions given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A coordinate is outside its range.
    #[error("{axis} {value} at position {position} of {ring} is out of range {}", axis.range())]
    CoordinateOutOfRange {
        /// The ring.
        ring: RingRef,
        /// Index of the position in the ring.
        position: usize,
        /// Which coordinate.
        axis: Axis,
        /// The value given.
        value: f64,
    },
    /// A ring has fewer than 4 positions.
    #[error("{ring} has {count} positions, a ring needs at least 4")]
    TooFewPositions {
        /// The ring.
        ring: RingRef,
        /// Positions given.
        count: usize,
    },
    /// A ring's first and last positions differ.
    #[error("{ring} is not closed: its first and last positions differ")]
    UnclosedRing {
        /// The ring.
        ring: RingRef,
    },
    /// A ring has fewer than 3 distinct positions, so it encloses nothing.
    #[error("{ring} has fewer than 3 distinct positions")]
    DegenerateRing {
        /// The ring.
        ring: RingRef,
    },
    /// A ring crosses or touches itself.
    #[error("{ring} is self-intersecting")]
    SelfIntersecting {
        /// The ring.
        ring: RingRef,
    },
    /// A ring winds around the globe more than once.
    #[error("{ring} winds around the globe more than once")]
    WindsAroundGlobe {
        /// The ring.
        ring: RingRef,
    },
    /// A hole is not inside its polygon's exterior ring.
    #[error("{ring} is not inside the exterior ring")]
    HoleOutsideExterior {
        /// The hole.
        ring: RingRef,
    },
    /// Two rings of one polygon cross or overlap.
    #[error("{first} and {second} intersect")]
    RingsIntersect {
        /// One ring.
        first: RingRef,
        /// The other ring.
        second: RingRef,
    },
    /// A feature of a collection is invalid.
    #[error("feature {index}: {source}")]
    InFeature {
        /// Index of the feature in the collection.
        index: usize,
        /// What is wrong with it.
        source: Box<ZoneError>,
    },
}
