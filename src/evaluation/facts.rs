//! What a batch of the run reads about its contacts besides their scores: observations,
//! hand-overs, pending dialer items and suppressions, each table in one statement per batch, by id
//! or by range ([`Span`]).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgExecutor;

use super::grouped::{ByContact, Grouped};
use super::plan::Pending;
use crate::eligibility::{Observation, Suppression};
use crate::platform::db::copy_out;
use crate::registry::suppressions;

/// Which rows of a table keyed by contact a batch reads.
///
/// A `= ANY($1)` read descends the index once per contact of the batch, even in a table where few
/// contacts have a row (hand-overs, pending items, suppressions); a range read descends it once and
/// walks the entries between the batch's first and last contact. The range is the cheaper one
/// when the batch is dense: always in a full pass, and in a regular run after a bulk import or a
/// campaign's first pass, when nearly every contact is due. Rows of contacts in the range but not
/// in the batch are read and ignored (the candidates are built from the batch's own rows).
#[derive(Debug, Clone, Copy)]
pub(super) enum Span<'a> {
    /// The batch's contacts, one index probe each.
    Ids(&'a [String]),
    /// Every contact from the first id to the last (both included).
    Range(&'a str, &'a str),
}

/// How many scored contacts the range of a regular run's batch may hold, per contact of the batch,
/// for the batch to be read by range ([`Span::Range`]).
pub(super) const DENSE_SPREAD: i64 = 2;

/// Every observation of these contacts at or before `now`, in time order per contact.
pub async fn observations_of(
    db: impl PgExecutor<'_>,
    ids: &[String],
    now: DateTime<Utc>,
) -> sqlx::Result<HashMap<String, Vec<Observation>>> {
    let rows = sqlx::query_as!(
        ObservationRow,
        r#"SELECT contact_id, observed_at, score FROM score_observations
           WHERE contact_id = ANY($1) AND observed_at <= $2
           ORDER BY contact_id, observed_at, source"#,
        ids,
        now
    )
    .fetch_all(db)
    .await?;
    Ok(by_contact(rows, ids.len()))
}

/// Every observation at or before `now` of the contacts whose ids lie in `[first, last]`, about
/// `contacts` of them.
///
/// A run reads three observations per contact, a million contacts' worth: through binary COPY,
/// read in place ([`copy_out`]), not as query rows (issue 12). The bounds travel as settings of
/// the statement's own transaction.
async fn observations_between(
    db: &mut sqlx::PgConnection,
    (first, last): (&str, &str),
    now: DateTime<Utc>,
    contacts: usize,
) -> sqlx::Result<ByContact> {
    let now = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let bounds = [
        ("pesync.first", first),
        ("pesync.last", last),
        ("pesync.now", &now),
    ];
    let mut grouped = Grouped::with_capacity(contacts);
    copy_out::read_with(db, OBSERVATIONS_BETWEEN, &bounds, |row| {
        let contact = row.text()?;
        let observation = Observation::new(row.timestamptz()?, row.f64()?);
        grouped.push(contact, observation);
        Ok(())
    })
    .await?;
    Ok(grouped.in_order())
}

const OBSERVATIONS_BETWEEN: &str = "COPY (SELECT contact_id, observed_at, score \
     FROM score_observations \
     WHERE contact_id >= current_setting('pesync.first') \
       AND contact_id <= current_setting('pesync.last') \
       AND observed_at <= current_setting('pesync.now')::timestamptz \
     ORDER BY contact_id, observed_at, source) TO STDOUT (FORMAT binary)";

/// A row of `score_observations` as the run reads it.
struct ObservationRow {
    contact_id: String,
    observed_at: DateTime<Utc>,
    score: f64,
}

