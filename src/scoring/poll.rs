//! The profile poller (`PESYNC_POLL_CRON`, SPEC §7 "Polling"): once per tick across the cluster it
//! fetches the profiles of contacts with events delivered since their last poll (the poll queue
//! that delivery fills, [`crate::delivery::poll_queue`]), and of deferred contacts whose window is
//! about to open (by the deferrals' `next_opening` index), through the shared Genesys client (so
//! every request waits for the cluster-wide rate ceiling). Neither reads every contact: a tick with nothing to
//! poll costs two index probes, whatever the number of contacts.
//!
//! Deferred contacts are polled once per opening, [`DEFERRED_POLL_LEAD`] before it, rather than on
//! every tick: the evaluation at the opening then sees a fresh score, and a thousand contacts
//! waiting for the morning do not spend the tenant's 300 requests a minute all night.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use sqlx::PgExecutor;
use sqlx::postgres::types::PgInterval;

use super::chronology;
use super::profile;
use super::store;
use crate::genesys::retry::{BACKOFF_CAP, backoff_ceiling};
use crate::genesys::{ApiResponse, GenesysClient, TransportError, Verdict, backoff, verdict};
use crate::platform::context::AppState;
use crate::platform::db::lock::{JobLock, POLL_JOB};
use crate::scoring::metrics::{POLLS, PollOutcome};

/// A deferred contact is polled this long before its window opens.
pub const DEFERRED_POLL_LEAD: TimeDelta = TimeDelta::minutes(5);
/// Requests in flight at once; the rate ceiling, not this, sets the pace.
const CONCURRENCY: usize = 8;
/// Candidates read per query.
const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// False when another instance held this tick.
    pub ran: bool,
    pub polled: u64,
    /// 200s stored as snapshots.
    pub profiles: u64,
    /// New observations stored (poll and history points).
    pub observations: u64,
    /// 404s: PE has no profile yet; tried again on a later tick.
    pub not_found: u64,
    /// Other failures, retried later.
    pub failed: u64,
}

/// One poll tick: takes the cluster-wide lock (or returns `ran: false`) and polls every candidate
/// once, in contact-id order.
pub async fn poll_once(state: &AppState, client: &GenesysClient) -> anyhow::Result<PollReport> {
    let Some(lock) = JobLock::try_acquire(&state.pool, POLL_JOB).await? else {
        tracing::debug!("poll skipped: another instance holds this tick");
        return Ok(PollReport::default());
    };
    let result = poll_all(state, client).await;
    lock.release().await;
    let report = result?;
    if report.polled > 0 {
        tracing::info!(?report, "profiles polled");
    }
    Ok(report)
}

async fn poll_all(state: &AppState, client: &GenesysClient) -> anyhow::Result<PollReport> {
    let mut report = PollReport {
        ran: true,
        ..PollReport::default()
    };
    let mut after = String::new();
    loop {
        let ids = candidates(&state.pool, state.clock.now(), &after, BATCH)
            .await
            .context("reading poll candidates")?;
        let Some(last) = ids.last() else {
            return Ok(report);
        };
        after = last.clone();
        let mut answers = futures_util::stream::iter(ids)
            .map(|id| async move {
                let result = client.get_profile(&id).await;
                (id, result)
            })
            .buffer_unordered(CONCURRENCY);
        while let Some((id, result)) = answers.next().await {
            report.polled += 1;
            handle(state, &id, result, &mut report)
                .await
                .with_context(|| format!("storing the poll of contact {id}"))?;
        }
    }
}

/// The next `limit` contacts to poll after `after`, by contact id.
pub async fn candidates(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    let soon = now.checked_add_signed(DEFERRED_POLL_LEAD).unwrap_or(now);
    let lead =
        PgInterval::try_from(DEFERRED_POLL_LEAD).expect("a lead of minutes fits an interval");
    // Each branch is ordered and limited itself, and both sides of the join start at the cursor
    // (`s.contact_id > $3` in the join condition): a batch then reads contacts from the cursor up to
    // its `limit`-th candidate, so a tick walks the contacts once instead of once per batch.
    sqlx::query_scalar!(
        r#"SELECT contact_id AS "contact_id!" FROM (
               (SELECT c.contact_id FROM poll_queue c
                LEFT JOIN contact_scores s ON s.contact_id = c.contact_id AND s.contact_id > $3
                WHERE c.delivered_at > COALESCE(s.last_polled_at, '-infinity')
                  AND COALESCE(s.next_poll_at, '-infinity') <= $1 AND c.contact_id > $3
                ORDER BY c.contact_id LIMIT $5)
               UNION
               (SELECT d.contact_id FROM deferrals d JOIN contact_scores s USING (contact_id)
                WHERE d.next_opening <= $2
                  AND COALESCE(s.last_polled_at, '-infinity') < d.next_opening - $4::interval
                  AND s.next_poll_at <= $1 AND d.contact_id > $3
                ORDER BY d.contact_id LIMIT $5)) x
           ORDER BY contact_id LIMIT $5"#,
        now,
        soon,
        after,
        lead,
        limit
    )
    .fetch_all(db)
    .await
}

async fn handle(
    state: &AppState,
    contact_id: &str,
    result: Result<ApiResponse, TransportError>,
    report: &mut PollReport,
) -> anyhow::Result<()> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let failures = u32::try_from(store::poll_failures(&mut tx, contact_id).await?).unwrap_or(0);
    let (status, wait, why) = match &result {
        Ok(r) if (200..300).contains(&r.status) => match profile::parse(&r.body) {
            Ok((p, raw)) => {
                report.observations +=
                    store::store_profile(&mut tx, contact_id, now, &p, &raw).await?;
                let skew = state.monitors.chronology_skew();
                chronology::check(&mut tx, contact_id, p.last_event_timestamp, skew, now).await?;
                tx.commit().await?;
                report.profiles += 1;
                POLLS.poll(PollOutcome::Profile);
                return Ok(());
            }
            Err(e) => (Some(r.status), backoff_ceiling(failures + 1), e.to_string()),
        },
        Ok(r) if r.status == 404 => {
            // PE has no profile yet: a later tick tries again (1 s doubling, so the next tick at
            // first, then less often for a contact PE never learns about).
            report.not_found += 1;
            POLLS.poll(PollOutcome::NotFound);
            store::record_miss(
                &mut tx,
                contact_id,
                Some(404),
                at(now, backoff_ceiling(failures + 1)),
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        Ok(r) => {
            let wait = match verdict(&result) {
                Verdict::RetryAfter(d) => d,
                Verdict::Backoff(_) => backoff(failures + 1),
                Verdict::Reject | Verdict::Done => BACKOFF_CAP,
            };
            (Some(r.status), wait, truncate(&r.body))
        }
        Err(e) => (None, backoff(failures + 1), e.to_string()),
    };
    report.failed += 1;
    POLLS.poll(PollOutcome::Failed);
    tracing::warn!(contact_id, ?status, error = %why, "profile poll failed; retrying later");
    store::record_miss(&mut tx, contact_id, status.map(i32::from), at(now, wait)).await?;
    tx.commit().await?;
    Ok(())
}

fn at(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}

fn truncate(body: &str) -> String {
    body.chars().take(500).collect()
}
