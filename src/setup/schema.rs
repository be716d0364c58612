//! One manifest event type as the `JourneyJsonSchemaRequest` Genesys keeps for it (reference §6):
//! the body of `POST …/externalevents/schemas` and the `jsonSchema` of a `PUT`. Pure.
//!
//! The schema says exactly what delivery sends: the event type's non-deprecated attributes (a
//! deprecated one is stripped before delivery, so it must not be a property), each with its JSON
//! type, and nothing else, so Genesys refuses an event only when pesync would have too.

use serde_json::{Map, Value, json};

use crate::normalize::manifest::{AttrType, EventTypeSpec, Presence};

/// The only `$schema` Genesys accepts.
pub const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

/// The `JourneyJsonSchemaRequest` of `event_type`: its title is the event type verbatim, which is
/// how setup finds the schema again when it lists them.
pub fn request(event_type: &str, spec: &EventTypeSpec) -> Value {
    let mut body = json!({
        "$schema": DRAFT_04,
        "title": event_type,
        "description": description(event_type),
        "properties": properties(spec),
    });
    // Draft-04 wants `required` to hold at least one name, so an event type with none omits it
    // (a valid manifest always requires `crm_record_id`; this keeps the function total).
    let required = required(spec);
    if !required.is_empty() {
        body["required"] = json!(required);
    }
    body
}

pub fn description(event_type: &str) -> String {
    format!("{event_type} events from pesync (from its active manifest)")
}

/// Attribute name → its JSON-schema definition, for every attribute that is delivered.
pub fn properties(spec: &EventTypeSpec) -> Map<String, Value> {
    spec.attributes
        .iter()
        .filter(|(_, a)| a.presence != Presence::Deprecated)
        .map(|(name, a)| (name.clone(), property(a.kind)))
        .collect()
}

/// The names of the required attributes, in name order.
pub fn required(spec: &EventTypeSpec) -> Vec<String> {
    spec.attributes
        .iter()
        .filter(|(_, a)| a.presence == Presence::Required)
        .map(|(name, _)| name.clone())
        .collect()
}

/// A timestamp is delivered as an RFC 3339 string in UTC: draft-04's `date-time` format.
fn property(kind: AttrType) -> Value {
    match kind {
        AttrType::Timestamp => json!({"type": "string", "format": "date-time"}),
        other => json!({"type": other.as_str()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::manifest::{AttributeSpec, Manifest};

    fn spec(attributes: &[(&str, AttrType, Presence)]) -> EventTypeSpec {
        EventTypeSpec {
            attributes: attributes
                .iter()
                .map(|&(n, k, p)| (n.to_owned(), AttributeSpec::new(k, p)))
                .collect(),
        }
    }

    #[test]
    fn the_default_transaction_type_becomes_exactly_this_request() {
        let manifest = Manifest::default_v1();
        let body = request("crm.transaction", &manifest.event_types["crm.transaction"]);
        assert_eq!(
            body,
            json!({
                "$schema": "http://json-schema.org/draft-04/schema#",
                "title": "crm.transaction",
                "description": "crm.transaction events from pesync (from its active manifest)",
                "properties": {
                    "crm_record_id": {"type": "string"},
                    "transaction_value": {"type": "number"},
                    "product_category": {"type": "string"},
                    "payment_status": {"type": "string"},
                    "channel_origin": {"type": "string"}},
                "required": ["crm_record_id", "transaction_value"]})
        );
    }

    #[test]
    fn every_type_maps_and_deprecated_attributes_are_left_out() {
        use AttrType::*;
        use Presence::*;
        let s = spec(&[
            ("a_string", String, Required),
            ("b_number", Number, Optional),
            ("c_integer", Integer, Optional),
            ("d_boolean", Boolean, Optional),
            ("e_at", Timestamp, Required),
            ("f_old", Number, Deprecated),
        ]);
        assert_eq!(
            Value::Object(properties(&s)),
            json!({"a_string": {"type": "string"}, "b_number": {"type": "number"},
                   "c_integer": {"type": "integer"}, "d_boolean": {"type": "boolean"},
                   "e_at": {"type": "string", "format": "date-time"}})
        );
        assert_eq!(required(&s), ["a_string", "e_at"]);
        let body = request("web.visit", &s);
        assert_eq!(body["title"], "web.visit");
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["$schema", "description", "properties", "required", "title"]
        );
    }

    #[test]
    fn no_required_attribute_means_no_required_key() {
        let s = spec(&[("x", AttrType::String, Presence::Optional)]);
        let body = request("t", &s);
        assert!(body.get("required").is_none(), "{body}");
        assert_eq!(body["properties"], json!({"x": {"type": "string"}}));
    }
}
