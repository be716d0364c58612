//! External-event schemas (`JourneyExternalEventsSchema`): draft-04 checks, titles unique across
//! enabled schemas, the org's limits, and versioned updates that may not make an optional field
//! required.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use uuid::Uuid;

use super::schema::{self, CheckedSchema, MAX_FIELDS_PER_SCHEMA, MAX_SCHEMAS_PER_ORG};
use super::setup::{listing, not_found, read, unknown_fields, with_body};
use super::{ExternalEventsSchema, Journey, SCHEMAS, StoredSchema};
use crate::simulator::response::SimResponse;
use crate::simulator::state::SimState;

pub(super) async fn schema_limits(state: web::Data<SimState>, req: HttpRequest) -> HttpResponse {
    read(&state, &req, |_| {
        let limits = json!({"maxNumberOfSchemasPerOrg": MAX_SCHEMAS_PER_ORG,
            "maxNumberOfFieldsPerSchema": MAX_FIELDS_PER_SCHEMA});
        SimResponse::json(200, limits)
    })
    .await
}

pub(super) async fn list_schemas(state: web::Data<SimState>, req: HttpRequest) -> HttpResponse {
    read(&state, &req, |inner| {
        let views: Vec<&ExternalEventsSchema> =
            inner.journey.schemas.iter().map(|s| &s.view).collect();
        listing(&views, SCHEMAS)
    })
    .await
}

pub(super) async fn get_schema(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    read(&state, &req, |inner| {
        match find_schema(&inner.journey, &path) {
            Some(schema) => SimResponse::json(200, json!(schema.view)),
            None => not_found("Schema", &path),
        }
    })
    .await
}

pub(super) fn find_schema<'a>(journey: &'a Journey, id: &str) -> Option<&'a StoredSchema> {
    journey.schemas.iter().find(|s| s.view.id == id)
}

/// A title is unique across enabled schemas (other than the one being updated).
fn title_taken(journey: &Journey, checked: &CheckedSchema, except: Option<&str>) -> bool {
    journey.schemas.iter().any(|s| {
        s.view.enabled && s.checked.title == checked.title && Some(s.view.id.as_str()) != except
    })
}

pub(super) async fn create_schema(
    state: web::Data<SimState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    with_body(&state, &req, &body, |journey, value, now| {
        let checked = match schema::check_request(&value) {
            Ok(checked) => checked,
            Err(problems) => return SimResponse::invalid(&problems),
        };
        if journey.schemas.len() >= MAX_SCHEMAS_PER_ORG {
            let text = format!("at most {MAX_SCHEMAS_PER_ORG} external event schemas per org");
            return SimResponse::invalid(&[("title".into(), text)]);
        }
        if title_taken(journey, &checked, None) {
            return SimResponse::invalid(&[("title".into(), "must be unique".into())]);
        }
        let view = ExternalEventsSchema {
            id: Uuid::new_v4().to_string(),
            version: 1,
            enabled: true,
            json_schema: value,
            date_created: now,
        };
        journey.schemas.push(StoredSchema {
            view: view.clone(),
            checked,
        });
        SimResponse::json(200, schema_json(&view))
    })
    .await
}

fn schema_json(view: &ExternalEventsSchema) -> Value {
    let mut value = json!(view);
    value["selfUri"] = json!(format!("{SCHEMAS}/{}", view.id));
    value
}

/// `PUT …/schemas/{id}` with `JourneySchemaUpdateRequest {version, enabled, jsonSchema}`: the
/// version must be the current one (409 otherwise), and the new schema must not make an optional
/// field required.
pub(super) async fn update_schema(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    with_body(&state, &req, &body, move |journey, value, _| {
        match update(journey, &id, &value) {
            Ok(response) | Err(response) => response,
        }
    })
    .await
}

fn update(journey: &mut Journey, id: &str, value: &Value) -> Result<SimResponse, SimResponse> {
    let object = value
        .as_object()
        .ok_or_else(|| SimResponse::error(400, "The request body must be a JSON object"))?;
    let problems = unknown_fields(object, &["version", "enabled", "jsonSchema"]);
    if !problems.is_empty() {
        return Err(SimResponse::invalid(&problems));
    }
    let json_schema = object.get("jsonSchema").cloned().unwrap_or(Value::Null);
    let checked = schema::check_request(&json_schema).map_err(|p| SimResponse::invalid(&p))?;
    let taken = title_taken(journey, &checked, Some(id));
    let index = journey.schemas.iter().position(|s| s.view.id == id);
    let stored = &mut journey.schemas[index.ok_or_else(|| not_found("Schema", id))?];
    let version = object.get("version").and_then(Value::as_u64);
    if version != Some(u64::from(stored.view.version)) {
        let text = format!("version must be the current one, {}", stored.view.version);
        return Err(SimResponse::error(409, text));
    }
    schema::check_update(&stored.checked, &checked).map_err(|p| SimResponse::invalid(&p))?;
    if taken {
        return Err(SimResponse::invalid(&[(
            "title".into(),
            "must be unique".into(),
        )]));
    }
    stored.view.version += 1;
    stored.view.enabled = object
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    stored.view.json_schema = json_schema;
    stored.checked = checked;
    Ok(SimResponse::json(200, schema_json(&stored.view)))
}
