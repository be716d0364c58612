//! Stage 4 of SPEC §3: the (renamed, flat) attributes checked against the manifest's declaration
//! for the event type.
//!
//! Inside the manifest stage the checks run as three passes, in the order SPEC §11.1 lists them:
//! every required attribute (`missing_required`), then every present value (`type_mismatch`), then
//! every undeclared name (`unknown_attribute`). Each pass walks names in sorted order, so the same
//! event always gets the same verdict. A missing-required detail also names the undeclared
//! attributes present, because "required X missing, unknown Y present" is what a renamed CRM field
//! looks like, and that is the first thing an operator should see.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::normalize::checked::Attributes;
use crate::normalize::coerce::{coerce, describe};
use crate::normalize::manifest::{AttrType, AttributeSpec, CRM_RECORD_ID, EventTypeSpec, Presence};
use crate::normalize::mapping::Renamed;
use crate::normalize::reason::{QuarantineReason, Rejection};

/// The attributes as PE will receive them.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Canonical names, coerced values; optional nulls and deprecated attributes removed.
    pub attributes: Attributes,
    /// The deprecated attributes the event carried (canonical names, sorted), for metrics.
    pub stripped: Vec<String>,
    pub crm_record_id: String,
}

/// Stage 4. `event_type` is the canonical name, used in details only.
pub fn check_manifest(
    event_type: &str,
    spec: &EventTypeSpec,
    attributes: &BTreeMap<&str, Renamed<'_>>,
) -> Result<Checked, Rejection> {
    let joined = joined(Declared(spec), attributes);
    check_required(event_type, &joined)?;
    let (out, stripped) = coerce_declared(&joined)?;
    if let Some((name, renamed)) = undeclared(&joined).next() {
        return Err(Rejection::new(
            QuarantineReason::UnknownAttribute,
            format!(
                "attributes.{name}{} is not declared for {event_type}",
                sent_as(name, renamed)
            ),
        ));
    }

    // The required-string declaration forced by `declared` means the passes above leave a string
    // here; the fallback only keeps this function free of panics should that ever change.
    let Some(Value::String(crm_record_id)) = out.get(CRM_RECORD_ID).cloned() else {
        return Err(Rejection::new(
            QuarantineReason::MissingRequired,
            format!("attributes.{CRM_RECORD_ID} is required for {event_type} but missing"),
        ));
    };
    Ok(Checked {
        attributes: out,
        stripped,
        crm_record_id,
    })
}

/// One name of the declarations or of the attributes sent (or both), in name order.
struct Joined<'n, 'a> {
    name: &'n str,
    declared: Option<AttributeSpec>,
    sent: Option<&'n Renamed<'a>>,
}

/// The declarations and the attributes sent side by side, in name order: one pass over the two
/// sorted lists. Looking each name up in the other list instead cost this stage a third more
/// instructions (callgrind of `bench ingest`, issue 12 §3).
fn joined<'n, 'a>(
    declared: Declared<'n>,
    attributes: &'n BTreeMap<&'n str, Renamed<'a>>,
) -> Vec<Joined<'n, 'a>> {
    let mut declarations = declared.iter().peekable();
    let mut sends = attributes.iter().peekable();
    let mut joined = Vec::with_capacity(attributes.len() + 8);
    loop {
        let (name, declared, sent) = match (declarations.peek().copied(), sends.peek().copied()) {
            (None, None) => break,
            (Some((d, spec)), Some((&s, renamed))) if d == s => {
                declarations.next();
                sends.next();
                (d, Some(spec), Some(renamed))
            }
            (Some((d, spec)), Some((&s, _))) if d < s => {
                declarations.next();
                (d, Some(spec), None)
            }
            (Some((d, spec)), None) => {
                declarations.next();
                (d, Some(spec), None)
            }
            (_, Some((&s, renamed))) => {
                sends.next();
                (s, None, Some(renamed))
            }
        };
        joined.push(Joined {
            name,
            declared,
            sent,
        });
    }
    joined
}

