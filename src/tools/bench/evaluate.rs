//! `pesync bench evaluate`: an evaluation run over N seeded contacts (SPEC §9 "an eligibility run
//! over 1,000,000 contacts finishes in seconds, not minutes"), measured for time, CPU and peak
//! memory, against a binary COPY of as many rows into a table like the decisions' in the same run
//! (issue 12: the run within 2× of that); and an idle poll tick over the same contacts.
//!
//! It works in a database of its own (`pesync_bench_evaluate` on the server of `DATABASE_URL`),
//! dropped and re-created first, so it never touches real data. The seed is deterministic and
//! varied, so every reason code occurs: contacts have three observations (yesterday's score, a
//! change three hours ago, the poll a minute ago), one of three channels or none, their own window
//! in one of eight zones (or none, or an unknown zone), and one in twenty was handed over yesterday.
//! Two enabled campaigns (push and pull) compete for them (`evaluate_seed.rs`).

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use sqlx::PgPool;

use super::cpu::{Cost, Meter};
use super::evaluate_seed::{reset, seed};
use super::median;
use super::scratch::ScratchDb;
use crate::evaluation::{RunReport, evaluate_contacts};

/// The benchmark's own database.
pub const BENCH_DATABASE: &str = "pesync_bench_evaluate";
/// Idle poll ticks timed per repetition (the median is kept).
const POLL_TICKS: usize = 7;

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub contacts: i64,
    pub seed_seconds: f64,
    /// Medians over the runs (wall seconds).
    pub median_run_seconds: f64,
    pub median_full_pass_seconds: f64,
    pub median_contacts_per_second: f64,
    /// The COPY baseline of each repetition (as many rows as the run decided contacts).
    pub median_copy_seconds: f64,
    /// The run's time over the same repetition's COPY (goal ≤ 2).
    pub median_ratio_to_copy: f64,
    /// One poll tick with nothing to poll (goal < 10 ms).
    pub median_idle_poll_tick_ms: f64,
    /// The largest peak RSS of this process (which runs the evaluation) over every measured stretch.
    pub peak_rss_mib: Option<f64>,
    pub runs: Vec<RunFigures>,
    /// The first run's decisions by reason.
    pub reasons: Vec<(String, i64)>,
}

/// One repetition: the run, an idle run right after, then a full pass.
#[derive(Debug, Serialize)]
pub struct RunFigures {
    pub run: RunReport,
    pub run_cost: Cost,
    /// The same run again right after: nothing left to evaluate.
    pub idle_run_seconds: f64,
    /// A full pass (every contact, after a campaign change), on top of the run's decisions.
    pub full_pass: RunReport,
    pub full_pass_cost: Cost,
    /// Binary COPY of `run.contacts` rows into a table like `decision_runs` (same indexes).
    pub copy_seconds: f64,
    pub ratio_to_copy: f64,
    /// Median of the idle poll ticks timed after the run.
    pub idle_poll_tick_ms: f64,
}

/// Seeds a fresh benchmark database with `contacts` contacts and measures `runs` repetitions of an
/// evaluation run (each on the seed as it was, see [`reset`]) and a full pass. With `reuse`, an
/// earlier `--keep` database is evaluated instead of seeding a new one; `now` is then the seed's.
pub async fn evaluate(
    database_url: &SecretString,
    contacts: i64,
    runs: usize,
    keep: bool,
    reuse: bool,
) -> anyhow::Result<BenchResult> {
    let db = ScratchDb::named(database_url, BENCH_DATABASE, !reuse).await?;
    let pool = db.pool.clone();
    let (now, seed_seconds) = if reuse {
        let now: DateTime<Utc> =
            sqlx::query_scalar("SELECT max(recorded_at) FROM score_observations")
                .fetch_one(&pool)
                .await
                .context("no earlier benchmark database to reuse")?;
        (now, 0.0)
    } else {
        let now = Utc::now();
        let started = Instant::now();
        seed(&pool, contacts, now).await?;
        (now, started.elapsed().as_secs_f64())
    };

    let mut figures = Vec::new();
    let mut reasons = Vec::new();
    for i in 0..runs.max(1) {
        if reuse || i > 0 {
            reset(&pool).await?;
        }
        figures.push(repetition(&pool, now, i, &mut reasons).await?);
    }

    if keep {
        db.keep().await;
    } else {
        db.drop_db().await?;
    }
    let evaluated = figures.first().map_or(0, |f| f.run.contacts as i64);
    let median_run_seconds = median(figures.iter().map(|f| f.run_cost.seconds).collect());
    let costs = figures
        .iter()
        .flat_map(|f| [&f.run_cost, &f.full_pass_cost]);
    Ok(BenchResult {
        contacts: evaluated,
        seed_seconds,
        median_run_seconds,
        median_full_pass_seconds: median(
            figures.iter().map(|f| f.full_pass_cost.seconds).collect(),
        ),
        median_contacts_per_second: evaluated as f64 / median_run_seconds,
        median_copy_seconds: median(figures.iter().map(|f| f.copy_seconds).collect()),
        median_ratio_to_copy: median(figures.iter().map(|f| f.ratio_to_copy).collect()),
        median_idle_poll_tick_ms: median(figures.iter().map(|f| f.idle_poll_tick_ms).collect()),
        peak_rss_mib: costs.filter_map(|c| c.peak_rss_mib).reduce(f64::max),
        runs: figures,
        reasons,
    })
}

