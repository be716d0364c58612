//! The dead letters' store (SPEC §8): events Genesys refused with a 4xx, listed for the operator
//! and replayed into their lane.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Lane;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub id: Uuid,
    pub event_id: Uuid,
    pub contact_id: String,
    pub request_id: Uuid,
    /// The HTTP status PE answered.
    pub status: i32,
    pub response_body: String,
    pub failed_at: DateTime<Utc>,
}

/// Open dead letters after `after` (their sequence), oldest first, with their sequence.
pub async fn open_page(
    reads: &PgPool,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, DeadLetter)>> {
    let rows = sqlx::query!(
        r#"SELECT seq, id, event_id, contact_id, request_id, status, response_body, failed_at
           FROM dead_letters WHERE state = 'open' AND seq > $1 ORDER BY seq LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(reads)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let letter = DeadLetter {
                id: r.id,
                event_id: r.event_id,
                contact_id: r.contact_id,
                request_id: r.request_id,
                status: r.status,
                response_body: r.response_body,
                failed_at: r.failed_at,
            };
            (r.seq, letter)
        })
        .collect())
}

/// An open dead letter, locked for its replay.
pub struct Open {
    pub id: Uuid,
    pub event_id: Uuid,
    pub contact_id: String,
    pub request_id: Uuid,
    lane: Option<String>,
}

impl Open {
    /// The lane its event goes back to (real-time when the event never had one).
    pub fn lane(&self) -> Lane {
        self.lane
            .as_deref()
            .and_then(Lane::parse)
            .unwrap_or(Lane::Realtime)
    }
}

/// Locks the open dead letters among `ids` and their events.
pub async fn lock_open(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Open>> {
    sqlx::query_as!(
        Open,
        r#"SELECT d.id, d.event_id, d.contact_id, d.request_id, e.lane
           FROM dead_letters d JOIN events e ON e.id = d.event_id
           WHERE d.state = 'open' AND d.id = ANY($1) ORDER BY d.id FOR UPDATE OF d, e"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await
}

/// Marks dead letters replayed and their events pending again (the caller enqueues them).
pub async fn mark_replayed(
    tx: &mut PgConnection,
    letters: &[Uuid],
    events: &[Uuid],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE events SET state = 'pending' WHERE id = ANY($1) AND state = 'dead_letter'",
        events
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE dead_letters SET state = 'replayed', replayed_at = $2 WHERE id = ANY($1)",
        letters,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
