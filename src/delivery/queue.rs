//! The delivery queue claims contacts, not events (DESIGN-NOTES "per-contact order"): one row per
//! (contact, lane) with work. Ingestion's contacts arrive through `inbox`, whose row commits with
//! the events; the replays, releases and late arrivals enqueue in the transaction that changes
//! their events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Realtime,
    Backfill,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Realtime => "realtime",
            Self::Backfill => "backfill",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "realtime" => Some(Self::Realtime),
            "backfill" => Some(Self::Backfill),
            _ => None,
        }
    }
}

/// Marks contacts as having work from `ready_at` on. A contact already waiting keeps the earlier
/// time, and one backing off after a failure keeps its backoff (the barrier: nothing overtakes a
/// retrying event).
///
/// A row a worker holds (or held, and its lease ran out) gets its `generation` bumped, so that the
/// worker, if it found no work, cannot delete a row that gained some meanwhile (`settle_idle`). A
/// released row (`lease_until = '-infinity'`: every release sets it, and a claim, which reads the
/// generation, sets a real time) has no such worker: it is written only when its ready time moves
/// earlier. Most enqueues find their contact already waiting, and a write per contact was the
/// larger part of the drain's cost (issue 12 §3). `ON CONFLICT` still locks the row until this
/// transaction ends, and a claim passes over a locked row: a caller whose events commit with this
/// transaction cannot have them missed by a worker that claims the contact meanwhile.
pub async fn enqueue(
    tx: &mut PgConnection,
    work: impl IntoIterator<Item = (String, Lane, DateTime<Utc>)>,
) -> sqlx::Result<()> {
    // One row per (contact, lane), in a fixed order: ON CONFLICT may touch a row only once per
    // statement, and a fixed lock order keeps concurrent batches from deadlocking.
    let mut merged: BTreeMap<(String, Lane), DateTime<Utc>> = BTreeMap::new();
    for (contact, lane, at) in work {
        merged
            .entry((contact, lane))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    if merged.is_empty() {
        return Ok(());
    }
    let mut contacts = Vec::with_capacity(merged.len());
    let mut lanes = Vec::with_capacity(merged.len());
    let mut ready = Vec::with_capacity(merged.len());
    for ((c, l), at) in merged {
        contacts.push(c);
        lanes.push(l.as_str().to_owned());
        ready.push(at);
    }
    sqlx::query!(
        r#"INSERT INTO delivery_queue (contact_id, lane, ready_at)
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[])
           ON CONFLICT (contact_id, lane) DO UPDATE
           SET generation = delivery_queue.generation + 1,
               ready_at = CASE WHEN delivery_queue.failures > 0 THEN delivery_queue.ready_at
                               ELSE LEAST(delivery_queue.ready_at, EXCLUDED.ready_at) END
           WHERE delivery_queue.lease_until <> '-infinity'
              OR (delivery_queue.failures = 0 AND EXCLUDED.ready_at < delivery_queue.ready_at)"#,
        &contacts,
        &lanes,
        &ready
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Events delivered per minute and lane since `since`, from `delivered_at` (so every instance's
/// deliveries count), on the `events_delivered` index.
pub async fn delivered_by_minute(
    db: impl sqlx::PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<crate::platform::db::MinuteCount>> {
    sqlx::query_as!(
        crate::platform::db::MinuteCount,
        r#"SELECT date_trunc('minute', delivered_at) AS "minute!", lane AS "key!",
                  count(*) AS "count!"
           FROM events WHERE state = 'delivered' AND delivered_at >= $1 AND lane IS NOT NULL
           GROUP BY 1, 2"#,
        since
    )
    .fetch_all(db)
    .await
}
