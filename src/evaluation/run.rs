//! The evaluation run (`PESYNC_EVALUATE_CRON`): once per tick across the cluster, it evaluates the
//! contacts with an observation newer than their last decision and the deferred contacts whose
//! window has opened, for every enabled campaign; stores every evaluation as a decision; queues the
//! contacts taken for the dialer; then pushes what is due. After a campaign is created or changed
//! it looks at every scored contact once: that campaign has no decision about any of them yet.
//!
//! It streams: contacts are read in batches by contact id, each batch is decided (pure, on a
//! blocking thread) while the next one loads, and written in one transaction (binary COPY and
//! array statements), three batches' writes at a time. Memory stays at about five batches whatever
//! the number of contacts.

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::load::{Batches, Candidate};
use super::plan::plan;
use super::store::BatchWrite;
use crate::dialer::{PushReport, dialer_contact, push_once};
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{Campaign, Moment};
use crate::eligibility::{Reason, Sentences};
use crate::evaluation::metrics::DECISIONS;
use crate::genesys::GenesysClient;
use crate::platform::context::AppState;
use crate::platform::db::lock::{EVALUATE_JOB, JobLock};
use crate::registry::{campaigns, thresholds};

/// Contacts per batch: large enough that per-statement overhead fades, small enough that a batch
/// is a short transaction and the run's memory stays small. Each batch costs a fixed dozen
/// statements and a transaction on both sides: over a million contacts, 4,000 rather than 2,000
/// gave a median run of 9.1 s against 9.8 s (pesync 4.98 CPU-s against 5.26, PostgreSQL 10.9
/// against 11.6) for a peak RSS of 60 MiB against 45; 8,000 gave 8.9 s for 82–89 MiB
/// (`docs/BENCHMARKS.md`, issue 12 §1, tenth round).
pub const BATCH: i64 = 4_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// False when another instance held the run's lock (this tick was not ours).
    pub ran: bool,
    /// Every scored contact was looked at, because a campaign was created or changed.
    pub full_pass: bool,
    pub contacts: u64,
    pub decisions: u64,
    /// Contacts queued for the dialer (push outbox or pull feed).
    pub queued: u64,
    pub deferred: u64,
    pub push: PushReport,
}

impl RunReport {
    /// Adds a stored batch, and counts its decisions by reason (`/metrics`).
    fn add(&mut self, written: &BatchWrite) {
        for reason in Reason::ALL {
            let n = written.reason_counts()[reason as usize];
            if n > 0 {
                DECISIONS.record(reason, n);
            }
        }
        self.decisions += written.decisions() as u64;
        self.queued += written.queued() as u64;
        self.deferred += written.deferred() as u64;
    }
}

/// One scheduled tick: takes the cluster-wide lock (or returns `ran: false`), evaluates, pushes.
/// Without a Genesys client the push waits for a later tick (pull campaigns are unaffected).
pub async fn evaluate_once(
    state: &AppState,
    client: Option<&GenesysClient>,
) -> anyhow::Result<RunReport> {
    let Some(lock) = JobLock::try_acquire(&state.pool, EVALUATE_JOB).await? else {
        tracing::debug!("evaluation run skipped: another instance holds this tick");
        return Ok(RunReport::default());
    };
    let result = async {
        let mut report = evaluate_contacts(&state.pool, state.clock.now()).await?;
        if let Some(client) = client {
            report.push = push_once(state, client).await?;
        }
        anyhow::Ok(report)
    }
    .await;
    lock.release().await;
    let report = result?;
    if report.contacts > 0 || report.push.requests > 0 {
        tracing::info!(?report, "evaluation run");
    }
    Ok(report)
}

