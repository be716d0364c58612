//! `POST /v1/scores` (issue 10 §4): pushed score observations, stored like polled profiles and
//! evaluated by the same run.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

async fn post_scores(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url("/v1/scores"))
        .bearer_auth(token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Posts a JSON array as `token` and returns `(status, reason)` per result, asserting 200 and order.
async fn push(app: &TestApp, token: &str, items: &Value) -> Vec<(String, Option<String>)> {
    let r = post_scores(
        app,
        token,
        "application/json",
        serde_json::to_vec(items).unwrap(),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    results(r).await
}

async fn results(r: reqwest::Response) -> Vec<(String, Option<String>)> {
    let v: Value = r.json().await.unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, x)| {
            assert_eq!(x["index"], i, "results are in request order");
            let reason = x["reason"].as_str().map(str::to_owned);
            (x["status"].as_str().unwrap().to_owned(), reason)
        })
        .collect()
}

fn obs(contact: &str, score: f64, at: DateTime<Utc>) -> Value {
    json!({"contact_id": contact, "score": score, "observed_at": at.to_rfc3339()})
}

fn stored() -> (String, Option<String>) {
    ("stored".into(), None)
}

fn rejected(reason: &str) -> (String, Option<String>) {
    ("rejected".into(), Some(reason.into()))
}

