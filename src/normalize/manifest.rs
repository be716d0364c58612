//! The manifest document of SPEC §8: per event type, the attributes PE may receive, with their type
//! and presence. Versioned and stored by the admin layer; this module only defines the document, the
//! default version 1, and the checks that make a document activatable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The attribute every event type must declare as a required string: it is the third part of the
/// dedup key (SPEC §4), so an event without it could not be deduplicated.
pub const CRM_RECORD_ID: &str = "crm_record_id";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Canonical event type name → its attributes.
    pub event_types: BTreeMap<String, EventTypeSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeSpec {
    /// Canonical attribute name → its type and presence.
    pub attributes: BTreeMap<String, AttributeSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub presence: Presence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttrType {
    String,
    Number,
    Integer,
    Boolean,
    /// RFC 3339 with an offset; delivered as UTC with a `Z`.
    Timestamp,
}

impl AttrType {
    pub const fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Number => "number",
            AttrType::Integer => "integer",
            AttrType::Boolean => "boolean",
            AttrType::Timestamp => "timestamp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Absent or null → `missing_required`.
    Required,
    /// Absent is fine; null is omitted.
    Optional,
    /// Accepted from the source but never delivered (stripped), so a field can be retired from PE
    /// before every CRM stops sending it.
    Deprecated,
}

impl AttributeSpec {
    pub const fn new(kind: AttrType, presence: Presence) -> Self {
        AttributeSpec { kind, presence }
    }
}

impl Manifest {
    /// The manifest a fresh database holds as version 1 (the table of SPEC §3).
    pub fn default_v1() -> Manifest {
        use AttrType::{Integer, Number, String};
        use Presence::{Optional, Required};
        let event_type = |attributes: &[(&str, AttrType, Presence)]| EventTypeSpec {
            attributes: attributes
                .iter()
                .map(|&(name, kind, presence)| {
                    (name.to_owned(), AttributeSpec::new(kind, presence))
                })
                .collect(),
        };
        let transaction = event_type(&[
            (CRM_RECORD_ID, String, Required),
            ("transaction_value", Number, Required),
            ("product_category", String, Optional),
            ("payment_status", String, Optional),
            ("channel_origin", String, Optional),
        ]);
        let behavior = event_type(&[
            (CRM_RECORD_ID, String, Required),
            ("session_duration_seconds", Integer, Optional),
            ("pages_viewed", Integer, Optional),
            ("channel_origin", String, Optional),
        ]);
        Manifest {
            event_types: BTreeMap::from([
                ("crm.transaction".to_owned(), transaction),
                ("crm.behavior".to_owned(), behavior),
            ]),
        }
    }

    /// [`Manifest::default_v1`] as the JSON document the admin API stores and serves.
    pub fn default_v1_json() -> serde_json::Value {
        serde_json::to_value(Manifest::default_v1()).expect("a manifest always serializes")
    }

    /// Every problem that makes this manifest unfit to activate, each as one sentence naming the
    /// offending path; empty when it is fine. All problems are listed so a 422 can show them at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.event_types.is_empty() {
            problems.push("event_types: the manifest defines no event types".to_owned());
        }
        for (event_type, spec) in &self.event_types {
            if is_blank(event_type) {
                problems.push(format!(
                    "event_types.{event_type:?}: event type names must be non-empty and not padded with spaces"
                ));
            }
            for name in spec.attributes.keys() {
                if is_blank(name) {
                    problems.push(format!(
                        "event_types.{event_type}.attributes.{name:?}: attribute names must be non-empty and not padded with spaces"
                    ));
                }
            }
            match spec.attributes.get(CRM_RECORD_ID) {
                None => problems.push(format!(
                    "event_types.{event_type}.attributes.{CRM_RECORD_ID}: must be declared as a required string"
                )),
                Some(found) if *found != AttributeSpec::new(AttrType::String, Presence::Required) => {
                    problems.push(format!(
                        "event_types.{event_type}.attributes.{CRM_RECORD_ID}: must be a required string, not {} {}",
                        presence_str(found.presence),
                        found.kind.as_str()
                    ))
                }
                Some(_) => {}
            }
        }
        problems
    }
}

/// The default manifest as a JSON document; the same as [`Manifest::default_v1_json`].
pub fn default_v1_json() -> serde_json::Value {
    Manifest::default_v1_json()
}

/// Empty, or with leading/trailing whitespace: such a name cannot be typed back reliably by an
/// operator and almost always comes from a copy-paste slip.
fn is_blank(name: &str) -> bool {
    name.is_empty() || name.trim() != name
}

