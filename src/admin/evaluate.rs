//! `POST /v1/admin/evaluate` (SPEC §8, §11.15): the dry run. What the rules decide for a made-up or
//! copied contact, with the thresholds in force or ones being considered — through the very
//! function the scheduled run calls ([`crate::evaluation::plan`], which calls
//! [`crate::eligibility::evaluate`]), and without storing anything.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::campaigns::parse_campaign;
use super::document::Fields;
use super::thresholds::parse_thresholds;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{
    CallingHours, Campaign, ContactFacts, Moment, Observation, ObservationView, Reason,
    RuleOutcome, Sentences, Suppression, Tier, Window, WindowState, validate_observations,
};
use crate::evaluation::plan;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::{campaigns, thresholds};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(dry_run);
}

/// Most observations a dry run takes (a copied contact rarely has more than a few hundred).
pub const MAX_OBSERVATIONS: usize = 10_000;

/// The dry-run request (documentation of the body; it is read field by field so that every
/// problem is listed).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DryRunRequest {
    /// The instant to evaluate at; the server's clock when absent.
    #[schema(example = "2026-03-08T06:30:00Z")]
    now: Option<DateTime<Utc>>,
    /// A whole thresholds document; the thresholds in force when absent.
    thresholds: Option<Thresholds>,
    /// A campaign document, or `{"campaign_id": "…"}` for a stored one.
    #[schema(value_type = Object)]
    campaign: Option<Value>,
    /// A stored campaign (instead of `campaign`). Unknown → 404.
    campaign_id: Option<String>,
    #[serde(default)]
    observations: Vec<Observation>,
    #[schema(example = "voice")]
    channel_preference: Option<String>,
    best_contact_window: Option<Window>,
    last_handover_at: Option<DateTime<Utc>>,
    /// The contact's suppression-list entry to assume (`{}`: suppressed without expiry).
    suppression: Option<Suppression>,
}

/// What the rules decided.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunResult {
    pub reason: Reason,
    pub tier: Option<Tier>,
    pub effective_score: Option<f64>,
    pub rise: Option<f64>,
    pub observations: Vec<ObservationView>,
    /// The effective window's state: the contact's window ∩ the campaign's calling hours when it
    /// has some (`open: false`, `next_opening: null` when they share no time). Null when the time
    /// zone is not valid; computed whatever the earlier rules decided.
    pub window: Option<WindowState>,
    /// The contact's window: its own, else the campaign's default.
    pub contact_window: Option<Window>,
    /// The contact's window alone, without the calling hours.
    pub contact_window_state: Option<WindowState>,
    /// The campaign's calling hours, read in the contact window's zone; null without.
    pub calling_hours: Option<CallingHours>,
    pub cooldown_until: Option<DateTime<Utc>>,
    /// Every rule's outcome, in order: why the reason is what it is.
    pub outcomes: Vec<RuleOutcome>,
}

/// How the campaign was given.
enum CampaignRef {
    Document(Campaign),
    Stored(String),
}

/// Everything the dry run takes, read and checked (every problem listed).
struct DryRun {
    now: Option<DateTime<Utc>>,
    thresholds: Option<Thresholds>,
    campaign: CampaignRef,
    facts: ContactFacts,
}

fn read(doc: &Value) -> Result<DryRun, Vec<FieldProblem>> {
    let mut f = Fields::of(doc, "")?;
    let now = f.nullable::<DateTime<Utc>>("now");
    let thresholds = f.raw("thresholds").and_then(|v| match parse_thresholds(v) {
        Ok(t) => Some(t),
        Err(problems) => {
            f.extend(problems.into_iter().map(|p| {
                FieldProblem::new(super::document::join("thresholds", &p.field), p.message)
            }));
            None
        }
    });
    let top_id = f.nullable::<String>("campaign_id");
    let campaign = match (f.raw("campaign"), top_id) {
        (Some(_), Some(_)) => {
            f.problem(
                "campaign_id",
                "give either campaign or campaign_id, not both",
            );
            None
        }
        (None, Some(id)) => Some(CampaignRef::Stored(id)),
        (None, None) => {
            f.problem(
                "campaign",
                "missing: give a campaign document or a campaign_id",
            );
            None
        }
        (Some(v), None) => match stored_ref(v) {
            Some(Ok(id)) => Some(CampaignRef::Stored(id)),
            Some(Err(message)) => {
                f.problem("campaign.campaign_id", message);
                None
            }
            None => match parse_campaign(v, "campaign") {
                Ok(c) => Some(CampaignRef::Document(c)),
                Err(problems) => {
                    f.extend(problems);
                    None
                }
            },
        },
    };
    let observations = f
        .optional::<Vec<Observation>>("observations")
        .unwrap_or_default();
    if observations.len() > MAX_OBSERVATIONS {
        f.problem(
            "observations",
            format!("at most {MAX_OBSERVATIONS} observations"),
        );
    }
    f.extend(validate_observations(&observations));
    let channel_preference = f.nullable::<String>("channel_preference");
    let best_contact_window = f.nullable::<Window>("best_contact_window");
    let last_handover_at = f.nullable::<DateTime<Utc>>("last_handover_at");
    let suppression = f.nullable::<Suppression>("suppression");
    let problems = f.finish();
    match campaign {
        Some(campaign) if problems.is_empty() => Ok(DryRun {
            now,
            thresholds,
            campaign,
            facts: ContactFacts {
                observations,
                channel_preference,
                best_contact_window,
                last_handover_at,
                suppression,
            },
        }),
        _ => Err(problems),
    }
}

