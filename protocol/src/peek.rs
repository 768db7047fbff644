//! A borrowed peek at server frames, for clients that time replies at a
//! high rate (the load tester): the few fields a walker acts on, read in
//! one pass straight from the text, and the `seq` of a frame read from its
//! head alone. The full messages are [`crate::play::ServerMessage`].

use std::borrow::Cow;

use serde::Deserialize;

use crate::ErrorCode;

/// How many creatures of a `nearby` a peek keeps (the nearest).
pub const NEAREST_KEPT: usize = 8;

/// The fields of a server frame that a walker acts on, read in one pass
/// straight from the text. The generator reads tens of thousands of
/// `nearby` frames a second; building each whole message (an internally
/// tagged enum is buffered before it is read) would cost it more CPU than
/// the server spends answering.
#[derive(Debug, Deserialize)]
pub struct ReplyPeek<'a> {
    /// The frame's `type`.
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// The request's `seq`, on replies.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The nearest creatures of a `nearby`.
    #[serde(default, borrow)]
    pub creatures: Nearest<'a>,
    /// The POIs of a `nearby`.
    #[serde(default, borrow)]
    pub pois: Vec<SightingPeek<'a>>,
    /// The creature of a `catch_result` or `despawn`.
    #[serde(default, borrow)]
    pub creature_id: Option<Cow<'a, str>>,
    /// The outcome of a `catch_result` or `spin_result`.
    #[serde(default, borrow)]
    pub outcome: Option<Cow<'a, str>>,
    /// The code of an `error`.
    #[serde(default)]
    pub code: Option<ErrorCode>,
}

/// The `seq` of a frame of type `ty` written the protocol crate's way
/// (`type`, then `seq`, first), read without decoding the rest; `None`
/// for any other frame, which then gets the full reading.
pub fn head_seq(text: &str, ty: &str) -> Option<u64> {
    let rest = text
        .strip_prefix(r#"{"type":""#)?
        .strip_prefix(ty)?
        .strip_prefix(r#"","seq":"#)?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

/// The first [`NEAREST_KEPT`] creatures of a `nearby` frame (the
/// nearest, as the list is sorted by distance). The rest are stepped over
/// without decoding their numbers: a busy place lists dozens, and at
/// saturation parsing replies is about a third of the generator's CPU.
#[derive(Debug, Default)]
pub struct Nearest<'a>(pub Vec<SightingPeek<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Nearest<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<SightingPeek<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Nearest<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of creatures")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::with_capacity(NEAREST_KEPT);
                while kept.len() < NEAREST_KEPT {
                    match seq.next_element()? {
                        Some(c) => kept.push(c),
                        None => return Ok(Nearest(kept)),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Nearest(kept))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

/// A creature or POI of a `nearby` frame.
#[derive(Debug, Deserialize)]
pub struct SightingPeek<'a> {
    /// Its id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Its latitude.
    pub lat: f64,
    /// Its longitude.
    pub lon: f64,
}