/// The evaluation proper, as of `now`: no lock, no push (the benchmark measures exactly this).
pub async fn evaluate_contacts(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<RunReport> {
    let (_, thresholds) = thresholds::current(pool)
        .await
        .context("reading thresholds")?;
    let campaigns = campaigns::enabled(pool)
        .await
        .context("reading campaigns")?;
    let mut report = RunReport {
        ran: true,
        ..RunReport::default()
    };
    if campaigns.is_empty() {
        // Contacts stay unevaluated until a campaign exists: nothing to decide for.
        return Ok(report);
    }
    // A campaign created or changed since the last complete pass has decided nothing about the
    // contacts already scored: this run looks at all of them.
    let revision = campaigns::enabled_revision(pool).await?;
    report.full_pass = revision > campaigns::evaluated_revision(pool).await?;
    let cooldown = thresholds.cooldown();
    let rules = Arc::new((campaigns, thresholds));
    let full = report.full_pass;
    // The next batch loads while this one is decided and written.
    let mut batches = Batches::start(pool, now, BATCH, full);
    let mut writing: VecDeque<tokio::task::JoinHandle<anyhow::Result<BatchWrite>>> =
        VecDeque::with_capacity(WRITES_IN_FLIGHT);
    // Contacts whose batch is stored.
    let mut written = 0usize;
    while let Some(batch) = batches.next().await? {
        report.contacts += batch.len() as u64;
        let rules = Arc::clone(&rules);
        let write = tokio::task::spawn_blocking(move || {
            let dense = batch.dense;
            decide(batch.candidates, &rules.0, &rules.1, now).read_by_range(dense)
        })
        .await
        .context("deciding task")?;
        if writing.len() == WRITES_IN_FLIGHT
            && let Some(oldest) = writing.pop_front()
        {
            let stored = oldest.await.context("storing task")??;
            report.add(&stored);
            let before = written;
            written += stored.contacts();
            if analyze_between(before, written) {
                analyze_growing_tables(pool).await;
            }
        }
        writing.push_back(tokio::spawn(store_batch(pool.clone(), write, cooldown)));
    }
    for last in writing {
        report.add(&last.await.context("storing task")??);
    }
    if full {
        campaigns::set_evaluated_revision(pool, revision).await?;
    }
    Ok(report)
}

/// Batches being written at once. Writing is the run's longest stage (the decision rows' COPY,
/// the deferrals, the dialer queue, the evaluation queue's deletes), and one writer leaves a core
/// idle while PostgreSQL works on it; several overlap with each other and with the next batch's
/// load and decisions. Three rather than two: on a million contacts, six alternating pairs gave
/// a median run of 17.9 s against 18.9 s (ratio to COPY 1.65 against 1.75), for a peak RSS of
/// 84 MiB against 69 (`docs/BENCHMARKS.md`). Batches hold disjoint contacts, so their writes touch
/// disjoint rows and never wait on each other; a failed write fails the run, and its contacts stay
/// in the evaluation queue whatever the other batches did.
const WRITES_IN_FLIGHT: usize = 3;

/// After how many stored contacts a run refreshes the statistics of the tables it grows.
const ANALYZE_AFTER_CONTACTS: [usize; 2] = [10_000, 100_000];

/// Whether the statistics are refreshed once the stored contacts go from `before` to `after`: a
/// batch that reaches or passes one of [`ANALYZE_AFTER_CONTACTS`], whatever the batch size.
fn analyze_between(before: usize, after: usize) -> bool {
    ANALYZE_AFTER_CONTACTS
        .iter()
        .any(|&n| before < n && n <= after)
}

/// Refreshes the planner's statistics of the deferrals and the dialer queue.
///
/// A large run grows both tables by hundreds of thousands of rows, from nearly empty on a new
/// installation or after a quiet spell. Their statistics are then those of the empty table, and the
/// plans made from them (and cached with the prepared statements) are full scans: measured on a
/// 1M-contact run, 4 s per batch of 2,000 contacts for `DELETE FROM deferrals WHERE contact_id =
/// ANY($1)` and 1 s for the pending lookup in the dialer queue, against milliseconds with fresh
/// statistics. Autovacuum would analyze them eventually, but not while it is busy with the
/// decisions. An ANALYZE samples a bounded number of rows and invalidates the cached plans, so
/// doing it twice early in a large run (its rows are alike throughout) costs well under a second.
/// Re-planning every statement instead (`plan_cache_mode = force_custom_plan`) made the run 50 %
/// slower and did not help: a custom plan is only as good as the statistics.
async fn analyze_growing_tables(pool: &PgPool) {
    if let Err(error) = sqlx::query!("ANALYZE deferrals, dialer_queue")
        .execute(pool)
        .await
    {
        // Not fatal: the run goes on with the plans it has (slower on a large run).
        tracing::warn!(%error, "could not analyze the deferrals and the dialer queue");
    }
}

/// Writes one batch in one transaction.
///
/// The transaction commits without waiting for its WAL flush (`synchronous_commit = off`): a batch
/// is all or nothing, so a crash can only lose whole batches — their contacts are still in the
/// evaluation queue and the next run decides them again. Hand-overs are committed normally.
async fn store_batch(
    pool: PgPool,
    write: BatchWrite,
    cooldown: chrono::TimeDelta,
) -> anyhow::Result<BatchWrite> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    write
        .write(&mut tx, cooldown)
        .await
        .context("storing decisions")?;
    tx.commit().await?;
    Ok(write)
}

/// Decides one batch (pure): one decision per contact and campaign, the winner's dialer contact.
/// The batch is taken whole: each contact's id moves into what is written, not copied.
pub fn decide(
    batch: Vec<Candidate>,
    campaigns: &[Campaign],
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> BatchWrite {
    let mut write = BatchWrite::at(now);
    let moment = Moment::at(now);
    for c in batch {
        // Only failed rules' sentences are stored, the commonest as their parts
        // (`evaluation::outcomes`).
        let p = plan(
            &c.facts,
            c.pending.as_ref(),
            campaigns,
            thresholds,
            &moment,
            Sentences::Stored,
        );
        write.decided(&c.contact_id, campaigns, &p.evaluations, thresholds);
        if let Some(i) = p.winner
            && let Some(contact) = dialer_contact(&campaigns[i], &c.contact_id, &p.evaluations[i])
        {
            write.queue(&campaigns[i], contact, c.pending.is_some());
        }
        write.evaluated(c.contact_id, c.observed_seq);
    }
    write
}

#[cfg(test)]
mod tests {
    use super::analyze_between;

    #[test]
    fn the_statistics_are_refreshed_once_per_threshold_whatever_the_batch_size() {
        // Batches of 4,000: the third reaches 12,000, past 10,000; the 25th reaches 100,000.
        assert!(!analyze_between(4_000, 8_000));
        assert!(analyze_between(8_000, 12_000));
        assert!(!analyze_between(12_000, 16_000));
        assert!(analyze_between(96_000, 100_000));
        assert!(!analyze_between(100_000, 104_000));
        // A batch that lands exactly on a threshold refreshes once, not again after it.
        assert!(analyze_between(9_000, 10_000));
        assert!(!analyze_between(10_000, 11_000));
        // One batch past both refreshes (once: the tables are analyzed together).
        assert!(analyze_between(0, 200_000));
        let refreshes = (0..250)
            .filter(|i| analyze_between(i * 4_000, (i + 1) * 4_000))
            .count();
        assert_eq!(refreshes, 2, "a million contacts in batches of 4,000");
    }
}
