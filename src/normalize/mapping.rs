//! A source's mapping (SPEC §6): renames its field names and event types onto the canonical ones.
//!
//! Renames are applied once, not transitively: with `a → b` and `b → c`, a sent `a` becomes `b` and
//! a sent `b` becomes `c`. That keeps a mapping readable as a plain table and lets a swap be written.
//! A name the mapping does not list passes through unchanged, so a source that already speaks the
//! canonical names needs an empty mapping.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::normalize::cdc_mapping::CdcMapping;
use crate::normalize::reason::{QuarantineReason, Rejection};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// Source attribute name → canonical attribute name, e.g. `tx_amount` → `transaction_value`.
    pub fields: BTreeMap<String, String>,
    /// Source event type → canonical event type, e.g. `purchase` → `crm.transaction`.
    pub event_types: BTreeMap<String, String>,
    /// Change data capture: what each captured table's changes become (issue 13). Left out of the
    /// document when empty, so mappings without it keep their exact stored form (and version).
    #[serde(skip_serializing_if = "CdcMapping::is_empty")]
    pub cdc: CdcMapping,
}

/// One attribute after renaming: the value, and the key the source used, so that quarantine details
/// can name the field the way the source's owner knows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Renamed<'a> {
    pub source_key: &'a str,
    pub value: &'a Value,
}

impl Mapping {
    pub fn event_type<'a>(&'a self, sent: &'a str) -> &'a str {
        self.event_types.get(sent).map_or(sent, String::as_str)
    }

    pub fn field<'a>(&'a self, sent: &'a str) -> &'a str {
        self.fields.get(sent).map_or(sent, String::as_str)
    }

    /// Renames every attribute key, keyed by canonical name (a `BTreeMap`, so later stages walk the
    /// attributes in a deterministic order whatever `serde_json::Map` is backed by).
    ///
    /// Two sent keys landing on one canonical name (`tx_amount` mapped onto `transaction_value`, and
    /// `transaction_value` sent as well) is `invalid_envelope`: the attributes object has no single
    /// meaning under this mapping, and picking one value would silently drop the other.
    pub fn rename_attributes<'a>(
        &'a self,
        attributes: &'a Map<String, Value>,
    ) -> Result<BTreeMap<&'a str, Renamed<'a>>, Rejection> {
        let mut renamed: BTreeMap<&str, Renamed> = BTreeMap::new();
        // Sorted source keys, so which collision is reported does not depend on the map's order.
        // serde_json's map iterates in key order already (unless its `preserve_order` feature is
        // turned on), and sorting a sorted slice is one pass: no second map per event.
        let mut sorted: Vec<(&String, &Value)> = attributes.iter().collect();
        sorted.sort_unstable_by_key(|(key, _)| *key);
        for (source_key, value) in sorted {
            let canonical = self.field(source_key);
            let entry = Renamed { source_key, value };
            if let Some(earlier) = renamed.insert(canonical, entry) {
                return Err(Rejection::new(
                    QuarantineReason::InvalidEnvelope,
                    format!(
                        "attributes.{} and attributes.{source_key} both map to {canonical}",
                        earlier.source_key
                    ),
                ));
            }
        }
        Ok(renamed)
    }

    /// Every problem that makes this mapping unusable, one sentence each; empty when it is fine.
    ///
    /// Several source event types may share one canonical type (`buy`, `purchase` →
    /// `crm.transaction`): an event has one type, so nothing collides. Several source *fields* onto one
    /// canonical field is refused, because one event carrying both could not be normalized.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (section, table) in [("fields", &self.fields), ("event_types", &self.event_types)] {
            for (from, to) in table {
                if is_blank(from) {
                    problems.push(format!(
                        "{section}.{from:?}: source names must be non-empty and not padded with spaces"
                    ));
                }
                if is_blank(to) {
                    problems.push(format!(
                        "{section}.{from}: target {to:?} must be non-empty and not padded with spaces"
                    ));
                }
            }
        }
        let mut sources_by_target: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (from, to) in &self.fields {
            sources_by_target.entry(to).or_default().push(from);
        }
        for (to, froms) in sources_by_target {
            if froms.len() > 1 && !is_blank(to) {
                problems.push(format!(
                    "fields: {} map onto the same attribute {to}; an event carrying more than one of them could not be normalized",
                    froms.join(", ")
                ));
            }
        }
        problems
    }
}

fn is_blank(name: &str) -> bool {
    name.is_empty() || name.trim() != name
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(doc: Value) -> Mapping {
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn the_spec_example_parses_and_both_sections_default_to_empty() {
        let m = mapping(
            json!({"fields": {"tx_amount": "transaction_value"}, "event_types": {"purchase": "crm.transaction"}}),
        );
        assert_eq!(m.field("tx_amount"), "transaction_value");
        assert_eq!(m.event_type("purchase"), "crm.transaction");
        assert_eq!(mapping(json!({})), Mapping::default());
        assert!(serde_json::from_value::<Mapping>(json!({"fields": {}, "extra": 1})).is_err());
        assert!(serde_json::from_value::<Mapping>(json!({"fields": {"a": 1}})).is_err());
    }

    #[test]
    fn unlisted_names_pass_through() {
        let m = Mapping::default();
        assert_eq!(m.field("transaction_value"), "transaction_value");
        assert_eq!(m.event_type("crm.behavior"), "crm.behavior");
    }

    #[test]
    fn renames_keep_the_source_key_and_are_not_transitive() {
        let m = mapping(json!({"fields": {"a": "b", "b": "a", "amt": "transaction_value"}}));
        let attrs = json!({"a": 1, "b": 2, "amt": 3, "other": 4});
        let renamed = m.rename_attributes(attrs.as_object().unwrap()).unwrap();
        let view: Vec<(&str, &str, i64)> = renamed
            .iter()
            .map(|(k, r)| (*k, r.source_key, r.value.as_i64().unwrap()))
            .collect();
        assert_eq!(
            view,
            [
                ("a", "b", 2),
                ("b", "a", 1),
                ("other", "other", 4),
                ("transaction_value", "amt", 3)
            ]
        );
    }

    #[test]
    fn two_keys_landing_on_one_name_are_an_invalid_envelope() {
        let m = mapping(json!({"fields": {"tx_amount": "transaction_value"}}));
        let attrs = json!({"tx_amount": 1, "transaction_value": 2});
        let err = m.rename_attributes(attrs.as_object().unwrap()).unwrap_err();
        assert_eq!(err.reason, QuarantineReason::InvalidEnvelope);
        assert_eq!(
            err.detail,
            "attributes.transaction_value and attributes.tx_amount both map to transaction_value"
        );
    }

    #[test]
    fn validate_lists_every_problem() {
        let m = mapping(json!({
            "fields": {"": "x", "amt": "value", "amount": "value", "pad": " y", "z": ""},
            "event_types": {"buy": "crm.transaction", "purchase": "crm.transaction", "": "crm.behavior"}}));
        assert_eq!(
            m.validate(),
            [
                "fields.\"\": source names must be non-empty and not padded with spaces",
                "fields.pad: target \" y\" must be non-empty and not padded with spaces",
                "fields.z: target \"\" must be non-empty and not padded with spaces",
                "event_types.\"\": source names must be non-empty and not padded with spaces",
                "fields: amount, amt map onto the same attribute value; an event carrying more than one of them could not be normalized",
            ]
        );
        assert!(Mapping::default().validate().is_empty());
    }
}
