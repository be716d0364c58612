//! `POST /v1/sources/{source}/cdc` (issue 13) with change events as Debezium emits them
//! (`tests/fixtures/cdc/`), through real HTTP and a real database.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN: &str = "a-debezium-bearer-token-0123456789abcdef";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/cdc/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A fixture as if the change had been made at `at` (the recorded `ts_ms` is from 2024, which the
/// pipeline would route to backfill): only the time fields move.
fn made_at(name: &str, at: DateTime<Utc>) -> Value {
    let mut v = fixture(name);
    let ms = at.timestamp_millis();
    if let Some(source) = v.pointer_mut("/payload/source") {
        source["ts_ms"] = json!(ms);
    } else if v.get("specversion").is_some() {
        v["iodebeziumtsms"] = json!(ms.to_string());
    } else {
        v["source"]["ts_ms"] = json!(ms);
    }
    v
}

/// The field mapping and the CDC mapping of the README's `crm.opportunities`.
fn mapping(table: Value) -> Value {
    json!({"fields": {"amount": "transaction_value", "stage": "payment_status", "channel": "channel_origin"},
           "cdc": {"tables": {"crm.opportunities": table}}})
}

fn opportunities() -> Value {
    json!({"event_type": "crm.transaction", "contact_column": "contact_id", "primary_key": ["id"],
           "attributes": ["amount", "stage", "channel"], "scales": {"amount": 2}})
}

async fn app_with(table: Value) -> TestApp {
    let app = spawn_app().await;
    put_source(
        &app,
        json!({"bearer_token": TOKEN, "mapping": mapping(table)}),
    )
    .await;
    app
}

