//! Bodies of the HTTP endpoints that are not GeoJSON.

use serde::{Deserialize, Serialize};

/// Reads a JSON request body that must be an object. serde would also
/// take a struct from an array (`["my-device"]`); the contract's bodies are
/// objects, so anything else is refused.
pub fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(body).map_err(|e| e.to_string()),
        _ => Err("the body must be a JSON object".into()),
    }
}

/// The longest `device_id` accepted by `POST /v1/auth/guest`.
pub const MAX_DEVICE_ID_LEN: usize = 128;

/// `POST /v1/auth/guest` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestAuthRequest {
    /// A stable id of the device, 1 to 128 characters.
    pub device_id: String,
}

impl GuestAuthRequest {
    /// Checks the body's constraints; the error is a message for the client.
    pub fn validate(&self) -> Result<(), &'static str> {
        let n = self.device_id.chars().count();
        if n == 0 || n > MAX_DEVICE_ID_LEN {
            return Err("device_id must be 1 to 128 characters");
        }
        Ok(())
    }
}

/// `POST /v1/auth/guest` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestAuthResponse {
    /// The player this device maps to, always the same for one device.
    pub player_id: String,
    /// Bearer token for `hello`.
    pub token: String,
    /// When the token stops working, in unix seconds.
    pub expires_at: i64,
}

/// The body of every HTTP error: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `bad_request`, `unauthorized`, `not_found`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The shortest password `POST /v1/auth/register` accepts.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (Argon2 hashes it whole).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// `POST /v1/auth/register` and `POST /v1/auth/login` request body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRequest {
    /// The account's email; compared without case.
    pub email: String,
    /// The password, at least [`MIN_PASSWORD_CHARS`] characters.
    pub password: String,
}

impl std::fmt::Debug for AccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl AccountRequest {
    /// The email as accounts are keyed: trimmed and lower-cased.
    pub fn email_key(&self) -> String {
        self.email.trim().to_lowercase()
    }

    /// Checks a registration; returns the email key, or a message for the
    /// client.
    pub fn validate(&self) -> Result<String, &'static str> {
        let email = self.email_key();
        let plausible = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && email.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty() && host.contains('.') && !host.contains('@')
            });
        if !plausible {
            return Err("email must look like name@example.com");
        }
        if self.password.chars().count() < MIN_PASSWORD_CHARS {
            return Err("password must be at least 10 characters");
        }
        if self.password.len() > MAX_PASSWORD_BYTES {
            return Err("password must be at most 1024 bytes");
        }
        Ok(email)
    }
}

/// The reply of register, login and refresh: the guest reply's fields
/// plus a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResponse {
    /// The account's player.
    pub player_id: String,
    /// Bearer token for `hello`.
    pub token: String,
    /// When the token stops working, in unix seconds.
    pub expires_at: i64,
    /// Trades for a new pair once, at `POST /v1/auth/refresh`.
    pub refresh_token: String,
}

/// `POST /v1/auth/refresh` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// A refresh token from an earlier sign-in.
    pub refresh_token: String,
}

/// `GET /v1/client-config`: what the web client needs to know about the
/// server it was loaded from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// Raster tile URL template (`{z}`, `{x}`, `{y}`), or none: the map
    /// draws a plain background.
    pub tile_url: Option<String>,
    /// The lobby's WebSocket URL; none means `/v1/lobby` on the page's
    /// own origin.
    pub lobby_url: Option<String>,
    /// Where a player starts when the browser gives no position: the
    /// centre of the world's points of interest.
    pub center: LatLon,
    /// Creatures within this many metres are listed in `nearby`.
    pub view_radius_m: f64,
    /// The catch range in metres.
    pub catch_range_m: f64,
    /// The spin range in metres.
    pub spin_range_m: f64,
}

/// A position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_length_counts_characters() {
        let ok = |s: String| GuestAuthRequest { device_id: s }.validate();
        assert!(ok(String::new()).is_err());
        assert!(ok("d".into()).is_ok());
        assert!(ok("d".repeat(MAX_DEVICE_ID_LEN)).is_ok());
        assert!(ok("d".repeat(MAX_DEVICE_ID_LEN + 1)).is_err());
        // 128 two-byte characters are 256 bytes but still 128 characters.
        assert!(ok("é".repeat(MAX_DEVICE_ID_LEN)).is_ok());
    }

    #[test]
    fn registrations_are_checked_and_emails_keyed_without_case() {
        let req = |email: &str, password: &str| AccountRequest {
            email: email.into(),
            password: password.into(),
        };
        assert_eq!(
            req(" Ann@Example.COM ", "0123456789").validate(),
            Ok("ann@example.com".into())
        );
        for (email, password) in [
            ("ann@example.com", "short"),
            ("ann@example.com", "123456789"),
            ("ann.example.com", "0123456789"),
            ("@example.com", "0123456789"),
            ("ann@localhost", "0123456789"),
            ("a n@example.com", "0123456789"),
        ] {
            assert!(
                req(email, password).validate().is_err(),
                "{email} {password}"
            );
        }
        // Ten characters, not ten bytes.
        assert!(req("ann@example.com", "ééééééééé").validate().is_err());
        assert!(req("ann@example.com", "éééééééééé").validate().is_ok());
        // The password never shows in logs.
        assert!(!format!("{:?}", req("a@b.co", "hunter2hunter2")).contains("hunter2"));
    }

    #[test]
    fn bodies_must_be_objects_not_arrays() {
        let ok: GuestAuthRequest = parse_object(br#" {"device_id":"d"}"#).unwrap();
        assert_eq!(ok.device_id, "d");
        for bad in [
            &br#"["my-device"]"#[..],
            b"",
            b"  ",
            b"\"d\"",
            br#"{"device_id": 7}"#,
        ] {
            assert!(
                parse_object::<GuestAuthRequest>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn error_body_has_contract_shape() {
        let v = serde_json::to_value(ErrorBody::new("unauthorized", "bad admin token")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "unauthorized", "message": "bad admin token"}})
        );
    }

    #[test]
    fn guest_auth_bodies_have_contract_fields() {
        let req: GuestAuthRequest = serde_json::from_str(r#"{"device_id":"phone-1"}"#).unwrap();
        assert_eq!(req.device_id, "phone-1");
        let v = serde_json::to_value(GuestAuthResponse {
            player_id: "p1".into(),
            token: "t".into(),
            expires_at: 1_795_000_000,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"player_id": "p1", "token": "t", "expires_at": 1_795_000_000i64})
        );
    }
}
