//! Seeding `pesync bench evaluate`'s database (see `evaluate.rs`): PostgreSQL writes the contacts
//! itself (`generate_series`), so the benchmark process's memory is the run's.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

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

// Every contact had an event delivered before its last poll: nothing for the poller to do, which
// is what an idle poll tick is measured on.
const SEED_DELIVERED: &str = concat!(
    seed_cte!(),
    r#"INSERT INTO contacts (contact_id, newest_realtime_ts, last_delivered_at)
       SELECT id, $3 - interval '3 minutes', $3 - interval '2 minutes' FROM p"#
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
            SEED_DELIVERED,
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
pub async fn reset(pool: &PgPool) -> anyhow::Result<()> {
    for sql in [
        "TRUNCATE decision_runs, deferrals, dialer_queue, evaluation_queue",
        "INSERT INTO evaluation_queue SELECT contact_id, observed_seq FROM contact_scores",
        "VACUUM ANALYZE",
    ] {
        sqlx::raw_sql(sql).execute(pool).await?;
    }
    Ok(())
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
