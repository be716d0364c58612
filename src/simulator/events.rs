//! `POST /api/v2/analytics/predictiveengagement/events`: validation (in `event_check.rs`), 24 h
//! idempotency on `X-Request-Id`, and recording of accepted events.
//!
//! Validation is deliberately stricter than PE (which silently drops nested values): the simulator
//! exists to catch a sender that does not deliver what SPEC §5 says, so every deviation is a 400
//! listing each problem.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::event_check::{ValidEvent, validate};
use super::gate::{Call, admit};
use super::response::SimResponse;
use super::state::{Endpoint, Inner, Seen, SimState};

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
