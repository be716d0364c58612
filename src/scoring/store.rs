//! Storing what the poller learns: a snapshot per profile, observations once each, and the
//! per-contact poll state.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::profile::Profile;

/// Stores a fetched profile: the snapshot, its observations (the score at the fetch time, and each
/// `score_history` point not stored before), the contact's latest channel and window, and — when
/// anything new was observed — the contact in the evaluation queue, so the next run evaluates it. Returns how many observations were new.
pub async fn store_profile(
    tx: &mut PgConnection,
    contact_id: &str,
    fetched_at: DateTime<Utc>,
    profile: &Profile,
    raw: &serde_json::Value,
) -> sqlx::Result<u64> {
    let window = profile
        .window
        .as_ref()
        .map(|w| serde_json::to_value(w).expect("a window serializes"));
    sqlx::query!(
        r#"INSERT INTO score_snapshots (contact_id, fetched_at, score, channel, best_window,
               last_event_timestamp, raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        contact_id,
        fetched_at,
        profile.score,
        profile.channel,
        window,
        profile.last_event_timestamp,
        raw
    )
    .execute(&mut *tx)
    .await?;

    let mut at = Vec::with_capacity(profile.history.len() + 1);
    let mut source = Vec::with_capacity(at.capacity());
    let mut score = Vec::with_capacity(at.capacity());
    if let Some(s) = profile.score {
        at.push(fetched_at);
        source.push("poll".to_owned());
        score.push(s);
    }
    for o in &profile.history {
        at.push(o.timestamp);
        source.push("history".to_owned());
        score.push(o.score);
    }
    let new = sqlx::query!(
        r#"INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
           SELECT $1, a, s, v, $2 FROM UNNEST($3::timestamptz[], $4::text[], $5::float8[]) AS x(a, s, v)
           ON CONFLICT DO NOTHING"#,
        contact_id,
        fetched_at,
        &at,
        &source,
        &score
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();

    sqlx::query!(
        r#"WITH s AS (
               INSERT INTO contact_scores (contact_id, last_polled_at, next_poll_at, poll_failures,
                   last_poll_status, channel, best_window, observed_seq)
               VALUES ($1, $2, '-infinity', 0, 200, $3, $4,
                       CASE WHEN $5 THEN nextval('observation_seq') ELSE 0 END)
               ON CONFLICT (contact_id) DO UPDATE SET
                   last_polled_at = EXCLUDED.last_polled_at, next_poll_at = '-infinity',
                   poll_failures = 0, last_poll_status = 200, channel = EXCLUDED.channel,
                   best_window = EXCLUDED.best_window,
                   observed_seq = CASE WHEN $5 THEN EXCLUDED.observed_seq
                                       ELSE contact_scores.observed_seq END
               RETURNING contact_id, observed_seq)
           INSERT INTO evaluation_queue (contact_id, observed_seq)
           SELECT contact_id, observed_seq FROM s WHERE $5
           ON CONFLICT (contact_id) DO UPDATE SET observed_seq = EXCLUDED.observed_seq"#,
        contact_id,
        fetched_at,
        profile.channel,
        window,
        new > 0
    )
    .execute(&mut *tx)
    .await?;
    Ok(new)
}

/// A poll that got no profile (404, a failure): try again at `next_poll_at`. The contact stays a
/// poll candidate, since `last_polled_at` does not move.
pub async fn record_miss(
    tx: &mut PgConnection,
    contact_id: &str,
    status: Option<i32>,
    next_poll_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO contact_scores (contact_id, next_poll_at, poll_failures, last_poll_status)
           VALUES ($1, $2, 1, $3)
           ON CONFLICT (contact_id) DO UPDATE SET next_poll_at = EXCLUDED.next_poll_at,
               poll_failures = contact_scores.poll_failures + 1,
               last_poll_status = EXCLUDED.last_poll_status"#,
        contact_id,
        next_poll_at,
        status
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Consecutive failed polls of a contact (0 when it has none).
pub async fn poll_failures(tx: &mut PgConnection, contact_id: &str) -> sqlx::Result<i32> {
    let n = sqlx::query_scalar!(
        "SELECT poll_failures FROM contact_scores WHERE contact_id = $1",
        contact_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(n.unwrap_or(0))
}
