//! The dialer queue's storage: contacts on their way to the dialer (the push outbox and the pull
//! feed), and the hand-overs that end their way there.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A pending push, as the pusher reads it.
#[derive(Debug, Clone)]
pub struct PushItem {
    pub id: i64,
    pub contact_list_id: String,
    pub contact: serde_json::Value,
    pub failures: i32,
}

/// The oldest pushes due at `now`, at most `limit`; never one of a contact suppressed at `now`.
pub async fn ready_pushes(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<PushItem>> {
    sqlx::query_as!(
        PushItem,
        r#"SELECT id, contact_list_id, contact, failures FROM dialer_queue
           WHERE mode = 'push' AND state = 'pending' AND ready_at <= $1
             AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.contact_id = dialer_queue.contact_id
                             AND (s.expires_at IS NULL OR s.expires_at > $1))
           ORDER BY ready_at, id LIMIT $2"#,
        now,
        limit
    )
    .fetch_all(db)
    .await
}

/// Hands the pending items `ids` over at `at`: each gets a hand-over record, which starts the
/// contact's cooldown. Items no longer pending are left alone. Returns how many were handed over.
pub async fn hand_over(tx: &mut PgConnection, ids: &[i64], at: DateTime<Utc>) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"WITH done AS (
               UPDATE dialer_queue SET state = 'handed_over', handed_over_at = $2
               WHERE id = ANY($1) AND state = 'pending'
               RETURNING contact_id, campaign_id, channel, mode)
           INSERT INTO handovers (contact_id, campaign_id, channel, mode, at)
           SELECT contact_id, campaign_id, channel, mode, $2 FROM done"#,
        ids,
        at
    )
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// The dialer refused the items for good (a 4xx other than 401/408/429): they leave the queue with
/// the answer recorded, and the contact may be offered again by a later run.
pub async fn reject(
    db: impl PgExecutor<'_>,
    ids: &[i64],
    status: Option<i32>,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE dialer_queue SET state = 'rejected', last_status = $2, last_error = $3,
               failures = failures + 1
           WHERE id = ANY($1) AND state = 'pending'"#,
        ids,
        status,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A retryable failure: the items wait until `ready_at` and count one more failure.
pub async fn retry_later(
    db: impl PgExecutor<'_>,
    ids: &[i64],
    ready_at: DateTime<Utc>,
    status: Option<i32>,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE dialer_queue SET ready_at = $2, last_status = $3, last_error = $4,
               failures = failures + 1
           WHERE id = ANY($1) AND state = 'pending'"#,
        ids,
        ready_at,
        status,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Per campaign: contacts handed over since `since`, and contacts waiting in its queue now.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignFlow {
    pub campaign_id: String,
    pub handed_over: i64,
    pub queued: i64,
}

/// [`CampaignFlow`] of every campaign with a hand-over since `since` or a contact queued.
pub async fn flow_by_campaign(
    db: impl PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<CampaignFlow>> {
    sqlx::query_as!(
        CampaignFlow,
        r#"SELECT campaign_id AS "campaign_id!", sum(h)::int8 AS "handed_over!", sum(q)::int8 AS "queued!"
           FROM (SELECT campaign_id, 1 AS h, 0 AS q FROM handovers WHERE at >= $1
                 UNION ALL
                 SELECT campaign_id, 0, 1 FROM dialer_queue WHERE state = 'pending') x
           GROUP BY campaign_id ORDER BY campaign_id"#,
        since
    )
    .fetch_all(db)
    .await
}

/// Contacts in their cooldown: those handed over after `cooldown_start` (every one, for `None`;
/// see `evaluation::cooldown::cooldown_start`, which decides the instant).
pub async fn contacts_in_cooldown(
    db: impl PgExecutor<'_>,
    cooldown_start: Option<DateTime<Utc>>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(DISTINCT contact_id) AS "n!" FROM handovers
           WHERE $1::timestamptz IS NULL OR at > $1"#,
        cooldown_start
    )
    .fetch_one(db)
    .await
}
