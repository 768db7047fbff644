//! Small helpers for reading GeoJSON out of `serde_json::Value` with clear error wording.

use serde_json::Value;

/// The JSON kind of a value, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a value claims to be: its GeoJSON `type` when it is an object with one, else its kind.
pub(crate) fn found(v: &Value) -> String {
    match v.get("type").and_then(Value::as_str) {
        Some(t) => format!("type {:?}", truncate(t, 40)),
        None => kind(v).to_owned(),
    }
}

/// A short rendering of a value for an error message, cut at about 40 characters so that a
/// hostile body cannot blow up the error text.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}...", truncate(&s, 40))
    } else {
        s
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads a GeoJSON position `[lon, lat, ...]` as (lon, lat); extra members such as altitude are
/// allowed and ignored, as RFC 7946 permits.
pub(crate) fn position(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    if a.len() < 2 {
        return None;
    }
    Some((a[0].as_f64()?, a[1].as_f64()?))
}

/// Returns the `properties` object of a feature: `None` when absent or null, `Err` with what was
/// found when it is something other than an object.
pub(crate) fn properties(
    feature: &serde_json::Map<String, Value>,
) -> Result<Option<&serde_json::Map<String, Value>>, String> {
    match feature.get("properties") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(kind(other).to_owned()),
    }
}

/// Whether an object is a GeoJSON object of the given `type`.
pub(crate) fn is_type(v: &Value, t: &str) -> bool {
    v.get("type").and_then(Value::as_str) == Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helpers_describe_values() {
        assert_eq!(found(&json!({"type": "Point"})), "type \"Point\"");
        assert_eq!(found(&json!([1])), "an array");
        assert_eq!(position(&json!([1.5, 2, 30])), Some((1.5, 2.0)));
        assert_eq!(position(&json!([1.5])), None);
        assert_eq!(position(&json!(["a", 1])), None);
        let long = json!("x".repeat(100));
        assert!(short(&long).len() < 50);
        assert_eq!(truncate("héllo", 2), "h");
    }
}
