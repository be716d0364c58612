//! The delivery queue claims contacts, not events (DESIGN-NOTES "per-contact order"): one row per
//! (contact, lane) with work. Ingestion's contacts arrive through `inbox`, whose row commits with
//! the events; the replays, releases and late arrivals enqueue in the transaction that changes
//! their events.

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
/// earlier. `ON CONFLICT` still locks it until this transaction ends, and a claim passes over a
/// locked row: a caller whose events commit with this transaction cannot have them missed by a
/// worker that claims the contact meanwhile. The inbox drain, whose events committed earlier,
/// needs no such lock: [`enqueue_committed`].
pub async fn enqueue<C: AsRef<str> + Ord>(
    tx: &mut PgConnection,
    work: impl IntoIterator<Item = (C, Lane, DateTime<Utc>)>,
) -> sqlx::Result<()> {
    upsert(tx, work, true).await
}

/// [`enqueue`] for work whose events committed before this statement starts: the inbox drain's.
/// A contact this statement sees released, and waiting from no later time, is left alone, not
/// even locked: a claim this statement does not see commits after it started, and the worker
/// reads the contact's events in a statement after its claim (`store::heads`), so after they
/// committed. A claim it does see makes the row held, which is written as `enqueue` writes it.
/// Locking a waiting row was a WAL record per contact, most of a drain's contacts are such, and
/// the drain's statement took PostgreSQL 1.6 times as long (issue 12 §3; docs/BENCHMARKS.md).
pub async fn enqueue_committed<C: AsRef<str> + Ord>(
    tx: &mut PgConnection,
    work: impl IntoIterator<Item = (C, Lane, DateTime<Utc>)>,
) -> sqlx::Result<()> {
    upsert(tx, work, false).await
}

/// The one statement of both: the contacts that need no write are passed over unless
/// `lock_waiting`; the others are upserted in (contact, lane) order.
async fn upsert<C: AsRef<str> + Ord>(
    tx: &mut PgConnection,
    work: impl IntoIterator<Item = (C, Lane, DateTime<Utc>)>,
    lock_waiting: bool,
) -> sqlx::Result<()> {
    let merged = merged(work);
    if merged.is_empty() {
        return Ok(());
    }
    let mut contacts = Vec::with_capacity(merged.len());
    let mut lanes = Vec::with_capacity(merged.len());
    let mut ready = Vec::with_capacity(merged.len());
    for ((c, l), at) in &merged {
        contacts.push(c.as_ref());
        lanes.push(l.as_str());
        ready.push(*at);
    }
    sqlx::query!(
        r#"INSERT INTO delivery_queue (contact_id, lane, ready_at)
           SELECT w.contact_id, w.lane, w.ready_at
           FROM UNNEST($1::text[], $2::text[], $3::timestamptz[]) AS w(contact_id, lane, ready_at)
           LEFT JOIN delivery_queue q ON q.contact_id = w.contact_id AND q.lane = w.lane
           WHERE $4
              OR q.contact_id IS NULL
              OR q.lease_until <> '-infinity'
              OR (q.failures = 0 AND w.ready_at < q.ready_at)
           ORDER BY w.contact_id, w.lane
           ON CONFLICT (contact_id, lane) DO UPDATE
           SET generation = delivery_queue.generation + 1,
               ready_at = CASE WHEN delivery_queue.failures > 0 THEN delivery_queue.ready_at
                               ELSE LEAST(delivery_queue.ready_at, EXCLUDED.ready_at) END
           WHERE delivery_queue.lease_until <> '-infinity'
              OR (delivery_queue.failures = 0 AND EXCLUDED.ready_at < delivery_queue.ready_at)"#,
        &contacts as &[&str],
        &lanes as &[&str],
        &ready,
        lock_waiting
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The work of an enqueue, one entry per (contact, lane) at its earliest time, in (contact, lane)
/// order: `ON CONFLICT` may touch a row only once per statement, and a fixed lock order keeps
/// concurrent batches from deadlocking. A list sorted once, not a map filled entry by entry: a
/// drain merges a few requests' contacts, and the map was about 2 % of the service's instructions
/// in `bench ingest` (callgrind, issue 12 §3).
fn merged<C: Ord>(
    work: impl IntoIterator<Item = (C, Lane, DateTime<Utc>)>,
) -> Vec<((C, Lane), DateTime<Utc>)> {
    let mut merged: Vec<_> = work.into_iter().map(|(c, l, at)| ((c, l), at)).collect();
    // Earliest first within a pair, so the one each pair keeps is its earliest.
    merged.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    merged.dedup_by(|later, kept| later.0 == kept.0);
    merged
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Each (contact, lane) once, at its earliest time, in (contact, lane) order: what a map
        /// keeping the minimum gives.
        #[test]
        fn merged_keeps_each_pair_once_at_its_earliest(
            work in proptest::collection::vec((0u8..6, proptest::bool::ANY, 0i64..5), 0..40)
        ) {
            let t0: DateTime<Utc> = "2026-12-08T00:00:00Z".parse().unwrap();
            let work: Vec<(String, Lane, DateTime<Utc>)> = work
                .into_iter()
                .map(|(c, realtime, m)| {
                    let lane = if realtime { Lane::Realtime } else { Lane::Backfill };
                    (format!("c-{c}"), lane, t0 + chrono::TimeDelta::minutes(m))
                })
                .collect();
            let mut oracle: BTreeMap<(String, Lane), DateTime<Utc>> = BTreeMap::new();
            for (c, l, at) in &work {
                let t = oracle.entry((c.clone(), *l)).or_insert(*at);
                *t = (*t).min(*at);
            }
            let oracle: Vec<_> = oracle.into_iter().collect();
            prop_assert_eq!(merged(work), oracle);
        }
    }
}