/// The names sent that nothing declares, in name order, with what was sent.
fn undeclared<'j, 'n: 'j, 'a: 'j>(
    joined: &'j [Joined<'n, 'a>],
) -> impl Iterator<Item = (&'n str, &'n Renamed<'a>)> + 'j {
    joined
        .iter()
        .filter(|j| j.declared.is_none())
        .filter_map(|j| Some((j.name, j.sent?)))
}

/// The first pass: every required attribute is present, not null (and the record id not blank).
fn check_required(event_type: &str, joined: &[Joined<'_, '_>]) -> Result<(), Rejection> {
    for j in joined {
        let (name, sent) = (j.name, j.sent);
        if j.declared.is_none_or(|d| d.presence != Presence::Required) {
            continue;
        }
        let problem = match sent.map(|r| r.value) {
            None => Some("missing"),
            Some(Value::Null) => Some("null"),
            // A blank record id would give every such event of a contact the same dedup key, so
            // all but the first would be dropped as duplicates: treat it as missing.
            Some(Value::String(text)) if name == CRM_RECORD_ID && text.trim().is_empty() => {
                Some("empty")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let sent_as = sent.map(|r| sent_as(name, r)).unwrap_or_default();
            let mut detail =
                format!("attributes.{name}{sent_as} is required for {event_type} but {problem}");
            let undeclared: Vec<&str> = undeclared(joined).map(|(name, _)| name).collect();
            if !undeclared.is_empty() {
                detail.push_str(&format!(
                    " (undeclared attributes present: {})",
                    undeclared.join(", ")
                ));
            }
            return Err(Rejection::new(QuarantineReason::MissingRequired, detail));
        }
    }
    Ok(())
}

/// The second pass: every declared value coerced to its type; deprecated ones are stripped (and
/// returned, sorted, for metrics) and optional nulls omitted. Undeclared names are skipped here.
fn coerce_declared(joined: &[Joined<'_, '_>]) -> Result<(Attributes, Vec<String>), Rejection> {
    // In name order, as `joined` is.
    let mut out = Vec::with_capacity(joined.len());
    let mut stripped = Vec::new();
    for j in joined {
        let (name, Some(attr), Some(renamed)) = (j.name, j.declared, j.sent) else {
            continue;
        };
        match (attr.presence, renamed.value) {
            (Presence::Deprecated, _) => stripped.push(name.to_owned()),
            (_, Value::Null) => {} // optional and null: omitted (required nulls were caught above)
            (_, value) => {
                let coerced = coerce(attr.kind, value).ok_or_else(|| {
                    Rejection::new(
                        QuarantineReason::TypeMismatch,
                        format!(
                            "attributes.{}{} must be {}, not {}",
                            name,
                            sent_as(name, renamed),
                            article(attr.kind),
                            describe(value)
                        ),
                    )
                })?;
                out.push((name.to_owned(), coerced));
            }
        }
    }
    Ok((Attributes::from_sorted(out), stripped))
}

/// The event type's declarations, with `crm_record_id` forced to a required string. A validated
/// manifest already says so; forcing it here means an unvalidated one can never produce an event
/// without a dedup key. A view over the manifest's own map: ingestion checks every event of a
/// batch against the same declarations, and building a map of them per event was a few per cent
/// of the service's CPU (issue 12).
#[derive(Clone, Copy)]
struct Declared<'a>(&'a EventTypeSpec);

/// What `crm_record_id` is declared as, whatever the manifest says.
const RECORD_ID: AttributeSpec = AttributeSpec::new(AttrType::String, Presence::Required);

impl<'a> Declared<'a> {
    /// Every declaration in name order, `crm_record_id` at its place.
    fn iter(self) -> impl Iterator<Item = (&'a str, AttributeSpec)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let attributes = &self.0.attributes;
        let entry = |(name, attr): (&'a String, &AttributeSpec)| (name.as_str(), *attr);
        let before = attributes.range::<str, _>((Unbounded, Excluded(CRM_RECORD_ID)));
        let after = attributes.range::<str, _>((Excluded(CRM_RECORD_ID), Unbounded));
        before
            .map(entry)
            .chain(std::iter::once((CRM_RECORD_ID, RECORD_ID)))
            .chain(after.map(entry))
    }
}

fn sent_as(canonical: &str, renamed: &Renamed<'_>) -> String {
    if renamed.source_key == canonical {
        String::new()
    } else {
        format!(" (sent as {})", renamed.source_key)
    }
}

fn article(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "a string",
        AttrType::Number => "a number",
        AttrType::Integer => "an integer",
        AttrType::Boolean => "a boolean",
        AttrType::Timestamp => "an RFC 3339 timestamp with an offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::manifest::Manifest;
    use crate::normalize::mapping::Mapping;
    use serde_json::json;

    /// A manifest with one event type `t` covering every type and presence.
    fn spec() -> EventTypeSpec {
        let manifest: Manifest =
            serde_json::from_value(json!({"event_types": {"t": {"attributes": {
            "crm_record_id": {"type": "string", "presence": "required"},
            "amount": {"type": "number", "presence": "required"},
            "count": {"type": "integer", "presence": "optional"},
            "flag": {"type": "boolean", "presence": "optional"},
            "seen_at": {"type": "timestamp", "presence": "optional"},
            "legacy": {"type": "number", "presence": "deprecated"}}}}}))
            .unwrap();
        manifest.event_types["t"].clone()
    }

    fn check_with(
        mapping: &Mapping,
        spec: &EventTypeSpec,
        attrs: Value,
    ) -> Result<Checked, Rejection> {
        let renamed = mapping
            .rename_attributes(attrs.as_object().unwrap())
            .unwrap();
        check_manifest("t", spec, &renamed)
    }

    fn check(attrs: Value) -> Result<Checked, Rejection> {
        check_with(&Mapping::default(), &spec(), attrs)
    }

    proptest::proptest! {
        /// The merged view is what looking each name up would give: every declared or sent name
        /// once, in order, with its declaration (`crm_record_id` forced) and what was sent.
        #[test]
        fn the_joined_view_is_each_name_looked_up_on_both_sides(
            names in proptest::collection::btree_set(
                proptest::sample::select(vec!["amount", "a", "crm_record_id", "count", "flag",
                    "legacy", "seen_at", "zz", "crm", "crm_record_idx", ""]), 0..8),
            with_record_id in proptest::bool::ANY,
        ) {
            let mut spec = spec();
            if !with_record_id {
                spec.attributes.remove(CRM_RECORD_ID);
            }
            let sent: serde_json::Map<String, Value> =
                names.iter().map(|n| (n.to_string(), json!(1))).collect();
            let mapping = Mapping::default();
            let attributes = mapping.rename_attributes(&sent).unwrap();
            let joined = joined(Declared(&spec), &attributes);
            let mut expected: Vec<&str> = spec.attributes.keys().map(String::as_str)
                .chain([CRM_RECORD_ID]).chain(names.iter().copied()).collect();
            expected.sort_unstable();
            expected.dedup();
            let got: Vec<&str> = joined.iter().map(|j| j.name).collect();
            proptest::prop_assert_eq!(&got, &expected);
            for j in &joined {
                let declared = match j.name {
                    CRM_RECORD_ID => Some(RECORD_ID),
                    name => spec.attributes.get(name).copied(),
                };
                proptest::prop_assert_eq!(j.declared, declared, "{}", j.name);
                proptest::prop_assert_eq!(j.sent.map(|r| r.source_key), attributes.get(j.name).map(|r| r.source_key));
            }
        }
    }

    fn rejected(attrs: Value) -> (QuarantineReason, String) {
        let err = check(attrs).unwrap_err();
        (err.reason, err.detail)
    }

    #[test]
    fn values_are_coerced_and_deprecated_or_null_optional_ones_dropped() {
        let checked = check(
            json!({"crm_record_id": 88421, "amount": "2450.00", "count": "3",
            "flag": "true", "seen_at": "2024-11-15T15:32:00+01:00", "legacy": "not even a number"}),
        )
        .unwrap();
        assert_eq!(
            Value::from(checked.attributes),
            json!({"crm_record_id": "88421", "amount": 2450.0, "count": 3, "flag": true,
                   "seen_at": "2024-11-15T14:32:00Z"})
        );
        assert_eq!(checked.stripped, ["legacy"]);
        assert_eq!(checked.crm_record_id, "88421");

        let checked =
            check(json!({"crm_record_id": "R", "amount": 1, "count": null, "legacy": null}))
                .unwrap();
        assert_eq!(
            Value::from(checked.attributes),
            json!({"crm_record_id": "R", "amount": 1})
        );
        assert_eq!(checked.stripped, ["legacy"]);
    }

    #[test]
    fn missing_required_covers_absent_null_and_blank_record_ids() {
        assert_eq!(
            rejected(json!({"crm_record_id": "R"})),
            (
                QuarantineReason::MissingRequired,
                "attributes.amount is required for t but missing".into()
            )
        );
        assert_eq!(
            rejected(json!({"crm_record_id": "R", "amount": null})),
            (
                QuarantineReason::MissingRequired,
                "attributes.amount is required for t but null".into()
            )
        );
        let m: Mapping = serde_json::from_value(json!({"fields": {"amt": "amount"}})).unwrap();
        let err = check_with(&m, &spec(), json!({"crm_record_id": "R", "amt": null})).unwrap_err();
        assert_eq!(
            err.detail,
            "attributes.amount (sent as amt) is required for t but null"
        );
        assert_eq!(
            rejected(json!({"crm_record_id": " ", "amount": 1})),
            (
                QuarantineReason::MissingRequired,
                "attributes.crm_record_id is required for t but empty".into()
            )
        );
    }

    #[test]
    fn a_missing_required_detail_names_the_undeclared_attributes() {
        assert_eq!(
            rejected(json!({"crm_record_id": "R", "amt": 1, "zz": 2})),
            (
                QuarantineReason::MissingRequired,
                "attributes.amount is required for t but missing (undeclared attributes present: amt, zz)".into()
            )
        );
    }

    #[test]
    fn type_mismatch_names_the_expected_type_and_the_sent_key() {
        assert_eq!(
            rejected(json!({"crm_record_id": "R", "amount": 1, "count": "4.5"})),
            (
                QuarantineReason::TypeMismatch,
                "attributes.count must be an integer, not the string \"4.5\"".into()
            )
        );
        let m: Mapping = serde_json::from_value(json!({"fields": {"is_vip": "flag"}})).unwrap();
        let err = check_with(
            &m,
            &spec(),
            json!({"crm_record_id": "R", "amount": 1, "is_vip": "yes"}),
        )
        .unwrap_err();
        assert_eq!(
            err.detail,
            "attributes.flag (sent as is_vip) must be a boolean, not the string \"yes\""
        );
    }

    #[test]
    fn unknown_attributes_are_refused_even_when_null() {
        assert_eq!(
            rejected(json!({"crm_record_id": "R", "amount": 1, "new_field": null})),
            (
                QuarantineReason::UnknownAttribute,
                "attributes.new_field is not declared for t".into()
            )
        );
    }

    #[test]
    fn passes_run_in_spec_order_and_names_in_sorted_order() {
        // missing_required beats type_mismatch and unknown_attribute...
        let all_three = json!({"crm_record_id": "R", "count": "x", "zzz": 1});
        assert_eq!(rejected(all_three).0, QuarantineReason::MissingRequired);
        // ...type_mismatch beats unknown_attribute, even when the unknown name sorts first...
        let both = json!({"crm_record_id": "R", "amount": 1, "aaa": 1, "count": "x"});
        assert_eq!(rejected(both).0, QuarantineReason::TypeMismatch);
        // ...and among equals the first name in sorted order is reported.
        let (_, detail) = rejected(json!({"crm_record_id": "R", "amount": "x", "count": "y"}));
        assert!(detail.starts_with("attributes.amount "), "{detail}");
        let (_, detail) = rejected(json!({"crm_record_id": "R", "amount": 1, "b": 1, "a": 1}));
        assert_eq!(detail, "attributes.a is not declared for t");
    }

    #[test]
    fn crm_record_id_is_required_even_when_the_manifest_forgets_it() {
        let lax: Manifest = serde_json::from_value(json!({"event_types": {"t": {"attributes": {
            "crm_record_id": {"type": "integer", "presence": "optional"}}}}}))
        .unwrap();
        let lax = &lax.event_types["t"];
        let err = check_with(&Mapping::default(), lax, json!({})).unwrap_err();
        assert_eq!(err.reason, QuarantineReason::MissingRequired);
        let ok = check_with(&Mapping::default(), lax, json!({"crm_record_id": "OPP-1"})).unwrap();
        assert_eq!(ok.crm_record_id, "OPP-1");
        let empty = EventTypeSpec {
            attributes: BTreeMap::new(),
        };
        let ok = check_with(&Mapping::default(), &empty, json!({"crm_record_id": 7})).unwrap();
        assert_eq!(ok.crm_record_id, "7");
    }

    #[test]
    fn the_forced_record_id_is_checked_in_name_order_among_the_others() {
        for declared_as in [None, Some("optional"), Some("required")] {
            let mut attributes = json!({
                "aaa": {"type": "string", "presence": "required"},
                "zzz": {"type": "string", "presence": "required"}});
            if let Some(presence) = declared_as {
                attributes["crm_record_id"] = json!({"type": "integer", "presence": presence});
            }
            let manifest: Manifest =
                serde_json::from_value(json!({"event_types": {"t": {"attributes": attributes}}}))
                    .unwrap();
            let spec = &manifest.event_types["t"];
            let first_missing = |attrs: Value| {
                let err = check_with(&Mapping::default(), spec, attrs).unwrap_err();
                assert_eq!(err.reason, QuarantineReason::MissingRequired);
                err.detail.split(' ').next().unwrap().to_owned()
            };
            assert_eq!(
                first_missing(json!({})),
                "attributes.aaa",
                "{declared_as:?}"
            );
            assert_eq!(
                first_missing(json!({"aaa": "a"})),
                "attributes.crm_record_id",
                "{declared_as:?}"
            );
            assert_eq!(
                first_missing(json!({"aaa": "a", "crm_record_id": "R"})),
                "attributes.zzz",
                "{declared_as:?}"
            );
            let ok = json!({"aaa": "a", "zzz": "z", "crm_record_id": 5});
            let checked = check_with(&Mapping::default(), spec, ok).unwrap();
            assert_eq!(
                checked.crm_record_id, "5",
                "a string, whatever the manifest says"
            );
        }
    }
}
