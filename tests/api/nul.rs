//! NUL characters (issue 8, defect 1): PostgreSQL refuses U+0000 in `text` and in `jsonb`, so a NUL
//! that reaches a query would roll back a whole batch (a retrying CRM stuck forever) or answer 500.
//! An event holding one is quarantined `invalid_characters`; a NUL in a URL or an admin document is a
//! 422 problem document.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::campaign;

async fn app_with_source() -> TestApp {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

fn statuses_and_reasons(v: &Value) -> Vec<(String, String)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["status"].as_str().unwrap().to_owned(),
                x["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn open_quarantine(app: &TestApp, reason: &str) -> Vec<Value> {
    let r = app
        .admin_get(&format!("/v1/admin/quarantine?reason={reason}"))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn json_array_with_nul_events_quarantines_them_and_stores_the_rest() {
    let app = app_with_source().await;
    let now = app.now() - Duration::minutes(1);
    let mut in_contact = event("c\u{0}1", "N-1", now);
    // Checked before the envelope: without `attributes` this would otherwise be `invalid_envelope`.
    in_contact.as_object_mut().unwrap().remove("attributes");
    let mut in_value = event("c-3", "N-3", now);
    in_value["attributes"]["product_category"] = json!("enter\u{0}prise");
    let mut in_key = event("c-4", "N-4", now);
    in_key["attributes"]["bad\u{0}key"] = json!("x");
    let body = json!([
        event("c-0", "OK-0", now),
        in_contact,
        event("c-2", "OK-2", now),
        in_value,
        in_key
    ]);
    let bytes = serde_json::to_vec(&body).unwrap();
    assert!(
        bytes.windows(6).any(|w| w == b"\\u0000"),
        "sent as the JSON escape"
    );
    let r = app.post_raw("crm", "application/json", bytes).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let q = |s: &str| (s.to_owned(), "invalid_characters".to_owned());
    let ok = || ("accepted".to_owned(), String::new());
    assert_eq!(
        statuses_and_reasons(&v),
        [
            ok(),
            q("quarantined"),
            ok(),
            q("quarantined"),
            q("quarantined")
        ]
    );
    assert!(
        v["results"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("contact_id")
    );
    assert!(
        v["results"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("attributes.product_category")
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM events WHERE state = 'pending'").await,
        2
    );

    // The raw payload is kept as its JSON text (NUL written `\u0000`), which gives the event back.
    let items = open_quarantine(&app, "invalid_characters").await;
    assert_eq!(items.len(), 3);
    let raws: Vec<Value> = items
        .iter()
        .map(|i| serde_json::from_str(i["raw"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(raws, [&body[1], &body[3], &body[4]].map(Clone::clone));
}

#[tokio::test]
async fn ndjson_line_with_a_raw_nul_byte_is_quarantined_and_a_lone_surrogate_is_malformed() {
    let app = app_with_source().await;
    let now = app.now() - Duration::minutes(1);
    let mut body = Vec::new();
    body.extend(serde_json::to_vec(&event("c-0", "OK-0", now)).unwrap());
    body.extend(b"\n{\"contact_id\": \"c\x001\", \"x\": 1}\n");
    body.extend(b"{\"contact_id\": \"\\ud800\"}\n");
    body.extend(serde_json::to_vec(&event("c-2", "OK-2", now)).unwrap());
    let r = app.post_raw("crm", "application/x-ndjson", body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let pair = |s: &str, r: &str| (s.to_owned(), r.to_owned());
    assert_eq!(
        statuses_and_reasons(&v),
        [
            pair("accepted", ""),
            pair("quarantined", "invalid_characters"),
            pair("quarantined", "malformed"),
            pair("accepted", "")
        ]
    );
    let items = open_quarantine(&app, "invalid_characters").await;
    assert_eq!(
        items[0]["raw"], "{\"contact_id\": \"c\\u00001\", \"x\": 1}",
        "the line, its NUL written as the JSON escape"
    );
}

#[tokio::test]
async fn a_json_body_that_does_not_parse_stores_nothing() {
    let app = app_with_source().await;
    let now = app.now();
    for bad in [
        // A lone surrogate is not a character at all.
        format!(
            "[{}, {{\"contact_id\": \"\\ud800\"}}]",
            event("c-0", "A", now)
        ),
        // A raw NUL byte is not allowed anywhere in JSON text.
        format!(
            "[{}, {{\"contact_id\": \"c\u{0}1\"}}]",
            event("c-1", "B", now)
        ),
    ] {
        let r = app
            .post_raw("crm", "application/json", bad.into_bytes())
            .await;
        assert_problem(r, 400).await;
    }
    assert_eq!(count(&app, "SELECT count(*) FROM events").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 0);
}

#[tokio::test]
async fn replaying_an_invalid_characters_item_keeps_it_quarantined() {
    let app = app_with_source().await;
    let now = app.now() - Duration::minutes(1);
    let mut ndjson = serde_json::to_vec(&event("c\u{0}1", "N-1", now)).unwrap();
    ndjson.extend(b"\n{\"a\": 1}\x00\n");
    let r = app.post_raw("crm", "application/x-ndjson", ndjson).await;
    assert_eq!(r.status(), 200);
    assert_eq!(open_quarantine(&app, "invalid_characters").await.len(), 2);

    let r = app
        .admin_post(
            "/v1/admin/quarantine/replay",
            &json!({"reason": "invalid_characters"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let pair = || ("quarantined".to_owned(), "invalid_characters".to_owned());
    assert_eq!(statuses_and_reasons(&v), [pair(), pair()]);
    assert_eq!(open_quarantine(&app, "invalid_characters").await.len(), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM events").await, 0);
}

#[tokio::test]
async fn nul_in_a_url_is_a_422_problem() {
    let app = app_with_source().await;
    for path in [
        "/v1/admin/campaigns/a%00b",
        "/v1/admin/sources/a%00b",
        "/v1/contacts/a%00b",
        "/v1/admin/quarantine?reason=a%00b",
        "/v1/admin/campaigns?cursor=a%00b",
        "/v1/dialer/feed?campaign=a%00b",
    ] {
        let p = assert_problem(app.admin_get(path).await, 422).await;
        let part = if path.contains('?') { "query" } else { "path" };
        assert_eq!(p["errors"][0]["field"], part, "{path}: {p}");
        assert!(
            p["errors"][0]["message"].as_str().unwrap().contains("NUL"),
            "{path}: {p}"
        );
    }
    let r = app
        .client
        .delete(app.url("/v1/admin/campaigns/a%00b"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_problem(r, 422).await;
    let r = app
        .post_raw("a%00b", "application/json", b"[]".to_vec())
        .await;
    assert_problem(r, 422).await;
}

#[tokio::test]
async fn nul_in_an_admin_document_is_a_422_naming_the_field() {
    let app = app_with_source().await;
    let mut manifest = pesync::normalize::manifest::Manifest::default_v1_json();
    manifest["event_types"]["crm.\u{0}x"] = manifest["event_types"]["crm.transaction"].clone();
    let mut named = campaign("ok", 0, "push");
    named["name"] = json!("a\u{0}b");
    let mut with_id = campaign("ok", 0, "push");
    with_id["id"] = json!("a\u{0}b");
    let cases: [(&str, &str, Value, &str); 9] = [
        (
            "PUT",
            "/v1/admin/sources/crm",
            json!({"signing_secret": SECRET, "mapping": {"fields": {"a\u{0}": "b"}}}),
            "mapping.fields",
        ),
        (
            "PUT",
            "/v1/admin/sources/other",
            json!({"signing_secret": format!("{SECRET}\u{0}")}),
            "signing_secret",
        ),
        ("POST", "/v1/admin/manifests", manifest, "event_types"),
        ("POST", "/v1/admin/campaigns", with_id, "id"),
        ("PUT", "/v1/admin/campaigns/ok", named, "name"),
        (
            "PUT",
            "/v1/admin/thresholds",
            json!({"high_tier\u{0}": 1}),
            "high_tier",
        ),
        (
            "POST",
            "/v1/admin/evaluate",
            json!({"campaign_id": "a\u{0}b"}),
            "campaign_id",
        ),
        (
            "POST",
            "/v1/admin/quarantine/replay",
            json!({"reason": "a\u{0}b"}),
            "reason",
        ),
        (
            "POST",
            "/v1/admin/reconciliation/discard",
            json!({"ids": [], "reason": "\u{0}"}),
            "reason",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = if method == "PUT" {
            app.admin_put(path, &body).await
        } else {
            app.admin_post(path, &body).await
        };
        let p = assert_problem(r, 422).await;
        let named = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"].as_str().unwrap().starts_with(field));
        assert!(named, "{method} {path}: {p}");
    }
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM sources").await, 1);
}

#[tokio::test]
async fn a_profile_holding_a_nul_is_a_failed_poll_not_a_stuck_poller() {
    use pesync::scoring::poll_once;
    use pesync::simulator::ProfileOverride;
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = crate::scoring_support::sim_client(&app, &sim, 100.0).await;
    let with_channel = |channel: &str| ProfileOverride {
        propensity_score: Some(0.8),
        channel_preference: Some(Some(channel.into())),
        ..ProfileOverride::default()
    };
    sim.state.set_profile("c-1", with_channel("v\u{0}oice"));
    sim.state.set_profile("c-2", with_channel("voice"));
    crate::scoring_support::delivered(&app, &["c-1", "c-2"]).await;

    let r = poll_once(&app.state, &client).await.unwrap();
    assert_eq!((r.polled, r.profiles, r.failed), (2, 1, 1));
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_snapshots").await,
        1,
        "the other contact's profile is stored"
    );
}
