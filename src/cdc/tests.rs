//! The translation of change events as Debezium really emits them (`tests/fixtures/cdc/`).

use serde_json::{Value, json};

use super::change::{self, Op, Parsed, Position};
use super::*;
use crate::normalize::QuarantineReason;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/cdc/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mapping(extra: Value) -> CdcMapping {
    let mut table = json!({"event_type": "crm.transaction", "contact_column": "contact_id",
        "primary_key": ["id"], "attributes": ["amount", "stage", "channel"]});
    table
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(json!({"tables": {"crm.opportunities": table}})).unwrap()
}

fn parsed(v: &Value) -> change::Change {
    match change::parse(v).unwrap() {
        Parsed::Change(c) => *c,
        Parsed::Tombstone => panic!("tombstone"),
    }
}

fn event(raw: &Value, m: &CdcMapping) -> Value {
    match translate(raw, m).unwrap() {
        Translated::Event(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_form_gives_the_table_op_and_position() {
    let cases = [
        ("pg_insert.json", Op::Create, Position::Lsn(24023928)),
        ("pg_update_bare.json", Op::Update, Position::Lsn(24024272)),
        ("pg_delete.json", Op::Delete, Position::Lsn(24024560)),
        ("pg_snapshot_read.json", Op::Read, Position::Lsn(24023104)),
        ("pg_cloudevents.json", Op::Create, Position::Lsn(24024888)),
        (
            "mysql_insert.json",
            Op::Create,
            Position::Binlog {
                file: "mysql-bin.000003".into(),
                pos: 154,
            },
        ),
    ];
    for (name, op, position) in cases {
        let c = parsed(&fixture(name));
        assert_eq!((c.op, &c.position), (op, &position), "{name}");
        assert_eq!(c.table, "crm.opportunities", "{name}");
    }
    let wrapped = parsed(&fixture("pg_insert.json"));
    assert_eq!(
        wrapped.columns.get("amount"),
        Some(&change::ColumnType::Decimal { scale: 2 })
    );
    assert_eq!(wrapped.source_ts_ms, Some(1733479200000));
    assert!(parsed(&fixture("pg_update_bare.json")).columns.is_empty());
}

#[test]
fn an_insert_becomes_the_envelope() {
    let e = event(&fixture("pg_insert.json"), &mapping(json!({})));
    assert_eq!(
        e,
        json!({"contact_id": "C-1001", "event_type": "crm.transaction",
               "event_timestamp": "2024-12-06T10:00:00.000Z",
               "attributes": {"amount": "2450.00", "stage": "won", "channel": "web",
                              "crm_record_id": "crm.opportunities:4711@24023928"}})
    );
}

#[test]
fn two_changes_of_one_row_are_two_records_and_a_redelivery_is_the_same_one() {
    let m = mapping(json!({"scales": {"amount": 2}}));
    let insert = event(&fixture("pg_insert.json"), &m);
    let update = event(&fixture("pg_update_bare.json"), &m);
    assert_eq!(
        update["attributes"],
        json!({"amount": "1999.99", "stage": "invoiced", "channel": "web",
               "crm_record_id": "crm.opportunities:4711@24024272"})
    );
    assert_ne!(
        insert["attributes"]["crm_record_id"],
        update["attributes"]["crm_record_id"]
    );
    assert_eq!(event(&fixture("pg_insert.json"), &m), insert);
}

#[test]
fn without_the_schema_a_decimal_needs_its_scale_in_the_mapping() {
    let e = event(&fixture("pg_update_bare.json"), &mapping(json!({})));
    assert_eq!(
        e["attributes"]["amount"], "Aw0/",
        "left as sent: normalization judges it"
    );
}

#[test]
fn variable_scale_decimals_decode_with_or_without_the_schema() {
    let m = mapping(json!({"attributes": ["probability"], "contact_column": "contact_id"}));
    assert_eq!(
        event(&fixture("pg_insert.json"), &m)["attributes"]["probability"],
        "0.75"
    );
    assert_eq!(
        event(&fixture("pg_snapshot_read.json"), &m)["attributes"]["probability"],
        "5.0"
    );
    assert_eq!(
        event(&fixture("pg_cloudevents.json"), &m)["attributes"]["probability"],
        "100"
    );
}

#[test]
fn deletes_are_ignored_unless_the_mapping_names_an_event_type() {
    let raw = fixture("pg_delete.json");
    assert_eq!(
        translate(&raw, &mapping(json!({}))).unwrap(),
        Translated::Skipped(Skip::DeleteIgnored)
    );
    let e = event(
        &raw,
        &mapping(json!({"on_delete": "crm.behavior", "attributes": []})),
    );
    assert_eq!(e["event_type"], "crm.behavior");
    assert_eq!(e["contact_id"], "C-1001", "read from before");
    assert_eq!(
        e["attributes"]["crm_record_id"],
        "crm.opportunities:4711@24024560"
    );
}

#[test]
fn tombstones_are_skipped_in_every_form() {
    for raw in [
        Value::Null,
        json!({"schema": null, "payload": null}),
        json!({"specversion": "1.0", "iodebeziumop": "d", "data": null}),
    ] {
        assert_eq!(
            translate(&raw, &CdcMapping::default()).unwrap(),
            Translated::Skipped(Skip::Tombstone),
            "{raw}"
        );
    }
}

#[test]
fn cloud_events_and_mysql_changes_translate_too() {
    let m = mapping(json!({"scales": {"amount": 2}}));
    let ce = event(&fixture("pg_cloudevents.json"), &m);
    assert_eq!(ce["attributes"]["amount"], "12.34");
    assert_eq!(
        ce["attributes"]["crm_record_id"],
        "crm.opportunities:4713@24024888"
    );
    assert_eq!(ce["event_timestamp"], "2024-12-06T10:10:00.000Z");
    let my = event(&fixture("mysql_insert.json"), &m);
    assert_eq!(my["contact_id"], "C-2001");
    assert_eq!(my["attributes"]["amount"], "2450.00");
    assert_eq!(
        my["attributes"]["crm_record_id"],
        "crm.opportunities:9001@mysql-bin.000003:154"
    );
}

#[test]
fn a_numeric_contact_a_record_column_and_a_timestamp_column() {
    let mut raw = fixture("pg_update_bare.json");
    raw["after"]["contact_id"] = json!(88421);
    let m = mapping(json!({"record_column": "id", "timestamp_column": "updated_at"}));
    let e = event(&raw, &m);
    assert_eq!(e["contact_id"], "88421");
    assert_eq!(e["attributes"]["crm_record_id"], "4711");
    assert_eq!(e["event_timestamp"], "2024-12-06T10:05:00.000000Z");
}

#[test]
fn unmapped_tables_and_unreadable_changes_are_rejected_with_their_reason() {
    let mut other = fixture("pg_insert.json");
    other["payload"]["source"]["table"] = json!("invoices");
    let r = translate(&other, &mapping(json!({}))).unwrap_err();
    assert_eq!(r.reason, QuarantineReason::UnmappedTable);
    assert!(r.detail.contains("crm.invoices"), "{}", r.detail);

    let m = mapping(json!({}));
    let mut cases = vec![];
    let mut no_position = fixture("pg_update_bare.json");
    no_position["source"].as_object_mut().unwrap().remove("lsn");
    cases.push((no_position, "log position"));
    let mut null_contact = fixture("pg_update_bare.json");
    null_contact["after"]["contact_id"] = Value::Null;
    cases.push((
        null_contact,
        "column contact_id of crm.opportunities is null",
    ));
    let mut bad_op = fixture("pg_update_bare.json");
    bad_op["op"] = json!("t");
    cases.push((bad_op, "op \"t\""));
    let mut bad_decimal = fixture("pg_insert.json");
    bad_decimal["payload"]["after"]["amount"] = json!("**");
    cases.push((bad_decimal, "column amount: the decimal is not base64"));
    cases.push((json!([1]), "JSON object"));
    for (raw, needle) in cases {
        let r = translate(&raw, &m).unwrap_err();
        assert_eq!(r.reason, QuarantineReason::InvalidChange, "{raw}");
        assert!(r.detail.contains(needle), "{} lacks {needle}", r.detail);
    }
}
