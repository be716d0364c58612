//! Why an event was quarantined: the stable, machine-readable codes of SPEC §3.
//!
//! The codes are part of the public contract (the quarantine is filtered by them, dashboards count
//! them), so the text of every code is spelled once, in [`QuarantineReason::as_str`], and serde, `Display` and
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
pub enum QuarantineReason {
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

impl QuarantineReason {
    /// Every code, in pipeline order; handy for metrics pre-registration and for `FromStr`.
    pub const ALL: [QuarantineReason; 11] = [
        QuarantineReason::InvalidCharacters,
        QuarantineReason::Malformed,
        QuarantineReason::InvalidEnvelope,
        QuarantineReason::UnknownEventType,
        QuarantineReason::NestedAttribute,
        QuarantineReason::MissingRequired,
        QuarantineReason::TypeMismatch,
        QuarantineReason::UnknownAttribute,
        QuarantineReason::InvalidTimestamp,
        QuarantineReason::UnmappedTable,
        QuarantineReason::InvalidChange,
    ];

    /// The snake_case code as it appears in responses, the database and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::InvalidCharacters => "invalid_characters",
            QuarantineReason::Malformed => "malformed",
            QuarantineReason::InvalidEnvelope => "invalid_envelope",
            QuarantineReason::UnknownEventType => "unknown_event_type",
            QuarantineReason::NestedAttribute => "nested_attribute",
            QuarantineReason::MissingRequired => "missing_required",
            QuarantineReason::TypeMismatch => "type_mismatch",
            QuarantineReason::UnknownAttribute => "unknown_attribute",
            QuarantineReason::InvalidTimestamp => "invalid_timestamp",
            QuarantineReason::UnmappedTable => "unmapped_table",
            QuarantineReason::InvalidChange => "invalid_change",
        }
    }
}

impl fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the [`QuarantineReason`] codes (e.g. a bad `?reason=` filter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quarantine reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for QuarantineReason {
    type Err = UnknownReason;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuarantineReason::ALL
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
    pub reason: QuarantineReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: QuarantineReason, detail: impl Into<String>) -> Self {
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
        let codes: Vec<&str> = QuarantineReason::ALL.iter().map(|r| r.as_str()).collect();
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
        for reason in QuarantineReason::ALL {
            let json = serde_json::to_value(reason).unwrap();
            assert_eq!(json, serde_json::Value::String(reason.as_str().into()));
            assert_eq!(
                serde_json::from_value::<QuarantineReason>(json).unwrap(),
                reason
            );
            assert_eq!(reason.to_string(), reason.as_str());
            assert_eq!(reason.as_str().parse::<QuarantineReason>().unwrap(), reason);
        }
    }

    #[test]
    fn from_str_rejects_unknown_and_differently_cased_codes() {
        assert_eq!(
            "InvalidEnvelope".parse::<QuarantineReason>(),
            Err(UnknownReason("InvalidEnvelope".into()))
        );
        assert!("".parse::<QuarantineReason>().is_err());
        assert!("late_arrival".parse::<QuarantineReason>().is_err());
    }

    #[test]
    fn rejection_serializes_as_reason_and_detail() {
        let rejection = Rejection::new(
            QuarantineReason::NestedAttribute,
            "attributes.items is an array",
        );
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
