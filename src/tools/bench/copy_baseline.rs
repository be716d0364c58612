//! The physical limit a run is compared with (issue 12): a binary COPY of as many rows as the run
//! writes decisions rows into a table like `decision_runs` (same columns and indexes), in batches of
//! the run's size, each its own transaction with `synchronous_commit = off` and sent in chunks
//! (`copy_in`) as the run's are. The rows look like the run's: two campaigns, each with its
//! failures.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::evaluation::BATCH;
use crate::platform::db::copy::copy_in;

const COPY: &str = "COPY baseline_decision_runs (contact_id, evaluated_at, tier, effective_score, \
     rise, campaign_ids, reasons, details) FROM STDIN (FORMAT binary)";

/// Two campaigns' details (`evaluation::runs`) as the run stores the commonest row: both with a
/// rise too small and the contact's window closed until a later instant, stored as their parts
/// (`evaluation::stored_sentences`): 269 characters, where the rows of a million-contact run
/// averaged 265.
const DETAILS: &str = r#"[["voice",false,"2026-12-08T05:00:00.000000Z",null,null,[true,true,true,[86400,"0.1"],true,true,true,true,[50400,73800,"Asia/Tokyo"]]],["voice",false,"2026-12-08T05:00:00.000000Z",null,null,[true,true,true,[86400,"0.1"],true,true,true,true,[50400,73800,"Asia/Tokyo"]]]]"#;

/// Seconds to COPY `rows` rows (the table is created empty first, and dropped after).
pub async fn copy_seconds(pool: &PgPool, rows: i64, now: DateTime<Utc>) -> anyhow::Result<f64> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS baseline_decision_runs;
         CREATE TABLE baseline_decision_runs (LIKE decision_runs INCLUDING ALL)",
    )
    .execute(pool)
    .await?;
    let started = Instant::now();
    let mut lo = 0;
    while lo < rows {
        let hi = (lo + BATCH).min(rows);
        let mut tx = pool.begin().await?;
        sqlx::raw_sql("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        copy_in(&mut tx, COPY, lo..hi, |c, i| {
            let id = format!("bench-{:08}", i + 1);
            let score = 0.3 + (i % 50) as f64 / 100.0;
            c.row(8)
                .text(&id)
                .timestamptz(now)
                .opt_text(Some("moderate"))
                .opt_f64(Some(score))
                .opt_f64(Some(0.04))
                .text("bench-push bench-pull")
                .text("insufficient_rise insufficient_rise")
                .text(DETAILS);
        })
        .await?;
        tx.commit().await?;
        lo = hi;
    }
    let seconds = started.elapsed().as_secs_f64();
    sqlx::raw_sql("DROP TABLE baseline_decision_runs")
        .execute(pool)
        .await?;
    Ok(seconds)
}
