//! Database side of delivery: claim contacts with leases, find their head events, release them;
//! `outcomes` records what became of the heads sent. Each function is one statement over arrays,
//! so a batch of contacts costs a few round trips.

mod outcomes;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::Lane;
pub use outcomes::{Outcome, OutcomeKind, record};

pub struct Claimed {
    pub contact_id: String,
    pub generation: i64,
    pub failures: i32,
    /// Names this claim's lease: every later write about the contact must present it.
    pub lease_token: Uuid,
}

/// Leases up to `limit` contacts of `lane` whose work is ready. `SKIP LOCKED` lets instances claim
/// side by side; the lease keeps a contact with one worker until it is released or expires. All
/// contacts of one claim share a fresh lease token.
pub async fn claim(
    pool: &PgPool,
    lane: Lane,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as!(
        Claimed,
        r#"WITH c AS (
             SELECT contact_id, lane FROM delivery_queue
             WHERE lane = $1 AND ready_at <= $2 AND lease_until < $2
             ORDER BY ready_at LIMIT $4 FOR UPDATE SKIP LOCKED
           )
           UPDATE delivery_queue q SET lease_until = $3, lease_token = $5
           FROM c WHERE q.contact_id = c.contact_id AND q.lane = c.lane
           RETURNING q.contact_id, q.generation, q.failures, q.lease_token AS "lease_token!""#,
        lane.as_str(),
        now,
        now + lease,
        limit,
        Uuid::new_v4()
    )
    .fetch_all(pool)
    .await
}

/// Whether any real-time work is ready anywhere in the cluster (the backfill lane yields to it).
pub async fn realtime_ready(pool: &PgPool, now: DateTime<Utc>) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM delivery_queue
           WHERE lane = 'realtime' AND ready_at <= $1 AND lease_until < $1) AS "ready!""#,
        now
    )
    .fetch_one(pool)
    .await
}

#[derive(Debug, Clone)]
pub struct Head {
    pub id: Uuid,
    pub contact_id: String,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub attributes: serde_json::Value,
    pub request_id: Uuid,
    pub received_at: DateTime<Utc>,
    /// Newest timestamp already delivered on the real-time lane for this contact.
    pub newest_realtime_ts: Option<DateTime<Utc>>,
}

/// The next event of each contact: smallest timestamp, then arrival, among its pending events. The
/// caller sends it only once its own ordering hold is over, so an older event arriving in a burst
/// still goes first.
///
/// One `LIMIT 1` probe of `events_pending_head` per contact: the first entry of the index is the
/// head, so a contact with a backlog of thousands costs one index entry, not thousands (a
/// `DISTINCT ON` over the join read and sorted every pending event of the batch).
pub async fn heads(pool: &PgPool, lane: Lane, contacts: &[String]) -> sqlx::Result<Vec<Head>> {
    sqlx::query_as!(
        Head,
        r#"SELECT e.id AS "id!", e.contact_id AS "contact_id!", e.event_type AS "event_type!",
                  e.event_timestamp AS "event_timestamp!", e.attributes AS "attributes!",
                  e.request_id AS "request_id!", e.received_at AS "received_at!", c.newest_realtime_ts
           FROM UNNEST($1::text[]) AS q(contact_id)
           CROSS JOIN LATERAL (
               SELECT id, contact_id, event_type, event_timestamp, attributes, request_id, received_at
               FROM events
               WHERE contact_id = q.contact_id AND lane = $2 AND state = 'pending'
               ORDER BY event_timestamp, seq LIMIT 1) e
           LEFT JOIN contacts c ON c.contact_id = e.contact_id
           ORDER BY e.contact_id"#,
        contacts,
        lane.as_str()
    )
    .fetch_all(pool)
    .await
}

/// Releases contacts whose head is still in its ordering hold, ready when the hold ends (only
/// while `token` still holds their lease).
pub async fn defer(
    pool: &PgPool,
    lane: Lane,
    token: Uuid,
    until: &[(String, DateTime<Utc>)],
) -> sqlx::Result<()> {
    if until.is_empty() {
        return Ok(());
    }
    let contacts: Vec<String> = until.iter().map(|(c, _)| c.clone()).collect();
    let at: Vec<DateTime<Utc>> = until.iter().map(|(_, t)| *t).collect();
    sqlx::query!(
        r#"UPDATE delivery_queue q SET lease_until = '-infinity', ready_at = t.at
           FROM UNNEST($1::text[], $2::timestamptz[]) AS t(contact_id, at)
           WHERE q.contact_id = t.contact_id AND q.lane = $3 AND q.lease_token = $4"#,
        &contacts,
        &at,
        lane.as_str(),
        token
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Releases contacts that had no pending event: the row goes unless an enqueue bumped its
/// generation meanwhile, in which case it is ready again at once. Only rows `token` still holds.
pub async fn settle_idle(
    pool: &PgPool,
    lane: Lane,
    token: Uuid,
    idle: &[(String, i64)],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if idle.is_empty() {
        return Ok(());
    }
    let contacts: Vec<String> = idle.iter().map(|(c, _)| c.clone()).collect();
    let gens: Vec<i64> = idle.iter().map(|(_, g)| *g).collect();
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"DELETE FROM delivery_queue q
           USING UNNEST($1::text[], $2::int8[]) AS t(contact_id, generation)
           WHERE q.contact_id = t.contact_id AND q.lane = $3 AND q.generation = t.generation
             AND q.lease_token = $4
             AND NOT EXISTS (SELECT 1 FROM events e
                             WHERE e.contact_id = q.contact_id AND e.lane = q.lane AND e.state = 'pending')"#,
        &contacts,
        &gens,
        lane.as_str(),
        token
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"UPDATE delivery_queue SET lease_until = '-infinity', ready_at = $3
           WHERE contact_id = ANY($1) AND lane = $2 AND lease_token = $4"#,
        &contacts,
        lane.as_str(),
        now,
        token
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The tenant answers again after an outage: every contact waiting out a retry backoff is ready now,
/// so the backlog drains at the rate ceiling instead of each contact sitting out its own backoff
/// (see `recovery`). Not while a 429's pause is in force: its contacts must wait it out, and a
/// claimed contact waiting on the pause could outlive its lease. Returns how many were woken.
pub async fn wake_retrying(
    pool: &PgPool,
    now: DateTime<Utc>,
    rate_bucket: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        r#"UPDATE delivery_queue SET ready_at = $1
           WHERE failures > 0 AND ready_at > $1 AND lease_until < $1
             AND NOT EXISTS (SELECT 1 FROM rate_buckets WHERE name = $2 AND paused_until > now())"#,
        now,
        rate_bucket
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// While the tenant looks down: makes the one waiting contact that is due first ready now, so its
/// attempt tells whether the tenant is back (see `recovery`). Returns it, if any.
pub async fn probe_one(
    pool: &PgPool,
    now: DateTime<Utc>,
    rate_bucket: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        r#"WITH c AS (
             SELECT contact_id, lane FROM delivery_queue
             WHERE failures > 0 AND ready_at > $1 AND lease_until < $1
               AND NOT EXISTS (SELECT 1 FROM rate_buckets WHERE name = $2 AND paused_until > now())
             ORDER BY ready_at LIMIT 1 FOR UPDATE SKIP LOCKED
           )
           UPDATE delivery_queue q SET ready_at = $1
           FROM c WHERE q.contact_id = c.contact_id AND q.lane = c.lane
           RETURNING q.contact_id"#,
        now,
        rate_bucket
    )
    .fetch_optional(pool)
    .await
}
