//! Pull mode (SPEC §7 "The dialer"): the feed a dialer leases contacts from and acknowledges them
//! to. A lease hides the contacts from other callers until it runs out; an acknowledgement hands
//! them over (the cooldown starts); a lease not acknowledged in time returns them to the feed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::queue;

/// Leases up to `limit` ready contacts of `campaign_id` until `now + lease`, oldest first. Contacts
/// whose lease ran out are ready again. Concurrent callers never get the same contact.
pub async fn lease(
    tx: &mut PgConnection,
    campaign_id: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: i64,
) -> sqlx::Result<(Vec<serde_json::Value>, DateTime<Utc>)> {
    let until = now.checked_add_signed(lease).unwrap_or(now);
    let mut rows = sqlx::query!(
        r#"UPDATE dialer_queue q SET leased_at = $2, lease_until = $3
           FROM (SELECT id FROM dialer_queue
                 WHERE campaign_id = $1 AND mode = 'pull' AND state = 'pending'
                   AND ready_at <= $2 AND lease_until <= $2
                 ORDER BY ready_at, id LIMIT $4
                 FOR UPDATE SKIP LOCKED) pick
           WHERE q.id = pick.id
           RETURNING q.id, q.ready_at, q.contact"#,
        campaign_id,
        now,
        until,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    rows.sort_by_key(|r| (r.ready_at, r.id));
    Ok((rows.into_iter().map(|r| r.contact).collect(), until))
}

/// What became of one acknowledged id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Handed over now: the contact's cooldown starts.
    Acknowledged,
    /// Handed over by an earlier acknowledgement.
    AlreadyAcknowledged,
    /// In the feed but never leased: lease it first.
    NotLeased,
    /// No contact in any pull feed has this id.
    NotFound,
}

/// Acknowledges leased contacts by their dialer `id`, handing them over at `now`. A contact whose
/// lease ran out is still accepted as long as it is in the feed: the caller did take it, and
/// refusing would let another caller lease it and call the customer again.
pub async fn acknowledge(
    tx: &mut PgConnection,
    ids: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<AckStatus>> {
    let rows = sqlx::query!(
        r#"SELECT id, dialer_id, state, leased_at FROM dialer_queue
           WHERE dialer_id = ANY($1) AND mode = 'pull' AND state IN ('pending', 'handed_over')
           ORDER BY (state = 'pending') DESC, id DESC
           FOR UPDATE"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut to_hand_over = Vec::new();
    let mut statuses = Vec::with_capacity(ids.len());
    for id in ids {
        // The pending item of this id if there is one, else its newest hand-over.
        let status = match rows.iter().find(|r| &r.dialer_id == id) {
            None => AckStatus::NotFound,
            Some(r) if r.state == "handed_over" => AckStatus::AlreadyAcknowledged,
            Some(r) if r.leased_at.is_none() => AckStatus::NotLeased,
            Some(r) if to_hand_over.contains(&r.id) => AckStatus::AlreadyAcknowledged,
            Some(r) => {
                to_hand_over.push(r.id);
                AckStatus::Acknowledged
            }
        };
        statuses.push(status);
    }
    if !to_hand_over.is_empty() {
        let n = queue::hand_over(tx, &to_hand_over, now).await?;
        crate::jobs::counters::SCORING.handed_over(false, n);
    }
    Ok(statuses)
}
