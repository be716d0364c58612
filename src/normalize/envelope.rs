//! Stage 1 of SPEC §3: the four envelope fields, present and of the right JSON type.
//!
//! Only JSON types are checked here; the meaning of each field (a known event type, a parseable
//! timestamp) is judged by the later stages so that each failure gets its own reason code. Other
//! top-level keys are ignored: they never reach PE (the delivery body is rebuilt from the four
//! fields) and the raw payload is kept anyway.

use serde_json::{Map, Value};

use crate::domain::ids::{ContactId, IdProblem};
use crate::normalize::reason::{QuarantineReason, Rejection};

/// The envelope fields borrowed from the raw event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope<'a> {
    pub contact_id: &'a str,
    pub event_type: &'a str,
    pub event_timestamp: &'a str,
    pub attributes: &'a Map<String, Value>,
}

pub fn parse(raw: &Value) -> Result<Envelope<'_>, Rejection> {
    let Value::Object(event) = raw else {
        return Err(invalid(format!(
            "the event must be a JSON object, not {}",
            json_type(raw)
        )));
    };
    let contact_id = string_field(event, "contact_id")?;
    // SPEC §11.2: any non-empty string of at most 128 characters (Unicode scalar values).
    match ContactId::parse(contact_id) {
        Ok(_) => {}
        Err(IdProblem::TooLong { chars, max }) => {
            return Err(invalid(format!(
                "contact_id is {chars} characters long; at most {max} are allowed"
            )));
        }
        Err(_) => return Err(invalid("contact_id is empty".to_owned())),
    }
    let event_type = string_field(event, "event_type")?;
    let event_timestamp = string_field(event, "event_timestamp")?;
    let attributes = match event.get("attributes") {
        Some(Value::Object(attributes)) => attributes,
        Some(other) => {
            return Err(invalid(format!(
                "attributes must be an object, not {}",
                json_type(other)
            )));
        }
        None => return Err(invalid("attributes is missing".to_owned())),
    };
    Ok(Envelope {
        contact_id,
        event_type,
        event_timestamp,
        attributes,
    })
}

fn string_field<'a>(event: &'a Map<String, Value>, name: &str) -> Result<&'a str, Rejection> {
    match event.get(name) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(invalid(format!(
            "{name} must be a string, not {}",
            json_type(other)
        ))),
        None => Err(invalid(format!("{name} is missing"))),
    }
}

fn invalid(detail: String) -> Rejection {
    Rejection::new(QuarantineReason::InvalidEnvelope, detail)
}

/// The JSON type with its article, for details such as `attributes is an array`.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"contact_id": "c-1", "event_type": "crm.behavior",
               "event_timestamp": "2024-11-15T14:32:00Z", "attributes": {"crm_record_id": "R1"},
               "ignored_extra": [1, 2]})
    }

    fn detail_of(raw: Value) -> String {
        let err = parse(&raw).unwrap_err();
        assert_eq!(err.reason, QuarantineReason::InvalidEnvelope);
        err.detail
    }

    fn with(key: &str, value: Value) -> Value {
        let mut raw = valid();
        raw[key] = value;
        raw
    }

    fn without(key: &str) -> Value {
        let mut raw = valid();
        raw.as_object_mut().unwrap().remove(key);
        raw
    }

    #[test]
    fn a_valid_envelope_borrows_its_fields() {
        let raw = valid();
        let env = parse(&raw).unwrap();
        assert_eq!(env.contact_id, "c-1");
        assert_eq!(env.event_type, "crm.behavior");
        assert_eq!(env.event_timestamp, "2024-11-15T14:32:00Z");
        assert_eq!(env.attributes.len(), 1);
    }

    #[test]
    fn non_objects_are_invalid_envelopes() {
        assert_eq!(
            detail_of(json!([valid()])),
            "the event must be a JSON object, not an array"
        );
        assert_eq!(
            detail_of(json!("x")),
            "the event must be a JSON object, not a string"
        );
        assert_eq!(
            detail_of(json!(null)),
            "the event must be a JSON object, not null"
        );
    }

    #[test]
    fn each_field_missing_or_mistyped_is_named() {
        for key in ["contact_id", "event_type", "event_timestamp", "attributes"] {
            assert_eq!(detail_of(without(key)), format!("{key} is missing"));
        }
        assert_eq!(
            detail_of(with("contact_id", json!(42))),
            "contact_id must be a string, not a number"
        );
        assert_eq!(
            detail_of(with("event_type", json!(null))),
            "event_type must be a string, not null"
        );
        assert_eq!(
            detail_of(with("event_timestamp", json!(1731681120))),
            "event_timestamp must be a string, not a number"
        );
        assert_eq!(
            detail_of(with("attributes", json!([]))),
            "attributes must be an object, not an array"
        );
        assert_eq!(
            detail_of(with("attributes", json!("{}"))),
            "attributes must be an object, not a string"
        );
    }

    #[test]
    fn the_first_bad_field_in_envelope_order_is_reported() {
        let raw = json!({"contact_id": 1, "event_type": 2, "event_timestamp": 3, "attributes": 4});
        assert_eq!(detail_of(raw), "contact_id must be a string, not a number");
    }

    #[test]
    fn contact_id_length_counts_characters() {
        assert_eq!(
            detail_of(with("contact_id", json!(""))),
            "contact_id is empty"
        );
        let at_limit = "é".repeat(crate::domain::ids::MAX_CONTACT_ID_CHARS);
        assert_eq!(
            parse(&with("contact_id", json!(at_limit)))
                .unwrap()
                .contact_id
                .chars()
                .count(),
            128
        );
        assert_eq!(
            detail_of(with("contact_id", json!("a".repeat(129)))),
            "contact_id is 129 characters long; at most 128 are allowed"
        );
        // Not necessarily a UUID (SPEC §11.2).
        assert!(parse(&with("contact_id", json!("crm:42"))).is_ok());
    }
}
