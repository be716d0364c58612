//! `POST /v1/admin/evaluate/population` (issue 11 §1): a thresholds and/or campaign change tried on
//! every stored contact before it is made. The handler reads the request and what is active; the
//! evaluation stage ([`crate::evaluation::population`]) loads, decides and compares.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::campaigns::parse_campaign;
use super::document::{Fields, join};
use super::thresholds::parse_thresholds;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::Campaign;
use crate::evaluation::figures::Figures;
use crate::evaluation::population::{Side, compare_population};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Writer;
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::{campaigns, thresholds};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(population_dry_run);
}

/// Most campaigns one request may try.
pub const MAX_CAMPAIGNS: usize = 100;

/// The request (documentation of the body; it is read field by field so every problem is listed).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PopulationRequest {
    /// The instant to evaluate at; the server's clock when absent.
    #[schema(example = "2026-03-08T06:30:00Z")]
    at: Option<DateTime<Utc>>,
    /// Thresholds to try: a whole document, or only the fields that change (the others are the
    /// active ones).
    #[schema(value_type = Option<Object>)]
    thresholds: Option<Value>,
    /// One campaign document to try (like `campaigns` with one element).
    #[schema(value_type = Option<Object>)]
    campaign: Option<Value>,
    /// Campaign documents to try together: each replaces the stored campaign with its id, or is
    /// added; one with `enabled: false` takes its id out of the run.
    #[schema(value_type = Option<Vec<Object>>)]
    campaigns: Option<Vec<Value>>,
}

/// What the candidate would decide, beside what is active now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PopulationAnswer {
    /// The instant both sides were evaluated at.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The request, read: the instant, and what changes.
#[derive(Debug)]
struct Change {
    at: Option<DateTime<Utc>>,
    /// Only the fields given (merged over the active document once it is read).
    thresholds: Option<serde_json::Map<String, Value>>,
    campaigns: Vec<Campaign>,
}

fn read(doc: &Value) -> Result<Change, Vec<FieldProblem>> {
    let mut f = Fields::of(doc, "")?;
    let at = f.nullable::<DateTime<Utc>>("at");
    let thresholds = match f.raw("thresholds") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(o.clone()),
        Some(_) => {
            f.problem("thresholds", "must be a JSON object");
            None
        }
    };
    let mut docs: Vec<(String, &Value)> = Vec::new();
    let one = f.raw("campaign").filter(|v| !v.is_null());
    let many = f.raw("campaigns").filter(|v| !v.is_null());
    match (one, many) {
        (Some(_), Some(_)) => f.problem("campaigns", "give campaign or campaigns, not both"),
        (Some(v), None) => docs.push(("campaign".into(), v)),
        (None, Some(Value::Array(list))) if list.len() > MAX_CAMPAIGNS => {
            f.problem("campaigns", format!("at most {MAX_CAMPAIGNS} campaigns"));
        }
        (None, Some(Value::Array(list))) => docs.extend(
            list.iter()
                .enumerate()
                .map(|(i, v)| (format!("campaigns[{i}]"), v)),
        ),
        (None, Some(_)) => f.problem("campaigns", "must be an array of campaign documents"),
        (None, None) => {}
    }
    let mut campaigns: Vec<Campaign> = Vec::new();
    for (field, v) in docs {
        match parse_campaign(v, &field) {
            Ok(c) if campaigns.iter().any(|o| o.id == c.id) => {
                f.problem(&join(&field, "id"), format!("{:?} is given twice", c.id));
            }
            Ok(c) => campaigns.push(c),
            Err(problems) => f.extend(problems),
        }
    }
    let problems = f.finish();
    if !problems.is_empty() {
        return Err(problems);
    }
    if thresholds.is_none() && campaigns.is_empty() && !has_campaigns(doc) {
        return Err(vec![FieldProblem::new(
            "thresholds",
            "give thresholds and/or campaign(s) to try",
        )]);
    }
    Ok(Change {
        at,
        thresholds,
        campaigns,
    })
}

/// `campaigns: []` is a (trivial) change: the active run compared with itself.
fn has_campaigns(doc: &Value) -> bool {
    doc.get("campaigns").is_some_and(Value::is_array)
}

