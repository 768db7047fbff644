//! Bodies of the HTTP endpoints that are not GeoJSON.

use serde::{Deserialize, Serialize};

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