/// The stored decisions since `since` by reason, most first, read as the console's chart reads
/// them (the one reader by time that knows the decision rows' layout).
async fn stored_reasons(pool: &PgPool, since: DateTime<Utc>) -> anyhow::Result<Vec<(String, i64)>> {
    let mut by_reason = std::collections::BTreeMap::<String, i64>::new();
    for m in crate::evaluation::runs::decisions_by_minute(pool, since).await? {
        *by_reason.entry(m.key).or_default() += m.count;
    }
    let mut reasons: Vec<(String, i64)> = by_reason.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    Ok(reasons)
}

/// The run, an idle run, idle poll ticks, the COPY baseline, then a full pass.
async fn repetition(
    pool: &PgPool,
    now: DateTime<Utc>,
    i: usize,
    reasons: &mut Vec<(String, i64)>,
) -> anyhow::Result<RunFigures> {
    let meter = Meter::start(pool).await;
    let run = evaluate_contacts(pool, now).await?;
    let run_cost = meter.stop(pool).await;

    let started = Instant::now();
    let idle = evaluate_contacts(pool, now).await?;
    let idle_run_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(idle.contacts == 0, "the second run found work");
    let idle_poll_tick_ms = idle_poll_tick_ms(pool, now).await?;

    if i == 0 {
        *reasons = stored_reasons(pool, now).await?;
    }
    let copy_seconds = super::copy_baseline::copy_seconds(pool, run.contacts as i64, now).await?;

    // A campaign changes: the next run is a full pass over every scored contact.
    sqlx::query(
        "UPDATE campaigns SET revision = nextval('campaign_revision') WHERE id = 'bench-pull'",
    )
    .execute(pool)
    .await?;
    let meter = Meter::start(pool).await;
    let full_pass = evaluate_contacts(pool, now).await?;
    let full_pass_cost = meter.stop(pool).await;
    anyhow::ensure!(
        full_pass.full_pass,
        "a campaign change must start a full pass"
    );
    let ratio_to_copy = run_cost.seconds / copy_seconds;
    eprintln!(
        "run {}: {:.1} s (COPY {:.1} s, ratio {:.2}), full pass {:.1} s, idle poll tick {:.2} ms",
        i + 1,
        run_cost.seconds,
        copy_seconds,
        ratio_to_copy,
        full_pass_cost.seconds,
        idle_poll_tick_ms,
    );
    Ok(RunFigures {
        run,
        run_cost,
        idle_run_seconds,
        full_pass,
        full_pass_cost,
        copy_seconds,
        ratio_to_copy,
        idle_poll_tick_ms,
    })
}

/// What a poll tick with nothing to poll costs: the candidate query `poll_once` starts with, on a
/// database where every contact was delivered to and then polled, and a third of them are deferred
/// (median of [`POLL_TICKS`]).
async fn idle_poll_tick_ms(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<f64> {
    let mut ms = Vec::with_capacity(POLL_TICKS);
    for _ in 0..POLL_TICKS {
        let started = Instant::now();
        // A deferred contact whose window opens within the poll lead may be found: a handful
        // at most (the seed's windows open on the hour, in zones with odd offsets).
        crate::scoring::poll::candidates(pool, now, "", 500).await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(ms))
}