fn presence_str(presence: Presence) -> &'static str {
    match presence {
        Presence::Required => "required",
        Presence::Optional => "optional",
        Presence::Deprecated => "deprecated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_v1_is_the_spec_table() {
        let expected = json!({"event_types": {
            "crm.transaction": {"attributes": {
                "crm_record_id": {"type": "string", "presence": "required"},
                "transaction_value": {"type": "number", "presence": "required"},
                "product_category": {"type": "string", "presence": "optional"},
                "payment_status": {"type": "string", "presence": "optional"},
                "channel_origin": {"type": "string", "presence": "optional"}}},
            "crm.behavior": {"attributes": {
                "crm_record_id": {"type": "string", "presence": "required"},
                "session_duration_seconds": {"type": "integer", "presence": "optional"},
                "pages_viewed": {"type": "integer", "presence": "optional"},
                "channel_origin": {"type": "string", "presence": "optional"}}}}});
        assert_eq!(default_v1_json(), expected);
        assert_eq!(Manifest::default_v1_json(), expected);
        assert_eq!(
            serde_json::from_value::<Manifest>(expected).unwrap(),
            Manifest::default_v1()
        );
        assert!(Manifest::default_v1().validate().is_empty());
    }

    #[test]
    fn the_spec_example_document_parses() {
        let manifest: Manifest =
            serde_json::from_value(json!({"event_types": {"crm.transaction": {"attributes": {
            "crm_record_id": {"type": "string", "presence": "required"},
            "transaction_value": {"type": "number", "presence": "required"},
            "legacy_score": {"type": "number", "presence": "deprecated"}}}}}))
            .unwrap();
        let legacy = manifest.event_types["crm.transaction"].attributes["legacy_score"];
        assert_eq!(
            legacy,
            AttributeSpec::new(AttrType::Number, Presence::Deprecated)
        );
        assert!(manifest.validate().is_empty());
    }

    #[test]
    fn unknown_fields_and_values_are_refused() {
        let bad = [
            json!({"event_types": {}, "version": 2}),
            json!({"event_types": {"t": {"attributes": {}, "x": 1}}}),
            json!({"event_types": {"t": {"attributes": {"a": {"type": "string", "presence": "required", "doc": "?"}}}}}),
            json!({"event_types": {"t": {"attributes": {"a": {"type": "float", "presence": "required"}}}}}),
            json!({"event_types": {"t": {"attributes": {"a": {"type": "String", "presence": "required"}}}}}),
            json!({"event_types": {"t": {"attributes": {"a": {"type": "string", "presence": "mandatory"}}}}}),
            json!({"event_types": {"t": {"attributes": {"a": {"type": "string"}}}}}),
            json!({}),
        ];
        for doc in bad {
            assert!(
                serde_json::from_value::<Manifest>(doc.clone()).is_err(),
                "{doc} accepted"
            );
        }
    }

    #[test]
    fn validate_lists_every_problem() {
        let manifest: Manifest = serde_json::from_value(json!({"event_types": {
            "": {"attributes": {"crm_record_id": {"type": "string", "presence": "required"}}},
            "a": {"attributes": {"x": {"type": "string", "presence": "optional"}}},
            "b": {"attributes": {"crm_record_id": {"type": "integer", "presence": "optional"},
                                 " y": {"type": "number", "presence": "optional"}}}}}))
        .unwrap();
        assert_eq!(
            manifest.validate(),
            [
                "event_types.\"\": event type names must be non-empty and not padded with spaces",
                "event_types.a.attributes.crm_record_id: must be declared as a required string",
                "event_types.b.attributes.\" y\": attribute names must be non-empty and not padded with spaces",
                "event_types.b.attributes.crm_record_id: must be a required string, not optional integer",
            ]
        );
    }

    #[test]
    fn the_openapi_schema_spells_types_as_serde_does() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(AttrType::schema()).unwrap();
        assert_eq!(
            schema["enum"],
            json!(["string", "number", "integer", "boolean", "timestamp"])
        );
        let schema = serde_json::to_value(AttributeSpec::schema()).unwrap();
        assert_eq!(schema["required"], json!(["type", "presence"]));
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn an_empty_manifest_is_invalid() {
        let empty = Manifest {
            event_types: BTreeMap::new(),
        };
        assert_eq!(
            empty.validate(),
            ["event_types: the manifest defines no event types"]
        );
    }
}