/// `{"campaign_id": "…"}` inside `campaign`: `Some(Ok(id))`; `Some(Err)` when it is not a string;
/// `None` for anything else (a campaign document).
fn stored_ref(v: &Value) -> Option<Result<String, String>> {
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let id = obj.get("campaign_id")?;
    Some(
        id.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("must be a string, got {id}")),
    )
}

/// Dry run of the eligibility rules: no side effects. Unknown `campaign_id` → 404; an invalid
/// document → 422 listing every problem.
#[utoipa::path(tag = "eligibility", security(("bearer" = [])),
    request_body = DryRunRequest,
    responses((status = 200, body = DryRunResult),
        problems::Reads, problems::Document, problems::NotFound))]
#[post("/v1/admin/evaluate")]
pub async fn dry_run(
    _: Reader,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<web::Json<DryRunResult>, ApiError> {
    let doc = super::parse_json(&body)?;
    let run = read(&doc).map_err(ApiError::Invalid)?;
    let campaign = match run.campaign {
        CampaignRef::Document(c) => c,
        CampaignRef::Stored(id) => campaigns::find(&state.reads, &id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no campaign with id {id:?}")))?,
    };
    let thresholds = match run.thresholds {
        Some(t) => t,
        None => thresholds::current(&state.reads).await?.1,
    };
    let now = run.now.unwrap_or_else(|| state.clock.now());
    let mut decided = plan(
        &run.facts,
        None,
        std::slice::from_ref(&campaign),
        &thresholds,
        &Moment::at(now),
        Sentences::All,
    );
    let e = decided.evaluations.remove(0);
    Ok(web::Json(DryRunResult {
        reason: e.reason,
        tier: e.tier,
        effective_score: e.effective_score,
        rise: e.rise,
        observations: e.observations,
        window: e.window,
        contact_window: e.effective_window,
        contact_window_state: e.contact_window_state,
        calling_hours: e.calling_hours,
        cooldown_until: e.cooldown_until,
        outcomes: e.outcomes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn campaign() -> Value {
        json!({"id": "spring-renewals", "name": "Spring renewals", "enabled": true, "priority": 10,
               "tiers": ["high", "moderate"], "mode": "push",
               "channels": {"voice": "list-voice", "email": "list-email"},
               "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}})
    }

    #[test]
    fn the_campaign_is_a_document_or_a_stored_id_in_either_place() {
        let r = read(&json!({"campaign": campaign()})).unwrap();
        assert!(matches!(r.campaign, CampaignRef::Document(_)));
        let r = read(&json!({"campaign": {"campaign_id": "x"}})).unwrap();
        assert!(matches!(r.campaign, CampaignRef::Stored(id) if id == "x"));
        let r = read(&json!({"campaign_id": "y"})).unwrap();
        assert!(matches!(r.campaign, CampaignRef::Stored(id) if id == "y"));
    }

    #[test]
    fn every_problem_is_listed() {
        let doc = json!({"now": "yesterday", "thresholds": {"high_tier": 2},
            "campaign": {"id": "bad id", "mode": "push"},
            "observations": [{"timestamp": "2026-03-07T06:00:00Z", "score": 1.5}],
            "best_contact_window": {"start_time": "1am"}, "extra": 1});
        let p = read(&doc).err().unwrap();
        let fields: Vec<&str> = p.iter().map(|x| x.field.as_str()).collect();
        for want in [
            "now",
            "thresholds.moderate_tier",
            "campaign.id",
            "campaign.name",
            "campaign.channels",
            "observations[0].score",
            "best_contact_window",
            "extra",
        ] {
            assert!(fields.contains(&want), "{want} missing from {fields:?}");
        }
    }

    #[test]
    fn a_campaign_is_required_once() {
        let p = read(&json!({})).err().unwrap();
        assert_eq!(p[0].field, "campaign");
        let p = read(&json!({"campaign": campaign(), "campaign_id": "x"}))
            .err()
            .unwrap();
        assert_eq!(p[0].field, "campaign_id");
        let p = read(&json!({"campaign": {"campaign_id": 7}}))
            .err()
            .unwrap();
        assert_eq!(p[0].field, "campaign.campaign_id");
    }
}
