//! The reconciliation store (SPEC §3.4): future-dated events parked for the operator, who
//! releases them on to delivery (through `admit`) or discards them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::delivery::Lane;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationItem {
    /// The event id.
    pub id: Uuid,
    pub source: String,
    pub contact_id: String,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub request_id: Uuid,
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
}

/// Parked events after `after` (their sequence), oldest first, with their sequence.
pub async fn parked_page(
    reads: &PgPool,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, ReconciliationItem)>> {
    let rows = sqlx::query!(
        r#"SELECT seq, id, source, contact_id, event_type, event_timestamp, received_at, request_id, raw
           FROM events WHERE state = 'reconciliation' AND seq > $1 ORDER BY seq LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(reads)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let item = ReconciliationItem {
                id: r.id,
                source: r.source,
                contact_id: r.contact_id,
                event_type: r.event_type,
                event_timestamp: r.event_timestamp,
                received_at: r.received_at,
                request_id: r.request_id,
                raw: r.raw,
            };
            (r.seq, item)
        })
        .collect())
}

/// A parked event, locked for a release or a discard.
pub struct Parked {
    pub id: Uuid,
    pub contact_id: String,
    pub event_timestamp: DateTime<Utc>,
    pub request_id: Uuid,
    pub dedup_key: Vec<u8>,
}

/// Locks the parked events among `ids`.
pub async fn lock_parked(tx: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Parked>> {
    sqlx::query_as!(
        Parked,
        r#"SELECT id, contact_id, event_timestamp, request_id, dedup_key FROM events
           WHERE state = 'reconciliation' AND id = ANY($1) ORDER BY id FOR UPDATE"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await
}

/// Sends a parked event to `lane` as received `now` (the caller enqueues its contact).
pub async fn release(
    tx: &mut PgConnection,
    id: Uuid,
    lane: Lane,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE events SET state = 'pending', lane = $2, route_reason = 'released',
                       received_at = $3 WHERE id = $1"#,
        id,
        lane.as_str(),
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Drops a parked event for good, saying why (`duplicate`, `discarded`).
pub async fn discard(tx: &mut PgConnection, id: Uuid, why: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE events SET state = 'discarded', route_reason = $2 WHERE id = $1",
        id,
        why
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
