//! Pipeline tests: `normalize` end to end, each reason code through the real entry point, and the
//! order in which stages win. Property tests live in `props.rs`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::normalize::time::{format_utc, parse_timestamp};
use crate::normalize::{
    Manifest, Mapping, QuarantineReason, Rejection, Route, TimeRules, normalize,
};

fn now() -> DateTime<Utc> {
    parse_timestamp("2024-11-16T00:00:00Z").unwrap()
}

/// The event of SPEC §2, with its attributes replaced.
fn event(attributes: Value) -> Value {
    json!({"contact_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "event_type": "crm.transaction",
           "event_timestamp": "2024-11-15T14:32:00Z", "attributes": attributes})
}

fn spec_event() -> Value {
    event(
        json!({"transaction_value": 2450.00, "product_category": "enterprise_license",
                 "payment_status": "captured", "crm_record_id": "OPP-88421", "channel_origin": "web_portal"}),
    )
}

pub(super) fn run_with(
    raw: &Value,
    mapping: &Mapping,
    manifest: &Manifest,
) -> Result<crate::normalize::Normalized, Rejection> {
    normalize(raw, mapping, manifest, &TimeRules::default(), now())
}

/// [`run`] of an event parsed from `json`, as ingestion normalizes an NDJSON line.
pub(super) fn run_parsed(
    raw: &Value,
    json: &str,
) -> Result<crate::normalize::Normalized, Rejection> {
    let (mapping, manifest) = (Mapping::default(), Manifest::default_v1());
    crate::normalize::normalize_parsed(raw, json, &mapping, &manifest, &TimeRules::default(), now())
}

pub(super) fn run(raw: &Value) -> Result<crate::normalize::Normalized, Rejection> {
    run_with(raw, &Mapping::default(), &Manifest::default_v1())
}

fn reason_of(raw: &Value) -> QuarantineReason {
    run(raw).unwrap_err().reason
}

fn with(mut raw: Value, key: &str, value: Value) -> Value {
    raw[key] = value;
    raw
}

#[test]
fn the_spec_event_is_accepted_as_sent() {
    let n = run(&spec_event()).unwrap();
    assert_eq!(n.route, Route::Realtime);
    assert_eq!(n.crm_record_id, "OPP-88421");
    assert!(n.stripped.is_empty());
    assert_eq!(
        n.request_id().to_string(),
        "757c7754-c29d-8289-9a4d-5844a7627e43"
    );
    assert_eq!(
        n.pe_body(),
        json!({"contact_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "event_type": "crm.transaction",
               "event_timestamp": "2024-11-15T14:32:00Z",
               "attributes": {"transaction_value": 2450.0, "product_category": "enterprise_license",
                              "payment_status": "captured", "crm_record_id": "OPP-88421",
                              "channel_origin": "web_portal"}})
    );
}

#[test]
fn every_reason_code_is_reachable_through_normalize() {
    let base = spec_event();
    let cases = [
        // A NUL anywhere wins over every later failure (here a missing `attributes` too).
        (
            json!({"contact_id": "c\u{0}", "event_type": "x"}),
            QuarantineReason::InvalidCharacters,
        ),
        (
            event(json!({"crm_record_id": "R", "transaction_value": 1, "x": ["\u{0}"]})),
            QuarantineReason::InvalidCharacters,
        ),
        (json!([base.clone()]), QuarantineReason::InvalidEnvelope),
        (
            with(base.clone(), "contact_id", json!("")),
            QuarantineReason::InvalidEnvelope,
        ),
        (
            with(base.clone(), "event_type", json!("crm.refund")),
            QuarantineReason::UnknownEventType,
        ),
        (
            event(json!({"crm_record_id": "R", "transaction_value": 1, "items": []})),
            QuarantineReason::NestedAttribute,
        ),
        (
            event(json!({"crm_record_id": "R"})),
            QuarantineReason::MissingRequired,
        ),
        (
            event(json!({"crm_record_id": "R", "transaction_value": "lots"})),
            QuarantineReason::TypeMismatch,
        ),
        (
            event(json!({"crm_record_id": "R", "transaction_value": 1, "tx_amount": 1})),
            QuarantineReason::UnknownAttribute,
        ),
        (
            with(
                base.clone(),
                "event_timestamp",
                json!("2024-11-15T14:32:00"),
            ),
            QuarantineReason::InvalidTimestamp,
        ),
    ];
    for (raw, expected) in cases {
        assert_eq!(reason_of(&raw), expected, "{raw}");
    }
    // `malformed` belongs to the NDJSON reader: a parsed value can never be malformed.
}

