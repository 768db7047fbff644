//! Signed, expiring tokens: the player token from `POST /v1/auth/guest`
//! and the session token from the lobby's `match_found`.
//!
//! Both are JWTs signed with HMAC-SHA256, and the algorithm is pinned on
//! verification, so a token that names another algorithm (including
//! `none`) is refused. The two kinds carry a `typ` claim so one can never
//! stand in for the other.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Seconds of clock skew tolerated between servers.
pub const LEEWAY_S: u64 = 5;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's time is up.
    #[error("token expired")]
    Expired,
    /// Bad signature, bad shape, wrong algorithm or wrong kind.
    #[error("invalid token")]
    Invalid,
    /// The signing key is too short to be safe.
    #[error("signing key must be at least 32 bytes")]
    WeakKey,
}

/// Claims of a player token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerClaims {
    /// The player id.
    pub sub: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Always `player`.
    pub typ: String,
}

/// Claims of a session token, bound to one session and its players.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session id.
    pub sid: String,
    /// Every player allowed to join.
    pub players: Vec<String>,
    /// The game server the session was assigned to.
    pub server: String,
    /// `raid` or `pvp`.
    pub mode: String,
    /// The raid POI, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poi_id: Option<String>,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issue time, unix seconds.
    pub iat: i64,
    /// Always `session`.
    pub typ: String,
}

/// Mints and verifies tokens with one shared secret.
#[derive(Clone)]
pub struct TokenKey {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// Builds a key from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < 32 {
            return Err(TokenError::WeakKey);
        }
        Ok(TokenKey {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
        })
    }

    fn sign<C: Serialize>(&self, claims: &C) -> String {
        // HMAC signing of a plain struct cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.enc).unwrap_or_default()
    }

    fn check<C: for<'de> Deserialize<'de>>(&self, token: &str) -> Result<C, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = LEEWAY_S;
        v.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<C>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// Mints a player token valid from `now` for `ttl_s` seconds.
    pub fn mint_player(&self, player_id: &str, now: i64, ttl_s: i64) -> (String, i64) {
        let exp = now + ttl_s;
        let claims = PlayerClaims {
            sub: player_id.to_owned(),
            exp,
            iat: now,
            typ: "player".into(),
        };
        (self.sign(&claims), exp)
    }

    /// Verifies a player token and returns its claims.
    pub fn verify_player(&self, token: &str) -> Result<PlayerClaims, TokenError> {
        let c: PlayerClaims = self.check(token)?;
        if c.typ != "player" {
            return Err(TokenError::Invalid);
        }
        Ok(c)
    }

    /// Mints a session token; `claims.typ` is set to `session`.
    pub fn mint_session(&self, mut claims: SessionClaims) -> String {
        claims.typ = "session".into();
        self.sign(&claims)
    }

    /// Verifies a session token and returns its claims.
    pub fn verify_session(&self, token: &str) -> Result<SessionClaims, TokenError> {
        let c: SessionClaims = self.check(token)?;
        if c.typ != "session" {
            return Err(TokenError::Invalid);
        }
        Ok(c)
    }
}
