//! Sources (SPEC §6): a name, a signing secret and a versioned mapping.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::{PgConnection, PgExecutor};

use crate::normalize::mapping::Mapping;

pub struct Source {
    pub name: String,
    pub signing_secret: SecretString,
    pub mapping: Mapping,
    pub mapping_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn find(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<Source>> {
    let row = sqlx::query!(
        r#"SELECT s.name, s.signing_secret, s.mapping_version, s.created_at, s.updated_at, m.mapping
           FROM sources s JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           WHERE s.name = $1"#,
        name
    )
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(Source {
            mapping: serde_json::from_value(r.mapping)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            name: r.name,
            signing_secret: SecretString::from(r.signing_secret),
            mapping_version: r.mapping_version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    })
    .transpose()
}

pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Source>> {
    let rows = sqlx::query!(
        r#"SELECT s.name, s.signing_secret, s.mapping_version, s.created_at, s.updated_at, m.mapping
           FROM sources s JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           ORDER BY s.name"#
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Source {
                mapping: serde_json::from_value(r.mapping)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                name: r.name,
                signing_secret: SecretString::from(r.signing_secret),
                mapping_version: r.mapping_version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Creates or updates a source. A changed mapping becomes a new version; an unchanged one keeps its
/// version, so re-applying the same document is idempotent. Returns the mapping version in force.
pub async fn upsert(
    tx: &mut PgConnection,
    name: &str,
    secret: &str,
    mapping: &Mapping,
    now: DateTime<Utc>,
) -> sqlx::Result<i32> {
    let mapping_json = serde_json::to_value(mapping).expect("mapping serializes");
    let current = sqlx::query!(
        r#"SELECT s.mapping_version, m.mapping FROM sources s
           JOIN source_mappings m ON m.source = s.name AND m.version = s.mapping_version
           WHERE s.name = $1 FOR UPDATE OF s"#,
        name
    )
    .fetch_optional(&mut *tx)
    .await?;
    let version = match current {
        Some(c) if c.mapping == mapping_json => c.mapping_version,
        Some(c) => c.mapping_version + 1,
        None => 1,
    };
    sqlx::query!(
        r#"INSERT INTO sources (name, signing_secret, mapping_version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $4)
           ON CONFLICT (name) DO UPDATE
           SET signing_secret = EXCLUDED.signing_secret, mapping_version = EXCLUDED.mapping_version,
               updated_at = EXCLUDED.updated_at"#,
        name,
        secret,
        version,
        now
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO source_mappings (source, version, mapping, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, version) DO NOTHING"#,
        name,
        version,
        mapping_json,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(version)
}

pub struct MappingVersion {
    pub version: i32,
    pub mapping: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn mapping_versions(
    db: impl PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Vec<MappingVersion>> {
    sqlx::query_as!(
        MappingVersion,
        "SELECT version, mapping, created_at FROM source_mappings WHERE source = $1 ORDER BY version",
        name
    )
    .fetch_all(db)
    .await
}
