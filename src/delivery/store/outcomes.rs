//! Recording what became of the heads a round sent (or did not send), in one transaction per
//! round: the events' new states, dead letters, late arrivals moved to the backfill lane, and the
//! contacts' leases released for their next event.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::Head;
use crate::delivery::{Lane, poll_queue, queue};

/// One contact's outcome for its head event.
pub struct Outcome {
    pub contact_id: String,
    pub event_id: Uuid,
    pub request_id: Uuid,
    pub event_timestamp: DateTime<Utc>,
    pub kind: OutcomeKind,
}

#[derive(Debug, Clone)]
pub enum OutcomeKind {
    Delivered,
    /// Retry no earlier than this; `failures` is the contact's new consecutive-failure count.
    Retry {
        at: DateTime<Utc>,
        failures: i32,
    },
    DeadLetter {
        status: i32,
        body: String,
    },
    /// The event is a late arrival: it moves to the backfill lane without being sent.
    Late,
    /// Not attempted (no rate permit in time): released untouched.
    Skipped,
    /// Not attempted, or answered in a way that is nobody's failure (the org is not set up, its
    /// configuration is gone): released untouched, ready again at `until`.
    Wait {
        until: DateTime<Utc>,
    },
}

impl Outcome {
    /// `kind` for `head`'s event.
    pub fn of(head: &Head, kind: OutcomeKind) -> Self {
        Self {
            contact_id: head.contact_id.clone(),
            event_id: head.id,
            request_id: head.request_id,
            event_timestamp: head.event_timestamp,
            kind,
        }
    }
}

/// Records a batch of outcomes in one transaction and releases the contacts' leases. Only the
/// outcomes of contacts whose lease `token` still holds, unexpired, are recorded: a worker that
/// stalled past its lease may have been overtaken by another, which now owns the contact's head
/// event; its answer from PE is dropped (a resend carries the same `X-Request-Id`, which PE
/// deduplicates). Returns how many outcomes were recorded.
pub async fn record(
    pool: &PgPool,
    lane: Lane,
    token: Uuid,
    outcomes: &[Outcome],
    now: DateTime<Utc>,
) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let held = still_held(&mut tx, lane, token, outcomes, now).await?;
    let outcomes: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| held.contains(&o.contact_id))
        .collect();
    mark_delivered(&mut tx, lane, &outcomes, now).await?;
    for o in &outcomes {
        record_undelivered(&mut tx, o, now).await?;
    }
    release(&mut tx, lane, token, &outcomes, now).await?;
    tx.commit().await?;
    Ok(outcomes.len())
}

/// The delivered events of `outcomes`, in one statement, and what a delivery moves for their
/// contacts: the newest timestamps (`upsert_contacts`) and the poll queue.
async fn mark_delivered(
    tx: &mut PgConnection,
    lane: Lane,
    outcomes: &[&Outcome],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let delivered: Vec<&&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.kind, OutcomeKind::Delivered))
        .collect();
    if delivered.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = delivered.iter().map(|o| o.event_id).collect();
    let contacts: Vec<String> = delivered.iter().map(|o| o.contact_id.clone()).collect();
    let ts: Vec<DateTime<Utc>> = delivered.iter().map(|o| o.event_timestamp).collect();
    sqlx::query!(
        r#"UPDATE events SET state = 'delivered', delivered_at = $2, attempts = attempts + 1
           WHERE id = ANY($1) AND state = 'pending'"#,
        &ids,
        now
    )
    .execute(&mut *tx)
    .await?;
    upsert_contacts(tx, lane, &contacts, &ts, now).await?;
    poll_queue::delivered(tx, &contacts, now).await?;
    Ok(())
}

