//! Ingestion's way into the delivery queue (issue 12 §3): a request appends one row naming the
//! contacts it gave work to, in its own transaction; the drain moves rows into `delivery_queue`.
//!
//! Why not enqueue directly: the queue's upsert is one locked write per contact, and concurrent
//! requests for the same contacts (or a worker recording an outcome) waited on each other's row
//! locks until commit. One appended row per request takes no lock anyone waits on, and the drain
//! merges the requests of a moment into one statement, which writes only the contacts not already
//! waiting (`queue::enqueue_committed`; docs/BENCHMARKS.md has the figures: about 10 % more
//! events/s when concurrent requests share their contacts).
//!
//! Nothing is lost: an inbox row commits with its events, and the drain deletes it in the
//! transaction that enqueues its contacts. A worker that deletes an idle queue row while a request
//! is still open cannot lose that request's events either: its inbox row, once committed, brings
//! the contact back. The events wait their ordering hold anyway (2 s by default), so the drain's
//! delay (`gather_after` a commit in this instance, `POLL` for the others) costs no delivery time
//! within it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Lane, queue};
use crate::platform::db::retry::retry_conflicts;

/// Most inbox rows (requests) one drain moves: their contacts become one upsert. Small enough that
/// the transaction's row locks, which workers recording outcomes wait on, are held briefly.
const DRAIN_BATCH: i64 = 64;
/// How often the drain looks without being woken: for other instances' requests.
const POLL: StdDuration = StdDuration::from_millis(100);
/// How long a woken drain waits for more commits, at least: at hundreds of single-event requests a
/// second, one drain per request would double the transactions.
const GATHER: StdDuration = StdDuration::from_millis(20);
/// How long at most: well under the default ordering hold (2 s), so the contacts are in the queue
/// before their events are ready. A hold of 0 (SPEC §11.19 allows it) makes this a bulk load's
/// delay to delivery, which its own backlog in the queue covers: the drain waits this long only
/// after moving thousands of contacts.
const GATHER_MAX: StdDuration = StdDuration::from_millis(200);
/// A drain gathers one `GATHER` more for each this many contacts the previous one moved.
const CONTACTS_PER_GATHER: usize = 500;

/// How long a woken drain gathers after one that moved `contacts` contacts (counted once per
/// request): `GATHER` for each `CONTACTS_PER_GATHER`, from one to `GATHER_MAX`. Under a bulk load
/// the next drain then serves more requests, which costs PostgreSQL less per event: one
/// transaction, and a contact the requests share looked up once. In `bench ingest` PostgreSQL's CPU
/// per event fell 5–9 % (issue 12 §3; docs/BENCHMARKS.md). Single-event requests move a contact
/// each and keep `GATHER`: gathering by requests instead had their p99.9 latency at 500 req/s go
/// from 12.6 to 43.9 ms (medians of seven `bench latency` runs).
fn gather_after(contacts: usize) -> StdDuration {
    let gathers = u32::try_from(contacts / CONTACTS_PER_GATHER).unwrap_or(u32::MAX);
    GATHER.saturating_mul(gathers.max(1)).min(GATHER_MAX)
}

/// What one [`drain`] moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Inbox rows: the requests.
    pub requests: usize,
    /// Their contacts, once per request and lane.
    pub contacts: usize,
}

/// Appends one row for `work` (contact, lane): its contacts have events ready from `ready_at` on.
pub async fn add<'a>(
    tx: &mut PgConnection,
    ready_at: DateTime<Utc>,
    work: impl IntoIterator<Item = (&'a str, Lane)>,
) -> sqlx::Result<()> {
    // Each contact once per lane, in order: the drain's upsert would merge them anyway, and a bulk
    // request often carries many events of one contact. A list sorted and deduplicated once, not a
    // set built contact by contact: the admission of `bench ingest`'s requests took 10 % fewer
    // instructions (callgrind, issue 12 §3).
    let mut realtime = Vec::new();
    let mut backfill = Vec::new();
    for (contact, lane) in work {
        match lane {
            Lane::Realtime => realtime.push(contact),
            Lane::Backfill => backfill.push(contact),
        };
    }
    if realtime.is_empty() && backfill.is_empty() {
        return Ok(());
    }
    for contacts in [&mut realtime, &mut backfill] {
        contacts.sort_unstable();
        contacts.dedup();
    }
    sqlx::query!(
        "INSERT INTO delivery_inbox (ready_at, realtime, backfill) VALUES ($1, $2, $3)",
        ready_at,
        &realtime as &[&str],
        &backfill as &[&str]
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Moves up to `DRAIN_BATCH` committed inbox rows into the delivery queue, in one transaction.
/// `SKIP LOCKED` lets drains of several instances run side by side.
pub async fn drain(pool: &PgPool) -> sqlx::Result<Drained> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        r#"DELETE FROM delivery_inbox
           WHERE id IN (SELECT id FROM delivery_inbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING ready_at, realtime, backfill"#,
        DRAIN_BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(Drained {
            requests: 0,
            contacts: 0,
        });
    }
    // Without waiting for the disk: the transaction is all or nothing, and one lost to a crash
    // leaves its inbox rows for the next drain. Any later durable commit (a worker's, which needs
    // this one's rows) makes it durable too, as the log is written in order. Waiting would add a
    // flush per drain to the requests' own.
    sqlx::query!("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    // Collected, not an iterator of closures: the future must be `Send` for any lifetime.
    let mut work = Vec::new();
    for r in &rows {
        let realtime = r
            .realtime
            .iter()
            .map(|c| (c.as_str(), Lane::Realtime, r.ready_at));
        let backfill = r
            .backfill
            .iter()
            .map(|c| (c.as_str(), Lane::Backfill, r.ready_at));
        work.extend(realtime.chain(backfill));
    }
    let contacts = work.len();
    queue::enqueue_committed(&mut tx, work).await?;
    tx.commit().await?;
    Ok(Drained {
        requests: rows.len(),
        contacts,
    })
}

/// Drains until shutdown: [`gather_after`] a wake-up (`wake`, rung after each commit that added a
/// row in this instance), else every `POLL`; a full batch is followed by the next at once. Errors
/// (the database restarting; a deadlock with a worker, after a few quick tries) are logged; the rows
/// stay for the next try.
pub async fn run(
    pool: PgPool,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    while !shutdown.is_cancelled() {
        match retry_conflicts(|| drain(&pool)).await {
            Ok(d) if d.requests as i64 == DRAIN_BATCH => continue,
            Ok(d) => tokio::select! {
                _ = shutdown.cancelled() => break,
                // Woken: a moment more, so the commits of a busy instance share one drain.
                _ = wake.notified() => tokio::time::sleep(gather_after(d.contacts)).await,
                _ = tokio::time::sleep(POLL) => {}
            },
            Err(e) => {
                tracing::warn!(error = %e, "moving the delivery inbox into the queue failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_gathers_longer_after_moving_more_contacts_within_the_bound() {
        assert_eq!(gather_after(0), GATHER, "a quiet instance");
        assert_eq!(gather_after(1), GATHER, "one single-event request");
        assert_eq!(
            gather_after(900),
            GATHER,
            "hundreds of single-event requests"
        );
        assert_eq!(gather_after(1500), GATHER * 3, "three bulk requests");
        assert_eq!(gather_after(64_000), GATHER_MAX);
        assert_eq!(gather_after(usize::MAX), GATHER_MAX);
        // Within the default ordering hold, with room to spare.
        let hold = crate::domain::thresholds::Thresholds::default().ordering_hold();
        assert!(GATHER_MAX * 5 <= hold.to_std().unwrap());
    }
}
