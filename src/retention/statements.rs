//! The prune's statements, one per step: each deletes one batch of what its cut-off lets go and
//! repeats its condition on the row it deletes, so a row a concurrent transaction changed meanwhile
//! stays. Each says why the rows it keeps must stay. Here are the steps that delete settled rows by
//! age; the histories that keep each contact's newest rows walk a cursor, in `histories.rs`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::postgres::types::PgInterval;

use super::Cutoffs;
use super::batch::{Batch, Cursor, Step};
use super::histories::{decisions, handovers, observations, snapshots};

pub(super) async fn batch(
    tx: &mut PgConnection,
    step: Step,
    c: &Cutoffs,
    cursor: &Cursor,
    limit: i64,
) -> anyhow::Result<Batch> {
    Ok(match step {
        Step::DedupKeys => dedup_keys(tx, c.dedup_keys, limit).await?,
        Step::DeliveredEvents => delivered_events(tx, c.events, limit).await?,
        Step::DeadLetteredEvents => dead_lettered_events(tx, c.events, limit).await?,
        Step::DiscardedEvents => discarded_events(tx, c.events, limit).await?,
        Step::Quarantine => quarantine(tx, c.events, limit).await?,
        Step::Decisions => decisions(tx, c.decisions, cursor, limit).await?,
        Step::Snapshots => snapshots(tx, c.snapshots, cursor, limit).await?,
        Step::Observations => {
            let gap = PgInterval::try_from(c.observation_gap)
                .map_err(|e| anyhow::anyhow!("dampening window as an interval: {e}"))?;
            observations(tx, c.observations, &gap, cursor, limit).await?
        }
        Step::Handovers => handovers(tx, c.handovers, cursor, limit).await?,
        Step::DialerQueue => dialer_queue(tx, c.handovers, limit).await?,
    })
}

/// Dedup keys older than the largest dedup window: the claim in `ingest::store` would replace them
/// anyway. The repeated `first_seen` condition keeps a key claimed again meanwhile.
async fn dedup_keys(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let n = sqlx::query!(
        r#"DELETE FROM dedup_keys WHERE dedup_key IN (
               SELECT dedup_key FROM dedup_keys WHERE first_seen < $1 ORDER BY first_seen LIMIT $2)
             AND first_seen < $1"#,
        cutoff,
        limit
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(Batch::all(n as i64, 0))
}

/// Delivered events, with the (replayed) dead letters that point at them.
async fn delivered_events(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let r = sqlx::query!(
        r#"WITH ev AS (
               DELETE FROM events WHERE id IN (
                   SELECT id FROM events WHERE state = 'delivered' AND delivered_at < $1
                   ORDER BY delivered_at LIMIT $2)
                 AND state = 'delivered' AND delivered_at < $1
               RETURNING id),
           dl AS (DELETE FROM dead_letters WHERE event_id IN (SELECT id FROM ev) RETURNING 1)
           SELECT (SELECT count(*) FROM ev) AS "events!", (SELECT count(*) FROM dl) AS "dl!""#,
        cutoff,
        limit
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(Batch::all(r.events, r.dl))
}

/// Dead-lettered events whose newest dead letter is older than the cut-off, with their dead
/// letters. A replay meanwhile moves the event back to `pending`, and the repeated state condition
/// then keeps it.
async fn dead_lettered_events(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let r = sqlx::query!(
        r#"WITH ev AS (
               DELETE FROM events e WHERE e.id IN (
                   SELECT event_id FROM dead_letters WHERE state = 'open' AND failed_at < $1
                   ORDER BY failed_at LIMIT $2)
                 AND e.state = 'dead_letter'
                 AND NOT EXISTS (SELECT 1 FROM dead_letters n
                                 WHERE n.event_id = e.id AND n.failed_at >= $1)
               RETURNING e.id),
           dl AS (DELETE FROM dead_letters WHERE event_id IN (SELECT id FROM ev) RETURNING 1)
           SELECT (SELECT count(*) FROM ev) AS "events!", (SELECT count(*) FROM dl) AS "dl!""#,
        cutoff,
        limit
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(Batch::all(r.events, r.dl))
}

/// Reconciliation items an operator discarded (open ones, in state `reconciliation`, stay). Events
/// keep no time of the discard, so their age is their arrival's.
async fn discarded_events(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let n = sqlx::query!(
        r#"DELETE FROM events WHERE id IN (
               SELECT id FROM events WHERE state = 'discarded' AND received_at < $1
               ORDER BY received_at LIMIT $2)
             AND state = 'discarded'"#,
        cutoff,
        limit
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(Batch::all(n as i64, 0))
}

/// Quarantine items resolved (replayed or discarded) before the cut-off; open items always stay.
async fn quarantine(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let n = sqlx::query!(
        r#"DELETE FROM quarantine WHERE id IN (
               SELECT id FROM quarantine WHERE state <> 'open' AND resolved_at < $1
               ORDER BY resolved_at LIMIT $2)
             AND state <> 'open'"#,
        cutoff,
        limit
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(Batch::all(n as i64, 0))
}

/// Settled dialer-queue items (handed over or rejected); pending ones always stay.
async fn dialer_queue(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let n = sqlx::query!(
        r#"DELETE FROM dialer_queue WHERE id IN (
               SELECT id FROM dialer_queue
               WHERE state <> 'pending' AND COALESCE(handed_over_at, queued_at) < $1
               ORDER BY COALESCE(handed_over_at, queued_at) LIMIT $2)
             AND state <> 'pending'"#,
        cutoff,
        limit
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(Batch::all(n as i64, 0))
}
