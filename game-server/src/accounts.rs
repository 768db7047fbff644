//! Password accounts: `POST /v1/auth/register`, `/v1/auth/login` and
//! `/v1/auth/refresh`.
//!
//! - Passwords (at least 10 characters) are kept only as Argon2id hashes,
//!   computed off the async threads.
//! - A guest who registers with their bearer token keeps their player id.
//! - A wrong password is 401; five failures for one email within a minute
//!   make that email 429 until the minute has passed, right password or
//!   not. An unknown email costs the same hash as a known one, so response
//!   times do not tell which emails have accounts.
//! - One client address gets `sign_ins_per_address` password sign-ins a
//!   minute (429 beyond), counted behind a load balancer by the address
//!   it forwards when it is a trusted proxy.
//! - Every sign-in returns a player token and a refresh token; a refresh
//!   token works once (it is stored hashed and marked used atomically).

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::http::{AccountRequest, AccountResponse, RefreshRequest};
use service_kit::{ApiError, Peer, json_response};
use store::AccountTaken;
use tokio::time::Instant;

use crate::clock::now_s;
use crate::state::GameState;

/// How long a refresh token works.
pub(crate) const REFRESH_TTL_S: i64 = 30 * 86_400;

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes, shape: &str) -> Result<T, ApiError> {
    protocol::http::parse_object(body)
        .map_err(|e| ApiError::bad_request(format!("body must be {shape}: {e}")))
}

fn storage(e: store::StoreError) -> ApiError {
    if e.is_unavailable() {
        ApiError::unavailable("storage is unavailable; try again")
    } else {
        tracing::error!(error = %e, "account storage failed");
        ApiError::internal("could not complete the request")
    }
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

/// Counts a password sign-in from `peer`'s client address; refuses it
/// when that address has made the configured number within a minute.
/// Without this, one machine could try a password against every email in
/// turn (the per-email lockout never trips), or keep the CPU busy hashing.
fn count_sign_in(state: &GameState, peer: &Peer) -> Result<(), ApiError> {
    if state.cfg.sign_ins_per_address == 0 {
        return Ok(());
    }
    let Some(ip) = peer.client_ip(&state.cfg.trusted_proxies) else {
        return Ok(());
    };
    let key = ip.to_string();
    let now = Instant::now();
    if state.sign_ins_by_address.locked(&key, now) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many sign-ins from your address; wait a minute",
        ));
    }
    state.sign_ins_by_address.fail(&key, now);
    Ok(())
}

fn too_many(email: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many failed sign-ins for {email}; wait a minute"),
    )
}

/// Hashes `password` with Argon2id and a fresh salt, off the async threads.
async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt =
            SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        tracing::error!(error = %e, "hashing a password failed");
        ApiError::internal("could not hash the password")
    })
}

/// Whether `password` matches the PHC string `hash` (none: an unknown
/// email, checked against a throwaway hash so it takes as long).
async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// An Argon2id hash of a random password nobody knows, with the default
/// parameters, for unknown emails.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$lXPsvmt7Nyq2z5aPfF4Hn9Pdy7GP6QyA4RjJ6ABCl9E";

/// A new token pair for `player_id`; the refresh token joins `family`, or
/// starts one (a fresh sign-in).
async fn sign_in(
    state: &GameState,
    player_id: String,
    family: Option<String>,
) -> Result<Response, ApiError> {
    let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let now = now_s();
    let (token, expires_at) = state
        .key
        .mint_player(&player_id, now, state.cfg.token_ttl_s);
    let refresh_token = service_kit::random_token("grt_");
    state
        .db
        .put_refresh_token(
            &store::token_hash(&refresh_token),
            &player_id,
            &family,
            now + REFRESH_TTL_S,
            now,
        )
        .await
        .map_err(storage)?;
    Ok(json_response(
        StatusCode::OK,
        &AccountResponse {
            player_id,
            token,
            expires_at,
            refresh_token,
        },
    ))
}

/// `POST /v1/auth/register`.
pub(crate) async fn register(
    State(state): State<Arc<GameState>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    count_sign_in(&state, &peer)?;
    let _slot = state.admission.sign_in()?;
    let req: AccountRequest = parse(&body, r#"{"email", "password"}"#)?;
    let email = req.validate().map_err(ApiError::bad_request)?;
    // A guest upgrades: the account keeps the guest's player id.
    let player_id = match service_kit::bearer(&headers) {
        Some(t) => {
            state
                .key
                .verify_player(t)
                .map_err(|e| ApiError::unauthorized(format!("guest token refused: {e}")))?
                .sub
        }
        None => format!("p_{}", uuid::Uuid::new_v4().simple()),
    };
    let hash = {
        let _turn = state.admission.hashing().await;
        hash_password(req.password).await?
    };
    match state
        .db
        .create_account(&email, &player_id, &hash, now_s())
        .await
        .map_err(storage)?
    {
        Ok(()) => {}
        Err(AccountTaken::Email) => return Err(conflict("that email already has an account")),
        Err(AccountTaken::Player) => return Err(conflict("this player already has an account")),
    }
    sign_in(&state, player_id, None).await
}

/// `POST /v1/auth/login`.
pub(crate) async fn login(
    State(state): State<Arc<GameState>>,
    peer: Peer,
    body: Bytes,
) -> Result<Response, ApiError> {
    count_sign_in(&state, &peer)?;
    let _slot = state.admission.sign_in()?;
    let req: AccountRequest = parse(&body, r#"{"email", "password"}"#)?;
    let email = req.email_key();
    if state.login_failures.locked(&email, Instant::now()) {
        return Err(too_many(&email));
    }
    let account = state.db.account(&email).await.map_err(storage)?;
    let (player_id, hash) = match account {
        Some((p, h)) => (Some(p), Some(h)),
        None => (None, None),
    };
    let matched = {
        let _turn = state.admission.hashing().await;
        verify_password(req.password, hash).await
    };
    if !matched {
        state.login_failures.fail(&email, Instant::now());
        return Err(ApiError::unauthorized("wrong email or password"));
    }
    // Checked above; an account exists whenever the password matched.
    let Some(player_id) = player_id else {
        return Err(ApiError::unauthorized("wrong email or password"));
    };
    sign_in(&state, player_id, None).await
}

/// `POST /v1/auth/refresh`: one use per token; a used one presented again
/// revokes every token of its sign-in (see `store::accounts`).
pub(crate) async fn refresh(
    State(state): State<Arc<GameState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let _slot = state.admission.sign_in()?;
    let req: RefreshRequest = parse(&body, r#"{"refresh_token"}"#)?;
    let used = state
        .db
        .use_refresh_token(&store::token_hash(req.refresh_token.trim()), now_s())
        .await
        .map_err(storage)?;
    match used {
        Some((player_id, family)) => sign_in(&state, player_id, Some(family)).await,
        None => Err(ApiError::unauthorized(
            "refresh token unknown, expired or already used",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses_so_unknown_emails_cost_a_real_verify() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
