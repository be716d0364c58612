//! Decides each received item's fate before anything touches the database: normalize it (pure, with
//! the injected `now`), then derive its dedup key and request id. Pure, so it is tested without I/O.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::body::Item;
use crate::domain::text;
use crate::domain::thresholds::Thresholds;
use crate::normalize::manifest::Manifest;
use crate::normalize::mapping::Mapping;
use crate::normalize::{self, Normalized, QuarantineReason, Route, TimeRules, dedup};

/// What normalization needs besides the event: the source's mapping and the active manifest.
pub struct Documents<'a> {
    pub source: &'a str,
    pub mapping: &'a Mapping,
    pub manifest: &'a Manifest,
    pub thresholds: &'a Thresholds,
}

impl Documents<'_> {
    pub fn time_rules(&self) -> TimeRules {
        TimeRules::from_seconds(
            self.thresholds.backfill_age_seconds,
            self.thresholds.future_tolerance_seconds,
        )
    }
}

/// Which endpoint an item came through: it says how a quarantined item is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Intake {
    /// `POST /v1/sources/{source}/events`: the raw payload is an event envelope.
    #[default]
    Events,
    /// `POST /v1/sources/{source}/cdc`: the raw payload is a Debezium change event.
    Cdc,
}

impl Intake {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Cdc => "cdc",
        }
    }
}

#[derive(Debug)]
pub enum Planned {
    Quarantine {
        reason: QuarantineReason,
        detail: String,
        raw: Value,
        intake: Intake,
    },
    Event(Box<PlannedEvent>),
}

#[derive(Debug)]
pub struct PlannedEvent {
    pub event_id: Uuid,
    pub normalized: Normalized,
    /// The event as received, as JSON text: what its row stores as `raw`. Serialized here, from the
    /// received item, so planning needs no copy of the item (a request retried after a deadlock
    /// plans its items again).
    pub raw: String,
    pub dedup_key: [u8; 32],
    pub request_id: Uuid,
}

impl PlannedEvent {
    pub fn route(&self) -> Route {
        self.normalized.route
    }
}

pub fn plan(item: &Item, reg: &Documents<'_>, now: DateTime<Utc>) -> Planned {
    let (raw, line) = match item {
        Item::Json(v) => (v, None),
        Item::Line(v, text) => (v, Some(text)),
        // A NUL byte is checked before the line's JSON (SPEC §11.1: characters first).
        Item::Malformed { raw, .. } if text::has_nul(raw) => {
            return Planned::Quarantine {
                reason: QuarantineReason::InvalidCharacters,
                detail: format!("the line {}", text::NUL_MESSAGE),
                raw: Value::String(text::escape_nul(raw)),
                intake: Intake::Events,
            };
        }
        Item::Malformed { raw, error } => {
            // The raw line is kept as a JSON string so the quarantine can show it verbatim.
            return Planned::Quarantine {
                reason: QuarantineReason::Malformed,
                detail: error.clone(),
                raw: Value::String(raw.clone()),
                intake: Intake::Events,
            };
        }
    };
    plan_json(
        raw,
        line.map(|text| &**text),
        || line.map_or_else(|| raw.to_string(), |text| String::from(&**text)),
        reg,
        now,
    )
}

