//! The checks Genesys applies to external-event schemas and to the events sent against them, as
//! pure functions: a `JourneyJsonSchemaRequest` (draft-04, unique title, the org's limits), a schema
//! update (an optional attribute may not become required), and an event's attributes against its
//! schema (required present, nothing outside `properties`, types as draft-04 reads them).
//!
//! The reference (`shared/reference/genesys-real-api.md` §1a, §6) documents no data-format
//! validation of event attributes, so `format` is checked for its own spelling in a schema but not
//! applied to values.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The only `$schema` Genesys accepts.
pub(crate) const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";
/// External event types (schemas) per org (reference §1a, the help article's limits).
pub(crate) const MAX_SCHEMAS_PER_ORG: usize = 20;
/// Attributes per event type.
pub(crate) const MAX_FIELDS_PER_SCHEMA: usize = 50;

/// The keys a `JourneyJsonSchemaRequest` has.
const REQUEST_KEYS: [&str; 5] = ["$schema", "title", "description", "required", "properties"];
/// The primitive types draft-04 names. pesync's attributes are flat, so `object` and `array` (whose
/// nested keywords the simulator does not model) are refused rather than half-checked.
const TYPES: [&str; 5] = ["string", "number", "integer", "boolean", "null"];
/// Keywords a property definition may carry here.
const PROPERTY_KEYS: [&str; 4] = ["type", "format", "description", "title"];
/// Formats draft-04 defines.
const FORMATS: [&str; 6] = ["date-time", "email", "hostname", "ipv4", "ipv6", "uri"];

/// A problem list, `(field, what is wrong)`, as `SimResponse::invalid` renders it.
pub(crate) type Problems = Vec<(String, String)>;

/// A schema request that passed the checks, with what the other checks need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckedSchema {
    pub title: String,
    /// Property name → its declared type.
    pub properties: Vec<(String, String)>,
    pub required: BTreeSet<String>,
}

/// Checks a `JourneyJsonSchemaRequest` on its own (uniqueness and limits are the caller's).
pub(crate) fn check_request(body: &Value) -> Result<CheckedSchema, Problems> {
    let mut problems = Problems::new();
    let Some(object) = body.as_object() else {
        return Err(vec![("body".into(), "must be a JSON object".into())]);
    };
    for key in object
        .keys()
        .filter(|k| !REQUEST_KEYS.contains(&k.as_str()))
    {
        problems.push((key.clone(), "unknown field".into()));
    }
    if object.get("$schema").and_then(Value::as_str) != Some(DRAFT_04) {
        problems.push(("$schema".into(), format!("must be \"{DRAFT_04}\"")));
    }
    let title = match object.get("title").and_then(Value::as_str).map(str::trim) {
        Some(title) if !title.is_empty() => title.to_owned(),
        _ => {
            problems.push((
                "title".into(),
                "is required and must be a non-empty string".into(),
            ));
            String::new()
        }
    };
    if object.get("description").is_some_and(|d| !d.is_string()) {
        problems.push(("description".into(), "must be a string".into()));
    }
    let properties = check_properties(object.get("properties"), &mut problems);
    let required = check_required(object.get("required"), &properties, &mut problems);
    if problems.is_empty() {
        Ok(CheckedSchema {
            title,
            properties,
            required,
        })
    } else {
        Err(problems)
    }
}

fn check_properties(value: Option<&Value>, problems: &mut Problems) -> Vec<(String, String)> {
    let Some(properties) = value.and_then(Value::as_object) else {
        problems.push((
            "properties".into(),
            "is required and must be an object".into(),
        ));
        return Vec::new();
    };
    if properties.len() > MAX_FIELDS_PER_SCHEMA {
        problems.push((
            "properties".into(),
            format!(
                "at most {MAX_FIELDS_PER_SCHEMA} attributes per event, not {}",
                properties.len()
            ),
        ));
    }
    let mut checked = Vec::new();
    for (name, definition) in properties {
        let field = format!("properties.{name}");
        if let Some(kind) = check_property(&field, definition, problems) {
            checked.push((name.clone(), kind));
        }
    }
    checked
}

