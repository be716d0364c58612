//! Why an event was quarantined: the stable, machine-readable codes of SPEC §3.
//!
//! The codes are part of the public contract (the quarantine is filtered by them, dashboards count
//! them), so the text of every code is spelled once, in [`Reason::as_str`], and serde, `Display` and
//! `FromStr` all go through the same table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The first check an event failed, in the order of SPEC §11.1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
// `Reason` is also the eligibility rules' schema: this one is the quarantine's.
#[schema(as = QuarantineReason)]
pub enum Reason {
    /// A string or key of the event (or a byte of its NDJSON line) is NUL (U+0000), which PostgreSQL
    /// cannot store. Checked before anything else (issue 8): the event is kept, escaped, in the
    /// quarantine instead of failing the whole batch.
    InvalidCharacters,
    /// An NDJSON line that is not valid JSON. Raised by the ingest layer: `normalize` only ever sees
    /// parsed values, so it never returns this code itself.
    Malformed,
    /// `contact_id`, `event_type`, `event_timestamp` or `attributes` missing or of the wrong JSON type.
    InvalidEnvelope,
    /// The (mapped) event type is not defined by the active manifest.
    UnknownEventType,
    /// An attribute value is an object or an array.
    NestedAttribute,
    /// A required attribute is absent or null.
    MissingRequired,
    /// An attribute value cannot be coerced losslessly to its manifest type.
    TypeMismatch,
    /// An attribute the manifest does not declare for this event type (schema drift).
    UnknownAttribute,
    /// `event_timestamp` is not RFC 3339 with an offset.
    InvalidTimestamp,
    /// A change event (`POST /v1/sources/{source}/cdc`) from a table the source's CDC mapping does
    /// not list. Raised before normalization; kept as received and replayable once it is listed.
    UnmappedTable,
    /// A change event that cannot be read (no `op`, no log position, an undecodable decimal) or lacks
    /// a column its table's CDC mapping needs (the contact, a key column).
    InvalidChange,
}

impl Reason {
    /// Every code, in pipeline order; handy for metrics pre-registration and for `FromStr`.
    pub const ALL: [Reason; 11] = [
        Reason::InvalidCharacters,
        Reason::Malformed,
        Reason::InvalidEnvelope,
        Reason::UnknownEventType,
        Reason::NestedAttribute,
        Reason::MissingRequired,
        Reason::TypeMismatch,
        Reason::UnknownAttribute,
        Reason::InvalidTimestamp,
        Reason::UnmappedTable,
        Reason::InvalidChange,
    ];

    /// The snake_case code as it appears in responses, the database and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidCharacters => "invalid_characters",
            Reason::Malformed => "malformed",
            Reason::InvalidEnvelope => "invalid_envelope",
            Reason::UnknownEventType => "unknown_event_type",
            Reason::NestedAttribute => "nested_attribute",
            Reason::MissingRequired => "missing_required",
            Reason::TypeMismatch => "type_mismatch",
            Reason::UnknownAttribute => "unknown_attribute",
            Reason::InvalidTimestamp => "invalid_timestamp",
            Reason::UnmappedTable => "unmapped_table",
            Reason::InvalidChange => "invalid_change",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the [`Reason`] codes (e.g. a bad `?reason=` filter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quarantine reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for Reason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

/// The verdict on a quarantined event: the code, and a human detail such as
/// `attributes.items is an array`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_spec_spelling() {
        let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            codes,
            [
                "invalid_characters",
                "malformed",
                "invalid_envelope",
                "unknown_event_type",
                "nested_attribute",
                "missing_required",
                "type_mismatch",
                "unknown_attribute",
                "invalid_timestamp",
                "unmapped_table",
                "invalid_change",
            ]
        );
    }

    #[test]
    fn serde_display_and_from_str_agree_with_as_str() {
        for reason in Reason::ALL {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, serde_json::Value::String(reason.as_str().into()));
            assert_eq!(serde_json::from_value::<Reason>(json).unwrap(), reason);
            assert_eq!(reason.to_string(), reason.as_str());
            assert_eq!(reason.as_str().parse::<Reason>().unwrap(), reason);
        }
    }

    #[test]
    fn from_str_rejects_unknown_and_differently_cased_codes() {
        assert_eq!(
            "InvalidEnvelope".parse::<Reason>(),
            Err(UnknownReason("InvalidEnvelope".into()))
        );
        assert!("".parse::<Reason>().is_err());
        assert!("late_arrival".parse::<Reason>().is_err());
    }

    #[test]
    fn rejection_serializes_as_reason_and_detail() {
        let rejection = Rejection::new(Reason::NestedAttribute, "attributes.items is an array");
        assert_eq!(
            serde_json::to_value(&rejection).unwrap(),
            serde_json::json!({"reason": "nested_attribute", "detail": "attributes.items is an array"})
        );
        assert_eq!(
            rejection.to_string(),
            "nested_attribute: attributes.items is an array"
        );
    }
}
