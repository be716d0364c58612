//! The prune job: one run deletes, table by table, what [`Cutoffs`] lets go, in batches of
//! [`Policy::batch`] rows. Each batch is one statement in a short transaction of its own (with the
//! bump of the cluster-wide counters in `retention_pruned`), found through an index on the row's
//! age (migration `20261206000002_retention.sql`), so a run never holds locks that ingestion or
//! delivery wait for and never scans a table.
//!
//! Tables whose old rows may have to stay (the newest decision of a contact and campaign, …) are
//! walked once per run with a cursor over that index, so the rows kept are read once per run, not
//! once per batch. Every delete repeats its condition on the row it deletes, so a row that a
//! concurrent transaction changed meanwhile (a dedup key claimed again, a dead letter replayed) is
//! re-checked and stays.

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;

use super::batch::{Cursor, Step};
use super::{Cutoffs, Policy, Windows, statements};
use crate::domain::thresholds::Thresholds;
use crate::platform::context::AppState;
use crate::platform::db::lock::{JobLock, PRUNE_JOB};

/// The tables pruned, as named in `retention_pruned` and the `table` label of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    DedupKeys,
    Events,
    DeadLetters,
    Quarantine,
    Decisions,
    Snapshots,
    Observations,
    Handovers,
    DialerQueue,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::DedupKeys,
        Table::Events,
        Table::DeadLetters,
        Table::Quarantine,
        Table::Decisions,
        Table::Snapshots,
        Table::Observations,
        Table::Handovers,
        Table::DialerQueue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::DedupKeys => "dedup_keys",
            Table::Events => "events",
            Table::DeadLetters => "dead_letters",
            Table::Quarantine => "quarantine",
            Table::Decisions => "decisions",
            Table::Snapshots => "score_snapshots",
            Table::Observations => "score_observations",
            Table::Handovers => "handovers",
            Table::DialerQueue => "dialer_queue",
        }
    }
}

/// What one run deleted, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneReport {
    /// False when another instance held this tick.
    pub ran: bool,
    pruned: [u64; 9],
}

impl PruneReport {
    pub fn pruned(&self, table: Table) -> u64 {
        self.pruned[table as usize]
    }
    pub fn total(&self) -> u64 {
        self.pruned.iter().sum()
    }
    fn add(&mut self, table: Table, n: u64) {
        self.pruned[table as usize] += n;
    }
}

/// Rows pruned from one table, all instances, since the database was created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrunedCount {
    #[schema(example = "events")]
    pub table: String,
    pub rows: i64,
}

/// The cluster-wide "rows pruned" counters, by table name.
pub async fn pruned_totals(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<PrunedCount>> {
    sqlx::query_as!(
        PrunedCount,
        r#"SELECT name AS "table", rows FROM retention_pruned ORDER BY name"#
    )
    .fetch_all(db)
    .await
}

/// One prune run: takes the cluster-wide lock (or returns `ran: false`), then prunes every table.
pub async fn prune_once(state: &AppState, policy: &Policy) -> anyhow::Result<PruneReport> {
    let Some(lock) = JobLock::try_acquire(&state.pool, PRUNE_JOB).await? else {
        tracing::debug!("prune skipped: another instance holds this tick");
        return Ok(PruneReport::default());
    };
    let result = prune_all(&state.pool, policy, state.clock.now()).await;
    lock.release().await;
    let report = result?;
    if report.total() > 0 {
        tracing::info!(?report, "old rows pruned");
    }
    Ok(report)
}

async fn prune_all(
    pool: &PgPool,
    policy: &Policy,
    now: DateTime<Utc>,
) -> anyhow::Result<PruneReport> {
    let windows = largest_windows(pool).await.context("reading thresholds")?;
    let cutoffs = Cutoffs::compute(policy, &windows, now);
    let mut report = PruneReport {
        ran: true,
        ..PruneReport::default()
    };
    for step in Step::ALL {
        run_step(pool, step, &cutoffs, policy.batch.max(1), &mut report)
            .await
            .with_context(|| format!("pruning ({step:?})"))?;
    }
    Ok(report)
}

/// The largest dedup, rise and dampening windows of every thresholds version (the defaults for a
/// window no version sets).
async fn largest_windows(db: impl PgExecutor<'_>) -> sqlx::Result<Windows> {
    let r = sqlx::query!(
        r#"SELECT max((document->>'dedup_window_seconds')::numeric)::bigint AS dedup,
                  max((document->>'rise_window_seconds')::numeric)::bigint AS rise,
                  max((document->>'dampening_window_seconds')::numeric)::bigint AS dampening
           FROM thresholds"#
    )
    .fetch_one(db)
    .await?;
    let d = Thresholds::default();
    // A window too long for a duration keeps everything (the cut-off becomes the earliest instant).
    let secs = |v: Option<i64>, default: i64| {
        TimeDelta::try_seconds(v.unwrap_or(default).max(0)).unwrap_or(TimeDelta::MAX)
    };
    Ok(Windows {
        dedup: secs(r.dedup, d.dedup_window_seconds),
        rise: secs(r.rise, d.rise_window_seconds),
        dampening: secs(r.dampening, d.dampening_window_seconds),
    })
}

fn table_of(step: Step) -> Table {
    match step {
        Step::DedupKeys => Table::DedupKeys,
        Step::DeliveredEvents | Step::DeadLetteredEvents | Step::DiscardedEvents => Table::Events,
        Step::Quarantine => Table::Quarantine,
        Step::Decisions => Table::Decisions,
        Step::Snapshots => Table::Snapshots,
        Step::Observations => Table::Observations,
        Step::Handovers => Table::Handovers,
        Step::DialerQueue => Table::DialerQueue,
    }
}

/// Runs `step` batch after batch until a batch comes back short.
async fn run_step(
    pool: &PgPool,
    step: Step,
    cutoffs: &Cutoffs,
    limit: i64,
    report: &mut PruneReport,
) -> anyhow::Result<()> {
    let mut cursor = Cursor::start();
    loop {
        let mut tx = pool.begin().await?;
        let b = statements::batch(&mut tx, step, cutoffs, &cursor, limit).await?;
        let counts = [
            (table_of(step), b.deleted),
            (Table::DeadLetters, b.dead_letters),
        ];
        bump(&mut tx, &counts).await?;
        tx.commit().await?;
        for (table, n) in counts {
            report.add(table, u64::try_from(n).unwrap_or(0));
        }
        match b.next {
            Some(next) if b.examined >= limit => cursor = next,
            None if b.examined >= limit => {}
            _ => return Ok(()),
        }
    }
}

/// Adds the counts to the cluster-wide counters, in the batch's transaction.
async fn bump(tx: &mut PgConnection, counts: &[(Table, i64)]) -> sqlx::Result<()> {
    let names: Vec<String> = counts.iter().map(|(t, _)| t.as_str().to_owned()).collect();
    let ns: Vec<i64> = counts.iter().map(|(_, n)| *n).collect();
    sqlx::query!(
        r#"UPDATE retention_pruned p SET rows = p.rows + t.n
           FROM UNNEST($1::text[], $2::int8[]) AS t(name, n) WHERE p.name = t.name AND t.n > 0"#,
        &names,
        &ns
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
