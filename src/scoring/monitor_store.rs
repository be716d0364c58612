//! The SQL of the two monitors (issue 11 §2): the score pairs a change watch compares, and each
//! contact's latest chronology check.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::chronology::{Chronology, ChronologyView, STATES};
use super::watch::{self, ScorePair, WatchFigures};

/// Per contact with a score observed in `[from, to)` and one before `from`: its latest score
/// before `from` and those in `[from, to)` in time order. Every source counts (polled, history,
/// pushed, imported).
pub async fn score_pairs(
    db: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<ScorePair>> {
    let rows = sqlx::query!(
        r#"SELECT b.score AS "before!", a.scores AS "after!"
           FROM (SELECT contact_id, array_agg(score ORDER BY observed_at, source) AS scores
                 FROM score_observations WHERE observed_at >= $1 AND observed_at < $2
                 GROUP BY contact_id) a
           CROSS JOIN LATERAL (
               SELECT score FROM score_observations o
               WHERE o.contact_id = a.contact_id AND o.observed_at < $1
               ORDER BY o.observed_at DESC LIMIT 1) b"#,
        from,
        to
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ScorePair {
            before: r.before,
            after: r.after,
        })
        .collect())
}

/// The newest event timestamp delivered for the contact (`None`: nothing delivered).
pub async fn newest_delivered(
    db: impl PgExecutor<'_>,
    contact_id: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let row = sqlx::query_scalar!(
        "SELECT newest_delivered_ts FROM contacts WHERE contact_id = $1",
        contact_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.flatten())
}

pub async fn save_chronology(
    tx: &mut PgConnection,
    contact_id: &str,
    v: &ChronologyView,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO contact_chronology (contact_id, state, pe_last_event_at, newest_delivered_at, checked_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (contact_id) DO UPDATE SET state = EXCLUDED.state,
               pe_last_event_at = EXCLUDED.pe_last_event_at,
               newest_delivered_at = EXCLUDED.newest_delivered_at, checked_at = EXCLUDED.checked_at"#,
        contact_id,
        v.state.as_str(),
        v.pe_last_event_timestamp,
        v.newest_delivered_timestamp,
        v.checked_at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn state_of(s: &str) -> Chronology {
    STATES
        .into_iter()
        .find(|c| c.as_str() == s)
        .unwrap_or(Chronology::Unknown)
}

/// The contact's latest chronology check; `None` before its first poll.
pub async fn chronology_of(
    db: impl PgExecutor<'_>,
    contact_id: &str,
) -> sqlx::Result<Option<ChronologyView>> {
    let row = sqlx::query!(
        r#"SELECT state, pe_last_event_at, newest_delivered_at, checked_at
           FROM contact_chronology WHERE contact_id = $1"#,
        contact_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| ChronologyView {
        state: state_of(&r.state),
        pe_last_event_timestamp: r.pe_last_event_at,
        newest_delivered_timestamp: r.newest_delivered_at,
        checked_at: r.checked_at,
    }))
}

/// Contacts per latest chronology state (all instances), every state listed.
pub async fn chronology_contacts(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(Chronology, i64)>> {
    let rows =
        sqlx::query!(r#"SELECT state, count(*) AS "n!" FROM contact_chronology GROUP BY state"#)
            .fetch_all(db)
            .await?;
    Ok(STATES
        .into_iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|r| r.state == s.as_str())
                .map_or(0, |r| r.n);
            (s, n)
        })
        .collect())
}

/// The figures of a watch of a change made at `from`, ending at `until`, as of `now`.
pub async fn watch_figures(
    db: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    dampening_delta: f64,
) -> sqlx::Result<WatchFigures> {
    let pairs = score_pairs(db, from, watch::counted_until(until, now)).await?;
    Ok(watch::figures(&pairs, dampening_delta))
}
