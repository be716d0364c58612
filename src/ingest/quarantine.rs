//! The quarantine's store (SPEC §3, §8): events that failed normalization, kept with their raw
//! payload for the operator to replay (through the whole pipeline again) or discard.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ingest::cdc::{self, ChangePlan};
use crate::ingest::plan::{self, Documents, Intake};
use crate::normalize::QuarantineReason;

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinedItem {
    pub id: Uuid,
    pub source: String,
    #[schema(value_type = QuarantineReason)]
    pub reason: String,
    pub detail: String,
    pub received_at: DateTime<Utc>,
    /// The payload as received (a malformed NDJSON line as a string; for `invalid_characters`, the
    /// event's JSON text, or its line, with each NUL written as the escape `\u0000`).
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
}

/// Open items after `after` (their sequence), oldest first, only `reason`'s when given.
pub async fn open_page(
    reads: &PgPool,
    after: i64,
    reason: Option<QuarantineReason>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, QuarantinedItem)>> {
    let rows = sqlx::query!(
        r#"SELECT seq, id, source, reason, detail, raw, received_at FROM quarantine
           WHERE state = 'open' AND seq > $1 AND ($2::text IS NULL OR reason = $2)
           ORDER BY seq LIMIT $3"#,
        after,
        reason.map(QuarantineReason::as_str),
        limit
    )
    .fetch_all(reads)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let item = QuarantinedItem {
                id: r.id,
                source: r.source,
                reason: r.reason,
                detail: r.detail,
                received_at: r.received_at,
                raw: r.raw,
            };
            (r.seq, item)
        })
        .collect())
}

/// An open item, locked for a replay or a discard.
pub struct OpenItem {
    pub id: Uuid,
    pub source: String,
    pub reason: String,
    pub raw: serde_json::Value,
    /// `events` or `cdc`: a change event is translated again with the CDC mapping in force.
    pub intake: String,
}

impl OpenItem {
    /// Plans the item again as it was first received, with `reg` (the source's mapping and the
    /// manifest now in force): a change event is translated again, so a CDC mapping that now
    /// ignores it skips it.
    pub fn replan(&self, reg: &Documents<'_>, now: DateTime<Utc>) -> ChangePlan {
        let reason = self
            .reason
            .parse()
            .unwrap_or(QuarantineReason::InvalidEnvelope);
        let raw = self.raw.clone();
        if self.intake == Intake::Cdc.as_str() {
            cdc::replan(raw, reason, reg, now)
        } else {
            ChangePlan::Planned(plan::plan(&plan::item_from_raw(raw, reason), reg, now))
        }
    }
}

/// Locks the open items among `ids` and, with `reason`, that reason's, oldest first, at most
/// `limit`.
pub async fn lock_open(
    tx: &mut PgConnection,
    ids: &[Uuid],
    reason: Option<QuarantineReason>,
    limit: i64,
) -> sqlx::Result<Vec<OpenItem>> {
    sqlx::query_as!(
        OpenItem,
        r#"SELECT id, source, reason, raw, intake FROM quarantine
           WHERE state = 'open' AND (id = ANY($1) OR ($2::text IS NOT NULL AND reason = $2))
           ORDER BY seq LIMIT $3 FOR UPDATE"#,
        ids,
        reason.map(crate::normalize::QuarantineReason::as_str),
        limit
    )
    .fetch_all(&mut *tx)
    .await
}

/// An item that still fails stays, with the reason it fails for now.
pub async fn still_failing(
    tx: &mut PgConnection,
    id: Uuid,
    reason: QuarantineReason,
    detail: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE quarantine SET reason = $2, detail = $3 WHERE id = $1",
        id,
        reason.as_str(),
        detail
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Items resolved by a replay: ingested, or skipped by the CDC mapping now in force.
pub async fn mark_replayed(
    tx: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if !ids.is_empty() {
        sqlx::query!(
            "UPDATE quarantine SET state = 'replayed', resolved_at = $2 WHERE id = ANY($1)",
            ids,
            now
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Items the operator dropped for good.
pub async fn mark_discarded(
    tx: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE quarantine SET state = 'discarded', resolved_at = $2 WHERE id = ANY($1)",
        ids,
        now
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// An open item's payload with how it came in, for a dry run (issue 11 §1).
pub struct OpenPayload {
    pub seq: i64,
    pub id: Uuid,
    pub source: String,
    pub reason: String,
    pub raw: serde_json::Value,
    pub intake: String,
    pub received_at: DateTime<Utc>,
}

/// The next `limit` open items after `after_seq`, oldest first (of `source` when given).
pub async fn open_with_intake(
    db: &PgPool,
    after_seq: i64,
    source: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<OpenPayload>> {
    sqlx::query_as!(
        OpenPayload,
        r#"SELECT seq, id, source, reason, raw, intake, received_at FROM quarantine
           WHERE state = 'open' AND seq > $1 AND ($2::text IS NULL OR source = $2)
           ORDER BY seq LIMIT $3"#,
        after_seq,
        source,
        limit
    )
    .fetch_all(db)
    .await
}

/// Events quarantined per minute and reason since `since` (whatever became of them since), on the
/// `quarantine_received` index.
pub async fn quarantined_by_minute(
    db: impl sqlx::PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<crate::platform::db::MinuteCount>> {
    sqlx::query_as!(
        crate::platform::db::MinuteCount,
        r#"SELECT date_trunc('minute', received_at) AS "minute!", reason AS "key!",
                  count(*) AS "count!"
           FROM quarantine WHERE received_at >= $1 GROUP BY 1, 2"#,
        since
    )
    .fetch_all(db)
    .await
}

/// Open quarantined items per reason, most first.
pub async fn open_quarantine_by_reason(
    db: impl sqlx::PgExecutor<'_>,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT reason, count(*) AS "count!" FROM quarantine WHERE state = 'open'
           GROUP BY reason ORDER BY 2 DESC, 1"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.reason, r.count)).collect())
}
