//! Who is in their cooldown at an instant (SPEC §7: no campaign takes a contact within the
//! cooldown after its last hand-over), as the database answers it: for a batch about to be
//! written, and for the admin breakdown.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;

/// Of the contacts a batch queues that had a pending item at load (`queued_ids`, the only ones
/// that can have been handed over since: `QueuedContacts::pending_at_load_ids`), those handed over
/// inside the cooldown after all: the decisions were made without that hand-over. Run after their
/// pending items are locked, so that it sees every hand-over of them committed before.
pub(super) async fn handed_over_since_load(
    tx: &mut PgConnection,
    queued_ids: &[String],
    now: DateTime<Utc>,
    cooldown: TimeDelta,
) -> sqlx::Result<Vec<String>> {
    if queued_ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        r#"SELECT DISTINCT contact_id AS "contact_id!" FROM handovers
               WHERE contact_id = ANY($1) AND ($2::timestamptz IS NULL OR at > $2)"#,
        queued_ids,
        cooldown_start(now, cooldown)
    )
    .fetch_all(&mut *tx)
    .await
}

/// Hand-overs after this instant keep a contact in its cooldown at `now` (the cooldown rule's
/// `[hand-over, hand-over + cooldown)`, `eligibility::cooldown`); `None` when the cooldown reaches
/// back before any time the database stores, so that every hand-over does.
pub fn cooldown_start(now: DateTime<Utc>, cooldown: TimeDelta) -> Option<DateTime<Utc>> {
    let year_one = DateTime::<Utc>::from_timestamp(-62_135_596_800, 0)?;
    now.checked_sub_signed(cooldown).filter(|t| *t > year_one)
}

#[cfg(test)]
#[path = "cooldown_tests.rs"]
mod tests;
