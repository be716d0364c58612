//! What the simulated PE takes as an event: the `X-Request-Id` header and the body, checked field
//! by field so one 400 lists every problem, and what is derived from a valid event (stored form,
//! model input, fingerprint) before the lock is taken.
//!
//! Validation is deliberately stricter than PE (which silently drops nested values): the simulator
//! exists to catch a sender that does not deliver what SPEC §5 says.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::model::{ModelEvent, fnv1a};
use super::response::{SimResponse, require_json};

const FIELDS: [&str; 4] = ["contact_id", "event_type", "event_timestamp", "attributes"];
const MAX_CONTACT_ID_CHARS: usize = 128;

/// An event that passed validation, with everything derived from it computed before the lock.
pub(super) struct ValidEvent {
    pub(super) request_id: Uuid,
    pub(super) contact_id: String,
    pub(super) event_type: String,
    pub(super) event_timestamp: DateTime<Utc>,
    /// Attributes as JSON text with sorted keys: the stored form and the fingerprint's input.
    pub(super) attributes: Box<str>,
    pub(super) model: ModelEvent,
    /// Fingerprint of what the event says, to spot a request id reused for a different event.
    pub(super) body_hash: u64,
}

/// Each problem as (field, text), in the order a sender reads its request: header, then body.
type Problems = Vec<(String, String)>;

fn problem(problems: &mut Problems, field: &str, text: &str) {
    problems.push((field.to_owned(), text.to_owned()));
}

/// The body's fields once each passed its own check, borrowed from the parsed object.
struct EventFields<'a> {
    contact_id: &'a str,
    event_type: &'a str,
    event_timestamp: DateTime<Utc>,
    attributes: &'a Map<String, Value>,
}

/// The request checked, before the lock: a [`ValidEvent`], or the 400 (or 415) listing every
/// problem.
pub(super) fn validate(
    req: &HttpRequest,
    request_id: Option<&str>,
    parsed: Result<Value, serde_json::Error>,
) -> Result<ValidEvent, SimResponse> {
    require_json(req)?;
    let mut problems = Problems::new();
    let request_id = parse_request_id(request_id, &mut problems);
    let object = body_object(parsed)?;
    let fields = check_fields(&object, &mut problems);
    match (request_id, fields) {
        (Some(request_id), Some(fields)) if problems.is_empty() => {
            Ok(ValidEvent::new(request_id, fields))
        }
        _ => Err(SimResponse::invalid(&problems)),
    }
}

fn parse_request_id(request_id: Option<&str>, problems: &mut Problems) -> Option<Uuid> {
    match request_id.map(str::trim) {
        None | Some("") => {
            problem(problems, "X-Request-Id", "header is required");
            None
        }
        Some(id) => Uuid::parse_str(id)
            .map_err(|_| problem(problems, "X-Request-Id", "must be a UUID"))
            .ok(),
    }
}

/// A body that is not a JSON object cannot be checked field by field, so it is one 400 on its own.
fn body_object(
    parsed: Result<Value, serde_json::Error>,
) -> Result<Map<String, Value>, SimResponse> {
    match parsed {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(SimResponse::error(
            400,
            "The request body must be a JSON object",
        )),
        Err(error) => Err(SimResponse::error(
            400,
            format!("The request body is not valid JSON: {error}"),
        )),
    }
}

/// Checks every field, recording each problem, so one 400 lists them all.
fn check_fields<'a>(
    object: &'a Map<String, Value>,
    problems: &mut Problems,
) -> Option<EventFields<'a>> {
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        problem(problems, key, "unknown field");
    }
    let text = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let contact_id = text("contact_id");
    match contact_id {
        None => problem(problems, "contact_id", "must be a non-empty string"),
        Some(id) if id.chars().count() > MAX_CONTACT_ID_CHARS => {
            problem(problems, "contact_id", "longer than 128 characters")
        }
        Some(_) => {}
    }
    let event_type = text("event_type");
    if event_type.is_none() {
        problem(problems, "event_type", "must be a non-empty string");
    }
    let event_timestamp = text("event_timestamp").and_then(parse_utc);
    if event_timestamp.is_none() {
        problem(
            problems,
            "event_timestamp",
            "must be an RFC 3339 UTC timestamp ending in Z",
        );
    }
    let attributes = check_attributes(object.get("attributes"), problems);
    Some(EventFields {
        contact_id: contact_id?,
        event_type: event_type?,
        event_timestamp: event_timestamp?,
        attributes: attributes?,
    })
}

/// PE silently drops nested values; here they are a 400 so the sender's bug shows.
fn check_attributes<'a>(
    attributes: Option<&'a Value>,
    problems: &mut Problems,
) -> Option<&'a Map<String, Value>> {
    match attributes {
        Some(Value::Object(attributes)) => {
            for (key, value) in attributes {
                if value.is_object() || value.is_array() {
                    problem(
                        problems,
                        &format!("attributes.{key}"),
                        "nested objects and arrays are not allowed",
                    );
                }
            }
            Some(attributes)
        }
        _ => {
            problem(problems, "attributes", "must be an object");
            None
        }
    }
}

impl ValidEvent {
    fn new(request_id: Uuid, fields: EventFields<'_>) -> Self {
        let EventFields {
            contact_id,
            event_type,
            event_timestamp,
            attributes,
        } = fields;
        // Sorted explicitly: `serde_json::Map` keeps insertion order when a dependency turns on
        // its `preserve_order` feature, and the fingerprint must not depend on key order.
        let sorted: BTreeMap<&String, &Value> = attributes.iter().collect();
        let attributes_json = serde_json::to_string(&sorted).unwrap_or_default();
        let fingerprint = [
            contact_id,
            event_type,
            &event_timestamp.to_rfc3339(),
            &attributes_json,
        ];
        ValidEvent {
            request_id,
            contact_id: contact_id.to_owned(),
            event_type: event_type.to_owned(),
            event_timestamp,
            model: ModelEvent::from_attributes(event_timestamp, attributes),
            body_hash: fnv1a(fingerprint.join("\u{1f}").as_bytes()),
            attributes: attributes_json.into_boxed_str(),
        }
    }
}

/// SPEC §5 sends timestamps in UTC with a `Z`; an offset form is a sender bug worth a 400.
fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    if !text.ends_with('Z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
