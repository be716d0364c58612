//! `POST /api/v2/journey/externalevents/configurations/{configurationId}/events`: an
//! `ExternalEventsRequest {entities}` checked entity by entity against the configuration's schema,
//! answered with partial success: the entities that failed come back in `unprocessedEntities`
//! (with `isRetryable`), the others are taken in.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::schema::{CheckedSchema, Problems, check_attributes};
use super::setup::json_body;
use super::{Journey, SimExternalEvent};
use crate::simulator::control::ControlError;
use crate::simulator::gate::{Call, admit};
use crate::simulator::model::ModelEvent;
use crate::simulator::response::SimResponse;
use crate::simulator::state::{Endpoint, Inner, SimState};

/// Genesys' `request.bytes.max`: a larger body is refused whole.
pub(crate) const MAX_REQUEST_BYTES: usize = 512_000;

const ENTITY_FIELDS: [&str; 4] = ["id", "dateCreated", "identifiers", "attributes"];

/// `POST /_sim/externalevents/fail`: the next valid entities come back unprocessed, first
/// `retryable` of them with `retryable_status`, then `non_retryable` with `non_retryable_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalEventFailures {
    pub retryable: u32,
    pub non_retryable: u32,
    /// Default 503.
    pub retryable_status: Option<u16>,
    /// Default 400.
    pub non_retryable_status: Option<u16>,
}

impl ExternalEventFailures {
    pub(super) fn check(&self) -> Result<(), ControlError> {
        for status in [self.retryable_status, self.non_retryable_status]
            .into_iter()
            .flatten()
        {
            if !(400..=599).contains(&status) {
                return Err(ControlError::NotAnErrorStatus(status));
            }
        }
        Ok(())
    }

    /// Spends one injected failure: `(status, retryable)`.
    fn take(&mut self) -> Option<(u16, bool)> {
        if self.retryable > 0 {
            self.retryable -= 1;
            return Some((self.retryable_status.unwrap_or(503), true));
        }
        if self.non_retryable > 0 {
            self.non_retryable -= 1;
            return Some((self.non_retryable_status.unwrap_or(400), false));
        }
        None
    }
}

/// What Genesys retries itself would call transient.
fn is_retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

pub(super) async fn post_events(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let configuration_id = path.into_inner();
    let parsed = if body.len() > MAX_REQUEST_BYTES {
        let text = format!("The request body exceeds {MAX_REQUEST_BYTES} bytes");
        Err(SimResponse::error(413, text))
    } else {
        json_body(&req, &body).and_then(entities)
    };
    let call = Call::new(&req, Endpoint::ExternalEvents);
    admit(&state, call, move |inner, now| match parsed {
        Ok(entities) => take_in(inner, &configuration_id, entities, now),
        Err(response) => response,
    })
    .await
}

/// The request's `entities`: required, an array, not empty.
fn entities(body: Value) -> Result<Vec<Value>, SimResponse> {
    let Value::Object(mut object) = body else {
        return Err(SimResponse::error(
            400,
            "The request body must be a JSON object",
        ));
    };
    let mut problems: Problems = object
        .keys()
        .filter(|k| k.as_str() != "entities")
        .map(|k| (k.clone(), "unknown field".to_owned()))
        .collect();
    match object.remove("entities") {
        Some(Value::Array(entities)) if !entities.is_empty() && problems.is_empty() => Ok(entities),
        _ => {
            problems.push(("entities".into(), "is required, a non-empty array".into()));
            Err(SimResponse::invalid(&problems))
        }
    }
}

fn take_in(
    inner: &mut Inner,
    configuration_id: &str,
    entities: Vec<Value>,
    now: DateTime<Utc>,
) -> SimResponse {
    let journey = &inner.journey;
    let Some(configuration) = journey
        .configurations
        .iter()
        .find(|c| c.id == configuration_id)
    else {
        return SimResponse::error(404, format!("Configuration {configuration_id} not found"));
    };
    let Some(schema) = journey
        .schemas
        .iter()
        .find(|s| s.view.id == configuration.schema_id)
    else {
        return SimResponse::error(404, "The configuration's schema no longer exists");
    };
    // Cloned: the loop below changes `inner` (failures, the log) while it reads the schema.
    let checked = schema.checked.clone();
    let target = Target {
        configuration_id,
        event_type: &checked.title,
        received_at: now,
    };
    let mut unprocessed = Vec::new();
    for (index, entity) in entities.into_iter().enumerate() {
        let outcome = check_entity(&inner.journey, &checked, &target, &entity)
            .and_then(|event| fail_if_told(inner, event));
        match outcome {
            Ok(event) => accept(inner, event),
            Err((status, message)) => {
                inner.stats.external_events_unprocessed += 1;
                unprocessed.push(json!({"event": entity, "originalRequestIndex": index,
                    "isRetryable": is_retryable(status), "errorMessage": message,
                    "statusCode": status}));
            }
        }
    }
    SimResponse::json(200, json!({"unprocessedEntities": unprocessed}))
}

