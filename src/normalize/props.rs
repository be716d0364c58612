//! Property tests of the whole pipeline: no input makes `normalize` panic, and whatever it accepts
//! is canonical.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::domain::text;
use crate::normalize::tests::{run, run_parsed, run_with};
use crate::normalize::{Manifest, Mapping, QuarantineReason};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // non-finite becomes null
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("42"),
            Just("4.5"),
            Just("true"),
            Just("2024-11-15T14:32:00Z"),
            Just("R-1")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Events that get past the envelope most of the time, so the later stages are exercised too.
fn near_events() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("crm_record_id"),
        Just("transaction_value"),
        Just("pages_viewed"),
        Just("channel_origin"),
        Just("session_duration_seconds"),
        Just("payment_status"),
        Just("mystery"),
    ];
    let value = prop_oneof![8 => scalar(), 1 => any_json()];
    let attributes = prop::collection::btree_map(names.prop_map(str::to_owned), value, 0..6);
    (
        prop_oneof![9 => Just(json!("c-1")), 1 => any_json()],
        prop_oneof![
            Just("crm.transaction"),
            Just("crm.behavior"),
            Just("purchase"),
            Just("x")
        ],
        prop_oneof![9 => Just("2024-11-15T14:32:00+02:00".to_owned()), 1 => ".{0,30}"],
        attributes,
        (Just(json!("R-1")), scalar()),
    )
        .prop_map(
            |(contact_id, event_type, ts, attributes, (record_id, amount))| {
                let mut attributes: serde_json::Map<String, Value> =
                    attributes.into_iter().collect();
                // Usually seed the two required attributes, so acceptance is common, not a fluke.
                attributes.entry("crm_record_id").or_insert(record_id);
                if event_type != "crm.behavior" {
                    attributes.entry("transaction_value").or_insert(amount);
                }
                json!({"contact_id": contact_id, "event_type": event_type, "event_timestamp": ts,
                   "attributes": Value::Object(attributes)})
            },
        )
}

proptest! {
    #[test]
    fn normalize_never_panics_on_any_json(raw in any_json()) {
        // Nothing that leaves normalize toward the database holds a NUL (`.` generates some).
        match run(&raw) {
            Err(rejection) => {
                prop_assert_ne!(rejection.reason, QuarantineReason::Malformed);
                prop_assert!(!text::has_nul(&rejection.detail));
                prop_assert_eq!(rejection.reason == QuarantineReason::InvalidCharacters, text::holds_nul(&raw));
            }
            Ok(n) => prop_assert!(!text::holds_nul(&n.pe_body())),
        }
    }

    #[test]
    fn an_event_parsed_from_its_text_is_judged_as_its_value(raw in any_json()) {
        // serde_json writes a NUL as `\u0000`, which is what lets the text stand in for a walk.
        let json = raw.to_string();
        prop_assert_eq!(run_parsed(&raw, &json), run(&raw));
        let pretty = serde_json::to_string_pretty(&raw).unwrap();
        prop_assert_eq!(run_parsed(&raw, &pretty), run(&raw));
    }

    #[test]
    fn accepted_events_are_canonical(raw in near_events()) {
        let m: Mapping = serde_json::from_value(json!({"event_types": {"purchase": "crm.transaction"}})).unwrap();
        let manifest = Manifest::default_v1();
        match run_with(&raw, &m, &manifest) {
            Err(rejection) => prop_assert_ne!(rejection.reason, QuarantineReason::Malformed),
            Ok(n) => {
                let declared = &manifest.event_types[&n.event_type].attributes;
                prop_assert!(!n.crm_record_id.trim().is_empty());
                prop_assert_eq!(n.attributes.get("crm_record_id"), Some(&json!(n.crm_record_id)));
                for (name, value) in n.attributes.iter() {
                    prop_assert!(declared.contains_key(name), "undeclared {}", name);
                    prop_assert!(!value.is_object() && !value.is_array() && !value.is_null());
                }
                // Normalizing is a fixed point: the PE body goes through again unchanged.
                let again = run_with(&n.pe_body(), &Mapping::default(), &manifest).unwrap();
                prop_assert_eq!(again, n);
            }
        }
    }
}