/// Observations of about `contacts` contacts grouped by contact, in the order read.
fn by_contact(rows: Vec<ObservationRow>, contacts: usize) -> HashMap<String, Vec<Observation>> {
    let mut grouped = Grouped::with_capacity(contacts);
    for r in rows {
        grouped.push(&r.contact_id, Observation::new(r.observed_at, r.score));
    }
    grouped.into_map()
}

/// The observations at or before `now` of the contacts in `span`, a batch of `contacts`.
pub(super) async fn observations_in(
    db: &mut sqlx::PgConnection,
    span: Span<'_>,
    now: DateTime<Utc>,
    contacts: usize,
) -> sqlx::Result<ByContact> {
    match span {
        Span::Ids(ids) => Ok(ByContact::ById(observations_of(db, ids, now).await?)),
        Span::Range(first, last) => observations_between(db, (first, last), now, contacts).await,
    }
}

/// A contact's newest hand-over, by any campaign.
struct Handover {
    contact_id: String,
    at: DateTime<Utc>,
}

/// The newest hand-over of each contact in `span`.
pub(super) async fn last_handovers_in(
    db: &mut sqlx::PgConnection,
    span: Span<'_>,
) -> sqlx::Result<HashMap<String, DateTime<Utc>>> {
    let rows = match span {
        Span::Ids(ids) => {
            sqlx::query_as!(
                Handover,
                r#"SELECT DISTINCT ON (contact_id) contact_id, at FROM handovers
                   WHERE contact_id = ANY($1) ORDER BY contact_id, at DESC"#,
                ids
            )
            .fetch_all(db)
            .await?
        }
        Span::Range(first, last) => {
            sqlx::query_as!(
                Handover,
                r#"SELECT DISTINCT ON (contact_id) contact_id, at FROM handovers
                   WHERE contact_id >= $1 AND contact_id <= $2 ORDER BY contact_id, at DESC"#,
                first,
                last
            )
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows.into_iter().map(|r| (r.contact_id, r.at)).collect())
}

/// A contact's oldest item still queued for the dialer.
struct PendingRow {
    contact_id: String,
    campaign_id: String,
    queued_at: DateTime<Utc>,
}

/// The oldest hand-over still queued for the dialer, per contact in `span`.
pub(super) async fn pending_in(
    db: &mut sqlx::PgConnection,
    span: Span<'_>,
) -> sqlx::Result<HashMap<String, Pending>> {
    let rows = match span {
        Span::Ids(ids) => {
            sqlx::query_as!(
                PendingRow,
                r#"SELECT DISTINCT ON (contact_id) contact_id, campaign_id, queued_at
                   FROM dialer_queue WHERE state = 'pending' AND contact_id = ANY($1)
                   ORDER BY contact_id, queued_at, id"#,
                ids
            )
            .fetch_all(db)
            .await?
        }
        Span::Range(first, last) => {
            sqlx::query_as!(
                PendingRow,
                r#"SELECT DISTINCT ON (contact_id) contact_id, campaign_id, queued_at
                   FROM dialer_queue
                   WHERE state = 'pending' AND contact_id >= $1 AND contact_id <= $2
                   ORDER BY contact_id, queued_at, id"#,
                first,
                last
            )
            .fetch_all(db)
            .await?
        }
    };
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

/// The suppression entries of the batch's contacts (`ids`, whose first and last bound `span`).
/// The list may hold any number of contacts that were never scored (a do-not-call list loaded
/// whole), so a range of it is not bounded by the batch: read at most [`DENSE_SPREAD`] entries
/// per contact of the batch, and by id when the range holds more.
pub(super) async fn suppressions_in(
    db: &mut sqlx::PgConnection,
    span: Span<'_>,
    ids: &[String],
) -> sqlx::Result<HashMap<String, Suppression>> {
    if let Span::Range(first, last) = span {
        let bound = DENSE_SPREAD * ids.len() as i64;
        if let Some(entries) = suppressions::between(&mut *db, first, last, bound).await? {
            return Ok(entries);
        }
    }
    suppressions::of(db, ids).await
}