fn check_property(field: &str, definition: &Value, problems: &mut Problems) -> Option<String> {
    let Some(definition) = definition.as_object() else {
        problems.push((field.into(), "must be a JSON-schema object".into()));
        return None;
    };
    for key in definition
        .keys()
        .filter(|k| !PROPERTY_KEYS.contains(&k.as_str()))
    {
        problems.push((format!("{field}.{key}"), "unsupported keyword".into()));
    }
    if let Some(format) = definition.get("format")
        && !format.as_str().is_some_and(|f| FORMATS.contains(&f))
    {
        problems.push((format!("{field}.format"), "not a draft-04 format".into()));
    }
    match definition.get("type").and_then(Value::as_str) {
        Some(kind) if TYPES.contains(&kind) => Some(kind.to_owned()),
        _ => {
            let types = TYPES.join(", ");
            problems.push((
                format!("{field}.type"),
                format!("is required, one of {types}"),
            ));
            None
        }
    }
}

/// Draft-04: `required` is an array of at least one unique string; here each must be a property.
fn check_required(
    value: Option<&Value>,
    properties: &[(String, String)],
    problems: &mut Problems,
) -> BTreeSet<String> {
    let Some(value) = value else {
        return BTreeSet::new();
    };
    let names: Option<Vec<&str>> = value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_str).collect());
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        let what = "must be a non-empty array of strings (draft-04)";
        problems.push(("required".into(), what.into()));
        return BTreeSet::new();
    };
    let unique: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
    if unique.len() != names.len() {
        problems.push(("required".into(), "items must be unique (draft-04)".into()));
    }
    for name in unique
        .iter()
        .filter(|n| !properties.iter().any(|(p, _)| p == *n))
    {
        problems.push((format!("required.{name}"), "is not a property".into()));
    }
    unique
}

