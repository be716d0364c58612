//! The setup objects: External Sources, events configurations and the org's home division (the
//! schemas are in `schema_endpoints.rs`), with the helpers every setup endpoint shares. Listing
//! answers the whole collection in `entities`, as the SDKs' listing models carry it.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::schema::Problems;
use super::schema_endpoints::find_schema;
use super::{CONFIGURATIONS, ExternalEventsConfiguration, ExternalSource, Journey, SOURCES};
use crate::simulator::gate::{Call, admit};
use crate::simulator::response::{SimResponse, require_json};
use crate::simulator::state::{Endpoint, Inner, SimState};

/// A JSON body, as the real API wants it: `application/json` and well-formed.
pub(super) fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Value, SimResponse> {
    require_json(req)?;
    serde_json::from_slice(body).map_err(|error| {
        SimResponse::error(400, format!("The request body is not valid JSON: {error}"))
    })
}

/// Runs `logic` behind the gateway once the body parsed; a body that did not parse is answered
/// there too, so it is counted and logged like any request.
pub(super) async fn with_body(
    state: &SimState,
    req: &HttpRequest,
    body: &[u8],
    logic: impl FnOnce(&mut Journey, Value, DateTime<Utc>) -> SimResponse,
) -> HttpResponse {
    let parsed = json_body(req, body);
    admit(
        state,
        Call::new(req, Endpoint::Journey),
        move |inner, now| match parsed {
            Ok(value) => logic(&mut inner.journey, value, now),
            Err(response) => response,
        },
    )
    .await
}

/// A read behind the gateway.
pub(super) async fn read(
    state: &SimState,
    req: &HttpRequest,
    logic: impl FnOnce(&Inner) -> SimResponse,
) -> HttpResponse {
    admit(state, Call::new(req, Endpoint::Journey), |inner, _| {
        logic(inner)
    })
    .await
}

pub(super) fn listing<T: serde::Serialize>(entities: &[T], path: &str) -> SimResponse {
    SimResponse::json(200, json!({"entities": entities, "selfUri": path}))
}

pub(super) fn not_found(what: &str, id: &str) -> SimResponse {
    SimResponse::error(404, format!("{what} {id} not found"))
}

pub(super) fn unknown_fields(object: &serde_json::Map<String, Value>, known: &[&str]) -> Problems {
    let unknown = object.keys().filter(|k| !known.contains(&k.as_str()));
    unknown
        .map(|k| (k.clone(), "unknown field".to_owned()))
        .collect()
}

pub(super) async fn list_sources(state: web::Data<SimState>, req: HttpRequest) -> HttpResponse {
    read(&state, &req, |inner| {
        listing(&inner.journey.sources, SOURCES)
    })
    .await
}

pub(super) async fn create_source(
    state: web::Data<SimState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    with_body(&state, &req, &body, |journey, value, _| {
        let Some(object) = value.as_object() else {
            return SimResponse::error(400, "The request body must be a JSON object");
        };
        let mut problems = unknown_fields(object, &["name", "active", "linkConfiguration"]);
        let name = object.get("name").and_then(Value::as_str).map(str::trim);
        if name.is_none_or(str::is_empty) {
            problems.push(("name".into(), "is required".into()));
        }
        if object.get("active").is_some_and(|a| !a.is_boolean()) {
            problems.push(("active".into(), "must be a boolean".into()));
        }
        if !problems.is_empty() {
            return SimResponse::invalid(&problems);
        }
        let source = ExternalSource {
            id: Uuid::new_v4().to_string(),
            name: name.unwrap_or_default().to_owned(),
            active: object
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        };
        journey.sources.push(source.clone());
        SimResponse::json(200, json!(source))
    })
    .await
}

pub(super) async fn list_configurations(
    state: web::Data<SimState>,
    req: HttpRequest,
) -> HttpResponse {
    read(&state, &req, |inner| {
        listing(&inner.journey.configurations, CONFIGURATIONS)
    })
    .await
}

pub(super) async fn get_configuration(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    read(&state, &req, |inner| {
        let found = inner.journey.configurations.iter().find(|c| c.id == *path);
        match found {
            Some(configuration) => SimResponse::json(200, json!(configuration)),
            None => not_found("Configuration", &path),
        }
    })
    .await
}

/// `CreateExternalEventsConfigurationRequest`: every field required, the schema and the division
/// must exist.
pub(super) async fn create_configuration(
    state: web::Data<SimState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    with_body(&state, &req, &body, |journey, value, now| {
        let Some(object) = value.as_object() else {
            return SimResponse::error(400, "The request body must be a JSON object");
        };
        const FIELDS: [&str; 5] = ["name", "description", "divisionId", "schemaId", "source"];
        let mut problems = unknown_fields(object, &FIELDS);
        let text = |field: &str| {
            object
                .get(field)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        for field in FIELDS.iter().filter(|f| text(f).trim().is_empty()) {
            problems.push(((*field).into(), "is required".into()));
        }
        if !text("schemaId").is_empty() && find_schema(journey, text("schemaId")).is_none() {
            problems.push(("schemaId".into(), "no such schema".into()));
        }
        if !text("divisionId").is_empty() && text("divisionId") != journey.home_division {
            problems.push(("divisionId".into(), "no such division".into()));
        }
        if !problems.is_empty() {
            return SimResponse::invalid(&problems);
        }
        let configuration = ExternalEventsConfiguration {
            id: Uuid::new_v4().to_string(),
            name: text("name").to_owned(),
            description: text("description").to_owned(),
            division_id: text("divisionId").to_owned(),
            schema_id: text("schemaId").to_owned(),
            source: text("source").to_owned(),
            date_last_modified: now,
        };
        journey.configurations.push(configuration.clone());
        SimResponse::json(200, json!(configuration))
    })
    .await
}

/// `GET /api/v2/authorization/divisions/home`: an `AuthzDivision`.
pub(super) async fn home_division(state: web::Data<SimState>, req: HttpRequest) -> HttpResponse {
    read(&state, &req, |inner| {
        let id = &inner.journey.home_division;
        let division = json!({"id": id, "name": "Home", "homeDivision": true,
            "selfUri": format!("/api/v2/authorization/divisions/{id}")});
        SimResponse::json(200, division)
    })
    .await
}
