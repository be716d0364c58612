//! `pesync bench evaluate`: an evaluation run over N seeded contacts (SPEC §9 "an eligibility run
//! over 1,000,000 contacts finishes in seconds, not minutes"), measured for time, CPU and peak memory.
//!
//! It works in a database of its own (`pesync_bench_evaluate` on the server of `DATABASE_URL`),
//! dropped and re-created first, so it never touches real data. The seed is deterministic and
//! varied, so every reason code occurs: contacts have three observations (yesterday's score, a
//! change three hours ago, the poll a minute ago), one of three channels or none, their own window
//! in one of eight zones (or none, or an unknown zone), and one in twenty was handed over yesterday.
//! Two enabled campaigns (push and pull) compete for them. The seed is written by PostgreSQL itself
//! (`generate_series`), so the process's memory is the run's.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use sqlx::PgPool;

use super::cpu::{Cost, Meter};
use super::median;
use super::scratch::ScratchDb;
use crate::evaluation::{RunReport, evaluate_contacts};

/// The benchmark's own database.
pub const BENCH_DATABASE: &str = "pesync_bench_evaluate";
/// Contacts seeded per statement.
const SEED_CHUNK: i64 = 250_000;

/// The seeded contacts `$1..=$2` of the run at `$3`, as a CTE every seeding statement starts with.
macro_rules! seed_cte {
    () => {
        r#"WITH g AS (
               SELECT g, 'bench-' || lpad(g::text, 8, '0') AS id,
                      round((0.30 + ((g * 7) % 50) / 100.0)::numeric, 2)::float8 AS s_prev
               FROM generate_series($1::int8, $2::int8) g),
           p AS (
               SELECT g, id, s_prev,
                      round(least(0.99, greatest(0.01, s_prev + ((g * 13) % 30) / 100.0 - 0.05))::numeric, 2)::float8 AS s_now,
                      CASE WHEN g % 10 < 5 THEN 'voice' WHEN g % 10 < 8 THEN 'email'
                           WHEN g % 10 = 8 THEN 'sms' END AS channel,
                      CASE WHEN g % 5 = 0 THEN NULL
                           ELSE jsonb_build_object(
                               'start_time', lpad((g % 24)::text, 2, '0') || ':00:00',
                               'end_time', lpad(((g % 24 + 6) % 24)::text, 2, '0') || ':30:00',
                               'timezone', CASE WHEN g % 101 = 0 THEN 'Mars/Base'
                                   ELSE (ARRAY['America/New_York', 'Europe/London', 'Australia/Lord_Howe',
                                               'Pacific/Chatham', 'Asia/Kathmandu', 'America/Los_Angeles',
                                               'Asia/Tokyo', 'US/Eastern'])[g % 8 + 1] END) END AS win
               FROM g) "#
    };
}

const SEED_SNAPSHOTS: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO score_snapshots (contact_id, fetched_at, score, channel, best_window, raw)
       SELECT id, $3 - interval '1 minute', s_now, channel, win,
              jsonb_build_object('contact_id', id, 'propensity_score', s_now,
                  'channel_preference', channel, 'best_contact_window', win,
                  'score_history', jsonb_build_array(
                      jsonb_build_object('timestamp', $3 - interval '26 hours', 'score', s_prev),
                      jsonb_build_object('timestamp', $3 - interval '3 hours', 'score', s_now)))
       FROM p"#
);

const SEED_OBSERVATIONS: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
       SELECT id, $3 - interval '26 hours', 'history', s_prev, $3 FROM p
       UNION ALL SELECT id, $3 - interval '3 hours', 'history', s_now, $3 FROM p
       UNION ALL SELECT id, $3 - interval '1 minute', 'poll', s_now, $3 FROM p"#
);

const SEED_CONTACTS: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO contact_scores (contact_id, last_polled_at, channel, best_window, observed_seq)
       SELECT id, $3 - interval '1 minute', channel, win, nextval('observation_seq') FROM p"#
);

const SEED_QUEUE: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO evaluation_queue (contact_id, observed_seq)
       SELECT p.id, s.observed_seq FROM p JOIN contact_scores s ON s.contact_id = p.id"#
);

const SEED_HANDOVERS: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO handovers (contact_id, campaign_id, channel, mode, at)
       SELECT id, 'bench-push', 'voice', 'push', $3 - interval '1 day' FROM p WHERE g % 20 = 0"#
);

