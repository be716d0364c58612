//! Stage 3 of SPEC §3: the attributes must be one flat object.
//!
//! PE silently drops object and array values, so an event carrying one would arrive with part of
//! its meaning missing and nobody told. Refusing it here puts it in the quarantine, where it shows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::normalize::envelope::json_type;
use crate::normalize::mapping::Renamed;
use crate::normalize::reason::{QuarantineReason, Rejection};

/// Refuses the first object or array value, walking canonical names in order. The detail names the
/// key as the source sent it, since that is what its owner will search for in the raw payload.
pub fn check_flat(attributes: &BTreeMap<&str, Renamed<'_>>) -> Result<(), Rejection> {
    for renamed in attributes.values() {
        if matches!(renamed.value, Value::Object(_) | Value::Array(_)) {
            return Err(Rejection::new(
                QuarantineReason::NestedAttribute,
                format!(
                    "attributes.{} is {}",
                    renamed.source_key,
                    json_type(renamed.value)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::mapping::Mapping;
    use serde_json::json;

    fn check(mapping: Value, attrs: Value) -> Result<(), Rejection> {
        let mapping: Mapping = serde_json::from_value(mapping).unwrap();
        let renamed = mapping
            .rename_attributes(attrs.as_object().unwrap())
            .unwrap();
        check_flat(&renamed)
    }

    #[test]
    fn scalars_and_nulls_are_flat() {
        let attrs = json!({"a": 1, "b": "x", "c": true, "d": null, "e": 2.5});
        assert_eq!(check(json!({}), attrs), Ok(()));
    }

    #[test]
    fn arrays_and_objects_are_nested_even_when_empty() {
        assert_eq!(
            check(json!({}), json!({"a": 1, "items": []})),
            Err(Rejection::new(
                QuarantineReason::NestedAttribute,
                "attributes.items is an array"
            ))
        );
        assert_eq!(
            check(json!({}), json!({"meta": {}})).unwrap_err().detail,
            "attributes.meta is an object"
        );
    }

    #[test]
    fn the_sent_key_is_named_and_canonical_order_decides() {
        // `zz` sorts last as sent but maps to `aa`, so it is the first canonical name checked.
        let detail = check(
            json!({"fields": {"zz": "aa"}}),
            json!({"m": [1], "zz": {"k": 1}}),
        )
        .unwrap_err()
        .detail;
        assert_eq!(detail, "attributes.zz is an object");
    }
}