/// "Optional fields can't be changed to required after the schema is saved": a property that the
/// old schema had as optional and the new one requires.
pub(crate) fn check_update(old: &CheckedSchema, new: &CheckedSchema) -> Result<(), Problems> {
    let problems: Problems = new
        .required
        .iter()
        .filter(|name| !old.required.contains(*name))
        .filter(|name| old.properties.iter().any(|(p, _)| p == *name))
        .map(|name| {
            let what = "an optional field can't be changed to required";
            (format!("required.{name}"), what.to_owned())
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// An event's attributes against its schema.
pub(crate) fn check_attributes(
    schema: &CheckedSchema,
    attributes: &Map<String, Value>,
) -> Problems {
    let mut problems = Problems::new();
    for name in schema
        .required
        .iter()
        .filter(|n| !attributes.contains_key(*n))
    {
        problems.push((format!("attributes.{name}"), "is required".into()));
    }
    for (name, value) in attributes {
        let field = format!("attributes.{name}");
        match schema.properties.iter().find(|(p, _)| p == name) {
            None => problems.push((field, "is not a property of the schema".into())),
            Some((_, kind)) if !has_type(value, kind) => {
                problems.push((field, format!("must be of type {kind}")));
            }
            Some(_) => {}
        }
    }
    problems
}

/// Draft-04's reading of a type: `integer` is a number without a fractional part written as one
/// (serde_json keeps `1` and `1.0` apart; `1.0` is a float here, as in strict validators).
fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(properties: Value, required: Option<Value>) -> Value {
        let mut body = json!({"$schema": DRAFT_04, "title": "crm.transaction",
            "description": "x", "properties": properties});
        if let Some(required) = required {
            body["required"] = required;
        }
        body
    }

    fn fields(problems: &Problems) -> Vec<&str> {
        problems.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_flat_draft_04_schema_passes() {
        let body = request(
            json!({"transaction_value": {"type": "number"}, "at": {"type": "string", "format": "date-time"}}),
            Some(json!(["transaction_value"])),
        );
        let checked = check_request(&body).unwrap();
        assert_eq!(checked.title, "crm.transaction");
        assert_eq!(checked.properties.len(), 2);
        assert!(checked.required.contains("transaction_value"));
    }

    #[test]
    fn another_schema_uri_an_unknown_field_and_a_missing_title_are_refused() {
        let mut body = request(json!({}), None);
        body["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        body["additionalProperties"] = json!(false);
        body.as_object_mut().unwrap().remove("title");
        let problems = check_request(&body).unwrap_err();
        assert_eq!(
            fields(&problems),
            ["additionalProperties", "$schema", "title"]
        );
    }

    #[test]
    fn an_empty_required_list_is_not_draft_04() {
        let problems = check_request(&request(json!({"a": {"type": "string"}}), Some(json!([]))));
        assert_eq!(fields(&problems.unwrap_err()), ["required"]);
    }

    #[test]
    fn required_names_must_be_unique_properties() {
        let body = request(
            json!({"a": {"type": "string"}}),
            Some(json!(["a", "a", "b"])),
        );
        assert_eq!(
            fields(&check_request(&body).unwrap_err()),
            ["required", "required.b"]
        );
    }

    #[test]
    fn types_formats_and_keywords_are_checked() {
        let body = request(
            json!({"a": {"type": "text"}, "b": {"type": "string", "format": "date"},
                   "c": {"type": "number", "minimum": 0}, "d": {"type": "object"}}),
            None,
        );
        let problems = check_request(&body).unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "properties.a.type",
                "properties.b.format",
                "properties.c.minimum",
                "properties.d.type"
            ]
        );
    }

    #[test]
    fn fifty_attributes_pass_and_fifty_one_do_not() {
        let props = |n: usize| {
            let map: Map<String, Value> = (0..n)
                .map(|i| (format!("f{i}"), json!({"type": "string"})))
                .collect();
            Value::Object(map)
        };
        assert!(check_request(&request(props(50), None)).is_ok());
        assert_eq!(
            fields(&check_request(&request(props(51), None)).unwrap_err()),
            ["properties"]
        );
    }

    #[test]
    fn an_optional_field_made_required_is_refused_but_a_new_required_field_is_not() {
        let old = check_request(&request(json!({"a": {"type": "string"}}), None)).unwrap();
        let made_required = request(json!({"a": {"type": "string"}}), Some(json!(["a"])));
        let problems = check_update(&old, &check_request(&made_required).unwrap()).unwrap_err();
        assert_eq!(fields(&problems), ["required.a"]);
        let added = request(
            json!({"a": {"type": "string"}, "b": {"type": "integer"}}),
            Some(json!(["b"])),
        );
        assert!(check_update(&old, &check_request(&added).unwrap()).is_ok());
    }

    #[test]
    fn attributes_are_checked_against_the_schema() {
        let schema = check_request(&request(
            json!({"n": {"type": "integer"}, "x": {"type": "number"}, "s": {"type": "string"},
                   "b": {"type": "boolean"}}),
            Some(json!(["n"])),
        ))
        .unwrap();
        let ok = json!({"n": 3, "x": 2.5, "s": "web", "b": true});
        assert!(check_attributes(&schema, ok.as_object().unwrap()).is_empty());
        let integer_as_float = json!({"n": 3.0, "x": 2});
        assert_eq!(
            fields(&check_attributes(
                &schema,
                integer_as_float.as_object().unwrap()
            )),
            ["attributes.n"]
        );
        let bad = json!({"x": "2.5", "extra": 1});
        assert_eq!(
            fields(&check_attributes(&schema, bad.as_object().unwrap())),
            ["attributes.n", "attributes.extra", "attributes.x"]
        );
    }
}
