//! Operator accounts: a name, a role, and the hash of a bearer token.
//!
//! Roles, as the contract names them: an `operator` changes zones and POIs
//! and reads every report; an `analyst` reads every report; a `sponsor`
//! reads only the report rows of its own POIs. Tokens are 256-bit random
//! strings, so one SHA-256 of a token is as good as a slow password hash
//! and costs nothing per request.

use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::StoreError;
use crate::world::AuditEntry;

/// What an operator may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Changes zones and POIs, reads every report.
    Operator,
    /// Reads every report.
    Analyst,
    /// Reads the report rows of this sponsor's POIs.
    Sponsor(String),
}

impl Role {
    /// Parses `operator`, `analyst` or `sponsor:NAME`.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "operator" => Ok(Role::Operator),
            "analyst" => Ok(Role::Analyst),
            _ => match s.strip_prefix("sponsor:").map(str::trim) {
                Some(name) if !name.is_empty() => Ok(Role::Sponsor(name.to_owned())),
                _ => Err(format!(
                    "unknown role {s:?}: use operator, analyst or sponsor:SPONSOR"
                )),
            },
        }
    }

    /// The role as [`Role::parse`] reads it.
    pub fn label(&self) -> String {
        match self {
            Role::Operator => "operator".into(),
            Role::Analyst => "analyst".into(),
            Role::Sponsor(s) => format!("sponsor:{s}"),
        }
    }
}

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The name the audit log shows.
    pub name: String,
    /// What they may do.
    pub role: Role,
}

/// The stored form of a bearer token: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    use std::fmt::Write;
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

const UPSERT_OPERATOR: &str = "INSERT INTO operators (name, role, sponsor, token_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (name) DO UPDATE SET role = excluded.role, sponsor = excluded.sponsor, \
     token_hash = excluded.token_hash, created_at = excluded.created_at";
const SELECT_BY_HASH: &str = "SELECT name, role, sponsor FROM operators WHERE token_hash = $1";
const SELECT_ALL: &str = "SELECT name, role, sponsor FROM operators ORDER BY name";
const DELETE_OPERATOR: &str = "DELETE FROM operators WHERE name = $1";

fn from_row((name, role, sponsor): (String, String, Option<String>)) -> Option<Operator> {
    let role = match (role.as_str(), sponsor) {
        ("operator", _) => Role::Operator,
        ("analyst", _) => Role::Analyst,
        ("sponsor", Some(s)) => Role::Sponsor(s),
        _ => return None,
    };
    Some(Operator { name, role })
}

impl Db {
    /// Creates the operator `name` with `role` and the token whose hash is
    /// `hash`, or gives an existing one a new role and token (the old
    /// token stops working); writes `audit` in the same transaction.
    pub async fn put_operator(
        &self,
        name: &str,
        role: &Role,
        hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (kind, sponsor) = match role {
            Role::Operator => ("operator", None),
            Role::Analyst => ("analyst", None),
            Role::Sponsor(s) => ("sponsor", Some(s.as_str())),
        };
        write_tx!(self, tx => {
            sqlx::query(UPSERT_OPERATOR)
                .bind(name)
                .bind(kind)
                .bind(sponsor)
                .bind(hash)
                .bind(audit.at)
                .execute(&mut *tx)
                .await?;
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The operator holding `token`, if any.
    pub async fn operator_for_token(&self, token: &str) -> Result<Option<Operator>, StoreError> {
        let hash = token_hash(token);
        let row: Option<(String, String, Option<String>)> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_BY_HASH).bind(&hash).fetch_optional(pool).await?
        });
        Ok(row.and_then(from_row))
    }

    /// Deletes the operator `name`, whose token stops working at once,
    /// writing `audit` with it; false (and no audit row) when there is no
    /// such operator.
    pub async fn revoke_operator(
        &self,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        write_tx!(self, tx => {
            let n = sqlx::query(DELETE_OPERATOR)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Every operator account, by name.
    pub async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let rows: Vec<(String, String, Option<String>)> =
            on_pool!(self, pool => sqlx::query_as(SELECT_ALL).fetch_all(pool).await?);
        Ok(rows.into_iter().filter_map(from_row).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print_back() {
        for s in ["operator", "analyst", "sponsor:Alpha Coffee"] {
            assert_eq!(Role::parse(s).unwrap().label(), s);
        }
        for bad in ["admin", "sponsor:", "sponsor", ""] {
            assert!(Role::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
