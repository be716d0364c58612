//! The mapping/manifest dry run's pure parts: planning a stored payload on each side with the
//! ingestion code, and the side-by-side tally.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::compare::{EXAMPLES, Fate, Item, Origin, Tally, attribute_of};
use super::*;

fn now() -> DateTime<Utc> {
    "2026-12-06T12:00:00Z".parse().unwrap()
}

fn mapping(v: Value) -> Mapping {
    serde_json::from_value(v).unwrap()
}

/// A transaction as a CRM that calls the amount `tx_amount` sends it.
fn sent(record: &str, at: DateTime<Utc>) -> Value {
    json!({"contact_id": "c1", "event_type": "crm.transaction", "event_timestamp": at.to_rfc3339(),
           "attributes": {"tx_amount": 12.5, "crm_record_id": record}})
}

fn fates(raw: &Value, active: &Mapping, candidate: &Mapping) -> (Fate, (Fate, Option<String>)) {
    let mut mappings = HashMap::new();
    mappings.insert("crm".to_owned(), active.clone());
    let regs = Registries {
        candidate: Candidate::Mapping {
            source: "crm".into(),
            mapping: candidate.clone(),
        },
        manifest: Manifest::default_v1(),
        thresholds: Thresholds::default(),
        mappings,
    };
    regs.fates("crm", |reg| {
        plan_stored(raw.clone(), intake_of(raw), None, reg, now())
    })
    .expect("the source exists")
}

#[test]
fn a_dropped_field_mapping_newly_fails_the_attribute_it_fed() {
    let active = mapping(json!({"fields": {"tx_amount": "transaction_value"}}));
    let (a, (c, detail)) = fates(&sent("r1", now()), &active, &Mapping::default());
    assert_eq!(a, Fate::Accepted { lane: "realtime" });
    assert_eq!(
        c,
        Fate::Quarantined {
            reason: QuarantineReason::MissingRequired
        }
    );
    assert_eq!(
        attribute_of(detail.as_deref().unwrap()),
        Some("transaction_value")
    );
    // An old event goes to the backfill lane on both sides: the time rules ran as of receipt.
    let old = sent("r2", now() - TimeDelta::days(8));
    let (a, _) = fates(&old, &active, &active);
    assert_eq!(a, Fate::Accepted { lane: "backfill" });
}

#[test]
fn a_change_is_planned_as_the_cdc_endpoint_plans_it() {
    let change = json!({"op": "c", "after": {"id": 1, "contact": "c1"},
        "source": {"connector": "postgresql", "schema": "crm", "table": "orders", "lsn": 7}});
    assert_eq!(intake_of(&change), Intake::Cdc);
    assert_eq!(intake_of(&sent("r", now())), Intake::Events);
    // No table in either mapping: unmapped on both sides, so nothing new fails.
    let (a, (c, _)) = fates(&change, &Mapping::default(), &Mapping::default());
    assert_eq!(
        (a, c),
        (
            Fate::Quarantined {
                reason: QuarantineReason::UnmappedTable
            },
            Fate::Quarantined {
                reason: QuarantineReason::UnmappedTable
            }
        )
    );
}

#[test]
fn attributes_are_read_from_the_rejection_detail() {
    for (detail, want) in [
        ("attributes.items is an array", Some("items")),
        (
            "attributes.amount (sent as tx) must be a number, not a string",
            Some("amount"),
        ),
        (
            "attributes.transaction_value is required for crm.transaction but missing",
            Some("transaction_value"),
        ),
        ("event type \"x\" is not defined by the manifest", None),
        ("attributes. is odd", None),
    ] {
        assert_eq!(attribute_of(detail), want, "{detail}");
    }
}

fn item(raw: &Value, origin: Origin) -> Item<'_> {
    Item {
        origin,
        id: Uuid::nil(),
        source: "crm",
        received_at: now(),
        raw,
    }
}

#[test]
fn the_tally_counts_side_by_side_and_groups_new_failures() {
    let raw = json!({});
    let ok = Fate::Accepted { lane: "realtime" };
    let unknown = Fate::Quarantined {
        reason: QuarantineReason::UnknownAttribute,
    };
    let mut t = Tally::default();
    for _ in 0..(EXAMPLES + 5) {
        t.add(
            &item(&raw, Origin::Event),
            ok,
            (
                unknown,
                Some("attributes.fax is not declared for crm.transaction"),
            ),
        );
    }
    t.add(&item(&raw, Origin::Event), ok, (ok, None));
    // The quarantine: one fixed, one failing as before.
    t.add(&item(&raw, Origin::Quarantine), unknown, (ok, None));
    t.add(
        &item(&raw, Origin::Quarantine),
        unknown,
        (
            unknown,
            Some("attributes.fax is not declared for crm.transaction"),
        ),
    );
    let e = &t.events;
    assert_eq!(
        (e.items, e.changed, e.newly_failing, e.newly_passing),
        (26, 25, 25, 0)
    );
    assert_eq!(e.active.accepted["realtime"], 26);
    assert_eq!(e.candidate.accepted["realtime"], 1);
    assert_eq!(e.candidate.quarantined["unknown_attribute"], 25);
    let q = &t.quarantine;
    assert_eq!(
        (q.items, q.changed, q.newly_failing, q.newly_passing),
        (2, 1, 0, 1)
    );
    assert_eq!(t.failing_attributes(), ["fax"]);
    let f = t.new_failures();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].reason, f[0].attribute.as_deref(), f[0].count),
        (QuarantineReason::UnknownAttribute, Some("fax"), 25)
    );
    assert_eq!(f[0].examples.len(), EXAMPLES);
    assert_eq!(f[0].examples[0].active, ok);
}
