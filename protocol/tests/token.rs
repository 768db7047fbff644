//! Player and session tokens: minting, verification, expiry, and every way
//! a forged or misused token must be refused.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use protocol::token::{LEEWAY_S, PlayerClaims, SessionClaims, TokenError, TokenKey};
use serde_json::json;

const SECRET: &[u8] = b"0123456789abcdef-geogame-test-key";

fn key() -> TokenKey {
    TokenKey::new(SECRET).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn session_claims(exp: i64) -> SessionClaims {
    SessionClaims {
        sid: "s-1".into(),
        players: vec!["p1".into(), "p2".into()],
        server: "ws://127.0.0.1:8080/v1/play".into(),
        mode: "raid".into(),
        poi_id: Some("poi-1".into()),
        exp,
        iat: exp - 300,
        // `mint_session` overwrites this, so a caller cannot mint another kind.
        typ: "player".into(),
    }
}

/// Base64url without padding, as JWT segments use.
fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Signs arbitrary claims with the test secret and any HMAC algorithm,
/// bypassing `TokenKey`, to build tokens the server must refuse.
fn sign_raw(alg: Algorithm, claims: &serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[test]
fn player_token_round_trips() {
    let k = key();
    let t = now();
    let (token, exp) = k.mint_player("p1", t, 3600);
    assert_eq!(exp, t + 3600);
    let c = k.verify_player(&token).unwrap();
    assert_eq!(
        c,
        PlayerClaims {
            sub: "p1".into(),
            exp: t + 3600,
            iat: t,
            typ: "player".into()
        }
    );
}

#[test]
fn token_is_a_three_part_hs256_jwt() {
    let (token, _) = key().mint_player("p1", now(), 60);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
}

#[test]
fn session_token_round_trips_with_typ_forced() {
    let k = key();
    let exp = now() + 300;
    let token = k.mint_session(session_claims(exp));
    let c = k.verify_session(&token).unwrap();
    assert_eq!(c.typ, "session");
    assert_eq!(c.sid, "s-1");
    assert_eq!(c.players, vec!["p1".to_string(), "p2".to_string()]);
    assert_eq!(c.poi_id.as_deref(), Some("poi-1"));
    assert_eq!(c.exp, exp);
}

#[test]
fn expired_tokens_are_expired() {
    let k = key();
    let (token, _) = k.mint_player("p1", now() - 100, 60);
    assert_eq!(k.verify_player(&token), Err(TokenError::Expired));
    let token = k.mint_session(session_claims(now() - 60));
    assert_eq!(k.verify_session(&token), Err(TokenError::Expired));
}

#[test]
fn small_clock_skew_is_tolerated() {
    // Expired two seconds ago, within the leeway between servers.
    const { assert!(LEEWAY_S >= 2) };
    let k = key();
    let (token, _) = k.mint_player("p1", now() - 62, 60);
    assert!(k.verify_player(&token).is_ok());
}

#[test]
fn tampered_signature_is_invalid() {
    let k = key();
    let (token, _) = k.mint_player("p1", now(), 60);
    let dot = token.rfind('.').unwrap();
    let mut bytes = token.into_bytes();
    // Change the first signature character: it carries six full bits, so
    // the decoded signature is certainly different.
    bytes[dot + 1] = if bytes[dot + 1] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    assert_eq!(k.verify_player(&forged), Err(TokenError::Invalid));
}

#[test]
fn tampered_claims_are_invalid() {
    let k = key();
    let (token, _) = k.mint_player("p1", now(), 60);
    let parts: Vec<&str> = token.split('.').collect();
    let claims = json!({"sub": "admin", "exp": now() + 60, "iat": now(), "typ": "player"});
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(k.verify_player(&forged), Err(TokenError::Invalid));
}

#[test]
fn session_token_is_not_a_player_token_and_vice_versa() {
    let k = key();
    let session = k.mint_session(session_claims(now() + 300));
    assert_eq!(k.verify_player(&session), Err(TokenError::Invalid));
    let (player, _) = k.mint_player("p1", now(), 60);
    assert_eq!(k.verify_session(&player), Err(TokenError::Invalid));
}

#[test]
fn typ_claim_alone_decides_the_kind() {
    // Claims shaped like a player token but typed as a session (or as
    // anything else) are refused, so only `typ` would have told them apart.
    let k = key();
    for typ in ["session", "admin", ""] {
        let claims = json!({"sub": "p1", "exp": now() + 60, "iat": now(), "typ": typ});
        let token = sign_raw(Algorithm::HS256, &claims, SECRET);
        assert_eq!(k.verify_player(&token), Err(TokenError::Invalid), "{typ}");
    }
    let mut claims = serde_json::to_value(session_claims(now() + 60)).unwrap();
    claims["typ"] = json!("player");
    let token = sign_raw(Algorithm::HS256, &claims, SECRET);
    assert_eq!(k.verify_session(&token), Err(TokenError::Invalid));
    // The same claims typed `session` pass, so the refusal above was the typ.
    claims["typ"] = json!("session");
    let token = sign_raw(Algorithm::HS256, &claims, SECRET);
    assert!(k.verify_session(&token).is_ok());
}

#[test]
fn token_signed_with_another_key_is_invalid() {
    let other = TokenKey::new(b"another-secret-that-is-32-bytes-long").unwrap();
    let (token, _) = other.mint_player("p1", now(), 60);
    assert_eq!(key().verify_player(&token), Err(TokenError::Invalid));
    let token = other.mint_session(session_claims(now() + 60));
    assert_eq!(key().verify_session(&token), Err(TokenError::Invalid));
}

#[test]
fn alg_none_token_is_invalid() {
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({"sub": "p1", "exp": now() + 60, "iat": now(), "typ": "player"});
    let body = b64url(claims.to_string().as_bytes());
    let k = key();
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        assert_eq!(k.verify_player(&token), Err(TokenError::Invalid), "{token}");
    }
}

#[test]
fn other_hmac_algorithm_with_the_right_secret_is_invalid() {
    // The algorithm is pinned: HS384 with the very same secret is refused.
    let claims = json!({"sub": "p1", "exp": now() + 60, "iat": now(), "typ": "player"});
    let token = sign_raw(Algorithm::HS384, &claims, SECRET);
    assert_eq!(key().verify_player(&token), Err(TokenError::Invalid));
    // And the same claims under HS256 pass, so the refusal was the algorithm.
    let token = sign_raw(Algorithm::HS256, &claims, SECRET);
    assert!(key().verify_player(&token).is_ok());
}

#[test]
fn token_without_exp_is_invalid() {
    let claims = json!({"sub": "p1", "iat": now(), "typ": "player"});
    let token = sign_raw(Algorithm::HS256, &claims, SECRET);
    assert_eq!(key().verify_player(&token), Err(TokenError::Invalid));
}

#[test]
fn garbage_is_invalid() {
    let k = key();
    for token in ["", "abc", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9.e30."] {
        assert_eq!(k.verify_player(token), Err(TokenError::Invalid), "{token}");
        assert_eq!(k.verify_session(token), Err(TokenError::Invalid), "{token}");
    }
}

#[test]
fn short_key_is_refused() {
    assert_eq!(TokenKey::new(&[7u8; 31]).unwrap_err(), TokenError::WeakKey);
    assert_eq!(TokenKey::new(b"").unwrap_err(), TokenError::WeakKey);
    assert!(TokenKey::new(&[7u8; 32]).is_ok());
}

#[test]
fn debug_never_prints_the_secret() {
    let k = key();
    let shown = format!("{k:?} {k:#?}");
    let secret = std::str::from_utf8(SECRET).unwrap();
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("geogame-test-key"), "{shown}");
    // Nor as a byte list, the way a derived Debug of a Vec<u8> would.
    let first_bytes = format!("{}, {}, {}", SECRET[0], SECRET[1], SECRET[2]);
    assert!(!shown.contains(&first_bytes), "{shown}");
    assert!(shown.contains("TokenKey"));
}

#[test]
fn error_messages_are_lowercase() {
    for e in [
        TokenError::Expired,
        TokenError::Invalid,
        TokenError::WeakKey,
    ] {
        let s = e.to_string();
        assert_eq!(s, s.to_lowercase());
        assert!(!s.ends_with('.'));
    }
}
