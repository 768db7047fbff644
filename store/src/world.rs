//! The operator-managed world: points of interest, exclusion zones, and
//! the audit log that every operator change writes in its own transaction.

use crate::db::{Db, clamp_limit};
use crate::error::StoreError;

/// A point of interest, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PoiRow {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Spawn weight, > 0.
    pub weight: f64,
    /// The sponsor, if any.
    pub sponsor: Option<String>,
}

/// An exclusion zone, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneRow {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Why it is excluded.
    pub reason: String,
    /// The GeoJSON Feature as stored.
    pub geojson: String,
    /// When it was created, unix seconds.
    pub created_at: i64,
    /// When it stops applying, unix seconds, if ever.
    pub expires_at: Option<i64>,
}

/// One operator change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When, unix milliseconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What (`"zone.create"`, ...).
    pub action: String,
    /// On what (an id).
    pub target: String,
    /// Free-form detail.
    pub detail: String,
}

const SELECT_POIS: &str = "SELECT id, name, lat, lon, weight, sponsor FROM pois ORDER BY id";
const UPSERT_POI: &str = "INSERT INTO pois (id, name, lat, lon, weight, sponsor, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
     name = excluded.name, lat = excluded.lat, lon = excluded.lon, weight = excluded.weight, \
     sponsor = excluded.sponsor, updated_at = excluded.updated_at";

const SELECT_ZONES: &str = "SELECT id, name, reason, geojson, created_at, expires_at \
     FROM zones ORDER BY created_at, id";
const INSERT_ZONE: &str = "INSERT INTO zones (id, name, reason, geojson, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const DELETE_ZONE: &str = "DELETE FROM zones WHERE id = $1";
const DELETE_ALL_ZONES: &str = "DELETE FROM zones";

const SELECT_AUDIT: &str = "SELECT at, actor, action, target, detail FROM audit \
     ORDER BY at DESC, id DESC LIMIT $1";
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit (at, actor, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5)";

type PoiTuple = (String, String, f64, f64, f64, Option<String>);
type ZoneTuple = (String, String, String, String, i64, Option<i64>);
type AuditTuple = (i64, String, String, String, String);

/// Executes the zone insert for `$z` on `$exec`.
macro_rules! write_zone {
    ($exec:expr, $z:expr) => {
        sqlx::query(INSERT_ZONE)
            .bind($z.id.as_str())
            .bind($z.name.as_str())
            .bind($z.reason.as_str())
            .bind($z.geojson.as_str())
            .bind($z.created_at)
            .bind($z.expires_at)
            .execute($exec)
            .await?
    };
}

impl Db {
    /// Every POI, ordered by id.
    pub async fn list_pois(&self) -> Result<Vec<PoiRow>, StoreError> {
        let rows: Vec<PoiTuple> =
            on_pool!(self, pool => sqlx::query_as(SELECT_POIS).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, lat, lon, weight, sponsor)| PoiRow {
                id,
                name,
                lat,
                lon,
                weight,
                sponsor,
            })
            .collect())
    }

    /// Inserts or updates `pois` (by id) and writes `audit`, in one
    /// transaction. `updated_at` is set to `audit.at`.
    pub async fn upsert_pois(&self, pois: &[PoiRow], audit: &AuditEntry) -> Result<(), StoreError> {
        write_tx!(self, tx => {
            for p in pois {
                sqlx::query(UPSERT_POI)
                    .bind(p.id.as_str())
                    .bind(p.name.as_str())
                    .bind(p.lat)
                    .bind(p.lon)
                    .bind(p.weight)
                    .bind(p.sponsor.as_deref())
                    .bind(audit.at)
                    .execute(&mut *tx)
                    .await?;
            }
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every zone, oldest first.
    pub async fn list_zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        let rows: Vec<ZoneTuple> =
            on_pool!(self, pool => sqlx::query_as(SELECT_ZONES).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, name, reason, geojson, created_at, expires_at)| ZoneRow {
                    id,
                    name,
                    reason,
                    geojson,
                    created_at,
                    expires_at,
                },
            )
            .collect())
    }

    /// Inserts a zone and writes `audit`, in one transaction. A zone with
    /// the same id gives [`StoreError::Conflict`] and writes nothing.
    pub async fn insert_zone(&self, z: &ZoneRow, audit: &AuditEntry) -> Result<(), StoreError> {
        write_tx!(self, tx => {
            write_zone!(&mut *tx, z);
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes a zone and writes `audit`, in one transaction. Returns
    /// `false`, writing nothing, when no zone has that id.
    pub async fn delete_zone(&self, id: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
        write_tx!(self, tx => {
            let deleted = sqlx::query(DELETE_ZONE).bind(id).execute(&mut *tx).await?.rows_affected();
            if deleted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Replaces every zone with `zones` and writes `audit`, atomically. On
    /// any error (a duplicate id, say) the old zones stay.
    pub async fn replace_zones(
        &self,
        zones: &[ZoneRow],
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        write_tx!(self, tx => {
            sqlx::query(DELETE_ALL_ZONES).execute(&mut *tx).await?;
            for z in zones {
                write_zone!(&mut *tx, z);
            }
            write_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// The latest `limit` audit entries, newest first.
    pub async fn list_audit(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = clamp_limit(limit);
        let rows: Vec<AuditTuple> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_AUDIT).bind(limit).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, target, detail)| AuditEntry {
                at,
                actor,
                action,
                target,
                detail,
            })
            .collect())
    }

    /// Appends one audit entry on its own.
    pub async fn append_audit(&self, a: &AuditEntry) -> Result<(), StoreError> {
        on_writer!(self, pool => {
            write_audit!(pool, a);
        });
        Ok(())
    }
}
