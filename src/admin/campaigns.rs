//! `GET/POST /v1/admin/campaigns`, `GET/PUT/DELETE /v1/admin/campaigns/{id}` (SPEC §8). An invalid
//! document is a 422 listing every problem, shape and range alike.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, http::header, post, put, web};
use serde_json::Value;

use super::document::{Fields, within};
use crate::eligibility::{Campaign, Mode, Tier, Window};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::campaigns as store;
use crate::registry::changes::{Action, Kind, NewChange};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_campaigns)
        .service(create_campaign)
        .service(get_campaign)
        .service(put_campaign)
        .service(delete_campaign);
}

/// Reads a campaign document, listing every problem: missing, unknown and mistyped fields, then the
/// document's own rules ([`Campaign::validate`]) for the fields that could be read. Fields are
/// reported under `prefix` (the dry run nests the campaign under `campaign`).
pub fn parse_campaign(doc: &Value, prefix: &str) -> Result<Campaign, Vec<FieldProblem>> {
    let mut f = Fields::of(doc, prefix)?;
    let id = f.required::<String>("id");
    let name = f.required::<String>("name");
    let enabled = f.optional::<bool>("enabled");
    let priority = f.optional::<i32>("priority");
    let tiers = f.optional::<Vec<Tier>>("tiers");
    let mode = f.required::<Mode>("mode");
    let channels = f.required::<BTreeMap<String, String>>("channels");
    let default_window = f.required::<Window>("default_window");
    let default_channel = f.nullable::<String>("default_channel");
    let calling_hours = super::calling_hours::optional_calling_hours(&mut f, prefix);
    // Stand-ins for the fields that could not be read, so the rules of the others still run; their
    // problems are dropped below.
    let failed: Vec<&str> = ["id", "name", "mode", "channels", "default_window", "tiers"]
        .into_iter()
        .filter(|k| f.has_failed(k))
        .collect();
    let campaign = Campaign {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        enabled: enabled.unwrap_or(true),
        priority: priority.unwrap_or(0),
        tiers: tiers.unwrap_or_else(|| vec![Tier::High, Tier::Moderate]),
        mode: mode.unwrap_or(Mode::Push),
        channels: channels.unwrap_or_default(),
        default_window: default_window.unwrap_or_else(|| Window {
            start_time: chrono::NaiveTime::MIN,
            end_time: chrono::NaiveTime::MIN,
            timezone: "UTC".into(),
        }),
        default_channel,
        calling_hours,
    };
    let rules: Vec<FieldProblem> = campaign
        .validate()
        .into_iter()
        .filter(|p| !failed.iter().any(|k| within(&p.field, k)))
        .map(|p| FieldProblem::new(super::document::join(prefix, &p.field), p.message))
        .collect();
    f.extend(rules);
    let problems = f.finish();
    if problems.is_empty() {
        Ok(campaign)
    } else {
        Err(problems)
    }
}

/// The change log's record of a campaign change (campaigns are not versioned).
fn campaign_change<'a>(
    id: &'a str,
    action: Action,
    who: &'a Writer,
    at: chrono::DateTime<chrono::Utc>,
) -> NewChange<'a> {
    NewChange {
        kind: Kind::Campaign,
        name: id,
        action,
        from_version: None,
        to_version: None,
        who: super::changed_by(who),
        at,
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no campaign with id {id:?}"))
}

/// Every campaign, in creation order.
#[utoipa::path(tag = "campaigns", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<Campaign>), problems::Reads, problems::Query))]
#[get("/v1/admin/campaigns")]
pub async fn list_campaigns(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<Campaign>>, ApiError> {
    let limit = page.limit()?;
    let rows = store::list(&state.reads, page.after()?, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit)))
}

/// Create a campaign. An id already in use is 409; an invalid document is 422 listing every problem.
#[utoipa::path(tag = "campaigns", security(("bearer" = [])),
    request_body = Campaign,
    responses((status = 201, body = Campaign),
        problems::Writes, problems::Document, problems::Conflict))]
#[post("/v1/admin/campaigns")]
pub async fn create_campaign(
    who: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let campaign = parse_campaign(&super::parse_json(&body)?, "").map_err(ApiError::Invalid)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if !store::insert(&mut tx, &campaign, now).await? {
        return Err(ApiError::Conflict(format!(
            "a campaign with id {:?} exists; PUT /v1/admin/campaigns/{} replaces it",
            campaign.id, campaign.id
        )));
    }
    let change = campaign_change(&campaign.id, Action::Created, &who, now);
    super::record_change(&mut tx, &state, change).await?;
    tx.commit().await?;
    tracing::info!(campaign = %campaign.id, "campaign created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/campaigns/{}", campaign.id),
        ))
        .json(campaign))
}

