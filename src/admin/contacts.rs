//! `GET /v1/contacts/{contact_id}` (SPEC §8, §11.16): a contact explained — its events and their
//! states, its profile snapshots, the effective score series with dampened observations marked,
//! its tier, every decision with its reason (newest first), its last hand-over and cooldown end.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::contact_windows::{CampaignWindows, campaign_windows};
use crate::eligibility::{ObservationView, ScoreSeries, Tier};
use crate::evaluation::explain::{
    self, DecisionView, EventView, HandoverView, SnapshotView, SuppressionEntry,
};
use crate::evaluation::facts::observations_of;
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
    if !explain::seen(&state.reads, &id).await? {
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
    let last_handover = explain::last_handover(&state.reads, &id).await?;
    let cooldown_until =
        crate::eligibility::cooldown::cooldown_until(last_handover.as_ref().map(|h| h.at), now, &t);
    let own = explain::own_window(&state.reads, &id).await?;
    let campaigns = crate::registry::campaigns::enabled(&state.reads).await?;
    Ok(web::Json(ContactExplanation {
        suppression: explain::suppression(&state.reads, &id, now).await?,
        windows: campaign_windows(own.as_ref(), &campaigns, now),
        tier: effective_score.map(|s| Tier::of(s, &t)),
        effective_score,
        observations: series.observations,
        decisions: explain::decisions(&state.reads, &id).await?,
        last_handover,
        cooldown_until,
        events: explain::events(&state.reads, &id).await?,
        snapshots: explain::snapshots(&state.reads, &id).await?,
        chronology: chronology_of(&state.reads, &id).await?,
        contact_id: id,
    }))
}
