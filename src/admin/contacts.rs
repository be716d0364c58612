//! `GET /v1/contacts/{contact_id}` (SPEC §8, §11.16): a contact explained — its events and their
//! states, its profile snapshots, the effective score series with dampened observations marked,
//! its tier, every decision with its reason (newest first), its last hand-over and cooldown end.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::contact_windows::{CampaignWindows, campaign_windows};
use crate::eligibility::{ObservationView, ScoreSeries, Tier, Window};
use crate::evaluation::load::observations_of;
use crate::evaluation::outcomes::StoredOutcome;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::responses as problems;
use crate::registry::thresholds;
use crate::scoring::chronology::ChronologyView;
use crate::scoring::monitor_store::chronology_of;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(explain_contact);
}

/// The newest this many decisions, events and snapshots are shown.
pub const MAX_DECISIONS: i64 = 200;
pub const MAX_EVENTS: i64 = 500;
pub const MAX_SNAPSHOTS: i64 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactExplanation {
    pub contact_id: String,
    /// Tier of the effective score now; null without one.
    pub tier: Option<Tier>,
    pub effective_score: Option<f64>,
    /// Every observation up to now, in time order; dampened ones are marked.
    pub observations: Vec<ObservationView>,
    /// Newest first.
    pub decisions: Vec<DecisionView>,
    pub last_handover: Option<HandoverView>,
    /// End of the cooldown; null when the contact is not in cooldown.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// The contact's entry on the suppression list; null when it is not on it.
    pub suppression: Option<SuppressionEntry>,
    /// Per enabled campaign, now: the contact's window, the campaign's calling hours and the
    /// effective window (their intersection), each with its state.
    pub windows: Vec<CampaignWindows>,
    /// Newest first.
    pub events: Vec<EventView>,
    /// Profile snapshots, newest first.
    pub snapshots: Vec<SnapshotView>,
    /// PE's `last_event_timestamp` at the last poll against the newest event delivered (issue 11
    /// §2); null before the first poll.
    pub chronology: Option<ChronologyView>,
}

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

/// The contact explained. 404 for a contact pesync has never seen.
#[utoipa::path(tag = "contacts", security(("bearer" = [])),
    params(("contact_id" = String, Path)),
    responses((status = 200, body = ContactExplanation), problems::Reads, problems::NotFound))]
#[get("/v1/contacts/{contact_id}")]
pub async fn explain_contact(
    _: Reader,
    state: web::Data<AppState>,
    contact_id: web::Path<String>,
) -> Result<web::Json<ContactExplanation>, ApiError> {
    let id = contact_id.into_inner();
    if !seen(&state.reads, &id).await? {
        return Err(ApiError::NotFound(format!(
            "pesync has never seen contact {id:?}"
        )));
    }
    let now = state.clock.now();
    let (_, t) = thresholds::current(&state.reads).await?;
    let ids = [id.clone()];
    let observations = observations_of(&state.reads, &ids, now)
        .await?
        .remove(&id)
        .unwrap_or_default();
    let series = ScoreSeries::compute(&observations, now, &t);
    let effective_score = series.effective();
    let last_handover = last_handover(&state.reads, &id).await?;
    let cooldown_until =
        crate::eligibility::cooldown::cooldown_until(last_handover.as_ref().map(|h| h.at), now, &t);
    let own = own_window(&state.reads, &id).await?;
    let campaigns = crate::registry::campaigns::enabled(&state.reads).await?;
    Ok(web::Json(ContactExplanation {
        suppression: suppression(&state.reads, &id, now).await?,
        windows: campaign_windows(own.as_ref(), &campaigns, now),
        tier: effective_score.map(|s| Tier::of(s, &t)),
        effective_score,
        observations: series.observations,
        decisions: decisions(&state.reads, &id).await?,
        last_handover,
        cooldown_until,
        events: events(&state.reads, &id).await?,
        snapshots: snapshots(&state.reads, &id).await?,
        chronology: chronology_of(&state.reads, &id).await?,
        contact_id: id,
    }))
}

/// Whether pesync knows the contact: an event, a delivery, a poll or a decision.
async fn seen(pool: &PgPool, id: &str) -> sqlx::Result<bool> {
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

async fn decisions(pool: &PgPool, id: &str) -> sqlx::Result<Vec<DecisionView>> {
    let rows = sqlx::query!(
        r#"SELECT campaign_id AS "campaign_id!", evaluated_at AS "evaluated_at!",
                  reason AS "reason!", effective_score, rise, tier, outcomes AS "outcomes!"
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
            outcomes: crate::evaluation::outcomes::decode(&r.outcomes),
        })
        .collect())
}

/// The contact's own window, from its latest profile.
async fn own_window(pool: &PgPool, id: &str) -> sqlx::Result<Option<Window>> {
    let row = sqlx::query_scalar!(
        "SELECT best_window FROM contact_scores WHERE contact_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.flatten().and_then(crate::evaluation::load::window_of))
}

async fn suppression(
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

async fn last_handover(pool: &PgPool, id: &str) -> sqlx::Result<Option<HandoverView>> {
    sqlx::query_as!(
        HandoverView,
        r#"SELECT campaign_id, at, channel FROM handovers WHERE contact_id = $1
           ORDER BY at DESC, id DESC LIMIT 1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

async fn events(pool: &PgPool, id: &str) -> sqlx::Result<Vec<EventView>> {
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

async fn snapshots(pool: &PgPool, id: &str) -> sqlx::Result<Vec<SnapshotView>> {
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
