//! The prune's statements over histories: rows older than the cut-off go, except the ones the
//! rules or the explanation still read (each contact's newest, or the observations a replay
//! needs). Each walks the table by a cursor, so one statement examines about a batch of rows.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::postgres::types::PgInterval;

use super::batch::{Batch, Cursor, Walked};

/// Old decisions except the newest of each contact and campaign, which the explanation shows
/// however old it is. (The evaluation run reads no decisions.) A run's row holds every campaign's
/// decision (its campaigns space-separated): it goes when each of its campaigns has a newer
/// decision about the contact, and the count is of the per-campaign decisions it held.
pub(super) async fn decisions(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    cursor: &Cursor,
    limit: i64,
) -> sqlx::Result<Batch> {
    sqlx::query_as!(
        Walked,
        r#"WITH batch AS (
               SELECT ctid AS rid, contact_id, campaign_ids, evaluated_at, seq FROM decision_runs
               WHERE evaluated_at < $1 AND (evaluated_at, seq) > ($2, $3)
               ORDER BY evaluated_at, seq LIMIT $4),
           gone AS (
               DELETE FROM decision_runs WHERE ctid = ANY(ARRAY(
                   SELECT b.rid FROM batch b WHERE NOT EXISTS (
                       SELECT 1 FROM unnest(string_to_array(b.campaign_ids, ' ')) AS k(id)
                       WHERE NOT EXISTS (
                           SELECT 1 FROM decision_runs n
                           WHERE n.contact_id = b.contact_id
                             AND k.id = ANY(string_to_array(n.campaign_ids, ' '))
                             AND (n.evaluated_at, n.seq) > (b.evaluated_at, b.seq)))))
               RETURNING cardinality(string_to_array(campaign_ids, ' ')) AS n),
           last AS (SELECT evaluated_at, seq FROM batch ORDER BY evaluated_at DESC, seq DESC LIMIT 1)
           SELECT (SELECT count(*) FROM batch) AS "examined!",
                  (SELECT COALESCE(sum(n), 0) FROM gone)::int8 AS "deleted!",
                  (SELECT evaluated_at FROM last) AS at, (SELECT seq FROM last) AS id"#,
        cutoff,
        cursor.at,
        cursor.id,
        limit
    )
    .fetch_one(&mut *tx)
    .await
    .map(Batch::from)
}

/// Old profile snapshots except each contact's newest, which the explanation shows. (The run reads
/// the latest profile from `contact_scores`, not from here.)
pub(super) async fn snapshots(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    cursor: &Cursor,
    limit: i64,
) -> sqlx::Result<Batch> {
    sqlx::query_as!(
        Walked,
        r#"WITH batch AS (
               SELECT id, contact_id, fetched_at FROM score_snapshots
               WHERE fetched_at < $1 AND (fetched_at, id) > ($2, $3)
               ORDER BY fetched_at, id LIMIT $4),
           gone AS (
               DELETE FROM score_snapshots WHERE id IN (
                   SELECT b.id FROM batch b CROSS JOIN LATERAL (
                       SELECT 1 FROM score_snapshots n WHERE n.contact_id = b.contact_id
                         AND (n.fetched_at, n.id) > (b.fetched_at, b.id) LIMIT 1) newer)
               RETURNING 1),
           last AS (SELECT fetched_at, id FROM batch ORDER BY fetched_at DESC, id DESC LIMIT 1)
           SELECT (SELECT count(*) FROM batch) AS "examined!", (SELECT count(*) FROM gone) AS "deleted!",
                  (SELECT fetched_at FROM last) AS at, (SELECT id FROM last) AS id"#,
        cutoff,
        cursor.at,
        cursor.id,
        limit
    )
    .fetch_one(&mut *tx)
    .await
    .map(Batch::from)
}

/// Old hand-overs except each contact's newest, which starts its cooldown (whatever the cooldown
/// is set to) and which the explanation shows.
pub(super) async fn handovers(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    cursor: &Cursor,
    limit: i64,
) -> sqlx::Result<Batch> {
    sqlx::query_as!(
        Walked,
        r#"WITH batch AS (
               SELECT id, contact_id, at FROM handovers
               WHERE at < $1 AND (at, id) > ($2, $3)
               ORDER BY at, id LIMIT $4),
           gone AS (
               DELETE FROM handovers WHERE id IN (
                   SELECT b.id FROM batch b CROSS JOIN LATERAL (
                       SELECT 1 FROM handovers n WHERE n.contact_id = b.contact_id
                         AND (n.at, n.id) > (b.at, b.id) LIMIT 1) newer)
               RETURNING 1),
           last AS (SELECT at, id FROM batch ORDER BY at DESC, id DESC LIMIT 1)
           SELECT (SELECT count(*) FROM batch) AS "examined!", (SELECT count(*) FROM gone) AS "deleted!",
                  (SELECT at FROM last) AS at, (SELECT id FROM last) AS id"#,
        cutoff,
        cursor.at,
        cursor.id,
        limit
    )
    .fetch_one(&mut *tx)
    .await
    .map(Batch::from)
}

/// Old score observations, keeping everything the rules read.
///
/// The effective score replays a contact's observations in time order, and whether one is applied
/// depends on the last applied one before it (dampening). So a contact's history may only be cut
/// just before an observation known to be applied whatever came before: the first one, or one at
/// least the largest dampening window after its predecessor (the last applied one can only be
/// older still). From such an *anchor* on, the replay is the same with or without what precedes
/// it; everything before the newest anchor older than the cut-off goes. The cut-off is never later
/// than `now - rise window`, so the rise rule's trailing window is untouched. A batch deletes only
/// rows the walk has reached, so a statement deletes about a batch of rows, however long the
/// histories of its contacts.
pub(super) async fn observations(
    tx: &mut PgConnection,
    cutoff: DateTime<Utc>,
    gap: &PgInterval,
    cursor: &Cursor,
    limit: i64,
) -> sqlx::Result<Batch> {
    let r = sqlx::query!(
        r#"WITH batch AS (
               SELECT contact_id, observed_at FROM score_observations
               WHERE observed_at < $1 AND (observed_at, contact_id) > ($2, $3)
               ORDER BY observed_at, contact_id LIMIT $4),
           ranked AS (
               SELECT o.contact_id, o.observed_at,
                      lag(o.observed_at) OVER (PARTITION BY o.contact_id
                                               ORDER BY o.observed_at, o.source) AS prev
               FROM score_observations o
               WHERE o.contact_id IN (SELECT contact_id FROM batch) AND o.observed_at < $1),
           anchors AS (
               SELECT contact_id, max(observed_at) AS anchor FROM ranked
               WHERE prev IS NULL OR observed_at - prev >= $5::interval
               GROUP BY contact_id),
           gone AS (
               DELETE FROM score_observations o USING anchors a
               WHERE o.contact_id = a.contact_id AND o.observed_at < a.anchor
                 AND o.observed_at <= (SELECT max(observed_at) FROM batch)
               RETURNING 1),
           last AS (SELECT observed_at, contact_id FROM batch
                    ORDER BY observed_at DESC, contact_id DESC LIMIT 1)
           SELECT (SELECT count(*) FROM batch) AS "examined!", (SELECT count(*) FROM gone) AS "deleted!",
                  (SELECT observed_at FROM last) AS at, (SELECT contact_id FROM last) AS key"#,
        cutoff,
        cursor.at,
        cursor.key,
        limit,
        gap
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(Batch::walked(
        r.examined,
        r.deleted,
        r.at,
        0,
        r.key.unwrap_or_default(),
    ))
}
