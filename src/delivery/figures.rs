//! The pipeline's figures `/metrics` and `/v1/admin/stats` show, counted from the database so every
//! instance shows the whole cluster's: per lane depth, oldest pending and delivered; what waits for
//! the operator; what was handed over.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct LaneRow {
    pub lane: String,
    pub depth: i64,
    pub oldest: Option<DateTime<Utc>>,
    pub delivered: i64,
}

/// Items waiting for the operator, and hand-overs still stored.
pub struct OpenCounts {
    pub reconciliation: i64,
    pub quarantine: i64,
    pub dead_letters: i64,
    pub dispatched: i64,
}

pub async fn lanes(reads: &PgPool) -> sqlx::Result<Vec<LaneRow>> {
    let rows = sqlx::query!(
        r#"SELECT lane AS "lane!",
                  count(*) FILTER (WHERE state = 'pending') AS "depth!",
                  min(received_at) FILTER (WHERE state = 'pending') AS oldest,
                  count(*) FILTER (WHERE state = 'delivered') AS "delivered!"
           FROM events WHERE lane IS NOT NULL AND state IN ('pending', 'delivered') GROUP BY lane"#
    )
    .fetch_all(reads)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LaneRow {
            lane: r.lane,
            depth: r.depth,
            oldest: r.oldest,
            delivered: r.delivered,
        })
        .collect())
}

pub async fn open_counts(reads: &PgPool) -> sqlx::Result<OpenCounts> {
    let r = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM events WHERE state = 'reconciliation') AS "reconciliation!",
                  (SELECT count(*) FROM quarantine WHERE state = 'open') AS "quarantine!",
                  (SELECT count(*) FROM dead_letters WHERE state = 'open') AS "dead_letters!",
                  (SELECT count(*) FROM handovers) AS "dispatched!""#
    )
    .fetch_one(reads)
    .await?;
    Ok(OpenCounts {
        reconciliation: r.reconciliation,
        quarantine: r.quarantine,
        dead_letters: r.dead_letters,
        dispatched: r.dispatched,
    })
}
