//! Versioned thresholds (SPEC §8): the newest version is in force; every version is an audit record
//! with who changed it, when, and the document before and after.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::domain::thresholds::Thresholds;

pub struct ThresholdsVersion {
    pub version: i32,
    pub document: serde_json::Value,
    pub before: Option<serde_json::Value>,
    pub changed_by: String,
    /// Fingerprint of the token that made the change (null before it was recorded).
    pub changed_by_token: Option<String>,
    pub changed_at: DateTime<Utc>,
}

pub async fn current(db: impl PgExecutor<'_>) -> sqlx::Result<(i32, Thresholds)> {
    let r = sqlx::query!("SELECT version, document FROM thresholds ORDER BY version DESC LIMIT 1")
        .fetch_one(db)
        .await?;
    let t = serde_json::from_value(r.document).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((r.version, t))
}

/// Who made a change, for the audit record: the role and the token's fingerprint.
pub struct ChangedBy<'a> {
    pub role: &'a str,
    pub token: &'a str,
}

/// Stores `next` as a new version. Returns `None` (and stores nothing) when it equals the current one.
pub async fn replace(
    tx: &mut PgConnection,
    next: &Thresholds,
    who: ChangedBy<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<i32>> {
    // Serialize concurrent writers so versions and `before` documents form one chain.
    sqlx::query!("LOCK TABLE thresholds IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let (version, before) = current(&mut *tx).await?;
    if &before == next {
        return Ok(None);
    }
    let before = serde_json::to_value(&before).expect("thresholds serialize");
    let after = serde_json::to_value(next).expect("thresholds serialize");
    sqlx::query!(
        r#"INSERT INTO thresholds (version, document, before, changed_by, changed_by_token, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        version + 1,
        after,
        before,
        who.role,
        who.token,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(Some(version + 1))
}

pub async fn history(
    db: impl PgExecutor<'_>,
    after_version: i64,
    limit: i64,
) -> sqlx::Result<Vec<ThresholdsVersion>> {
    sqlx::query_as!(
        ThresholdsVersion,
        r#"SELECT version, document, before, changed_by, changed_by_token, changed_at FROM thresholds
           WHERE version > $1 ORDER BY version LIMIT $2"#,
        after_version as i32,
        limit
    )
    .fetch_all(db)
    .await
}