/// What an outcome other than a delivery changes on its event: a retry counts the attempt, a dead
/// letter also keeps the answer, a late arrival moves to the backfill lane (and its contact is
/// queued there). Skipped and waiting events stay as they are.
async fn record_undelivered(
    tx: &mut PgConnection,
    o: &Outcome,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    match &o.kind {
        OutcomeKind::Retry { .. } => {
            sqlx::query!(
                "UPDATE events SET attempts = attempts + 1 WHERE id = $1",
                o.event_id
            )
            .execute(&mut *tx)
            .await?;
        }
        OutcomeKind::DeadLetter { status, body } => {
            sqlx::query!(
                "UPDATE events SET state = 'dead_letter', attempts = attempts + 1 WHERE id = $1",
                o.event_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                r#"INSERT INTO dead_letters (id, event_id, contact_id, request_id, status, response_body, failed_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
                Uuid::new_v4(),
                o.event_id,
                o.contact_id,
                o.request_id,
                status,
                body,
                now
            )
            .execute(&mut *tx)
            .await?;
        }
        OutcomeKind::Late => {
            sqlx::query!(
                r#"UPDATE events SET lane = 'backfill', route_reason = 'late_arrival'
                   WHERE id = $1 AND state = 'pending'"#,
                o.event_id
            )
            .execute(&mut *tx)
            .await?;
            queue::enqueue(tx, [(o.contact_id.clone(), Lane::Backfill, now)]).await?;
        }
        OutcomeKind::Delivered | OutcomeKind::Skipped | OutcomeKind::Wait { .. } => {}
    }
    Ok(())
}

/// Releases every lease of `outcomes`: a retrying contact waits for its backoff (the barrier), a
/// waiting one until its time, the others are ready again at once for their next event.
async fn release(
    tx: &mut PgConnection,
    lane: Lane,
    token: Uuid,
    outcomes: &[&Outcome],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let contacts: Vec<String> = outcomes.iter().map(|o| o.contact_id.clone()).collect();
    let ready: Vec<DateTime<Utc>> = outcomes
        .iter()
        .map(|o| match o.kind {
            OutcomeKind::Retry { at, .. } | OutcomeKind::Wait { until: at } => at,
            _ => now,
        })
        .collect();
    let failures: Vec<i32> = outcomes
        .iter()
        .map(|o| match o.kind {
            OutcomeKind::Retry { failures, .. } => failures,
            OutcomeKind::Skipped | OutcomeKind::Wait { .. } => -1, // keep as is
            _ => 0,
        })
        .collect();
    sqlx::query!(
        r#"UPDATE delivery_queue q
           SET lease_until = '-infinity', ready_at = t.ready_at,
               failures = CASE WHEN t.failures < 0 THEN q.failures ELSE t.failures END
           FROM UNNEST($1::text[], $2::timestamptz[], $3::int4[]) AS t(contact_id, ready_at, failures)
           WHERE q.contact_id = t.contact_id AND q.lane = $4 AND q.lease_token = $5"#,
        &contacts,
        &ready,
        &failures,
        lane.as_str(),
        token
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The contacts of `outcomes` whose lease `token` still holds at `now`, locked until the
/// transaction ends so the lease cannot be claimed from under the outcome being written.
async fn still_held(
    tx: &mut PgConnection,
    lane: Lane,
    token: Uuid,
    outcomes: &[Outcome],
    now: DateTime<Utc>,
) -> sqlx::Result<HashSet<String>> {
    let contacts: Vec<String> = outcomes.iter().map(|o| o.contact_id.clone()).collect();
    let held = sqlx::query_scalar!(
        r#"SELECT contact_id FROM delivery_queue
           WHERE contact_id = ANY($1) AND lane = $2 AND lease_token = $3 AND lease_until > $4
           ORDER BY contact_id FOR UPDATE"#,
        &contacts,
        lane.as_str(),
        token,
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    if held.len() < contacts.len() {
        tracing::warn!(
            lost = contacts.len() - held.len(),
            "delivery leases expired before their outcomes were recorded; those events will be resent"
        );
    }
    Ok(held.into_iter().collect())
}

async fn upsert_contacts(
    tx: &mut PgConnection,
    lane: Lane,
    contacts: &[String],
    ts: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    // Only the real-time lane moves the late-arrival reference; any delivery tells the poller and
    // moves the newest delivered timestamp (the chronology check compares PE's with it).
    let realtime = lane == Lane::Realtime;
    sqlx::query!(
        r#"INSERT INTO contacts (contact_id, newest_realtime_ts, last_delivered_at, newest_delivered_ts)
           SELECT c, CASE WHEN $3 THEN t END, $4, t FROM UNNEST($1::text[], $2::timestamptz[]) AS u(c, t)
           ON CONFLICT (contact_id) DO UPDATE
           SET newest_realtime_ts = GREATEST(contacts.newest_realtime_ts, EXCLUDED.newest_realtime_ts),
               last_delivered_at = EXCLUDED.last_delivered_at,
               newest_delivered_ts = GREATEST(contacts.newest_delivered_ts, EXCLUDED.newest_delivered_ts)"#,
        contacts,
        ts,
        realtime,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
