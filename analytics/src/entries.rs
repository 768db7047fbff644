//! Parsing of stream replies (XREADGROUP, XAUTOCLAIM, XPENDING) from raw
//! Redis values.
//!
//! The consumer parses replies itself rather than through the redis crate's
//! typed replies, because one entry that was deleted while pending comes
//! back as `[id, nil]`, and that must not make the whole batch unreadable.

use redis::Value;

use crate::stream::EVENT_FIELD;

/// One stream entry as the consumer sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The stream id, e.g. `1700000000000-0`.
    pub(crate) id: String,
    /// The event JSON, or `None` when the entry is gone (trimmed while
    /// pending) or has no event field.
    pub(crate) payload: Option<String>,
}

/// Why a reply could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unexpected stream reply: {0}")]
pub(crate) struct ReplyError(pub(crate) String);

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Flattens an array or a RESP3 map into its items, pairs laid out flat.
fn items(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a.iter().collect()),
        Value::Map(m) => Some(m.iter().flat_map(|(k, v)| [k, v]).collect()),
        _ => None,
    }
}

/// Reads one `[id, [field, value, ...] | nil]` entry.
fn entry(v: &Value) -> Result<Entry, ReplyError> {
    let parts = items(v).ok_or_else(|| ReplyError(format!("entry {v:?}")))?;
    let id = parts
        .first()
        .and_then(|v| text(v))
        .ok_or_else(|| ReplyError(format!("entry id {v:?}")))?;
    let payload = parts.get(1).and_then(|fields| {
        let fields = items(fields)?;
        fields
            .chunks(2)
            .find(|kv| kv.len() == 2 && text(kv[0]).as_deref() == Some(EVENT_FIELD))
            .and_then(|kv| text(kv[1]))
    });
    Ok(Entry { id, payload })
}

/// Reads a list of entries.
fn entry_list(v: &Value) -> Result<Vec<Entry>, ReplyError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        _ => items(v)
            .ok_or_else(|| ReplyError(format!("entry list {v:?}")))?
            .into_iter()
            .map(entry)
            .collect(),
    }
}

/// Reads an XREADGROUP reply for a single stream: nil (timed out) or
/// `[[key, [entries]]]` (RESP2) or `{key: [entries]}` (RESP3).
pub(crate) fn read_reply(v: &Value) -> Result<Vec<Entry>, ReplyError> {
    if matches!(v, Value::Nil) {
        return Ok(Vec::new());
    }
    let streams = items(v).ok_or_else(|| ReplyError(format!("read {v:?}")))?;
    let mut out = Vec::new();
    match v {
        Value::Map(_) => {
            for pair in streams.chunks(2) {
                if let Some(list) = pair.get(1) {
                    out.extend(entry_list(list)?);
                }
            }
        }
        _ => {
            for s in streams {
                let kv = items(s).ok_or_else(|| ReplyError(format!("stream {s:?}")))?;
                if let Some(list) = kv.get(1) {
                    out.extend(entry_list(list)?);
                }
            }
        }
    }
    Ok(out)
}

/// An XAUTOCLAIM reply.
#[derive(Debug, PartialEq)]
pub(crate) struct Claimed {
    /// Where the next scan starts; `0-0` when the scan is complete.
    pub(crate) next: String,
    /// The entries now owned by this consumer.
    pub(crate) entries: Vec<Entry>,
    /// Pending ids whose entries no longer exist in the stream.
    pub(crate) deleted: Vec<String>,
}

/// Reads `[next, [entries], [deleted ids]?]`.
pub(crate) fn autoclaim_reply(v: &Value) -> Result<Claimed, ReplyError> {
    let parts = items(v).ok_or_else(|| ReplyError(format!("autoclaim {v:?}")))?;
    let next = parts
        .first()
        .and_then(|v| text(v))
        .ok_or_else(|| ReplyError(format!("autoclaim cursor {v:?}")))?;
    let entries = match parts.get(1) {
        Some(list) => entry_list(list)?,
        None => Vec::new(),
    };
    let deleted = parts
        .get(2)
        .and_then(|d| items(d))
        .map(|ids| ids.into_iter().filter_map(text).collect())
        .unwrap_or_default();
    Ok(Claimed {
        next,
        entries,
        deleted,
    })
}

/// Reads the smallest pending id from an `XPENDING key group` summary
/// (`[count, smallest, largest, consumers]`); `None` when nothing is pending.
pub(crate) fn pending_min(v: &Value) -> Option<String> {
    let parts = items(v)?;
    parts.get(1).and_then(|v| text(v))
}

/// Parses a stream id `ms-seq` for ordering; a bare `ms` means seq 0.
pub(crate) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn raw_entry(id: &str, payload: Option<&str>) -> Value {
        let fields = match payload {
            Some(p) => Value::Array(vec![bulk(EVENT_FIELD), bulk(p)]),
            None => Value::Nil,
        };
        Value::Array(vec![bulk(id), fields])
    }

    #[test]
    fn read_reply_keeps_deleted_entries_as_none() {
        let v = Value::Array(vec![Value::Array(vec![
            bulk("k"),
            Value::Array(vec![raw_entry("1-0", Some("{}")), raw_entry("2-0", None)]),
        ])]);
        let got = read_reply(&v).unwrap();
        assert_eq!(
            got,
            vec![
                Entry {
                    id: "1-0".into(),
                    payload: Some("{}".into())
                },
                Entry {
                    id: "2-0".into(),
                    payload: None
                }
            ]
        );
        assert!(read_reply(&Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn read_reply_accepts_resp3_maps() {
        let v = Value::Map(vec![(
            bulk("k"),
            Value::Array(vec![raw_entry("3-1", Some("x"))]),
        )]);
        assert_eq!(read_reply(&v).unwrap()[0].id, "3-1");
    }

    #[test]
    fn autoclaim_reply_reads_cursor_entries_and_deleted() {
        let v = Value::Array(vec![
            bulk("5-0"),
            Value::Array(vec![raw_entry("4-0", Some("p"))]),
            Value::Array(vec![bulk("1-0")]),
        ]);
        let c = autoclaim_reply(&v).unwrap();
        assert_eq!(c.next, "5-0");
        assert_eq!(c.entries.len(), 1);
        assert_eq!(c.deleted, vec!["1-0".to_string()]);
    }

    #[test]
    fn pending_min_and_ids() {
        let v = Value::Array(vec![Value::Int(2), bulk("7-1"), bulk("9-0"), Value::Nil]);
        assert_eq!(pending_min(&v).as_deref(), Some("7-1"));
        let none = Value::Array(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil]);
        assert_eq!(pending_min(&none), None);
        assert!(parse_id("7-1") < parse_id("10-0"));
        assert_eq!(parse_id("12"), Some((12, 0)));
        assert_eq!(parse_id("x-1"), None);
    }
}
