//! What every operator handler shares: the audit row naming the operator,
//! and the answer when storage fails (nothing changed).

use service_kit::ApiError;
use store::{AuditEntry, Operator, StoreError};

use crate::clock::now_ms;

/// The audit row of `op` doing `action` on `target`, stamped now.
pub(crate) fn audit_entry(op: &Operator, action: &str, target: &str, detail: String) -> AuditEntry {
    AuditEntry {
        at: now_ms(),
        actor: op.name.clone(),
        action: action.into(),
        target: target.into(),
        detail,
    }
}

/// The HTTP answer to a failed store call: 503 when storage is away,
/// else 500 (logged).
pub(crate) fn store_error(e: StoreError) -> ApiError {
    if e.is_unavailable() {
        ApiError::unavailable("storage is unavailable; nothing changed")
    } else {
        tracing::error!(error = %e, "admin change failed");
        ApiError::internal("storage error; nothing changed")
    }
}
