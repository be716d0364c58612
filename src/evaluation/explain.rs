//! The contact explanation's reads (SPEC §8, §11.16): what pesync holds about one contact, across
//! the stages' tables (events, snapshots, decisions, suppressions, hand-overs), newest first and
//! bounded. `GET /v1/contacts/{contact_id}` renders them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::eligibility::Window;
use crate::evaluation::outcomes::StoredOutcome;
use crate::evaluation::stored_sentences::Decided;

/// The newest this many decisions, events and snapshots are shown.
pub const MAX_DECISIONS: i64 = 200;
pub const MAX_EVENTS: i64 = 500;
pub const MAX_SNAPSHOTS: i64 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub campaign_id: String,
    pub evaluated_at: DateTime<Utc>,
    #[schema(example = "deferred_outside_window")]
    pub reason: String,
    pub effective_score: Option<f64>,
    pub rise: Option<f64>,
    pub tier: Option<String>,
    /// Every rule, in order: passed, or why it failed.
    pub outcomes: Vec<StoredOutcome>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionEntry {
    pub expires_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// Whether it suppresses now.
    pub active: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverView {
    pub campaign_id: String,
    pub at: DateTime<Utc>,
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    /// `pending`, `delivered`, `dead_letter`, `reconciliation` or `discarded`.
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotView {
    pub fetched_at: DateTime<Utc>,
    /// The propensity score observed at the fetch time.
    pub score: Option<f64>,
    pub channel: Option<String>,
    pub best_contact_window: Option<Window>,
    /// The profile exactly as PE answered, or the observation exactly as it was pushed
    /// (`POST /v1/scores`).
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
}

/// Whether pesync knows the contact: an event, a delivery, a poll or a decision.
pub async fn seen(pool: &PgPool, id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM events WHERE contact_id = $1)
               OR EXISTS (SELECT 1 FROM contacts WHERE contact_id = $1)
               OR EXISTS (SELECT 1 FROM contact_scores WHERE contact_id = $1)
               OR EXISTS (SELECT 1 FROM decision_runs WHERE contact_id = $1) AS "seen!""#,
        id
    )
    .fetch_one(pool)
    .await
}

pub async fn decisions(pool: &PgPool, id: &str) -> sqlx::Result<Vec<DecisionView>> {
    let rows = sqlx::query!(
        r#"SELECT campaign_id AS "campaign_id!", evaluated_at AS "evaluated_at!",
                  reason AS "reason!", effective_score, rise, tier, outcomes AS "outcomes!",
                  next_opening
           FROM decisions WHERE contact_id = $1
           ORDER BY evaluated_at DESC, seq DESC, ordinal DESC LIMIT $2"#,
        id,
        MAX_DECISIONS
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DecisionView {
            campaign_id: r.campaign_id,
            evaluated_at: r.evaluated_at,
            reason: r.reason,
            effective_score: r.effective_score,
            rise: r.rise,
            tier: r.tier,
            outcomes: crate::evaluation::outcomes::decode(
                &r.outcomes,
                &Decided {
                    evaluated_at: r.evaluated_at,
                    effective_score: r.effective_score,
                    rise: r.rise,
                    next_opening: r.next_opening,
                },
            ),
        })
        .collect())
}

/// The contact's own window, from its latest profile.
pub async fn own_window(pool: &PgPool, id: &str) -> sqlx::Result<Option<Window>> {
    let row = sqlx::query_scalar!(
        "SELECT best_window FROM contact_scores WHERE contact_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.flatten().and_then(crate::evaluation::load::window_of))
}

pub async fn suppression(
    pool: &PgPool,
    id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<SuppressionEntry>> {
    let row = sqlx::query!(
        "SELECT expires_at, note FROM suppressions WHERE contact_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| SuppressionEntry {
        active: crate::eligibility::Suppression {
            expires_at: r.expires_at,
        }
        .active(now),
        expires_at: r.expires_at,
        note: r.note,
    }))
}

pub async fn last_handover(pool: &PgPool, id: &str) -> sqlx::Result<Option<HandoverView>> {
    sqlx::query_as!(
        HandoverView,
        r#"SELECT campaign_id, at, channel FROM handovers WHERE contact_id = $1
           ORDER BY at DESC, id DESC LIMIT 1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

pub async fn events(pool: &PgPool, id: &str) -> sqlx::Result<Vec<EventView>> {
    sqlx::query_as!(
        EventView,
        r#"SELECT id AS event_id, event_type, event_timestamp, state FROM events
           WHERE contact_id = $1 ORDER BY event_timestamp DESC, seq DESC LIMIT $2"#,
        id,
        MAX_EVENTS
    )
    .fetch_all(pool)
    .await
}

pub async fn snapshots(pool: &PgPool, id: &str) -> sqlx::Result<Vec<SnapshotView>> {
    let rows = sqlx::query!(
        r#"SELECT fetched_at, score, channel, best_window, raw FROM score_snapshots
           WHERE contact_id = $1 ORDER BY fetched_at DESC, id DESC LIMIT $2"#,
        id,
        MAX_SNAPSHOTS
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SnapshotView {
            fetched_at: r.fetched_at,
            score: r.score,
            channel: r.channel,
            best_contact_window: r.best_window.and_then(crate::evaluation::load::window_of),
            raw: r.raw,
        })
        .collect())
}
