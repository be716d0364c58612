//! `POST /v1/sources/{source}/events` (SPEC §2–§4) through real HTTP and a real database.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::count;

async fn app_with_source() -> TestApp {
    let app = spawn_app().await;
    app.create_source(
        "crm",
        json!({"fields": {"tx_amount": "transaction_value"},
                                     "event_types": {"purchase": "crm.transaction"}}),
    )
    .await;
    app
}

#[tokio::test]
async fn every_status_in_request_order_and_all_committed() {
    let app = app_with_source().await;
    let now = app.now();
    let body = json!([
        event("c-1", "OPP-1", now - Duration::minutes(1)),
        event("c-1", "OPP-1", now - Duration::minutes(1)),
        {"contact_id": "c-2", "event_type": "crm.transaction", "event_timestamp": now.to_rfc3339(),
         "attributes": {"crm_record_id": "OPP-2", "transaction_value": 1, "items": [1, 2]}},
        event("c-3", "OPP-3", now - Duration::days(8)),
        event("c-4", "OPP-4", now + Duration::minutes(6)),
    ]);
    let r = app.ingest("crm", &body).await;
    let statuses: Vec<&str> = r.iter().map(|x| x["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "duplicate",
            "quarantined",
            "backfill",
            "reconciliation"
        ]
    );
    for (i, x) in r.iter().enumerate() {
        assert_eq!(x["index"], i);
    }
    assert_eq!(
        r[0]["request_id"], r[1]["request_id"],
        "a duplicate names the stored request id"
    );
    assert!(r[0]["event_id"].is_string());
    assert_eq!(r[2]["reason"], "nested_attribute");
    assert!(r[2]["detail"].as_str().unwrap().contains("items"));
    assert_eq!(r[3]["reason"], "older_than_backfill_age");
    assert!(r[3]["request_id"].is_string());
    assert_eq!(r[4]["reason"], "future_timestamp");
    assert!(r[4]["event_id"].is_string());

    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM events WHERE state = 'pending' AND lane = 'realtime'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM events WHERE state = 'pending' AND lane = 'backfill'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM events WHERE state = 'reconciliation'"
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM delivery_queue").await, 2);
}

#[tokio::test]
async fn request_id_matches_the_spec_vector() {
    let app = app_with_source().await;
    let r = app
        .ingest(
            "crm",
            &event(
                "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                "OPP-88421",
                app.now(),
            ),
        )
        .await;
    assert_eq!(r[0]["request_id"], "757c7754-c29d-8289-9a4d-5844a7627e43");
}

#[tokio::test]
async fn mapping_renames_fields_and_event_types_and_records_versions() {
    let app = app_with_source().await;
    let body = json!({"contact_id": "c-9", "event_type": "purchase", "event_timestamp": app.now().to_rfc3339(),
                      "attributes": {"crm_record_id": "R-1", "tx_amount": "12.50"}});
    let r = app.ingest("crm", &body).await;
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let (event_type, attrs, mv, fv): (String, Value, i32, i32) = sqlx::query_as(
        "SELECT event_type, attributes, mapping_version, manifest_version FROM events",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(event_type, "crm.transaction");
    assert_eq!(attrs["transaction_value"], json!(12.5));
    assert!(attrs.get("tx_amount").is_none());
    assert_eq!((mv, fv), (1, 1));
}

#[tokio::test]
async fn ndjson_with_one_malformed_line_quarantines_only_that_line() {
    let app = app_with_source().await;
    let now = app.now();
    let body = format!(
        "{}\n{{\"contact_id\": broken\n\n{}\n",
        event("c-1", "A", now),
        event("c-2", "B", now)
    );
    let r = app
        .post_raw("crm", "application/x-ndjson", body.into_bytes())
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "quarantined", "accepted"]);
    assert_eq!(v["results"][1]["reason"], "malformed");
    let q = app.admin_get("/v1/admin/quarantine?reason=malformed").await;
    let q: Value = q.json().await.unwrap();
    assert_eq!(
        q["items"][0]["raw"], "{\"contact_id\": broken",
        "the raw line is kept verbatim"
    );
}

