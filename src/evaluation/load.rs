//! Loading one batch of the run: the candidates and everything the rules need about them, in a
//! handful of queries per batch (never one per contact).

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

use super::plan::Pending;
use crate::eligibility::{ContactFacts, Observation, Window};

/// A contact the run evaluates, with the observation watermark it is evaluated at.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub contact_id: String,
    pub observed_seq: i64,
    pub facts: ContactFacts,
    pub pending: Option<Pending>,
}

/// The next `limit` candidates after `after` (by contact id): contacts with an observation newer
/// than their last decision, and deferred contacts whose window has opened (SPEC §7) — or, in a
/// `full` pass (a campaign is new or changed), every contact with a score.
pub async fn candidates(
    db: &mut sqlx::PgConnection,
    after: &str,
    now: DateTime<Utc>,
    limit: i64,
    full: bool,
) -> sqlx::Result<Vec<Candidate>> {
    let rows = if full {
        sqlx::query_as!(
            Row,
            r#"SELECT contact_id, observed_seq, channel, best_window::text AS best_window
               FROM contact_scores
               WHERE contact_id > $1 AND observed_seq > 0 ORDER BY contact_id LIMIT $2"#,
            after,
            limit
        )
        .fetch_all(&mut *db)
        .await?
    } else {
        let ids = due(&mut *db, after, now, limit).await?;
        sqlx::query_as!(
            Row,
            r#"SELECT contact_id, observed_seq, channel, best_window::text AS best_window
               FROM contact_scores WHERE contact_id = ANY($1) ORDER BY contact_id"#,
            &ids
        )
        .fetch_all(&mut *db)
        .await?
    };
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = rows.iter().map(|r| r.contact_id.clone()).collect();
    // A full pass reads contacts in one contiguous range of ids: one index range scan for their
    // observations rather than a lookup per contact.
    let mut observations = if full {
        observations_between(&mut *db, &first.contact_id, &last.contact_id, now).await?
    } else {
        observations_of(&mut *db, &ids, now).await?
    };
    let handovers = last_handovers(&mut *db, &ids).await?;
    let mut pending = pending_of(&mut *db, &ids).await?;
    let mut suppressions = crate::registry::suppressions::of(&mut *db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| Candidate {
            facts: ContactFacts {
                observations: observations.remove(&r.contact_id).unwrap_or_default(),
                channel_preference: r.channel,
                best_contact_window: r.best_window.as_deref().and_then(window_of_text),
                last_handover_at: handovers.get(&r.contact_id).copied(),
                suppression: suppressions.remove(&r.contact_id),
            },
            pending: pending.remove(&r.contact_id),
            observed_seq: r.observed_seq,
            contact_id: r.contact_id,
        })
        .collect())
}

/// The candidates of a run (or a dry run) in batches of `size` by contact id, the next batch
/// loading while the caller works on this one. The scheduled run and the population dry run both
/// read through it.
pub struct Batches {
    pool: PgPool,
    now: DateTime<Utc>,
    size: i64,
    full: bool,
    next: Option<tokio::task::JoinHandle<anyhow::Result<Vec<Candidate>>>>,
}

impl Batches {
    /// Starts loading the first batch (see [`candidates`] for `full`).
    pub fn start(pool: &PgPool, now: DateTime<Utc>, size: i64, full: bool) -> Self {
        let mut batches = Self {
            pool: pool.clone(),
            now,
            size,
            full,
            next: None,
        };
        batches.load_after(String::new());
        batches
    }

    /// The next batch, once loaded, with the one after it already loading; `None` at the end.
    pub async fn next(&mut self) -> anyhow::Result<Option<Vec<Candidate>>> {
        let Some(loading) = self.next.take() else {
            return Ok(None);
        };
        let batch = loading.await.context("loading task")??;
        let Some(last) = batch.last() else {
            return Ok(None);
        };
        self.load_after(last.contact_id.clone());
        Ok(Some(batch))
    }

    fn load_after(&mut self, after: String) {
        let (pool, now, size, full) = (self.pool.clone(), self.now, self.size, self.full);
        self.next = Some(tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            candidates(&mut conn, &after, now, size, full)
                .await
                .context("loading candidates")
        }));
    }
}

/// A candidate's row of `contact_scores`.
struct Row {
    contact_id: String,
    observed_seq: i64,
    channel: Option<String>,
    /// As JSON text: parsed straight into a [`Window`] (a run reads a million of them, and going
    /// through a `serde_json::Value` first cost a map per contact).
    best_window: Option<String>,
}

