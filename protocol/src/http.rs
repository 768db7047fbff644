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
