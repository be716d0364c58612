//! The attributes of a normalized event, as stage 4 leaves them: canonical names in name order,
//! each once, with their coerced values.

use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

/// Checked attributes in name order, each name once; serialized as a JSON object. A list, not a
/// map: ingestion only writes them out (as the event's `attributes`), and building and dropping a
/// map per event was about 3 % of the service's instructions in `bench ingest` (callgrind, issue
/// 12 §3).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes(Vec<(String, Value)>);

impl Attributes {
    /// From pairs in strictly ascending name order (the caller's invariant, checked in tests).
    pub(super) fn from_sorted(pairs: Vec<(String, Value)>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        Self(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self
            .0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()?;
        Some(&self.0[i].1)
    }

    /// (name, value) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl From<Attributes> for Map<String, Value> {
    fn from(a: Attributes) -> Self {
        a.0.into_iter().collect()
    }
}

impl From<Attributes> for Value {
    fn from(a: Attributes) -> Self {
        Value::Object(a.into())
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_as_the_json_object_of_its_pairs() {
        let a = Attributes::from_sorted(vec![
            ("amount".into(), json!(2450.0)),
            ("crm_record_id".into(), json!("R-1")),
            ("flag".into(), json!(true)),
        ]);
        let object = json!({"flag": true, "amount": 2450.0, "crm_record_id": "R-1"});
        assert_eq!(serde_json::to_value(&a).unwrap(), object);
        assert_eq!(serde_json::to_string(&a).unwrap(), object.to_string());
        assert_eq!(Value::from(a.clone()), object);
        assert_eq!(a.get("crm_record_id"), Some(&json!("R-1")));
        assert_eq!(a.get("amount"), Some(&json!(2450.0)));
        assert_eq!(a.get("flag"), Some(&json!(true)));
        assert_eq!(a.get("other"), None);
        assert_eq!(a.get(""), None);
        let names: Vec<&str> = a.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["amount", "crm_record_id", "flag"]);
        assert_eq!(
            (a.iter().count(), Attributes::default().iter().count()),
            (3, 0)
        );
        assert_eq!(serde_json::to_string(&Attributes::default()).unwrap(), "{}");
    }
}
