//! The pure normalization pipeline of SPEC §3: a raw event in, a canonical event and its lane out,
//! or the first reason it must be quarantined. No clock, database or I/O: `now` and the active
//! mapping and manifest are handed in, so the ingest handler, quarantine replay and tests all run
//! exactly the same code.

pub mod attributes;
pub mod cdc_mapping;
pub mod checked;
pub mod coerce;
pub mod dedup;
pub mod envelope;
pub mod manifest;
pub mod mapping;
pub mod reason;
pub mod shape;
pub mod time;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::domain::text;

pub use crate::normalize::checked::Attributes;
pub use crate::normalize::manifest::{
    AttrType, AttributeSpec, EventTypeSpec, Manifest, Presence, default_v1_json,
};
pub use crate::normalize::mapping::Mapping;
pub use crate::normalize::reason::{QuarantineReason, Rejection, UnknownReason};
pub use crate::normalize::time::{Route, TimeRules};

/// An event that passed every check, in the form PE will receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub contact_id: String,
    /// Canonical (mapped) event type, defined by the manifest.
    pub event_type: String,
    /// In UTC.
    pub event_timestamp: DateTime<Utc>,
    /// Canonical names, flat, coerced; deprecated attributes and optional nulls removed.
    pub attributes: Attributes,
    pub crm_record_id: String,
    /// Deprecated attributes the source sent and that were stripped (canonical names, sorted).
    pub stripped: Vec<String>,
    pub route: Route,
}

impl Normalized {
    /// SPEC §4 dedup key of this event.
    pub fn dedup_key(&self) -> [u8; 32] {
        dedup::dedup_key(&self.contact_id, &self.event_type, &self.crm_record_id)
    }

    /// SPEC §4 `X-Request-Id` of this event.
    pub fn request_id(&self) -> Uuid {
        dedup::request_id(&self.dedup_key())
    }

    /// The SPEC §5 request body for the PE events endpoint.
    pub fn pe_body(&self) -> Value {
        pe_body(
            &self.contact_id,
            &self.event_type,
            self.event_timestamp,
            &self.attributes,
        )
    }
}

/// The SPEC §5 request body for the PE events endpoint, from a canonical event's parts: what
/// normalization produces and what delivery sends from the stored event are one shape.
pub fn pe_body(
    contact_id: &str,
    event_type: &str,
    event_timestamp: chrono::DateTime<chrono::Utc>,
    attributes: &impl serde::Serialize,
) -> Value {
    json!({
        "contact_id": contact_id,
        "event_type": event_type,
        "event_timestamp": time::format_utc(event_timestamp),
        "attributes": attributes,
    })
}

/// Runs the stages of SPEC §3 in the order of §11.1 and stops at the first failure.
pub fn normalize(
    raw: &Value,
    mapping: &Mapping,
    manifest: &Manifest,
    time: &TimeRules,
    now: DateTime<Utc>,
) -> Result<Normalized, Rejection> {
    stages(raw, text::nul_path(raw), mapping, manifest, time, now)
}

/// [`normalize`] of an event parsed from the JSON `text` (an NDJSON line): its value is walked for
/// a NUL only when the text may write one ([`text::json_may_hold_nul`]). The same verdict, for
/// less work on every line that holds none.
pub fn normalize_parsed(
    raw: &Value,
    json: &str,
    mapping: &Mapping,
    manifest: &Manifest,
    time: &TimeRules,
    now: DateTime<Utc>,
) -> Result<Normalized, Rejection> {
    let nul = if text::json_may_hold_nul(json) {
        text::nul_path(raw)
    } else {
        None
    };
    stages(raw, nul, mapping, manifest, time, now)
}

/// The stages, with `nul` the path of the first NUL in `raw` (`text::nul_path`).
fn stages(
    raw: &Value,
    nul: Option<String>,
    mapping: &Mapping,
    manifest: &Manifest,
    time: &TimeRules,
    now: DateTime<Utc>,
) -> Result<Normalized, Rejection> {
    // 0. Characters: first, so that no later stage (nor its detail) carries a NUL toward the database.
    if let Some(path) = nul {
        let field = if path.is_empty() { "the event" } else { &path };
        return Err(Rejection::new(
            QuarantineReason::InvalidCharacters,
            format!("{field} {}", text::NUL_MESSAGE),
        ));
    }

    // 1. Envelope.
    let env = envelope::parse(raw)?;

    // 2. Mapping: the event type decides which declarations apply, so it is resolved first.
    let event_type = mapping.event_type(env.event_type);
    let Some(spec) = manifest.event_types.get(event_type) else {
        let mapped = if event_type == env.event_type {
            String::new()
        } else {
            format!(" (mapped to {event_type:?})")
        };
        return Err(Rejection::new(
            QuarantineReason::UnknownEventType,
            format!(
                "event type {:?}{mapped} is not defined by the manifest",
                env.event_type
            ),
        ));
    };
    let renamed = mapping.rename_attributes(env.attributes)?;

    // 3. Shape, then 4. manifest.
    shape::check_flat(&renamed)?;
    let checked = attributes::check_manifest(event_type, spec, &renamed)?;

    // 5. Time.
    let event_timestamp = time::parse_timestamp(env.event_timestamp).ok_or_else(|| {
        Rejection::new(
            QuarantineReason::InvalidTimestamp,
            format!(
                "event_timestamp {} is not an RFC 3339 date-time with an offset",
                coerce::quoted(env.event_timestamp)
            ),
        )
    })?;
    let route = time::route(event_timestamp, now, time);

    Ok(Normalized {
        contact_id: env.contact_id.to_owned(),
        event_type: event_type.to_owned(),
        event_timestamp,
        attributes: checked.attributes,
        crm_record_id: checked.crm_record_id,
        stripped: checked.stripped,
        route,
    })
}
