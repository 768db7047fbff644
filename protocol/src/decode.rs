//! Strict, single-pass decoding of client frames.
//!
//! Every client message is read into one flat [`Raw`] struct whose fields
//! are all optional, then checked by `type`. This is one pass over the
//! bytes with no intermediate buffering (serde's internally tagged enums
//! buffer the whole object first), and it lets an error reply echo the
//! request's `seq` even when another field is wrong.

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::DecodeErrorKind as K;
use crate::lobby::{LobbyClientMessage, Mode, QueueRequest};
use crate::play::{ClientMessage, LocationUpdate};
use crate::{DecodeError, MAX_ID_LEN};

/// The most members a `party` may list.
pub(crate) const MAX_PARTY: usize = 32;

#[derive(Deserialize, Default)]
struct Raw<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    seq: Option<u64>,
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    lat: Option<f64>,
    lon: Option<f64>,
    heading: Option<f64>,
    speed: Option<f64>,
    accuracy: Option<f64>,
    #[serde(borrow)]
    creature_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    poi_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ticket_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mode: Option<Cow<'a, str>>,
    level: Option<u32>,
    party: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: Option<u64>,
}

fn parse(text: &str) -> Result<Raw<'_>, DecodeError> {
    // serde's derived struct visitor also accepts a JSON array and fills the
    // fields by position, so `["hello", null, "t", ...]` would otherwise
    // pass as a message. Only an object is a frame.
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::new(
            None,
            K::Json("expected a json object".into()),
        ));
    }
    serde_json::from_str::<Raw<'_>>(text).map_err(|e| {
        // The frame did not fit the flat shape; still try to echo its seq.
        let seq = serde_json::from_str::<SeqOnly>(text)
            .ok()
            .and_then(|s| s.seq);
        DecodeError::new(seq, K::Json(e.to_string()))
    })
}

struct Checker {
    seq: Option<u64>,
    ty: &'static str,
}

impl Checker {
    fn err(&self, kind: K) -> DecodeError {
        DecodeError::new(self.seq, kind)
    }

    fn need<T>(&self, v: Option<T>, field: &'static str) -> Result<T, DecodeError> {
        v.ok_or_else(|| self.err(K::MissingField { ty: self.ty, field }))
    }

    fn id(&self, v: Option<Cow<'_, str>>, field: &'static str) -> Result<String, DecodeError> {
        let s = self.need(v, field)?;
        if s.is_empty() || s.len() > MAX_ID_LEN {
            return Err(self.err(K::BadLength {
                field,
                max: MAX_ID_LEN,
            }));
        }
        Ok(s.into_owned())
    }

    fn lat_lon(&self, lat: Option<f64>, lon: Option<f64>) -> Result<(f64, f64), DecodeError> {
        let lat = self.need(lat, "lat")?;
        let lon = self.need(lon, "lon")?;
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(self.err(K::OutOfRange {
                field: "lat",
                reason: "must be within [-90, 90]",
            }));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(self.err(K::OutOfRange {
                field: "lon",
                reason: "must be within [-180, 180]",
            }));
        }
        Ok((lat, lon))
    }

    fn non_negative(
        &self,
        v: Option<f64>,
        field: &'static str,
    ) -> Result<Option<f64>, DecodeError> {
        match v {
            Some(x) if !(x.is_finite() && x >= 0.0) => Err(self.err(K::OutOfRange {
                field,
                reason: "must be a finite number >= 0",
            })),
            other => Ok(other),
        }
    }
}