/// The candidate thresholds: the active document with the given fields in place.
fn merged_thresholds(
    active: &Thresholds,
    given: &serde_json::Map<String, Value>,
) -> Result<Thresholds, ApiError> {
    let mut doc = serde_json::to_value(active).map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(obj) = doc.as_object_mut() {
        for (k, v) in given {
            obj.insert(k.clone(), v.clone());
        }
    }
    parse_thresholds(&doc).map_err(|problems| {
        ApiError::Invalid(
            problems
                .into_iter()
                .map(|p| FieldProblem::new(join("thresholds", &p.field), p.message))
                .collect(),
        )
    })
}

/// Dry run of thresholds and campaigns over every stored contact: each contact with a score is
/// decided at `at` (default now) with the rules of the scheduled run, once with the active
/// thresholds and enabled campaigns and once with the candidate, and nothing is written. The
/// answer counts decisions by reason (over every campaign: `eligible` is the contacts taken) and
/// contacts by tier on both sides with the difference, the same per campaign, the number of
/// contacts whose outcome changes (the campaign that takes them, or their reason for a campaign
/// both sides run) and up to 20 of them with both outcomes. Admin token only. An invalid document
/// is 422 listing every problem.
#[utoipa::path(tag = "eligibility", security(("bearer" = [])),
    request_body = PopulationRequest,
    responses((status = 200, body = PopulationAnswer), problems::Writes, problems::Document))]
#[post("/v1/admin/evaluate/population")]
pub async fn population_dry_run(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<web::Json<PopulationAnswer>, ApiError> {
    let change = read(&super::parse_json(&body)?).map_err(ApiError::Invalid)?;
    let active = Side {
        thresholds: thresholds::current(&state.reads).await?.1,
        campaigns: campaigns::enabled(&state.reads).await?,
    };
    let thresholds = match &change.thresholds {
        Some(given) => Some(merged_thresholds(&active.thresholds, given)?),
        None => None,
    };
    let candidate = Side::candidate(&active, thresholds, &change.campaigns);
    let at = change.at.unwrap_or_else(|| state.clock.now());
    let started = std::time::Instant::now();
    let population = compare_population(&state.reads, active, candidate, at).await?;
    tracing::info!(
        contacts = population.tally.contacts,
        changed = population.tally.changed,
        seconds = started.elapsed().as_secs_f64(),
        "population dry run"
    );
    Ok(web::Json(PopulationAnswer {
        at,
        figures: population.tally.render(&population.sides),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn campaign(id: &str) -> Value {
        json!({"id": id, "name": id, "priority": 1, "mode": "push", "channels": {"voice": "l"},
               "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "UTC"}})
    }

    #[test]
    fn something_must_change_and_every_problem_is_listed() {
        assert_eq!(read(&json!({})).unwrap_err()[0].field, "thresholds");
        assert!(read(&json!({"campaigns": []})).is_ok());
        let p = read(&json!({"at": "soon", "thresholds": 3,
            "campaigns": [campaign("a"), campaign("a"), {"id": "b"}], "x": 1}))
        .unwrap_err();
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "at",
            "thresholds",
            "campaigns[1].id",
            "campaigns[2].name",
            "x",
        ] {
            assert!(fields.contains(&want), "{want} missing from {fields:?}");
        }
        let p = read(&json!({"campaign": campaign("a"), "campaigns": []})).unwrap_err();
        assert_eq!(p[0].field, "campaigns");
    }

    #[test]
    fn thresholds_merge_over_the_active_ones_and_name_the_field() {
        let active = Thresholds::default();
        let given = json!({"min_rise": 0.2});
        let t = merged_thresholds(&active, given.as_object().unwrap()).unwrap();
        assert_eq!(t.min_rise, 0.2);
        assert_eq!(t.high_tier, active.high_tier);
        let bad = json!({"high_tier": 7});
        let Err(ApiError::Invalid(p)) = merged_thresholds(&active, bad.as_object().unwrap()) else {
            panic!("a high tier of 7 is refused")
        };
        assert!(p[0].field.starts_with("thresholds."), "{p:?}");
    }
}
