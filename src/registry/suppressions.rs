//! The suppression list's storage (issue 11 §4): who must never be called. Adding an entry that
//! suppresses now withdraws the contact's pending dialer items in the same transaction, and puts
//! the contact in the evaluation queue so its next decision says `suppressed`; removing one puts
//! it there too, so it is decided again without waiting for a new score.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;

use crate::eligibility::Suppression;

/// One entry to add or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub contact_id: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// An entry as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SuppressionView {
    #[schema(example = "c-000123")]
    pub contact_id: String,
    /// When the suppression ends; null: never.
    pub expires_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether it suppresses now (no expiry, or an expiry still ahead).
    pub active: bool,
}

/// What a bulk upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UpsertReport {
    /// Entries new to the list.
    pub created: u64,
    /// Entries that were on the list and were updated.
    pub updated: u64,
    /// Pending dialer items withdrawn because their contact is suppressed now.
    pub withdrawn: u64,
}

/// Adds or updates `entries` (contact ids unique) at `now`, then withdraws the pending dialer
/// items of the contacts they suppress at `now`.
pub async fn upsert(
    tx: &mut PgConnection,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> sqlx::Result<UpsertReport> {
    let ids: Vec<String> = entries.iter().map(|e| e.contact_id.clone()).collect();
    let expires: Vec<Option<DateTime<Utc>>> = entries.iter().map(|e| e.expires_at).collect();
    let notes: Vec<Option<String>> = entries.iter().map(|e| e.note.clone()).collect();
    let created = sqlx::query_scalar!(
        r#"INSERT INTO suppressions (contact_id, expires_at, note, created_at, updated_at)
           SELECT c, e, n, $4, $4 FROM UNNEST($1::text[], $2::timestamptz[], $3::text[]) AS x(c, e, n)
           ON CONFLICT (contact_id) DO UPDATE
           SET expires_at = EXCLUDED.expires_at, note = EXCLUDED.note, updated_at = EXCLUDED.updated_at
           RETURNING (xmax = 0) AS "created!""#,
        &ids,
        &expires as &[Option<DateTime<Utc>>],
        &notes as &[Option<String>],
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    let active: Vec<String> = entries
        .iter()
        .filter(|e| {
            (Suppression {
                expires_at: e.expires_at,
            })
            .active(now)
        })
        .map(|e| e.contact_id.clone())
        .collect();
    let withdrawn = withdraw(&mut *tx, &active).await?;
    requeue(&mut *tx, &ids).await?;
    let new = created.iter().filter(|c| **c).count() as u64;
    Ok(UpsertReport {
        created: new,
        updated: created.len() as u64 - new,
        withdrawn,
    })
}

/// Withdraws the pending dialer items (push outbox and pull feed) of `ids`: they will never be
/// pushed nor leased. Waits for a lease or push in flight on them (row locks).
pub async fn withdraw(db: impl PgExecutor<'_>, ids: &[String]) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query!(
        r#"UPDATE dialer_queue SET state = 'withdrawn', last_error = 'suppressed'
           WHERE contact_id = ANY($1) AND state = 'pending'"#,
        ids
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Withdraws every pending dialer item of a contact suppressed at `now` (of `mode`, and of
/// `campaign` when given): the check the pusher and the feed make right before they hand contacts
/// out, so a suppression committed after the item was queued can never be called.
pub async fn withdraw_suppressed(
    db: impl PgExecutor<'_>,
    mode: &str,
    campaign: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"UPDATE dialer_queue q SET state = 'withdrawn', last_error = 'suppressed'
           FROM suppressions s
           WHERE q.contact_id = s.contact_id AND q.state = 'pending' AND q.mode = $1
             AND (s.expires_at IS NULL OR s.expires_at > $2)
             AND ($3::text IS NULL OR q.campaign_id = $3)"#,
        mode,
        now,
        campaign
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Puts scored contacts in the evaluation queue, so the next run decides them again.
async fn requeue(db: impl PgExecutor<'_>, ids: &[String]) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO evaluation_queue (contact_id, observed_seq)
           SELECT contact_id, observed_seq FROM contact_scores
           WHERE contact_id = ANY($1) AND observed_seq > 0
           ON CONFLICT (contact_id) DO NOTHING"#,
        ids
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a contact from the list; `false` when it was not on it.
pub async fn delete(tx: &mut PgConnection, contact_id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query!("DELETE FROM suppressions WHERE contact_id = $1", contact_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    requeue(&mut *tx, &[contact_id.to_owned()]).await?;
    Ok(true)
}

/// The list in the order entries were first added.
pub async fn list(
    db: impl PgExecutor<'_>,
    after_seq: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(i64, SuppressionView)>> {
    let rows = sqlx::query!(
        r#"SELECT seq, contact_id, expires_at, note, created_at, updated_at FROM suppressions
           WHERE seq > $1 ORDER BY seq LIMIT $2"#,
        after_seq,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let active = Suppression {
                expires_at: r.expires_at,
            }
            .active(now);
            (
                r.seq,
                SuppressionView {
                    contact_id: r.contact_id,
                    expires_at: r.expires_at,
                    note: r.note,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    active,
                },
            )
        })
        .collect())
}

/// The entries of these contacts (active or expired: the rule decides), for the evaluation run.
pub async fn of(
    db: impl PgExecutor<'_>,
    ids: &[String],
) -> sqlx::Result<HashMap<String, Suppression>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT contact_id, expires_at FROM suppressions WHERE contact_id = ANY($1)",
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(by_contact(rows))
}

/// The entries of every contact from `first` to `last` (both included), for the evaluation run;
/// `None` when there are more than `bound` of them.
pub async fn between(
    db: impl PgExecutor<'_>,
    first: &str,
    last: &str,
    bound: i64,
) -> sqlx::Result<Option<HashMap<String, Suppression>>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT contact_id, expires_at FROM suppressions
         WHERE contact_id >= $1 AND contact_id <= $2 ORDER BY contact_id LIMIT $3",
        first,
        last,
        bound + 1
    )
    .fetch_all(db)
    .await?;
    Ok((rows.len() as i64 <= bound).then(|| by_contact(rows)))
}

/// An entry as the evaluation run reads it.
struct Row {
    contact_id: String,
    expires_at: Option<DateTime<Utc>>,
}

fn by_contact(rows: Vec<Row>) -> HashMap<String, Suppression> {
    rows.into_iter()
        .map(|r| {
            (
                r.contact_id,
                Suppression {
                    expires_at: r.expires_at,
                },
            )
        })
        .collect()
}