/// The ids of the contacts due in a regular run: in the evaluation queue, or deferred with their
/// window open.
async fn due(
    db: &mut sqlx::PgConnection,
    after: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT contact_id AS "contact_id!"
           FROM ((SELECT contact_id FROM evaluation_queue WHERE contact_id > $1
                  ORDER BY contact_id LIMIT $3)
                 UNION
                 (SELECT contact_id FROM deferrals WHERE next_opening <= $2 AND contact_id > $1
                  ORDER BY contact_id LIMIT $3)) c
           ORDER BY contact_id LIMIT $3"#,
        after,
        now,
        limit
    )
    .fetch_all(&mut *db)
    .await
}

/// A stored window; one that does not read as a window counts as none (the poller only stores
/// windows it could read, so this is a guard, not a rule).
pub fn window_of(v: serde_json::Value) -> Option<Window> {
    serde_json::from_value(v).ok()
}

/// [`window_of`], from the window's JSON text.
pub fn window_of_text(v: &str) -> Option<Window> {
    serde_json::from_str(v).ok()
}

/// Every observation of these contacts at or before `now`, in time order per contact.
pub async fn observations_of(
    db: impl PgExecutor<'_>,
    ids: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<HashMap<String, Vec<Observation>>> {
    let rows = sqlx::query!(
        r#"SELECT contact_id, observed_at, score FROM score_observations
           WHERE contact_id = ANY($1) AND observed_at <= $2
           ORDER BY contact_id, observed_at, source"#,
        ids,
        now
    )
    .fetch_all(db)
    .await?;
    let mut out: HashMap<String, Vec<Observation>> = HashMap::with_capacity(ids.len());
    for r in rows {
        out.entry(r.contact_id)
            .or_default()
            .push(Observation::new(r.observed_at, r.score));
    }
    Ok(out)
}

/// Every observation at or before `now` of the contacts whose ids lie in `[first, last]`.
async fn observations_between(
    db: impl PgExecutor<'_>,
    first: &str,
    last: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<HashMap<String, Vec<Observation>>> {
    let rows = sqlx::query!(
        r#"SELECT contact_id, observed_at, score FROM score_observations
           WHERE contact_id >= $1 AND contact_id <= $2 AND observed_at <= $3
           ORDER BY contact_id, observed_at, source"#,
        first,
        last,
        now
    )
    .fetch_all(db)
    .await?;
    let mut out: HashMap<String, Vec<Observation>> = HashMap::new();
    for r in rows {
        out.entry(r.contact_id)
            .or_default()
            .push(Observation::new(r.observed_at, r.score));
    }
    Ok(out)
}

/// The newest hand-over of each contact, by any campaign.
pub async fn last_handovers(
    db: impl PgExecutor<'_>,
    ids: &[String],
) -> sqlx::Result<HashMap<String, DateTime<Utc>>> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (contact_id) contact_id, at FROM handovers
           WHERE contact_id = ANY($1) ORDER BY contact_id, at DESC"#,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.contact_id, r.at)).collect())
}

/// The oldest hand-over still queued for the dialer, per contact.
async fn pending_of(
    db: impl PgExecutor<'_>,
    ids: &[String],
) -> sqlx::Result<HashMap<String, Pending>> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (contact_id) contact_id, campaign_id, queued_at FROM dialer_queue
           WHERE state = 'pending' AND contact_id = ANY($1) ORDER BY contact_id, queued_at, id"#,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.contact_id,
                Pending {
                    campaign_id: r.campaign_id,
                    since: r.queued_at,
                },
            )
        })
        .collect())
}

/// Deferred (contact, campaign) pairs counted by when their window opens: (bucket, count), where
/// bucket `i` holds the openings in `[bounds[i-1], bounds[i])` (0: before the first bound, and
/// `bounds.len()`: from the last one on). `bounds` ascend.
pub async fn deferrals_by_opening(
    db: impl PgExecutor<'_>,
    bounds: &[DateTime<Utc>],
) -> sqlx::Result<Vec<(i32, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT width_bucket(next_opening, $1::timestamptz[]) AS "bucket!", count(*) AS "n!"
           FROM deferrals GROUP BY 1"#,
        bounds
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.bucket, r.n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reads_the_same_from_its_text_as_from_its_value() {
        for text in [
            r#"{"start_time": "09:00:00", "end_time": "17:30:00", "timezone": "Europe/London"}"#,
            r#"{"start_time": "22:00:00", "end_time": "02:00:00", "timezone": "Asia/Kathmandu"}"#,
            r#"{"start_time": "25:00:00", "end_time": "02:00:00", "timezone": "UTC"}"#,
            r#"{"start_time": "09:00:00"}"#,
            r#"[1, 2]"#,
            r#""09:00""#,
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(window_of_text(text), window_of(value), "{text}");
        }
        assert!(
            window_of_text(
                r#"{"start_time": "09:00:00", "end_time": "17:30:00", "timezone": "Europe/London"}"#
            )
            .is_some()
        );
    }
}
