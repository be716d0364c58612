//! Campaign documents (SPEC §8). The document is stored whole; `priority` and `enabled` are copied
//! into columns so the evaluation run selects and orders campaigns without parsing them all.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::eligibility::{Campaign, campaign_order};

fn decode(document: serde_json::Value) -> sqlx::Result<Campaign> {
    serde_json::from_value(document).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn encode(campaign: &Campaign) -> serde_json::Value {
    serde_json::to_value(campaign).expect("a campaign serializes")
}

/// One page of campaigns in creation order: `(seq, campaign)` after `after_seq`.
pub async fn list(
    db: impl PgExecutor<'_>,
    after_seq: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Campaign)>> {
    let rows = sqlx::query!(
        "SELECT seq, document FROM campaigns WHERE seq > $1 ORDER BY seq LIMIT $2",
        after_seq,
        limit
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.seq, decode(r.document)?)))
        .collect()
}

pub async fn find(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Option<Campaign>> {
    let row = sqlx::query_scalar!("SELECT document FROM campaigns WHERE id = $1", id)
        .fetch_optional(db)
        .await?;
    row.map(decode).transpose()
}

/// The enabled campaigns, in the order they claim a contact (priority descending, then id).
pub async fn enabled(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Campaign>> {
    let rows = sqlx::query_scalar!("SELECT document FROM campaigns WHERE enabled ORDER BY id")
        .fetch_all(db)
        .await?;
    let mut campaigns = rows
        .into_iter()
        .map(decode)
        .collect::<sqlx::Result<Vec<_>>>()?;
    campaigns.sort_by(campaign_order);
    Ok(campaigns)
}

/// Stores a new campaign; `false` (and nothing stored) when the id is taken.
pub async fn insert(
    tx: &mut PgConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"INSERT INTO campaigns (id, document, priority, enabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING"#,
        campaign.id,
        encode(campaign),
        campaign.priority,
        campaign.enabled,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates or replaces a campaign; `true` when it was created.
pub async fn upsert(
    tx: &mut PgConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let created = sqlx::query_scalar!(
        r#"INSERT INTO campaigns (id, document, priority, enabled, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $5)
           ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document,
               priority = EXCLUDED.priority, enabled = EXCLUDED.enabled, updated_at = EXCLUDED.updated_at,
               revision = CASE WHEN campaigns.document = EXCLUDED.document THEN campaigns.revision
                               ELSE nextval('campaign_revision') END
           RETURNING (xmax = 0) AS "created!""#,
        campaign.id,
        encode(campaign),
        campaign.priority,
        campaign.enabled,
        now
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(created)
}

/// The newest revision among the enabled campaigns (0 without any).
pub async fn enabled_revision(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(max(revision), 0) AS "revision!" FROM campaigns WHERE enabled"#
    )
    .fetch_one(db)
    .await
}

/// The campaign revision the last complete evaluation run looked at every contact for.
pub async fn evaluated_revision(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!("SELECT campaign_revision FROM evaluation_state")
        .fetch_one(db)
        .await
}

/// Records that a run looked at every contact for the campaigns up to `revision`.
pub async fn set_evaluated_revision(db: impl PgExecutor<'_>, revision: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE evaluation_state SET campaign_revision = GREATEST(campaign_revision, $1)",
        revision
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes a campaign with its deferrals and the contacts still waiting in its dialer queue (they
/// were never handed over). Its decisions and hand-overs stay: they are the audit trail, and a
/// hand-over's cooldown holds across campaigns. `false` when there was no such campaign.
pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM campaigns WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
