//! Decides each received item's fate before anything touches the database: normalize it (pure, with
//! the injected `now`), then derive its dedup key and request id. Pure, so it is tested without I/O.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::body::Item;
use crate::normalize::manifest::Manifest;
use crate::normalize::mapping::Mapping;
use crate::normalize::{self, Normalized, Reason, Route, TimeRules, dedup};
use crate::thresholds::Thresholds;

/// What normalization needs besides the event: the source's mapping and the active manifest.
pub struct Registry<'a> {
    pub source: &'a str,
    pub mapping: &'a Mapping,
    pub manifest: &'a Manifest,
    pub thresholds: &'a Thresholds,
}

impl Registry<'_> {
    pub fn time_rules(&self) -> TimeRules {
        TimeRules {
            backfill_age: chrono::Duration::seconds(self.thresholds.backfill_age_seconds),
            future_tolerance: chrono::Duration::seconds(self.thresholds.future_tolerance_seconds),
        }
    }
}

#[derive(Debug)]
pub enum Planned {
    Quarantine {
        reason: Reason,
        detail: String,
        raw: Value,
    },
    Event(Box<PlannedEvent>),
}

#[derive(Debug)]
pub struct PlannedEvent {
    pub event_id: Uuid,
    pub normalized: Normalized,
    pub raw: Value,
    pub dedup_key: [u8; 32],
    pub request_id: Uuid,
}

impl PlannedEvent {
    pub fn route(&self) -> Route {
        self.normalized.route
    }
}

pub fn plan(item: Item, reg: &Registry<'_>, now: DateTime<Utc>) -> Planned {
    let raw = match item {
        Item::Json(v) => v,
        Item::Malformed { raw, error } => {
            // The raw line is kept as a JSON string so the quarantine can show it verbatim.
            return Planned::Quarantine {
                reason: Reason::Malformed,
                detail: error,
                raw: Value::String(raw),
            };
        }
    };
    match normalize::normalize(&raw, reg.mapping, reg.manifest, &reg.time_rules(), now) {
        Err(rej) => Planned::Quarantine {
            reason: rej.reason,
            detail: rej.detail,
            raw,
        },
        Ok(n) => {
            let dedup_key = dedup::dedup_key(&n.contact_id, &n.event_type, &n.crm_record_id);
            Planned::Event(Box::new(PlannedEvent {
                event_id: Uuid::new_v4(),
                request_id: dedup::request_id(&dedup_key),
                dedup_key,
                normalized: n,
                raw,
            }))
        }
    }
}

/// A quarantined item's stored raw payload back as a received item: a malformed NDJSON line was kept
/// as a JSON string and is parsed again, anything else is the event object itself.
pub fn item_from_raw(raw: Value, reason: Reason) -> Item {
    match (reason, raw) {
        (Reason::Malformed, Value::String(line)) => match serde_json::from_str(&line) {
            Ok(v) => Item::Json(v),
            Err(e) => Item::Malformed {
                raw: line,
                error: e.to_string(),
            },
        },
        (_, v) => Item::Json(v),
    }
}