#[test]
fn details_name_what_is_wrong() {
    let err = run(&with(spec_event(), "event_type", json!("crm.refund"))).unwrap_err();
    assert_eq!(
        err.detail,
        "event type \"crm.refund\" is not defined by the manifest"
    );
    let err = run(&event(
        json!({"crm_record_id": "R", "transaction_value": 1, "items": [1, 2]}),
    ))
    .unwrap_err();
    assert_eq!(err.detail, "attributes.items is an array");
    let err = run(&event(
        json!({"crm_record_id": "R\u{0}", "transaction_value": 1}),
    ))
    .unwrap_err();
    assert_eq!(
        err.detail,
        "attributes.crm_record_id contains a NUL character (U+0000), which cannot be stored"
    );
    let err = run(&with(spec_event(), "event_timestamp", json!("yesterday"))).unwrap_err();
    assert_eq!(
        err.detail,
        "event_timestamp \"yesterday\" is not an RFC 3339 date-time with an offset"
    );
}

#[test]
fn earlier_stages_win() {
    // envelope > everything: a bad contact_id hides an unknown event type and a bad timestamp.
    let raw = json!({"contact_id": 7, "event_type": "nope", "event_timestamp": "x", "attributes": {"a": []}});
    assert_eq!(reason_of(&raw), QuarantineReason::InvalidEnvelope);
    // mapping > shape > manifest > time.
    let nested_bad_time = with(
        event(json!({"a": [], "b": {}})),
        "event_timestamp",
        json!("x"),
    );
    assert_eq!(
        reason_of(&with(nested_bad_time.clone(), "event_type", json!("nope"))),
        QuarantineReason::UnknownEventType
    );
    assert_eq!(
        reason_of(&nested_bad_time),
        QuarantineReason::NestedAttribute
    );
    let unknown_bad_time = with(
        event(json!({"crm_record_id": "R", "transaction_value": 1, "x": 1})),
        "event_timestamp",
        json!("x"),
    );
    assert_eq!(
        reason_of(&unknown_bad_time),
        QuarantineReason::UnknownAttribute
    );
    // Inside the mapping stage, the event type is judged before the field renames collide.
    let m: Mapping =
        serde_json::from_value(json!({"fields": {"amt": "transaction_value"}})).unwrap();
    let colliding = event(json!({"crm_record_id": "R", "amt": 1, "transaction_value": 2}));
    let err = run_with(&colliding, &m, &Manifest::default_v1()).unwrap_err();
    assert_eq!(err.reason, QuarantineReason::InvalidEnvelope);
    let err = run_with(
        &with(colliding, "event_type", json!("nope")),
        &m,
        &Manifest::default_v1(),
    )
    .unwrap_err();
    assert_eq!(err.reason, QuarantineReason::UnknownEventType);
}

#[test]
fn mapping_renames_fields_and_event_types() {
    let m: Mapping = serde_json::from_value(json!({
        "fields": {"tx_amount": "transaction_value", "opp_id": "crm_record_id"},
        "event_types": {"purchase": "crm.transaction"}}))
    .unwrap();
    let raw = with(
        event(json!({"tx_amount": "99.50", "opp_id": 88421})),
        "event_type",
        json!("purchase"),
    );
    let n = run_with(&raw, &m, &Manifest::default_v1()).unwrap();
    assert_eq!(n.event_type, "crm.transaction");
    assert_eq!(
        Value::from(n.attributes),
        json!({"transaction_value": 99.5, "crm_record_id": "88421"})
    );
    // The dedup key is taken after mapping: the same event sent with canonical names is a duplicate.
    let canonical = event(json!({"transaction_value": 99.5, "crm_record_id": "88421"}));
    assert_eq!(
        run(&canonical).unwrap().dedup_key(),
        run_with(&raw, &m, &Manifest::default_v1())
            .unwrap()
            .dedup_key()
    );

    let m: Mapping =
        serde_json::from_value(json!({"event_types": {"refund": "crm.refund"}})).unwrap();
    let err = run_with(
        &with(spec_event(), "event_type", json!("refund")),
        &m,
        &Manifest::default_v1(),
    )
    .unwrap_err();
    assert_eq!(
        err.detail,
        "event type \"refund\" (mapped to \"crm.refund\") is not defined by the manifest"
    );
}

