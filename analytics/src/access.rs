//! Who is calling an HTTP endpoint, from its `Authorization: Bearer`
//! token: the admin token (an `operator` named `admin`) or the token of an
//! operator account (`geogame admin add-operator`). The game server's
//! operator API and the reports both ask here.

use std::sync::Arc;

use axum::http::HeaderMap;
use service_kit::ApiError;
use store::{Db, Operator, Role};

/// The name the admin token signs in as.
pub const ADMIN_NAME: &str = "admin";

/// Resolves bearer tokens to operators.
#[derive(Clone)]
pub struct Access {
    db: Db,
    admin_token: Option<Arc<str>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish_non_exhaustive()
    }
}

impl Access {
    /// Accounts from `db`; `admin_token`, when given and not empty, is an
    /// operator named `admin`.
    pub fn new(db: Db, admin_token: Option<&str>) -> Self {
        Access {
            db,
            admin_token: admin_token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    /// The caller, or 401 without a bearer token or with an unknown one
    /// (503 when the accounts cannot be read).
    pub async fn who(&self, headers: &HeaderMap) -> Result<Operator, ApiError> {
        if let Some(admin) = &self.admin_token
            && service_kit::bearer_is(headers, admin)
        {
            return Ok(Operator {
                name: ADMIN_NAME.into(),
                role: Role::Operator,
            });
        }
        let token = service_kit::bearer(headers)
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        match self.db.operator_for_token(token).await {
            Ok(Some(op)) => Ok(op),
            Ok(None) => Err(ApiError::unauthorized("unknown bearer token")),
            Err(e) if e.is_unavailable() => Err(ApiError::unavailable(
                "accounts are unavailable; retry later",
            )),
            Err(e) => {
                tracing::error!(error = %e, "reading operator accounts failed");
                Err(ApiError::internal("could not check the token"))
            }
        }
    }

    /// The caller, who must be an `operator` (403 for analysts and
    /// sponsors).
    pub async fn operator(&self, headers: &HeaderMap) -> Result<Operator, ApiError> {
        let op = self.who(headers).await?;
        if op.role != Role::Operator {
            return Err(forbidden(&op, "only operators change the world"));
        }
        Ok(op)
    }
}

/// 403 for `op`, saying why.
pub fn forbidden(op: &Operator, why: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "forbidden",
        format!("{} ({}): {why}", op.name, op.role.label()),
    )
}
