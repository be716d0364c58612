//! Pull mode (SPEC §7 "The dialer"): the feed a dialer leases contacts from and acknowledges them
//! to. A lease hides the contacts from other callers until it runs out; an acknowledgement hands
//! them over (the cooldown starts); a lease not acknowledged in time returns them to the feed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::queue;

/// Leases up to `limit` ready contacts of `campaign_id` until `now + lease`, oldest first. Contacts
/// whose lease ran out are ready again. Concurrent callers never get the same contact. A contact
/// suppressed at `now` is withdrawn first and never leased (the suppression withdraws it too; this
/// is the check at lease time, so no race lets one through).
pub async fn lease(
    tx: &mut PgConnection,
    campaign_id: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: i64,
) -> sqlx::Result<(Vec<serde_json::Value>, DateTime<Utc>)> {
    let until = now.checked_add_signed(lease).unwrap_or(now);
    crate::registry::suppressions::withdraw_suppressed(&mut *tx, "pull", Some(campaign_id), now)
        .await?;
    let mut rows = sqlx::query!(
        r#"UPDATE dialer_queue q SET leased_at = $2, lease_until = $3
           FROM (SELECT id FROM dialer_queue
                 WHERE campaign_id = $1 AND mode = 'pull' AND state = 'pending'
                   AND ready_at <= $2 AND lease_until <= $2
                   AND NOT EXISTS (SELECT 1 FROM suppressions s
                                   WHERE s.contact_id = dialer_queue.contact_id
                                     AND (s.expires_at IS NULL OR s.expires_at > $2))
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
    /// Withdrawn from the feed because the contact was suppressed (issue 11 §4): not handed
    /// over, and it must not be called.
    Withdrawn,
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
           WHERE dialer_id = ANY($1) AND mode = 'pull'
             AND state IN ('pending', 'handed_over', 'withdrawn')
           ORDER BY (state = 'pending') DESC, id DESC
           FOR UPDATE"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let found: Vec<FeedRow> = rows
        .into_iter()
        .map(|r| FeedRow {
            id: r.id,
            dialer_id: r.dialer_id,
            handed_over: r.state == "handed_over",
            withdrawn: r.state == "withdrawn",
            leased: r.leased_at.is_some(),
        })
        .collect();
    let (statuses, to_hand_over) = settle(ids, &found);
    if !to_hand_over.is_empty() {
        let n = queue::hand_over(tx, &to_hand_over, now).await?;
        super::metrics::HAND_OVERS.handed_over(false, n);
    }
    Ok(statuses)
}

/// A queue item an acknowledgement may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    pub id: i64,
    pub dialer_id: String,
    pub handed_over: bool,
    /// Taken out of the feed because the contact was suppressed.
    pub withdrawn: bool,
    pub leased: bool,
}

/// What an acknowledgement of `ids` does, given the pull items with those dialer ids (pending ones
/// first, then newest first): one status per id, in order, and the items to hand over. A
/// withdrawn item (its contact was suppressed) is never handed over: the answer tells the dialer
/// not to call. Pure.
pub fn settle(ids: &[String], rows: &[FeedRow]) -> (Vec<AckStatus>, Vec<i64>) {
    let mut to_hand_over = Vec::new();
    let statuses = ids
        .iter()
        .map(|id| match rows.iter().find(|r| &r.dialer_id == id) {
            None => AckStatus::NotFound,
            Some(r) if r.handed_over || to_hand_over.contains(&r.id) => {
                AckStatus::AlreadyAcknowledged
            }
            Some(r) if r.withdrawn => AckStatus::Withdrawn,
            Some(r) if !r.leased => AckStatus::NotLeased,
            Some(r) => {
                to_hand_over.push(r.id);
                AckStatus::Acknowledged
            }
        })
        .collect();
    (statuses, to_hand_over)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, dialer_id: &str, handed_over: bool, leased: bool) -> FeedRow {
        FeedRow {
            id,
            dialer_id: dialer_id.into(),
            handed_over,
            withdrawn: false,
            leased,
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_status_per_id_in_order() {
        let rows = [
            row(7, "leased", false, true),
            row(8, "never-leased", false, false),
            row(3, "done", true, true),
        ];
        let (statuses, hand_over) = settle(
            &ids(&["done", "leased", "missing", "never-leased", "leased"]),
            &rows,
        );
        assert_eq!(
            statuses,
            [
                AckStatus::AlreadyAcknowledged,
                AckStatus::Acknowledged,
                AckStatus::NotFound,
                AckStatus::NotLeased,
                AckStatus::AlreadyAcknowledged,
            ]
        );
        assert_eq!(hand_over, [7], "an id named twice is handed over once");
    }

    #[test]
    fn a_pending_item_wins_over_an_older_hand_over_of_the_same_id() {
        // The contact was handed over 72 h ago and is in the feed again: the rows come pending
        // first, so the new lease is what the acknowledgement confirms.
        let rows = [row(9, "x", false, true), row(2, "x", true, true)];
        let (statuses, hand_over) = settle(&ids(&["x"]), &rows);
        assert_eq!(statuses, [AckStatus::Acknowledged]);
        assert_eq!(hand_over, [9]);
    }

    #[test]
    fn a_withdrawn_item_is_never_handed_over() {
        // Leased, then its contact was suppressed: the dialer is told, nothing is handed over.
        let withdrawn = FeedRow {
            withdrawn: true,
            ..row(4, "w", false, true)
        };
        let (statuses, hand_over) = settle(&ids(&["w"]), &[withdrawn]);
        assert_eq!(statuses, [AckStatus::Withdrawn]);
        assert!(hand_over.is_empty());
    }

    #[test]
    fn nothing_named_nothing_done() {
        assert_eq!(settle(&[], &[]), (vec![], vec![]));
    }
}
