//! The dry run's reads: stored events received since an instant and the open quarantine, each in
//! keyset pages (never the whole period in memory). Reads only.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A stored event's raw payload, with where it stands in arrival order.
pub struct StoredEvent {
    pub seq: i64,
    pub id: Uuid,
    pub source: String,
    pub raw: Value,
    pub received_at: DateTime<Utc>,
}

/// The next `limit` events after `after` = (received_at, seq) in arrival order (of `source` when
/// given). The first page starts at `(since, -1)`: every `seq` is positive.
pub async fn events_page(
    db: impl PgExecutor<'_>,
    after: (DateTime<Utc>, i64),
    source: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<StoredEvent>> {
    sqlx::query_as!(
        StoredEvent,
        r#"SELECT seq, id, source, raw, received_at FROM events
           WHERE (received_at, seq) > ($1, $2) AND ($3::text IS NULL OR source = $3)
           ORDER BY received_at, seq LIMIT $4"#,
        after.0,
        after.1,
        source,
        limit
    )
    .fetch_all(db)
    .await
}

/// An open quarantine item.
pub struct OpenItem {
    pub seq: i64,
    pub id: Uuid,
    pub source: String,
    pub reason: String,
    pub raw: Value,
    pub intake: String,
    pub received_at: DateTime<Utc>,
}

/// The next `limit` open quarantine items after `after_seq` (of `source` when given).
pub async fn quarantine_page(
    db: impl PgExecutor<'_>,
    after_seq: i64,
    source: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<OpenItem>> {
    sqlx::query_as!(
        OpenItem,
        r#"SELECT seq, id, source, reason, raw, intake, received_at FROM quarantine
           WHERE state = 'open' AND seq > $1 AND ($2::text IS NULL OR source = $2)
           ORDER BY seq LIMIT $3"#,
        after_seq,
        source,
        limit
    )
    .fetch_all(db)
    .await
}