/// A campaign document.
#[utoipa::path(tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Campaign), problems::Reads, problems::NotFound))]
#[get("/v1/admin/campaigns/{id}")]
pub async fn get_campaign(
    _: Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<Campaign>, ApiError> {
    store::find(&state.reads, &id)
        .await?
        .map(web::Json)
        .ok_or_else(|| not_found(&id))
}

/// Replace a campaign (or create it: 201). The document's `id`, when given, must be the one in the
/// path. Invalid → 422 listing every problem.
#[utoipa::path(tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = Campaign,
    responses((status = 200, body = Campaign), (status = 201, body = Campaign),
        problems::Writes, problems::Document))]
#[put("/v1/admin/campaigns/{id}")]
pub async fn put_campaign(
    who: Writer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let mut doc = super::parse_json(&body)?;
    if let Some(obj) = doc.as_object_mut() {
        match obj.get("id") {
            None => {
                obj.insert("id".into(), Value::String(id.to_string()));
            }
            // The schema's id is a string: null is a mistake, as for the other fields.
            Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "id",
                    "must not be null: leave it out to take the path's",
                ));
            }
            Some(given) if given.as_str() != Some(id.as_str()) => {
                return Err(ApiError::invalid(
                    "id",
                    format!(
                        "must be the id in the path ({:?}), got {given}",
                        id.as_str()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let campaign = parse_campaign(&doc, "").map_err(ApiError::Invalid)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let created = store::upsert(&mut tx, &campaign, now).await?;
    let action = if created {
        Action::Created
    } else {
        Action::Updated
    };
    let change = campaign_change(&campaign.id, action, &who, now);
    super::record_change(&mut tx, &state, change).await?;
    tx.commit().await?;
    tracing::info!(campaign = %campaign.id, created, "campaign stored");
    Ok(if created {
        HttpResponse::Created().json(campaign)
    } else {
        HttpResponse::Ok().json(campaign)
    })
}

/// Delete a campaign. Contacts still waiting in its dialer queue are dropped; its decisions and
/// hand-overs stay (the cooldown holds across campaigns).
#[utoipa::path(tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), problems::Writes, problems::NotFound))]
#[delete("/v1/admin/campaigns/{id}")]
pub async fn delete_campaign(
    who: Writer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if store::delete(&mut *tx, &id).await? {
        let change = campaign_change(&id, Action::Deleted, &who, now);
        super::record_change(&mut tx, &state, change).await?;
        tx.commit().await?;
        tracing::info!(campaign = %id, "campaign deleted");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn the_spec_document_parses_with_defaults() {
        let doc = json!({"id": "spring-renewals", "name": "Spring renewals", "mode": "pull",
            "channels": {"voice": "list-1"},
            "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}});
        let c = parse_campaign(&doc, "").unwrap();
        assert!(c.enabled);
        assert_eq!(c.priority, 0);
        assert_eq!(c.tiers, [Tier::High, Tier::Moderate]);
        assert_eq!(c.mode, Mode::Pull);
    }

    #[test]
    fn shape_and_rule_problems_are_listed_together() {
        let doc = json!({"id": "has space", "name": 5, "mode": "fax", "tiers": [],
            "channels": {"voice": "bad list/id"},
            "default_window": {"start_time": "9:00", "end_time": "20:00:00", "timezone": "Mars/Base"},
            "colour": "red"});
        let p = parse_campaign(&doc, "campaign").unwrap_err();
        let f = fields(&p);
        for want in [
            "campaign.id",
            "campaign.name",
            "campaign.mode",
            "campaign.tiers",
            "campaign.channels.voice",
            "campaign.default_window",
            "campaign.colour",
        ] {
            assert!(f.contains(&want), "{want} missing from {f:?}");
        }
        // The stand-in name of a mistyped `name` does not add a "blank" problem.
        assert_eq!(f.iter().filter(|x| **x == "campaign.name").count(), 1);
    }

    #[test]
    fn missing_fields_are_each_named() {
        let p = parse_campaign(&json!({}), "").unwrap_err();
        assert_eq!(
            fields(&p),
            ["id", "name", "mode", "channels", "default_window"]
        );
        assert!(p.iter().all(|x| x.message == "missing"));
    }

    #[test]
    fn an_unknown_time_zone_is_a_problem_of_the_document() {
        let doc = json!({"id": "a", "name": "A", "mode": "push", "channels": {"voice": "l"},
            "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "us/eastern"}});
        let p = parse_campaign(&doc, "").unwrap_err();
        assert_eq!(fields(&p), ["default_window.timezone"]);
    }
}
