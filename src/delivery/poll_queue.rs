//! The poll queue (migration `20261208000004`): contacts with events delivered since their last
//! poll. Delivery fills it in the transaction that records the delivery; a successful poll
//! (`scoring::store`) empties it. An idle poll tick reads an empty queue instead of every contact
//! (issue 12). It lives here, beside the record of deliveries, because scoring already depends on
//! delivery's neighbours and delivery must not depend on scoring (no import cycles).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Queues `contacts` for a poll after a delivery at `now`.
pub async fn delivered(
    tx: &mut PgConnection,
    contacts: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO poll_queue (contact_id, delivered_at)
           SELECT DISTINCT c, $2::timestamptz FROM UNNEST($1::text[]) AS u(c)
           ON CONFLICT (contact_id) DO UPDATE SET delivered_at = EXCLUDED.delivered_at"#,
        contacts,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A poll at `polled_at` got the contact's profile: out of the queue, unless an event was
/// delivered after it (then the next tick polls again).
pub async fn polled(
    tx: &mut PgConnection,
    contact_id: &str,
    polled_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM poll_queue WHERE contact_id = $1 AND delivered_at <= $2",
        contact_id,
        polled_at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