#[tokio::test]
async fn each_item_is_stored_duplicate_or_rejected_in_request_order() {
    let app = spawn_app().await;
    let t = app.now() - Duration::hours(1);
    let body = json!([
        obs("c-1", 0.4, t - Duration::hours(2)),
        obs("c-1", 0.8, t),
        obs("c-1", 0.8, t),
        obs("c-2", 1.5, t),
        {"score": 0.5, "observed_at": t.to_rfc3339()},
        {"contact_id": "c-3", "score": 0.5, "observed_at": "last tuesday"},
        {"contact_id": "c-4", "score": 0.5, "observed_at": t.to_rfc3339(),
         "best_contact_window": {"start_time": "9", "end_time": "17:00:00", "timezone": "UTC"}},
        {"contact_id": "c-5", "score": 0.5, "observed_at": t.to_rfc3339(), "channel_preference": "voice",
         "best_contact_window": {"start_time": "09:00:00", "end_time": "17:00:00", "timezone": "Europe/Paris"}},
    ]);
    let got = push(&app, ADMIN, &body).await;
    assert_eq!(
        got,
        vec![
            stored(),
            stored(),
            ("duplicate".into(), None),
            rejected("score_out_of_range"),
            rejected("missing_contact_id"),
            rejected("invalid_timestamp"),
            rejected("invalid_window"),
            stored(),
        ]
    );
    // The same instant again, in a later request: a duplicate, nothing written twice.
    assert_eq!(
        push(&app, ADMIN, &json!([obs("c-1", 0.8, t)])).await,
        vec![("duplicate".into(), None)]
    );
    let n = |sql| count(&app, sql);
    assert_eq!(
        n("SELECT count(*) FROM score_observations WHERE source = 'pushed'").await,
        3
    );
    assert_eq!(n("SELECT count(*) FROM score_snapshots").await, 3);
    assert_eq!(n("SELECT count(*) FROM evaluation_queue").await, 2);
    // Pushed scores leave the poll state alone.
    assert_eq!(
        n("SELECT count(*) FROM contact_scores WHERE last_polled_at IS NULL AND last_poll_status IS NULL").await,
        2
    );
    let channel: String =
        sqlx::query_scalar("SELECT channel FROM contact_scores WHERE contact_id = 'c-5'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(channel, "voice");
}

#[tokio::test]
async fn ndjson_bad_lines_are_rejected_alone_and_bad_bodies_are_problems() {
    let app = spawn_app().await;
    let t = app.now();
    let body = format!(
        "{}\n\n{{broken\n[1]\n{}\n",
        obs("c-1", 0.2, t),
        obs("c-2", 0.3, t)
    );
    let r = post_scores(&app, SCORER, "application/x-ndjson", body.into_bytes()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        results(r).await,
        vec![
            stored(),
            rejected("malformed"),
            rejected("not_an_object"),
            stored()
        ]
    );
    let r = post_scores(
        &app,
        ADMIN,
        "application/json",
        b"[{\"contact_id\": ".to_vec(),
    )
    .await;
    assert_problem(r, 400).await;
    let r = post_scores(&app, ADMIN, "text/csv", b"contact_id,score\n".to_vec()).await;
    assert_problem(r, 415).await;
}

#[tokio::test]
async fn more_than_10000_observations_is_413_and_stores_nothing() {
    let app = spawn_app().await;
    let t = app.now();
    let items: Vec<Value> = (0..10_001)
        .map(|i| obs(&format!("c-{i}"), 0.5, t))
        .collect();
    let r = post_scores(
        &app,
        ADMIN,
        "application/json",
        serde_json::to_vec(&items).unwrap(),
    )
    .await;
    let p = assert_problem(r, 413).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("10001 observations"),
        "{p}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        0
    );
    // 10,000 is taken.
    let r = post_scores(
        &app,
        ADMIN,
        "application/json",
        serde_json::to_vec(&items[..10_000]).unwrap(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        10_000
    );
}

#[tokio::test]
async fn the_scorer_token_may_only_post_scores_and_the_viewer_token_may_not() {
    let app = spawn_app().await;
    let body = json!([obs("c-1", 0.5, app.now())]);
    assert_eq!(push(&app, SCORER, &body).await, vec![stored()]);
    let r = post_scores(
        &app,
        VIEWER,
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_problem(r, 403).await;
    let r = post_scores(
        &app,
        "not-a-token-of-any-kind-at-all-000",
        "application/json",
        vec![],
    )
    .await;
    assert_problem(r, 401).await;
    // Everything else is closed to the scorer token: reads and writes alike.
    assert_problem(app.get_as("/v1/admin/sources", Some(SCORER)).await, 403).await;
    assert_problem(app.get_as("/v1/contacts/c-1", Some(SCORER)).await, 403).await;
    let r = app
        .client
        .put(app.url("/v1/admin/sources/crm"))
        .bearer_auth(SCORER)
        .json(&json!({"signing_secret": SECRET, "mapping": {}}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403).await;
}

#[tokio::test]
async fn pushed_scores_lead_to_a_hand_over_for_seen_and_unseen_contacts() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    let now = app.now();
    // c-seen has sent events; c-unseen never has.
    let r = app
        .ingest(
            "crm",
            &json!([event("c-seen", "r-1", now - Duration::hours(6))]),
        )
        .await;
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    create_campaign(&app, &campaign("spring", 0, "pull")).await;
    let mut body = Vec::new();
    for c in ["c-seen", "c-unseen"] {
        body.push(obs(c, 0.50, now - Duration::hours(5)));
        let mut last = obs(c, 0.85, now - Duration::hours(1));
        last["channel_preference"] = json!("voice");
        body.push(last);
    }
    assert_eq!(push(&app, SCORER, &json!(body)).await, vec![stored(); 4]);
    let r = evaluate(&app).await;
    assert_eq!(r.contacts, 2, "{r:?}");
    let items = lease(&app, "spring", 10).await;
    let mut contacts: Vec<&str> = items
        .iter()
        .map(|i| i["data"]["contact_id"].as_str().unwrap())
        .collect();
    contacts.sort();
    assert_eq!(contacts, ["c-seen", "c-unseen"], "{items:?}");
    // Evaluated once: the queue is empty until a new observation arrives.
    assert_eq!(evaluate(&app).await.contacts, 0);
    // The contact view shows each pushed observation as it was sent: an object, as its schema says
    // (schemathesis found it served as a JSON string).
    let v = explain(&app, "c-unseen").await;
    let raws: Vec<&Value> = v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["raw"])
        .collect();
    assert_eq!(raws.len(), 2, "{v}");
    assert!(raws.contains(&&body[3]), "{v}");
    assert!(raws.iter().all(|r| r.is_object()), "{v}");
}

#[tokio::test]
async fn a_pushed_score_without_a_channel_takes_the_campaign_default_channel() {
    let app = spawn_app().await;
    let now = app.now();
    let mut doc = campaign("spring", 0, "pull");
    doc["default_channel"] = json!("fax");
    let r = app.admin_post("/v1/admin/campaigns", &doc).await;
    let p = assert_problem(r, 422).await;
    assert!(p.to_string().contains("default_channel"), "{p}");
    doc["default_channel"] = json!("email");
    create_campaign(&app, &doc).await;
    let r = app.admin_get("/v1/admin/campaigns/spring").await;
    assert_eq!(r.json::<Value>().await.unwrap()["default_channel"], "email");
    let body = json!([
        obs("c-1", 0.50, now - Duration::hours(5)),
        obs("c-1", 0.85, now - Duration::hours(1))
    ]);
    assert_eq!(push(&app, SCORER, &body).await, vec![stored(); 2]);
    evaluate(&app).await;
    let items = lease(&app, "spring", 10).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["data"]["channel"], "email");
}

#[tokio::test]
async fn a_push_keeps_a_polled_contacts_poll_state_and_the_channel_it_leaves_out() {
    let app = spawn_app().await;
    let polled_at = app.now();
    seed_rising(&app, "c-1", 0.8).await;
    app.clock.advance(Duration::minutes(10));
    let r = push(&app, SCORER, &json!([obs("c-1", 0.9, app.now())])).await;
    assert_eq!(r, vec![stored()]);
    let (last_polled_at, status, channel): (DateTime<Utc>, Option<i32>, Option<String>) =
        sqlx::query_as(
            "SELECT last_polled_at, last_poll_status, channel FROM contact_scores WHERE contact_id = 'c-1'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_instant(&json!(last_polled_at), polled_at);
    assert_eq!((status, channel.as_deref()), (Some(200), Some("voice")));
    // Both sources' observations are read by the run: the pushed one is the newest.
    create_campaign(&app, &campaign("spring", 0, "pull")).await;
    let r = evaluate(&app).await;
    assert_eq!(r.contacts, 1);
    let v = explain(&app, "c-1").await;
    assert_eq!(v["decisions"][0]["effective_score"], 0.9, "{v}");
}
