//! Storing what the poller learns: a snapshot per profile, observations once each, and the
//! per-contact poll state.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::profile::Profile;

/// Stores a fetched profile: the snapshot, its observations (the score at the fetch time, and each
/// `score_history` point not stored before), the contact's latest channel and window, and — when
/// anything new was observed — the contact in the evaluation queue, so the next run evaluates it;
/// the contact leaves the poll queue. Returns how many observations were new.
pub async fn store_profile(
    tx: &mut PgConnection,
    contact_id: &str,
    fetched_at: DateTime<Utc>,
    profile: &Profile,
    raw: &serde_json::Value,
) -> sqlx::Result<u64> {
    insert_snapshot(tx, contact_id, fetched_at, profile, raw).await?;
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
    let new = insert_observations(tx, contact_id, fetched_at, &at, &source, &score).await?;
    note_profile(tx, contact_id, Some(fetched_at), profile, new > 0).await?;
    crate::delivery::poll_queue::polled(tx, contact_id, fetched_at).await?;
    Ok(new)
}

/// Stores a pushed score (`POST /v1/scores`) like a polled profile: an observation with source
/// `pushed` at `observed_at` and, when that observation is new, a snapshot, the channel and window
/// and the contact in the evaluation queue. The poll state is left alone: a pushed score says
/// nothing about when PE was last asked. Returns whether the observation was new (`false`: a
/// duplicate, nothing written).
pub async fn store_pushed(
    tx: &mut PgConnection,
    contact_id: &str,
    observed_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    profile: &Profile,
    raw: &serde_json::Value,
) -> sqlx::Result<bool> {
    let score: Vec<f64> = profile.score.into_iter().collect();
    let new = insert_observations(
        tx,
        contact_id,
        recorded_at,
        &[observed_at],
        &["pushed".to_owned()],
        &score,
    )
    .await?;
    if new == 0 {
        return Ok(false);
    }
    insert_snapshot(tx, contact_id, observed_at, profile, raw).await?;
    note_profile(tx, contact_id, None, profile, true).await?;
    Ok(true)
}

async fn insert_snapshot(
    tx: &mut PgConnection,
    contact_id: &str,
    fetched_at: DateTime<Utc>,
    profile: &Profile,
    raw: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO score_snapshots (contact_id, fetched_at, score, channel, best_window,
               last_event_timestamp, raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
        contact_id,
        fetched_at,
        profile.score,
        profile.channel,
        window_json(profile),
        profile.last_event_timestamp,
        raw
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn window_json(profile: &Profile) -> Option<serde_json::Value> {
    profile
        .window
        .as_ref()
        .map(|w| serde_json::to_value(w).expect("a window serializes"))
}

/// Inserts the observations not stored before; returns how many were new.
async fn insert_observations(
    tx: &mut PgConnection,
    contact_id: &str,
    recorded_at: DateTime<Utc>,
    at: &[DateTime<Utc>],
    source: &[String],
    score: &[f64],
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        r#"INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
           SELECT $1, a, s, v, $2 FROM UNNEST($3::timestamptz[], $4::text[], $5::float8[]) AS x(a, s, v)
           ON CONFLICT DO NOTHING"#,
        contact_id,
        recorded_at,
        at,
        source,
        score
    )
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// The contact's latest channel and window and, when `new` observations arrived, the contact in
/// the evaluation queue. `polled_at` (a poll) also resets the poll state; without it (a pushed
/// score) the poll state is kept, and a channel or window the push leaves out keeps the one known.
async fn note_profile(
    tx: &mut PgConnection,
    contact_id: &str,
    polled_at: Option<DateTime<Utc>>,
    profile: &Profile,
    new: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"WITH s AS (
               INSERT INTO contact_scores (contact_id, last_polled_at, next_poll_at, poll_failures,
                   last_poll_status, channel, best_window, observed_seq)
               VALUES ($1, $2, '-infinity', 0, CASE WHEN $6 THEN 200 END, $3, $4,
                       CASE WHEN $5 THEN nextval('observation_seq') ELSE 0 END)
               ON CONFLICT (contact_id) DO UPDATE SET
                   last_polled_at = CASE WHEN $6 THEN EXCLUDED.last_polled_at
                                         ELSE contact_scores.last_polled_at END,
                   next_poll_at = CASE WHEN $6 THEN '-infinity'
                                       ELSE contact_scores.next_poll_at END,
                   poll_failures = CASE WHEN $6 THEN 0 ELSE contact_scores.poll_failures END,
                   last_poll_status = CASE WHEN $6 THEN 200
                                           ELSE contact_scores.last_poll_status END,
                   channel = CASE WHEN $6 THEN EXCLUDED.channel
                                  ELSE COALESCE(EXCLUDED.channel, contact_scores.channel) END,
                   best_window = CASE WHEN $6 THEN EXCLUDED.best_window
                                      ELSE COALESCE(EXCLUDED.best_window, contact_scores.best_window) END,
                   observed_seq = CASE WHEN $5 THEN EXCLUDED.observed_seq
                                       ELSE contact_scores.observed_seq END
               RETURNING contact_id, observed_seq)
           INSERT INTO evaluation_queue (contact_id, observed_seq)
           SELECT contact_id, observed_seq FROM s WHERE $5
           ON CONFLICT (contact_id) DO UPDATE SET observed_seq = EXCLUDED.observed_seq"#,
        contact_id,
        polled_at,
        profile.channel,
        window_json(profile),
        new,
        polled_at.is_some()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
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
