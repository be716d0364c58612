//! The dry run's read of the stored events received since an instant, in keyset pages (never the
//! whole period in memory); the open quarantine is read by [`crate::ingest::quarantine::open_with_intake`].

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
