//! Manifest versions (SPEC §3, §8): stored as the next version, inactive until activated; exactly one
//! is active.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::normalize::manifest::Manifest;

pub struct StoredManifest {
    pub version: i32,
    pub document: serde_json::Value,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

/// The manifest in force and its version.
pub async fn active(db: impl PgExecutor<'_>) -> sqlx::Result<(i32, Manifest)> {
    let r = sqlx::query!("SELECT version, document FROM manifests WHERE active")
        .fetch_one(db)
        .await?;
    let m = serde_json::from_value(r.document).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((r.version, m))
}

/// The version of the manifest in force, `None` before the first activation.
pub async fn active_version(db: impl PgExecutor<'_>) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!("SELECT version FROM manifests WHERE active")
        .fetch_optional(db)
        .await
}

/// The manifest of `version`, `None` when there is no such version.
pub async fn get(db: impl PgExecutor<'_>, version: i32) -> sqlx::Result<Option<Manifest>> {
    let document =
        sqlx::query_scalar!("SELECT document FROM manifests WHERE version = $1", version)
            .fetch_optional(db)
            .await?;
    document
        .map(|d| serde_json::from_value(d).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<StoredManifest>> {
    sqlx::query_as!(
        StoredManifest,
        "SELECT version, document, active, created_at, activated_at FROM manifests ORDER BY version"
    )
    .fetch_all(db)
    .await
}

/// Stores the next version (inactive). The table lock makes concurrent creations number in turn.
pub async fn create(
    tx: &mut PgConnection,
    manifest: &Manifest,
    now: DateTime<Utc>,
) -> sqlx::Result<i32> {
    sqlx::query!("LOCK TABLE manifests IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let doc = serde_json::to_value(manifest).expect("manifest serializes");
    sqlx::query_scalar!(
        r#"INSERT INTO manifests (version, document, active, created_at)
           SELECT COALESCE(max(version), 0) + 1, $1, false, $2 FROM manifests
           RETURNING version"#,
        doc,
        now
    )
    .fetch_one(&mut *tx)
    .await
}

/// Makes `version` the active manifest. False when there is no such version.
pub async fn activate(
    tx: &mut PgConnection,
    version: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM manifests WHERE version = $1 FOR UPDATE"#,
        version
    )
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !exists {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE manifests SET active = false WHERE active AND version <> $1",
        version
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE manifests SET active = true, activated_at = $2 WHERE version = $1 AND NOT active",
        version,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}