/// `PUT /v1/admin/sources/crm` with the test signing secret and `doc`'s other fields.
async fn put_source(app: &TestApp, mut doc: Value) {
    doc["signing_secret"] = json!(SECRET);
    let r = app.admin_put("/v1/admin/sources/crm", &doc).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn replay(app: &TestApp, id: &Value) -> Value {
    app.admin_post("/v1/admin/quarantine/replay", &json!({"ids": [id]}))
        .await
        .json()
        .await
        .unwrap()
}

/// Posts a body to `/cdc` with the source's bearer token.
async fn post(app: &TestApp, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/sources/crm/cdc"))
        .header("Content-Type", content_type)
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn results(app: &TestApp, content_type: &str, body: Vec<u8>) -> Vec<Value> {
    let r = post(app, content_type, body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    v["results"].as_array().unwrap().clone()
}

fn statuses(r: &[Value]) -> Vec<(&str, Option<&str>)> {
    r.iter()
        .map(|x| (x["status"].as_str().unwrap(), x["reason"].as_str()))
        .collect()
}

async fn stored(app: &TestApp) -> Vec<(String, String, Value, String, i32, String)> {
    let rows: Vec<(String, String, Value, DateTime<Utc>, i32, Value)> = sqlx::query_as(
        "SELECT contact_id, event_type, attributes, event_timestamp, mapping_version, raw
         FROM events ORDER BY seq",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(c, t, a, ts, v, raw)| {
            let op = raw
                .pointer("/payload/op")
                .or(raw.get("op"))
                .or(raw.get("iodebeziumop"))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            (c, t, a, ts.to_rfc3339(), v, op)
        })
        .collect()
}

#[tokio::test]
async fn insert_update_snapshot_read_and_delete_as_debezium_sends_them() {
    let app = app_with(opportunities()).await;
    let now = app.now();
    let at = now - chrono::Duration::minutes(2);
    let body = json!([
        made_at("pg_insert.json", at),
        made_at("pg_update_bare.json", at),
        made_at("pg_snapshot_read.json", at),
        made_at("pg_delete.json", at),
    ]);
    let r = results(&app, "application/json", serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(
        statuses(&r),
        [
            ("accepted", None),
            ("accepted", None),
            ("accepted", None),
            ("skipped", Some("delete_ignored")),
        ]
    );
    let ts = chrono::DateTime::from_timestamp_millis(at.timestamp_millis())
        .unwrap()
        .to_rfc3339();
    let events = stored(&app).await;
    assert_eq!(
        events,
        [
            (
                "C-1001".into(),
                "crm.transaction".into(),
                json!({"transaction_value": 2450.0, "payment_status": "won", "channel_origin": "web",
                       "crm_record_id": "crm.opportunities:4711@24023928"}),
                ts.clone(),
                1,
                "c".into()
            ),
            (
                "C-1001".into(),
                "crm.transaction".into(),
                json!({"transaction_value": 1999.99, "payment_status": "invoiced", "channel_origin": "web",
                       "crm_record_id": "crm.opportunities:4711@24024272"}),
                ts.clone(),
                1,
                "u".into()
            ),
            (
                "C-1002".into(),
                "crm.transaction".into(),
                json!({"transaction_value": 12990.5, "payment_status": "open", "channel_origin": "partner",
                       "crm_record_id": "crm.opportunities:4712@24023104"}),
                ts,
                1,
                "r".into()
            ),
        ]
    );
}

#[tokio::test]
async fn a_redelivered_change_is_a_duplicate_and_a_tombstone_is_skipped() {
    let app = app_with(opportunities()).await;
    let insert = made_at("pg_insert.json", app.now());
    let ndjson = format!("{}\nnull\n", serde_json::to_string(&insert).unwrap());
    let skipped_before = skipped_total(&app).await;
    let first = results(&app, "application/x-ndjson", ndjson.clone().into_bytes()).await;
    assert_eq!(
        statuses(&first),
        [("accepted", None), ("skipped", Some("tombstone"))]
    );
    // Debezium is at-least-once: after a restart it sends the same change again.
    let again = results(&app, "application/x-ndjson", ndjson.into_bytes()).await;
    assert_eq!(
        statuses(&again),
        [("duplicate", None), ("skipped", Some("tombstone"))]
    );
    assert_eq!(again[0]["request_id"], first[0]["request_id"]);
    assert_eq!(stored(&app).await.len(), 1);
    // Counted (the counter is process-wide and tests run in parallel: at least these two).
    assert!(skipped_total(&app).await >= skipped_before + 2);
}

async fn skipped_total(app: &TestApp) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .find_map(|l| l.strip_prefix("pesync_cdc_changes_skipped_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .expect("pesync_cdc_changes_skipped_total is exported")
}

#[tokio::test]
async fn cloud_events_and_mysql_binlog_changes() {
    let app = app_with(opportunities()).await;
    let ce = made_at("pg_cloudevents.json", app.now());
    let r = results(
        &app,
        "application/cloudevents+json",
        serde_json::to_vec(&ce).unwrap(),
    )
    .await;
    assert_eq!(statuses(&r), [("accepted", None)]);
    let my = made_at("mysql_insert.json", app.now());
    let r = results(&app, "application/json", serde_json::to_vec(&my).unwrap()).await;
    assert_eq!(statuses(&r), [("accepted", None)]);
    let events = stored(&app).await;
    assert_eq!(events[0].0, "C-1003");
    assert_eq!(
        events[0].2,
        json!({"transaction_value": 12.34, "payment_status": "won", "channel_origin": "store",
               "crm_record_id": "crm.opportunities:4713@24024888"})
    );
    assert_eq!(
        events[1].2["crm_record_id"],
        "crm.opportunities:9001@mysql-bin.000003:154"
    );
    assert_eq!(events[1].2["transaction_value"], 2450.0);
}

#[tokio::test]
async fn a_delete_becomes_the_event_type_the_mapping_names() {
    let app = app_with(
        json!({"event_type": "crm.behavior", "contact_column": "contact_id",
        "primary_key": ["id"], "attributes": ["channel"], "on_delete": "crm.behavior"}),
    )
    .await;
    let del = made_at("pg_delete.json", app.now());
    let r = results(&app, "application/json", serde_json::to_vec(&del).unwrap()).await;
    assert_eq!(statuses(&r), [("accepted", None)]);
    let events = stored(&app).await;
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("C-1001", "crm.behavior")
    );
    assert_eq!(
        events[0].2,
        json!({"channel_origin": "web", "crm_record_id": "crm.opportunities:4711@24024560"})
    );
}

#[tokio::test]
async fn an_unmapped_table_is_quarantined_as_received_and_replayed_after_the_fix() {
    let app = spawn_app().await;
    // The field mapping only: the table is not mapped yet.
    let fields = mapping(json!({}))["fields"].clone();
    app.create_source("crm", json!({"fields": fields})).await;
    let insert = made_at("pg_insert.json", app.now());
    let r = app
        .client
        .post(app.url("/v1/sources/crm/cdc"))
        .header("Content-Type", "application/json")
        .header(
            pesync::ingest::signature::HEADER,
            pesync::ingest::signature::header_value(
                SECRET.as_bytes(),
                app.now().timestamp(),
                &serde_json::to_vec(&insert).unwrap(),
            ),
        )
        .body(serde_json::to_vec(&insert).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a signed request is accepted too");
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["results"][0]["status"], "quarantined");
    assert_eq!(r["results"][0]["reason"], "unmapped_table");

    let q = app
        .admin_json("/v1/admin/quarantine?reason=unmapped_table")
        .await;
    assert_eq!(
        q["items"][0]["raw"], insert,
        "kept exactly as Debezium sent it"
    );
    let id = q["items"][0]["id"].clone();

    // Replaying before the fix keeps it where it is.
    let r = replay(&app, &id).await;
    assert_eq!(r["results"][0]["status"], "quarantined");
    assert_eq!(r["results"][0]["reason"], "unmapped_table");

    // The fix: a new mapping version with the table; the replay translates the change again.
    put_source(&app, json!({"mapping": mapping(opportunities())})).await;
    let r = replay(&app, &id).await;
    assert_eq!(r["results"][0]["status"], "accepted", "{r}");
    let events = stored(&app).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].4, 2,
        "normalized with the fixed mapping's version"
    );
    assert_eq!(events[0].2["transaction_value"], 2450.0);
    let q = app.admin_json("/v1/admin/quarantine").await;
    assert_eq!(q["items"], json!([]));
}

#[tokio::test]
async fn the_bearer_token_is_checked_on_cdc_and_events() {
    let app = app_with(opportunities()).await;
    let body = serde_json::to_vec(&made_at("pg_insert.json", app.now())).unwrap();
    let send = |path: &'static str, header: Option<(&'static str, String)>, body: Vec<u8>| {
        let mut rb = app
            .client
            .post(app.url(path))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some((name, value)) = header {
            rb = rb.header(name, value);
        }
        rb.send()
    };
    let wrong = format!("Bearer {TOKEN}x");
    let r = send(
        "/v1/sources/crm/cdc",
        Some(("Authorization", wrong)),
        body.clone(),
    )
    .await
    .unwrap();
    let p = assert_problem(r, 401).await;
    assert_eq!(p["detail"], "bearer token does not match");
    let r = send("/v1/sources/crm/cdc", None, body.clone())
        .await
        .unwrap();
    assert_problem(r, 401).await;
    assert_eq!(
        stored(&app).await.len(),
        0,
        "nothing stored without credentials"
    );

    // Debezium Server's sink prefixes record headers: `X-DEBEZIUM-AUTHORIZATION`.
    let good = format!("Bearer {TOKEN}");
    let r = send(
        "/v1/sources/crm/cdc",
        Some(("X-DEBEZIUM-AUTHORIZATION", good.clone())),
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let event = serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap();
    let r = send(
        "/v1/sources/crm/events",
        Some(("Authorization", good)),
        event,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "the token is accepted on /events too");

    let view = app.admin_json("/v1/admin/sources/crm").await;
    assert_eq!(view["has_bearer_token"], true);
    assert!(!view.to_string().contains(TOKEN), "never shown");

    // A source without a token takes signatures only; a PUT without the token removes it.
    put_source(&app, json!({"mapping": mapping(opportunities())})).await;
    let r = post(&app, "application/json", b"[]".to_vec()).await;
    let p = assert_problem(r, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("no bearer token"),
        "{p}"
    );
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT bearer_token_sealed FROM sources WHERE name = 'crm'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sealed, None);
    let view = app.admin_json("/v1/admin/sources/crm").await;
    assert_eq!(view["has_bearer_token"], false);
}