#[test]
fn deprecated_attributes_are_stripped_and_reported() {
    let manifest: Manifest =
        serde_json::from_value(json!({"event_types": {"crm.transaction": {"attributes": {
        "crm_record_id": {"type": "string", "presence": "required"},
        "transaction_value": {"type": "number", "presence": "required"},
        "legacy_score": {"type": "number", "presence": "deprecated"}}}}}))
        .unwrap();
    let raw = event(json!({"crm_record_id": "R", "transaction_value": 1, "legacy_score": 0.3}));
    let n = run_with(&raw, &Mapping::default(), &manifest).unwrap();
    assert_eq!(n.stripped, ["legacy_score"]);
    assert_eq!(
        Value::from(n.attributes),
        json!({"crm_record_id": "R", "transaction_value": 1})
    );
}

#[test]
fn optional_nulls_are_omitted_and_required_nulls_refused() {
    let n = run(&event(
        json!({"crm_record_id": "R", "transaction_value": 1, "channel_origin": null}),
    ))
    .unwrap();
    assert_eq!(
        Value::from(n.attributes),
        json!({"crm_record_id": "R", "transaction_value": 1})
    );
    let err = run(&event(
        json!({"crm_record_id": "R", "transaction_value": null}),
    ))
    .unwrap_err();
    assert_eq!(err.reason, QuarantineReason::MissingRequired);
    let err = run(&event(
        json!({"crm_record_id": null, "transaction_value": 1}),
    ))
    .unwrap_err();
    assert_eq!(err.reason, QuarantineReason::MissingRequired);
}

#[test]
fn behavior_integers_follow_the_integer_rule() {
    let raw = with(
        event(
            json!({"crm_record_id": "S1", "session_duration_seconds": "42", "pages_viewed": 42.0}),
        ),
        "event_type",
        json!("crm.behavior"),
    );
    let n = run(&raw).unwrap();
    assert_eq!(
        Value::from(n.attributes),
        json!({"crm_record_id": "S1", "session_duration_seconds": 42, "pages_viewed": 42})
    );
    for bad in [json!("42.5"), json!(42.5)] {
        let raw = with(
            event(json!({"crm_record_id": "S1", "pages_viewed": bad})),
            "event_type",
            json!("crm.behavior"),
        );
        assert_eq!(reason_of(&raw), QuarantineReason::TypeMismatch);
    }
}

fn route_at(ts: DateTime<Utc>) -> Route {
    let raw = with(spec_event(), "event_timestamp", json!(format_utc(ts)));
    run(&raw).unwrap().route
}

#[test]
fn routing_boundaries_through_normalize() {
    let week_ago = now() - Duration::days(7);
    assert_eq!(route_at(week_ago + Duration::seconds(1)), Route::Realtime);
    assert_eq!(route_at(week_ago), Route::Realtime);
    assert_eq!(route_at(week_ago - Duration::seconds(1)), Route::Backfill);
    let soon = now() + Duration::minutes(5);
    assert_eq!(route_at(soon - Duration::seconds(1)), Route::Realtime);
    assert_eq!(route_at(soon), Route::Realtime);
    assert_eq!(route_at(soon + Duration::seconds(1)), Route::Reconciliation);
}

#[test]
fn timestamps_are_normalized_to_utc() {
    let n = run(&with(
        spec_event(),
        "event_timestamp",
        json!("2024-11-15T09:32:00-05:00"),
    ))
    .unwrap();
    assert_eq!(
        n.event_timestamp,
        parse_timestamp("2024-11-15T14:32:00Z").unwrap()
    );
    assert_eq!(n.pe_body()["event_timestamp"], "2024-11-15T14:32:00Z");
}

/// An NDJSON line is walked for a NUL only when its text writes one: a line whose JSON escapes a
/// NUL (`\u0000`, the only way JSON writes one) is still `invalid_characters`, naming where.
#[test]
fn a_line_escaping_a_nul_is_invalid_characters_when_normalized_from_its_text() {
    let line = r#"{"contact_id": "c-1", "event_type": "crm.transaction",
        "event_timestamp": "2024-11-15T14:32:00Z",
        "attributes": {"crm_record_id": "R\u0000", "transaction_value": 1}}"#;
    let raw: Value = serde_json::from_str(line).unwrap();
    let err = run_parsed(&raw, line).unwrap_err();
    assert_eq!(err.reason, QuarantineReason::InvalidCharacters);
    assert!(err.detail.contains("crm_record_id"), "{}", err.detail);
    assert_eq!(
        run(&raw).unwrap_err(),
        err,
        "the same verdict as a walk of the value"
    );
}