const CAMPAIGNS: &str = r#"[
  {"id": "bench-push", "name": "Benchmark push", "enabled": true, "priority": 10,
   "tiers": ["high", "moderate"], "mode": "push",
   "channels": {"voice": "list-voice", "email": "list-email"},
   "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}},
  {"id": "bench-pull", "name": "Benchmark pull", "enabled": true, "priority": 5,
   "tiers": ["high", "moderate"], "mode": "pull",
   "channels": {"voice": "list-voice-2", "sms": "list-sms"},
   "default_window": {"start_time": "08:00:00", "end_time": "18:00:00", "timezone": "Europe/London"}}]"#;

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub contacts: i64,
    pub seed_seconds: f64,
    /// Medians over the runs (wall seconds).
    pub median_run_seconds: f64,
    pub median_full_pass_seconds: f64,
    pub median_contacts_per_second: f64,
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
}

/// Seeds `contacts` contacts and the two campaigns as of `now`.
pub async fn seed(pool: &PgPool, contacts: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    let campaigns: Vec<crate::eligibility::Campaign> = serde_json::from_str(CAMPAIGNS)?;
    let mut tx = pool.begin().await?;
    for c in &campaigns {
        crate::registry::campaigns::insert(&mut tx, c, now).await?;
    }
    // The campaigns predate the contacts' new observations: the run is a regular one (the
    // evaluation queue), not the full pass that follows a campaign change.
    let revision = crate::registry::campaigns::enabled_revision(&mut *tx).await?;
    crate::registry::campaigns::set_evaluated_revision(&mut *tx, revision).await?;
    tx.commit().await?;
    let bar = indicatif::ProgressBar::new(contacts as u64).with_message("seeding");
    let mut lo = 1;
    while lo <= contacts {
        let hi = (lo + SEED_CHUNK - 1).min(contacts);
        let mut tx = pool.begin().await?;
        for sql in [
            SEED_SNAPSHOTS,
            SEED_OBSERVATIONS,
            SEED_CONTACTS,
            SEED_QUEUE,
            SEED_HANDOVERS,
        ] {
            sqlx::query(sql)
                .bind(lo)
                .bind(hi)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context("seeding")?;
        }
        tx.commit().await?;
        bar.inc((hi - lo + 1) as u64);
        lo = hi + 1;
    }
    bar.finish_and_clear();
    sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await?;
    Ok(())
}

/// Puts a kept database back as the seed left it: no decisions, deferrals or queued hand-overs, and
/// every contact in the evaluation queue.
async fn reset(pool: &PgPool) -> anyhow::Result<()> {
    for sql in [
        "TRUNCATE decisions, deferrals, dialer_queue, evaluation_queue",
        "INSERT INTO evaluation_queue SELECT contact_id, observed_seq FROM contact_scores",
        "VACUUM ANALYZE",
    ] {
        sqlx::raw_sql(sql).execute(pool).await?;
    }
    Ok(())
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
        let meter = Meter::start(&pool).await;
        let run = evaluate_contacts(&pool, now).await?;
        let run_cost = meter.stop(&pool).await;

        let started = Instant::now();
        let idle = evaluate_contacts(&pool, now).await?;
        let idle_run_seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(idle.contacts == 0, "the second run found work");

        if i == 0 {
            reasons = sqlx::query_as(
                "SELECT reason, count(*) FROM decisions WHERE evaluated_at = $1 GROUP BY reason ORDER BY count(*) DESC",
            )
            .bind(now)
            .fetch_all(&pool)
            .await?;
        }
        // A campaign changes: the next run is a full pass over every scored contact.
        sqlx::query(
            "UPDATE campaigns SET revision = nextval('campaign_revision') WHERE id = 'bench-pull'",
        )
        .execute(&pool)
        .await?;
        let meter = Meter::start(&pool).await;
        let full_pass = evaluate_contacts(&pool, now).await?;
        let full_pass_cost = meter.stop(&pool).await;
        anyhow::ensure!(
            full_pass.full_pass,
            "a campaign change must start a full pass"
        );
        eprintln!(
            "run {}: {:.1} s, full pass {:.1} s",
            i + 1,
            run_cost.seconds,
            full_pass_cost.seconds
        );
        figures.push(RunFigures {
            run,
            run_cost,
            idle_run_seconds,
            full_pass,
            full_pass_cost,
        });
    }

    if keep {
        db.keep().await;
    } else {
        db.drop_db().await?;
    }
    let evaluated = figures.first().map_or(0, |f| f.run.contacts as i64);
    let median_run_seconds = median(figures.iter().map(|f| f.run_cost.seconds).collect());
    Ok(BenchResult {
        contacts: evaluated,
        seed_seconds,
        median_run_seconds,
        median_full_pass_seconds: median(
            figures.iter().map(|f| f.full_pass_cost.seconds).collect(),
        ),
        median_contacts_per_second: evaluated as f64 / median_run_seconds,
        runs: figures,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_campaigns_are_valid() {
        let campaigns: Vec<crate::eligibility::Campaign> = serde_json::from_str(CAMPAIGNS).unwrap();
        assert!(campaigns.iter().all(|c| c.validate().is_empty()));
    }
}
