//! Loading one batch of the run: the candidates and everything the rules need about them, in a
//! handful of queries per batch (never one per contact).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

use super::facts::{Span, last_handovers_in, observations_in, pending_in, suppressions_in};
use super::plan::Pending;
use super::scored;
use crate::eligibility::{ContactFacts, Window};

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
) -> sqlx::Result<Batch> {
    let (rows, dense) = if full {
        (scored::after(&mut *db, after, limit).await?, true)
    } else {
        let ids = due(&mut *db, after, now, limit).await?;
        scored::due(&mut *db, &ids).await?
    };
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Batch::default());
    };
    let ids: Vec<String> = rows.iter().map(|r| r.contact_id.clone()).collect();
    let span = if dense {
        Span::Range(&first.contact_id, &last.contact_id)
    } else {
        Span::Ids(&ids)
    };
    let mut observations = observations_in(&mut *db, span, now, rows.len()).await?;
    let handovers = last_handovers_in(&mut *db, span).await?;
    let mut pending = pending_in(&mut *db, span).await?;
    let mut suppressions = suppressions_in(&mut *db, span, &ids).await?;
    let candidates = rows
        .into_iter()
        .map(|r| Candidate {
            facts: ContactFacts {
                observations: observations.take(&r.contact_id),
                channel_preference: r.channel,
                best_contact_window: r.best_window,
                last_handover_at: handovers.get(&r.contact_id).copied(),
                suppression: suppressions.remove(&r.contact_id),
            },
            pending: pending.remove(&r.contact_id),
            observed_seq: r.observed_seq,
            contact_id: r.contact_id,
        })
        .collect();
    Ok(Batch { candidates, dense })
}

/// One batch of candidates in contact-id order, and whether it was read by range (dense, see
/// [`Span`]): its writes can then take the same range.
#[derive(Debug, Default)]
pub struct Batch {
    pub candidates: Vec<Candidate>,
    pub dense: bool,
}

impl std::ops::Deref for Batch {
    type Target = [Candidate];

    fn deref(&self) -> &[Candidate] {
        &self.candidates
    }
}

/// The candidates of a run (or a dry run) in batches of `size` by contact id, the next batch
/// loading while the caller works on this one. The scheduled run and the population dry run both
/// read through it.
pub struct Batches {
    pool: PgPool,
    now: DateTime<Utc>,
    size: i64,
    full: bool,
    next: Option<tokio::task::JoinHandle<anyhow::Result<Batch>>>,
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
    pub async fn next(&mut self) -> anyhow::Result<Option<Batch>> {
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

/// The ids of the contacts due in a regular run: in the evaluation queue, or deferred with their
/// window open.
async fn due(
    db: &mut sqlx::PgConnection,
    after: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    // `DISTINCT` over `UNION ALL`, not `UNION`: both branches come in contact-id order, so
    // PostgreSQL merges them and drops repeats as they pass (Merge Append, Unique) instead of
    // hashing both and sorting the result by text, which was two thirds of the statement's time.
    // The ids come back as one array, not a row each: a run reads a million, and taking them
    // apart row by row was about 8 % of pesync's CPU in the run. `array_agg` takes them in the
    // subquery's order (it has no ORDER BY of its own, so nothing re-sorts them), which is the
    // contact-id order the batch's range needs.
    sqlx::query_scalar!(
        r#"SELECT COALESCE(array_agg(contact_id), '{}') AS "ids!"
           FROM (SELECT DISTINCT contact_id
                 FROM ((SELECT contact_id FROM evaluation_queue WHERE contact_id > $1
                        ORDER BY contact_id LIMIT $3)
                       UNION ALL
                       (SELECT contact_id FROM deferrals WHERE next_opening <= $2 AND contact_id > $1
                        ORDER BY contact_id LIMIT $3)) c
                 ORDER BY contact_id LIMIT $3) d"#,
        after,
        now,
        limit
    )
    .fetch_one(&mut *db)
    .await
}

/// A stored window; one that does not read as a window counts as none (the poller only stores
/// windows it could read, so this is a guard, not a rule).
pub fn window_of(v: serde_json::Value) -> Option<Window> {
    serde_json::from_value(v).ok()
}

/// Deferred (contact, campaign) pairs counted by when their window opens: (bucket, count), where
/// bucket `i` holds the openings in `[bounds[i-1], bounds[i])` (0: before the first bound, and
/// `bounds.len()`: from the last one on). `bounds` ascend.
pub async fn deferrals_by_opening(
    db: impl PgExecutor<'_>,
    bounds: &[DateTime<Utc>],
) -> sqlx::Result<Vec<(i32, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT width_bucket(next_opening, $1::timestamptz[]) AS "bucket!",
                  sum(cardinality(string_to_array(campaign_ids, ' ')))::int8 AS "n!"
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
    use crate::evaluation::scored::window_of_text;

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
