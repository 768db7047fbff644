//! Bearer tokens: reading one from a request, checking a secret (the
//! admin token) in constant time, and making new random ones.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

/// The request's `Authorization: Bearer …` token, trimmed; none when
/// missing or empty.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A new unguessable token: `prefix` and 256 random bits in hex.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", hex(&rand::random::<[u8; 32]>()))
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether the request's `Authorization: Bearer …` is exactly `secret`.
/// The comparison takes the same time wherever the first difference is,
/// so the secret cannot be guessed byte by byte from response times. An
/// empty secret matches nothing.
pub fn bearer_is(headers: &HeaderMap, secret: &str) -> bool {
    bearer(headers)
        .is_some_and(|t| !secret.is_empty() && bool::from(t.as_bytes().ct_eq(secret.as_bytes())))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_secret_passes() {
        assert!(bearer_is(&headers("Bearer s3cret"), "s3cret"));
        assert!(bearer_is(&headers("Bearer s3cret "), "s3cret"));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(!bearer_is(&headers(wrong), "s3cret"), "{wrong}");
        }
        assert!(!bearer_is(&HeaderMap::new(), "s3cret"));
        assert!(
            !bearer_is(&headers("Bearer "), ""),
            "an empty secret matches nothing"
        );
    }
}