pub(crate) fn decode_play(text: &str) -> Result<ClientMessage, DecodeError> {
    let raw = parse(text)?;
    let seq = raw.seq;
    let ty = raw
        .ty
        .as_deref()
        .ok_or(DecodeError::new(seq, K::MissingType))?;
    let static_ty: &'static str = match ty {
        "hello" => "hello",
        "location" => "location",
        "catch" => "catch",
        "spin" => "spin",
        "collection" => "collection",
        "join_session" => "join_session",
        "attack" => "attack",
        "raid_catch" => "raid_catch",
        "leave_session" => "leave_session",
        "ping" => "ping",
        "passenger" => "passenger",
        other => return Err(DecodeError::new(seq, K::UnknownType(truncate(other)))),
    };
    let c = Checker { seq, ty: static_ty };
    Ok(match static_ty {
        "hello" => ClientMessage::Hello {
            token: c.id(raw.token, "token")?,
        },
        "location" => {
            let (lat, lon) = c.lat_lon(raw.lat, raw.lon)?;
            if let Some(h) = raw.heading
                && !(h.is_finite() && (0.0..360.0).contains(&h))
            {
                return Err(c.err(K::OutOfRange {
                    field: "heading",
                    reason: "must be within [0, 360)",
                }));
            }
            ClientMessage::Location(LocationUpdate {
                seq,
                lat,
                lon,
                heading: raw.heading,
                speed: c.non_negative(raw.speed, "speed")?,
                accuracy: c.non_negative(raw.accuracy, "accuracy")?,
            })
        }
        "catch" => ClientMessage::Catch {
            seq,
            creature_id: c.id(raw.creature_id, "creature_id")?,
        },
        "spin" => ClientMessage::Spin {
            seq,
            poi_id: c.id(raw.poi_id, "poi_id")?,
        },
        "collection" => ClientMessage::Collection { seq },
        "join_session" => ClientMessage::JoinSession {
            seq,
            session_token: c.id(raw.session_token, "session_token")?,
        },
        "attack" => ClientMessage::Attack { seq },
        "raid_catch" => ClientMessage::RaidCatch { seq },
        "leave_session" => ClientMessage::LeaveSession { seq },
        "passenger" => ClientMessage::Passenger { seq },
        _ => ClientMessage::Ping { seq },
    })
}

pub(crate) fn decode_lobby(text: &str) -> Result<LobbyClientMessage, DecodeError> {
    let raw = parse(text)?;
    let seq = raw.seq;
    let ty = raw
        .ty
        .as_deref()
        .ok_or(DecodeError::new(seq, K::MissingType))?;
    let static_ty: &'static str = match ty {
        "hello" => "hello",
        "queue" => "queue",
        "cancel" => "cancel",
        "ping" => "ping",
        other => return Err(DecodeError::new(seq, K::UnknownType(truncate(other)))),
    };
    let c = Checker { seq, ty: static_ty };
    Ok(match static_ty {
        "hello" => LobbyClientMessage::Hello {
            token: c.id(raw.token, "token")?,
        },
        "queue" => {
            let mode = match c.need(raw.mode.as_deref(), "mode")? {
                "raid" => Mode::Raid,
                "pvp" => Mode::Pvp,
                _ => {
                    return Err(c.err(K::OutOfRange {
                        field: "mode",
                        reason: "must be `raid` or `pvp`",
                    }));
                }
            };
            let poi_id = match mode {
                Mode::Raid => Some(c.id(raw.poi_id, "poi_id")?),
                // A pvp ticket may name a place, but when it does the id
                // obeys the same length rules as everywhere else.
                Mode::Pvp => raw.poi_id.map(|p| c.id(Some(p), "poi_id")).transpose()?,
            };
            let (lat, lon) = c.lat_lon(raw.lat, raw.lon)?;
            let party = raw.party.unwrap_or_default();
            if party.len() > MAX_PARTY {
                return Err(c.err(K::OutOfRange {
                    field: "party",
                    reason: "at most 32 members",
                }));
            }
            if party.iter().any(|p| p.is_empty() || p.len() > MAX_ID_LEN) {
                return Err(c.err(K::BadLength {
                    field: "party",
                    max: MAX_ID_LEN,
                }));
            }
            LobbyClientMessage::Queue(QueueRequest {
                seq,
                mode,
                poi_id,
                lat,
                lon,
                level: raw.level,
                party,
            })
        }
        "cancel" => LobbyClientMessage::Cancel {
            seq,
            ticket_id: c.id(raw.ticket_id, "ticket_id")?,
        },
        _ => LobbyClientMessage::Ping { seq },
    })
}

/// Keeps an echoed unknown type short, so a huge bogus `type` is not
/// reflected back in full.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_64_chars_on_char_boundaries() {
        let long = "é".repeat(100);
        let t = truncate(&long);
        assert_eq!(t.chars().count(), 64);
        assert_eq!(truncate("short"), "short");
    }

    // Regression: serde's derived visitor accepts an array with one element
    // per field, which let a positional array pass as a `hello`.
    #[test]
    fn positional_array_is_not_a_frame() {
        let mut fields = vec![r#""hello""#, "null", r#""tok""#];
        fields.resize(15, "null");
        let text = format!("[{}]", fields.join(","));
        let err = decode_play(&text).unwrap_err();
        assert!(matches!(err.kind, K::Json(_)), "{err:?}");
        assert!(decode_lobby(&text).is_err());
    }

    #[test]
    fn leading_whitespace_before_object_is_fine() {
        let msg = decode_play(" \n\t{\"type\":\"ping\",\"seq\":1}").unwrap();
        assert_eq!(msg, ClientMessage::Ping { seq: Some(1) });
    }
}