/// An NDJSON line is stored as its raw document as it was sent: its numbers keep their digits
/// (`2450.00`), which a value parsed and serialized again would not. An event of a JSON array is
/// stored from its parsed value (`2450.0`).
#[tokio::test]
async fn an_ndjson_line_is_stored_as_sent() {
    let app = app_with_source().await;
    let at = app.now().to_rfc3339();
    let line = |record: &str| {
        format!(
            r#"{{"contact_id": "c-1", "event_type": "crm.transaction", "event_timestamp": "{at}", "attributes": {{"crm_record_id": "{record}", "transaction_value": 2450.00}}}}"#
        )
    };
    for (content_type, body) in [
        ("application/x-ndjson", format!("{}\r\n", line("A"))),
        ("application/json", format!("[{}]", line("B"))),
    ] {
        let r = app.post_raw("crm", content_type, body.into_bytes()).await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    }
    let raw = |record: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT raw::text FROM events WHERE raw->'attributes'->>'crm_record_id' = $1",
            )
            .bind(record)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let sent = raw("A").await;
    // `jsonb` puts the longest key last: the number is followed by the object's end.
    assert!(sent.contains(r#""transaction_value": 2450.00}"#), "{sent}");
    let parsed = raw("B").await;
    assert!(
        parsed.contains(r#""transaction_value": 2450.0}"#),
        "{parsed}"
    );
}

#[tokio::test]
async fn empty_array_answers_no_results() {
    let app = app_with_source().await;
    assert!(app.ingest("crm", &json!([])).await.is_empty());
}

#[tokio::test]
async fn dedup_inside_and_after_the_24h_window() {
    let app = app_with_source().await;
    let first = app.ingest("crm", &event("c-1", "OPP-1", app.now())).await;
    assert_eq!(first[0]["status"], "accepted");

    app.clock
        .advance(Duration::hours(24) - Duration::seconds(1));
    let again = app.ingest("crm", &event("c-1", "OPP-1", app.now())).await;
    assert_eq!(again[0]["status"], "duplicate");
    assert_eq!(again[0]["request_id"], first[0]["request_id"]);

    app.clock.advance(Duration::seconds(1));
    let later = app.ingest("crm", &event("c-1", "OPP-1", app.now())).await;
    assert_eq!(
        later[0]["status"], "accepted",
        "exactly 24 h later the key is new again"
    );
    assert_ne!(later[0]["event_id"], first[0]["event_id"]);
    assert_eq!(
        later[0]["request_id"], first[0]["request_id"],
        "the id derives from the key"
    );

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 2);
}

/// A request's keys are first inserted all at once (from `PLAIN_INSERT_FROM` keys on); one seen key
/// among new ones sends the whole request down the key-by-key path, which must still take the new
/// keys, refuse the seen one inside its window and take it again after.
#[tokio::test]
async fn a_batch_mixing_new_and_seen_keys_is_decided_key_by_key() {
    let app = app_with_source().await;
    app.ingest("crm", &event("c-1", "OPP-seen", app.now()))
        .await;
    let n = pesync::ingest::store::PLAIN_INSERT_FROM;
    let batch = |at| {
        let records = (1..n).map(|i| format!("OPP-new-{i}"));
        let records: Vec<String> = std::iter::once("OPP-seen".to_owned())
            .chain(records)
            .collect();
        Value::Array(records.iter().map(|r| event("c-1", r, at)).collect())
    };
    let statuses = |results: Vec<Value>| -> Vec<String> {
        results
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut expected = vec!["accepted".to_owned(); n];
    expected[0] = "duplicate".to_owned();
    assert_eq!(
        statuses(app.ingest("crm", &batch(app.now())).await),
        expected
    );

    app.clock.advance(Duration::hours(24));
    let later = statuses(app.ingest("crm", &batch(app.now())).await);
    assert_eq!(later, vec!["accepted"; n], "every key is a day old");
    assert_eq!(
        count(&app, "SELECT count(*) FROM dedup_keys").await,
        n as i64
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM events").await,
        2 * n as i64
    );

    // All new: the plain insert takes them, and they count as seen.
    let fresh: Vec<Value> = (0..n)
        .map(|i| event("c-2", &format!("OPP-{i}"), app.now()))
        .collect();
    let first = statuses(app.ingest("crm", &Value::Array(fresh.clone())).await);
    assert_eq!(first, vec!["accepted"; n]);
    let again = statuses(app.ingest("crm", &Value::Array(fresh)).await);
    assert_eq!(again, vec!["duplicate"; n]);
}

/// Keys all new but one repeated inside the request: the plain insert takes each key once, the
/// first event of the two wins it and the later one is its duplicate, whatever the key's order.
#[tokio::test]
async fn a_key_repeated_in_a_request_of_new_keys_is_won_by_its_first_event() {
    let app = app_with_source().await;
    let n = pesync::ingest::store::PLAIN_INSERT_FROM + 4;
    // Record ids that sort in the opposite order of their events, and a repeat of the fourth.
    let mut records: Vec<String> = (0..n).map(|i| format!("OPP-{:03}", n - i)).collect();
    records[n - 2] = records[3].clone();
    let body = Value::Array(records.iter().map(|r| event("c-1", r, app.now())).collect());
    let r = app.ingest("crm", &body).await;
    let statuses: Vec<&str> = r.iter().map(|x| x["status"].as_str().unwrap()).collect();
    let mut expected = vec!["accepted"; n];
    expected[n - 2] = "duplicate";
    assert_eq!(statuses, expected);
    assert_eq!(r[n - 2]["request_id"], r[3]["request_id"]);
    let stored: String = sqlx::query_scalar(
        "SELECT e.id::text FROM events e JOIN dedup_keys k ON k.event_id = e.id \
         WHERE e.attributes ->> 'crm_record_id' = $1",
    )
    .bind(&records[3])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        r[3]["event_id"],
        stored.as_str(),
        "the first event holds the key"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM events").await,
        n as i64 - 1
    );
}

#[tokio::test]
async fn concurrent_requests_with_the_same_key_accept_exactly_one() {
    let app = app_with_source().await;
    let body = event("c-1", "OPP-race", app.now());
    let (a, b) = tokio::join!(app.ingest("crm", &body), app.ingest("crm", &body));
    let mut s = vec![
        a[0]["status"].as_str().unwrap().to_owned(),
        b[0]["status"].as_str().unwrap().to_owned(),
    ];
    s.sort();
    assert_eq!(s, ["accepted", "duplicate"]);
}

#[tokio::test]
async fn signature_failures_are_401_and_store_nothing() {
    let app = app_with_source().await;
    let body = serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap();
    let t = app.now().timestamp();

    // Wrong signature.
    let r = app
        .client
        .post(app.url("/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .header(
            "X-Pesync-Signature",
            format!("t={t},v1={}", "00".repeat(32)),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
    // Missing header.
    let r = app
        .client
        .post(app.url("/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
    // Stale and future `t`, 301 s away.
    assert_problem(
        app.post_signed_at("crm", "application/json", body.clone(), t - 301)
            .await,
        401,
    )
    .await;
    assert_problem(
        app.post_signed_at("crm", "application/json", body.clone(), t + 301)
            .await,
        401,
    )
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    // Exactly 300 s away is accepted.
    let r = app
        .post_signed_at("crm", "application/json", body, t - 300)
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn body_errors() {
    let app = app_with_source().await;
    assert_problem(
        app.post_raw("crm", "application/json", b"{not json".to_vec())
            .await,
        400,
    )
    .await;
    assert_problem(app.post_raw("crm", "text/plain", b"{}".to_vec()).await, 415).await;
    assert_problem(
        app.post_raw("nope", "application/json", b"{}".to_vec())
            .await,
        404,
    )
    .await;

    let too_many: Vec<Value> = (0..1001)
        .map(|i| event("c", &format!("R{i}"), app.now()))
        .collect();
    let r = app
        .post_raw(
            "crm",
            "application/json",
            serde_json::to_vec(&too_many).unwrap(),
        )
        .await;
    assert_problem(r, 413).await;

    let big = vec![b' '; 5 * 1024 * 1024 + 1];
    assert_problem(app.post_raw("crm", "application/json", big).await, 413).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);

    // 1,000 events is within the limit.
    let max: Vec<Value> = (0..1000)
        .map(|i| event(&format!("c{i}"), &format!("R{i}"), app.now()))
        .collect();
    assert_eq!(app.ingest("crm", &json!(max)).await.len(), 1000);
}

#[tokio::test]
async fn an_unreachable_database_is_503_not_500() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nowhere")
        .unwrap();
    let app = spawn_app_on("postgres://postgres@127.0.0.1:1/nowhere".into(), pool).await;
    let r = app
        .post_raw("crm", "application/json", b"{}".to_vec())
        .await;
    let p = assert_problem(r, 503).await;
    assert_eq!(
        p["type"],
        "https://pesync.dev/problems/database-unavailable"
    );
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
