//! `POST /api/v2/analytics/predictiveengagement/events`: validation, 24 h idempotency on
//! `X-Request-Id`, and recording of accepted events.
//!
//! Validation is deliberately stricter than PE (which silently drops nested values): the simulator
//! exists to catch a sender that does not deliver what SPEC §5 says, so every deviation is a 400
//! listing each problem.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::gate::{Call, SimResponse, admit, require_json};
use super::model::{ModelEvent, fnv1a};
use super::state::{Endpoint, Inner, Seen, SimState};

const FIELDS: [&str; 4] = ["contact_id", "event_type", "event_timestamp", "attributes"];
const MAX_CONTACT_ID_CHARS: usize = 128;

/// An accepted PE event, as the inspection API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimEvent {
    pub seq: u64,
    pub request_id: String,
    pub contact_id: String,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub attributes: Map<String, Value>,
    pub received_at: DateTime<Utc>,
}

/// Stored form of an event: attributes kept as their JSON text, which is several times smaller than
/// a `serde_json::Map` and only needs parsing when someone inspects the log.
pub(crate) struct StoredEvent {
    pub seq: u64,
    pub request_id: Uuid,
    pub contact_id: String,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub attributes: Box<str>,
    pub received_at: DateTime<Utc>,
}

impl StoredEvent {
    pub fn view(&self) -> SimEvent {
        SimEvent {
            seq: self.seq,
            request_id: self.request_id.to_string(),
            contact_id: self.contact_id.clone(),
            event_type: self.event_type.clone(),
            event_timestamp: self.event_timestamp,
            attributes: serde_json::from_str(&self.attributes).unwrap_or_default(),
            received_at: self.received_at,
        }
    }
}

/// An event that passed validation, with everything derived from it computed before the lock.
struct ValidEvent {
    request_id: Uuid,
    contact_id: String,
    event_type: String,
    event_timestamp: DateTime<Utc>,
    /// Attributes as JSON text with sorted keys: the stored form and the fingerprint's input.
    attributes: Box<str>,
    model: ModelEvent,
    /// Fingerprint of what the event says, to spot a request id reused for a different event.
    body_hash: u64,
}

/// `POST /api/v2/analytics/predictiveengagement/events`.
pub(crate) async fn post_event(
    state: web::Data<SimState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let mut call = Call::new(&req, Endpoint::Events);
    let raw_request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    call.request_id = raw_request_id.map(str::to_owned);
    // Parsing happens before the lock; its verdict is only used once the gateway let the request by.
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    if let Some(contact) = parsed
        .as_ref()
        .ok()
        .and_then(|v| v.get("contact_id"))
        .and_then(Value::as_str)
    {
        call.contacts.push(contact.to_owned());
    }
    let validated = validate(&req, raw_request_id, parsed);
    admit(&state, call, move |inner, now| match validated {
        Ok(event) => accept(inner, event, now),
        Err(response) => response,
    })
    .await
}

fn validate(
    req: &HttpRequest,
    request_id: Option<&str>,
    parsed: Result<Value, serde_json::Error>,
) -> Result<ValidEvent, SimResponse> {
    require_json(req)?;
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: &str, text: &str| problems.push((field.to_owned(), text.to_owned()));

    let request_id = match request_id.map(str::trim) {
        None | Some("") => {
            problem("X-Request-Id", "header is required");
            None
        }
        Some(id) => Uuid::parse_str(id)
            .map_err(|_| problem("X-Request-Id", "must be a UUID"))
            .ok(),
    };
    let object = match parsed {
        Ok(Value::Object(object)) => object,
        Ok(_) => {
            return Err(SimResponse::error(
                400,
                "The request body must be a JSON object",
            ));
        }
        Err(error) => {
            return Err(SimResponse::error(
                400,
                format!("The request body is not valid JSON: {error}"),
            ));
        }
    };
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        problem(key, "unknown field");
    }
    let text = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let contact_id = text("contact_id");
    match contact_id {
        None => problem("contact_id", "must be a non-empty string"),
        Some(id) if id.chars().count() > MAX_CONTACT_ID_CHARS => {
            problem("contact_id", "longer than 128 characters")
        }
        Some(_) => {}
    }
    let event_type = text("event_type");
    if event_type.is_none() {
        problem("event_type", "must be a non-empty string");
    }
    let event_timestamp = text("event_timestamp").and_then(parse_utc);
    if event_timestamp.is_none() {
        problem(
            "event_timestamp",
            "must be an RFC 3339 UTC timestamp ending in Z",
        );
    }
    let attributes = match object.get("attributes") {
        Some(Value::Object(attributes)) => {
            for (key, value) in attributes {
                if value.is_object() || value.is_array() {
                    problem(
                        &format!("attributes.{key}"),
                        "nested objects and arrays are not allowed",
                    );
                }
            }
            Some(attributes)
        }
        _ => {
            problem("attributes", "must be an object");
            None
        }
    };

    match (
        request_id,
        contact_id,
        event_type,
        event_timestamp,
        attributes,
    ) {
        (
            Some(request_id),
            Some(contact_id),
            Some(event_type),
            Some(event_timestamp),
            Some(attributes),
        ) if problems.is_empty() => {
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
            Ok(ValidEvent {
                request_id,
                contact_id: contact_id.to_owned(),
                event_type: event_type.to_owned(),
                event_timestamp,
                model: ModelEvent::from_attributes(event_timestamp, attributes),
                body_hash: fnv1a(fingerprint.join("\u{1f}").as_bytes()),
                attributes: attributes_json.into_boxed_str(),
            })
        }
        _ => Err(SimResponse::invalid(&problems)),
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

/// Records a valid event, unless its request id was already accepted within the idempotency window.
fn accept(inner: &mut Inner, event: ValidEvent, now: DateTime<Utc>) -> SimResponse {
    let window_secs = i64::try_from(inner.config.idempotency_window_secs).unwrap_or(i64::MAX);
    let window = Duration::try_seconds(window_secs).unwrap_or(Duration::MAX);
    if let Some(seen) = inner.seen.get(&event.request_id)
        && now - seen.at < window
    {
        let mismatch = seen.body_hash != event.body_hash;
        inner.stats.duplicates += 1;
        if mismatch {
            inner.stats.duplicate_body_mismatches += 1;
            tracing::warn!(request_id = %event.request_id, "X-Request-Id reused for a different event");
        }
        return match inner.config.duplicate_status {
            202 => SimResponse::empty(202),
            status => {
                SimResponse::error(status, format!("Duplicate request id {}", event.request_id))
            }
        };
    }
    // A sighting past the window counts as a first one, and restarts the window.
    let seen = Seen {
        at: now,
        body_hash: event.body_hash,
    };
    inner.seen.insert(event.request_id, seen);
    inner.stats.events_accepted += 1;
    let contact_events = inner.contacts.entry(event.contact_id.clone()).or_default();
    contact_events.push(event.model);
    let seq = inner.next_seq;
    inner.next_seq += 1;
    inner.log_event(StoredEvent {
        seq,
        request_id: event.request_id,
        contact_id: event.contact_id,
        event_type: event.event_type,
        event_timestamp: event.event_timestamp,
        attributes: event.attributes,
        received_at: now,
    });
    SimResponse::empty(202)
}