/// Plans one JSON event, parsed from the text `parsed_from` when it is known (an NDJSON line);
/// `stored` gives the text its row keeps as `raw` (the event itself, or the change event a CDC
/// source sent), produced only for an event that is stored.
pub fn plan_json(
    raw: &Value,
    parsed_from: Option<&str>,
    stored: impl FnOnce() -> String,
    reg: &Documents<'_>,
    now: DateTime<Utc>,
) -> Planned {
    let (mapping, manifest, time) = (reg.mapping, reg.manifest, &reg.time_rules());
    let normalized = match parsed_from {
        Some(text) => normalize::normalize_parsed(raw, text, mapping, manifest, time, now),
        None => normalize::normalize(raw, mapping, manifest, time, now),
    };
    match normalized {
        Err(rej) => Planned::Quarantine {
            // An event holding a NUL cannot be stored as it is: its JSON text (NUL escaped) is.
            raw: match rej.reason {
                QuarantineReason::InvalidCharacters => text::storable(raw),
                _ => raw.clone(),
            },
            reason: rej.reason,
            detail: rej.detail,
            intake: Intake::Events,
        },
        Ok(n) => {
            let dedup_key = dedup::dedup_key(&n.contact_id, &n.event_type, &n.crm_record_id);
            Planned::Event(Box::new(PlannedEvent {
                event_id: Uuid::new_v4(),
                request_id: dedup::request_id(&dedup_key),
                dedup_key,
                normalized: n,
                raw: stored(),
            }))
        }
    }
}

/// A quarantined item's stored raw payload back as a received item: a malformed NDJSON line was kept
/// as a JSON string and is parsed again, anything else is the event object itself. An item with
/// invalid characters was kept as JSON text with its NUL escaped: parsed, it is the event again
/// (NUL included); a line that was not JSON gets its NUL bytes back. Either way it fails the same
/// check again, never the database.
pub fn item_from_raw(raw: Value, reason: QuarantineReason) -> Item {
    match (reason, raw) {
        (
            QuarantineReason::Malformed | QuarantineReason::InvalidCharacters,
            Value::String(line),
        ) => match serde_json::from_str(&line) {
            Ok(v) => Item::Json(v),
            Err(e) => Item::Malformed {
                raw: match reason {
                    QuarantineReason::InvalidCharacters => text::unescape_nul(&line),
                    _ => line,
                },
                error: e.to_string(),
            },
        },
        (_, v) => Item::Json(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan_one(item: Item) -> Planned {
        let (mapping, manifest) = (Mapping::default(), Manifest::default_v1());
        let thresholds = Thresholds::default();
        let reg = Documents {
            source: "crm",
            mapping: &mapping,
            manifest: &manifest,
            thresholds: &thresholds,
        };
        plan(&item, &reg, chrono::Utc::now())
    }

    fn quarantined(p: Planned) -> (QuarantineReason, Value) {
        match p {
            Planned::Quarantine { reason, raw, .. } => (reason, raw),
            Planned::Event(e) => panic!("not quarantined: {e:?}"),
        }
    }

    #[test]
    fn nul_is_checked_before_everything_and_kept_as_storable_text() {
        // Not an envelope at all, but the NUL is what is reported.
        let event = json!({"contact_id": "c\u{0}"});
        let (reason, raw) = quarantined(plan_one(Item::Json(event.clone())));
        assert_eq!(reason, QuarantineReason::InvalidCharacters);
        assert_eq!(raw, json!("{\"contact_id\":\"c\\u0000\"}"));
        assert_eq!(
            quarantined(plan_one(item_from_raw(raw, reason))),
            (reason, text::storable(&event)),
            "a replay fails the same way"
        );
    }

    #[test]
    fn an_ndjson_line_with_a_nul_byte_is_invalid_characters_not_malformed() {
        let line = "{\"a\": 1}\0".to_owned();
        let item = Item::Malformed {
            raw: line.clone(),
            error: "trailing characters".into(),
        };
        let (reason, raw) = quarantined(plan_one(item));
        assert_eq!(reason, QuarantineReason::InvalidCharacters);
        assert_eq!(raw, json!("{\"a\": 1}\\u0000"));
        let again = item_from_raw(raw.clone(), reason);
        assert!(matches!(&again, Item::Malformed { raw, .. } if *raw == line));
        assert_eq!(quarantined(plan_one(again)), (reason, raw));

        let plain = Item::Malformed {
            raw: "{broken".into(),
            error: "eof".into(),
        };
        assert_eq!(quarantined(plan_one(plain)).0, QuarantineReason::Malformed);
    }
}