#[tokio::test]
async fn a_short_token_and_a_bad_cdc_mapping_are_422_naming_the_field() {
    let app = spawn_app().await;
    let r = app
        .admin_put(
            "/v1/admin/sources/crm",
            &json!({"signing_secret": SECRET, "bearer_token": "short"}),
        )
        .await;
    let p = assert_problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "bearer_token");
    let r = app
        .admin_put(
            "/v1/admin/sources/crm",
            &json!({"signing_secret": SECRET, "mapping": {"cdc": {"tables": {
                "opportunities": {"event_type": "crm.transaction", "contact_column": "contact_id",
                                  "primary_key": ["id"]}}}}}),
        )
        .await;
    let p = assert_problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "mapping.cdc.tables.opportunities");
    let stored = app.admin_get("/v1/admin/sources/crm").await;
    assert_eq!(stored.status(), 404, "nothing was stored");
}

#[tokio::test]
async fn bodies_are_refused_as_on_events() {
    let app = app_with(opportunities()).await;
    assert_problem(post(&app, "text/plain", b"{}".to_vec()).await, 415).await;
    assert_problem(post(&app, "application/json", b"{nope".to_vec()).await, 400).await;
    let many = format!("[{}]", vec!["null"; 1001].join(","));
    assert_problem(post(&app, "application/json", many.into_bytes()).await, 413).await;
    let r = app
        .client
        .post(app.url("/v1/sources/nope/cdc"))
        .header("Content-Type", "application/json")
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(r, 404).await;
}

#[tokio::test]
async fn a_change_that_fails_normalization_is_replayed_through_the_cdc_mapping_in_force() {
    // Without `scales`, a decimal sent without the schema stays base64 text: not a number.
    let mut table = opportunities();
    table.as_object_mut().unwrap().remove("scales");
    let app = app_with(table).await;
    let update = made_at("pg_update_bare.json", app.now());
    let r = results(
        &app,
        "application/json",
        serde_json::to_vec(&update).unwrap(),
    )
    .await;
    assert_eq!(statuses(&r), [("quarantined", Some("type_mismatch"))]);
    let q = app.admin_json("/v1/admin/quarantine").await;
    assert_eq!(q["items"][0]["raw"], update, "the change, not the envelope");
    let id = q["items"][0]["id"].clone();

    put_source(
        &app,
        json!({"bearer_token": TOKEN, "mapping": mapping(opportunities())}),
    )
    .await;
    let r = replay(&app, &id).await;
    assert_eq!(r["results"][0]["status"], "accepted", "{r}");
    let events = stored(&app).await;
    assert_eq!(events[0].2["transaction_value"], 1999.99);
    assert_eq!(events[0].5, "u", "the stored raw payload is the change");
}
