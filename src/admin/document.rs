//! Reading an admin document field by field, so that a 422 lists *every* problem (SPEC §11.19):
//! serde stops at the first missing or mistyped field, which would make an operator fix a document
//! one error at a time.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::platform::http::problem::FieldProblem;

/// A JSON object being read. Each accessor records a problem instead of failing; [`Fields::finish`]
/// adds the unknown fields and hands back everything found.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
    failed: Vec<String>,
    problems: Vec<FieldProblem>,
}

impl<'a> Fields<'a> {
    /// Starts reading `doc`, whose fields are reported as `prefix.field` (or `field` when `prefix`
    /// is empty). A document that is not an object is one problem.
    pub fn of(doc: &'a Value, prefix: &str) -> Result<Self, Vec<FieldProblem>> {
        match doc.as_object() {
            Some(obj) => Ok(Self {
                obj,
                prefix: prefix.to_owned(),
                known: Vec::new(),
                failed: Vec::new(),
                problems: Vec::new(),
            }),
            None => Err(vec![FieldProblem::new(
                if prefix.is_empty() { "body" } else { prefix },
                "must be a JSON object",
            )]),
        }
    }

    /// The reported name of a field of this document.
    pub fn path(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    /// A field that must be present and not null.
    pub fn required<T: DeserializeOwned>(&mut self, key: &'static str) -> Option<T> {
        self.known.push(key);
        match self.obj.get(key) {
            None | Some(Value::Null) => {
                self.fail(key, "missing".into());
                None
            }
            Some(v) => self.decode(key, v),
        }
    }

    /// A field that may be absent (`None` then, with no problem) but not null: its schema says it
    /// is a value with a default, so `null` is most likely a client's mistake (`"tiers": null`
    /// taken as "the default tiers" would surprise whoever meant "none").
    pub fn optional<T: DeserializeOwned>(&mut self, key: &'static str) -> Option<T> {
        self.known.push(key);
        match self.obj.get(key) {
            None => None,
            Some(Value::Null) => {
                self.fail(key, "must not be null: leave it out for the default".into());
                None
            }
            Some(v) => self.decode(key, v),
        }
    }

    /// A field that may be absent or null, both meaning "none" (its schema says it is nullable).
    pub fn nullable<T: DeserializeOwned>(&mut self, key: &'static str) -> Option<T> {
        self.known.push(key);
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => self.decode(key, v),
        }
    }

    /// The raw value of a field that is read by other means (a nested document).
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// Whether the field was present but could not be read (its problem is already recorded).
    pub fn has_failed(&self, key: &str) -> bool {
        self.failed.iter().any(|f| f == key)
    }

    /// Records a problem found by the caller.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.fail(key, message.into());
    }

    /// Adds nested problems (already carrying their full path).
    pub fn extend(&mut self, problems: impl IntoIterator<Item = FieldProblem>) {
        self.problems.extend(problems);
    }

    /// Every problem: the ones recorded, then one per unknown field.
    pub fn finish(mut self) -> Vec<FieldProblem> {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let path = self.path(&k);
            self.problems.push(FieldProblem::new(path, "unknown field"));
        }
        self.problems
    }

    fn decode<T: DeserializeOwned>(&mut self, key: &'static str, v: &Value) -> Option<T> {
        match T::deserialize(v) {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(key, e.to_string());
                None
            }
        }
    }

    fn fail(&mut self, key: &str, message: String) {
        self.failed.push(key.to_owned());
        let path = self.path(key);
        self.problems.push(FieldProblem::new(path, message));
    }
}

/// `prefix.key`, or `key` alone.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Whether `field` is `key` or lies inside it (`key.x`, `key[0]`).
pub fn within(field: &str, key: &str) -> bool {
    field
        .strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_problem_is_listed_with_its_path() {
        let doc = json!({"a": "x", "c": 1, "extra": true});
        let mut f = Fields::of(&doc, "campaign").unwrap();
        assert_eq!(f.required::<i32>("a"), None);
        assert_eq!(f.required::<i32>("b"), None);
        assert_eq!(f.optional::<i32>("c"), Some(1));
        assert_eq!(f.optional::<i32>("d"), None);
        assert!(f.has_failed("a") && f.has_failed("b") && !f.has_failed("c"));
        let fields: Vec<String> = f.finish().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["campaign.a", "campaign.b", "campaign.extra"]);
    }

    #[test]
    fn null_is_none_for_a_nullable_field_and_a_problem_for_an_optional_one() {
        let doc = json!({"tiers": null, "default_channel": null});
        let mut f = Fields::of(&doc, "").unwrap();
        assert_eq!(f.optional::<Vec<String>>("tiers"), None);
        assert_eq!(f.nullable::<String>("default_channel"), None);
        assert_eq!(f.nullable::<String>("absent"), None);
        assert!(f.has_failed("tiers") && !f.has_failed("default_channel"));
        let problems = f.finish();
        assert_eq!(
            problems,
            [FieldProblem::new(
                "tiers",
                "must not be null: leave it out for the default"
            )]
        );
    }

    #[test]
    fn not_an_object() {
        let p = Fields::of(&json!([1]), "").err().unwrap();
        assert_eq!(p[0].field, "body");
    }

    #[test]
    fn within_matches_the_field_and_its_children_only() {
        assert!(within("channels", "channels"));
        assert!(within("channels.voice", "channels"));
        assert!(within("tiers[0]", "tiers"));
        assert!(!within("channels_x", "channels"));
    }
}