/// An injected failure, or one set for the entity's contact (`/_sim/contacts/{id}/status`).
fn fail_if_told(
    inner: &mut Inner,
    event: SimExternalEvent,
) -> Result<SimExternalEvent, (u16, String)> {
    if let Some(status) = inner.status_overrides.get(&event.contact_id) {
        return Err((
            *status,
            format!("Simulated failure for contact {}", event.contact_id),
        ));
    }
    match inner.journey.failures.take() {
        Some((status, _)) => {
            inner.stats.injected_failures += 1;
            Err((status, "Simulated failure (injected)".into()))
        }
        None => Ok(event),
    }
}

fn accept(inner: &mut Inner, event: SimExternalEvent) {
    inner.stats.external_events_accepted += 1;
    let model = ModelEvent::from_attributes(event.date_created, &event.attributes);
    inner
        .contacts
        .entry(event.contact_id.clone())
        .or_default()
        .push(model);
    inner.journey.record(event);
}

/// Where an events request went and when it arrived: what every event taken in from it records.
struct Target<'a> {
    configuration_id: &'a str,
    event_type: &'a str,
    received_at: DateTime<Utc>,
}

/// One `ExternalEvent`: every field required, nothing else, its identifier under a known source,
/// its attributes as the schema says.
fn check_entity(
    journey: &Journey,
    schema: &CheckedSchema,
    target: &Target<'_>,
    entity: &Value,
) -> Result<SimExternalEvent, (u16, String)> {
    let Some(object) = entity.as_object() else {
        return Err((400, "entity: must be a JSON object".into()));
    };
    let mut problems: Problems = object
        .keys()
        .filter(|k| !ENTITY_FIELDS.contains(&k.as_str()))
        .map(|k| (k.clone(), "unknown field".to_owned()))
        .collect();
    let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
    if id.trim().is_empty() {
        problems.push(("id".into(), "is required".into()));
    }
    let date_created = object
        .get("dateCreated")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    if date_created.is_none() {
        problems.push((
            "dateCreated".into(),
            "is required, an ISO-8601 date-time".into(),
        ));
    }
    let external_id = check_identifiers(journey, object.get("identifiers"), &mut problems);
    let attributes = match object.get("attributes") {
        Some(Value::Object(attributes)) => {
            problems.extend(check_attributes(schema, attributes));
            attributes.clone()
        }
        _ => {
            problems.push(("attributes".into(), "is required, an object".into()));
            Map::new()
        }
    };
    let (Some(date_created), Some((contact_id, source_id)), true) =
        (date_created, external_id, problems.is_empty())
    else {
        let message = problems.iter().map(|(f, p)| format!("{f}: {p}"));
        return Err((400, message.collect::<Vec<_>>().join("; ")));
    };
    Ok(SimExternalEvent {
        // Numbered when recorded.
        seq: 0,
        configuration_id: target.configuration_id.to_owned(),
        event_type: target.event_type.to_owned(),
        id: id.to_owned(),
        date_created: date_created.with_timezone(&Utc),
        contact_id,
        external_source_id: source_id,
        attributes,
        received_at: target.received_at,
    })
}

/// `identifiers: {externalIds: [{value, externalSourceId}]}`, one or more, each under a source
/// that exists; the first names the contact.
fn check_identifiers(
    journey: &Journey,
    identifiers: Option<&Value>,
    problems: &mut Problems,
) -> Option<(String, String)> {
    let ids = identifiers
        .and_then(Value::as_object)
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("externalIds"))
        .and_then(Value::as_array)
        .filter(|ids| !ids.is_empty());
    let Some(ids) = ids else {
        let what = "is required: {\"externalIds\": [{\"value\", \"externalSourceId\"}]}";
        problems.push(("identifiers".into(), what.into()));
        return None;
    };
    let mut first = None;
    for (i, external_id) in ids.iter().enumerate() {
        let field = format!("identifiers.externalIds[{i}]");
        let pair = external_id
            .as_object()
            .filter(|o| o.len() == 2)
            .and_then(|o| {
                let value = o.get("value")?.as_str().filter(|v| !v.is_empty())?;
                Some((value, o.get("externalSourceId")?.as_str()?))
            });
        match pair {
            None => problems.push((field, "must be {\"value\", \"externalSourceId\"}".into())),
            Some((_, source)) if !journey.sources.iter().any(|s| s.id == source) => {
                problems.push((format!("{field}.externalSourceId"), "no such source".into()));
            }
            Some((value, source)) => {
                first.get_or_insert((value.to_owned(), source.to_owned()));
            }
        }
    }
    first
}
