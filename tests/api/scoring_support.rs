//! Helpers of the scoring and campaign tests: campaign documents, profiles stored as if polled, and
//! the scheduled jobs driven by hand.

use chrono::{DateTime, Duration, Timelike, Utc};
use pesync::eligibility::Observation;
use pesync::evaluation::{RunReport, evaluate_once};
use pesync::scoring::profile::Profile;
use serde_json::{Value, json};

use crate::helpers::*;

/// A campaign document: voice and email channels, a default window open all day in UTC.
pub fn campaign(id: &str, priority: i32, mode: &str) -> Value {
    json!({"id": id, "name": format!("Campaign {id}"), "enabled": true, "priority": priority,
           "tiers": ["high", "moderate"], "mode": mode,
           "channels": {"voice": format!("{id}-voice"), "email": format!("{id}-email")},
           "default_window": {"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "UTC"}})
}

pub async fn create_campaign(app: &TestApp, doc: &Value) {
    let r = app.admin_post("/v1/admin/campaigns", doc).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// `DELETE /v1/admin/campaigns/{id}` as the admin.
pub async fn delete_campaign(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/v1/admin/campaigns/{id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
}

/// A profile as the poller stores it, fetched now: `history` as `score_history`, the last point
/// also as the current score, `channel`, and a window open all day unless given.
pub fn profile(history: &[(DateTime<Utc>, f64)], channel: &str, window: Option<Value>) -> Profile {
    let window = window.unwrap_or_else(
        || json!({"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "Asia/Kathmandu"}),
    );
    Profile {
        score: history.last().map(|(_, s)| *s),
        channel: Some(channel.to_owned()),
        window: serde_json::from_value(window).ok(),
        last_event_timestamp: None,
        history: history
            .iter()
            .map(|(t, s)| Observation::new(*t, *s))
            .collect(),
    }
}

/// Stores `profile` for `contact` as a poll at the app's clock would.
pub async fn seed_profile(app: &TestApp, contact: &str, profile: &Profile) {
    let mut tx = app.pool.begin().await.unwrap();
    pesync::scoring::store::store_profile(&mut tx, contact, app.now(), profile, &json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A contact that passes every rule now: 0.50 five hours ago, then `score` an hour ago.
pub async fn seed_rising(app: &TestApp, contact: &str, score: f64) {
    let now = app.now();
    let p = profile(
        &[
            (now - Duration::hours(5), 0.50),
            (now - Duration::hours(1), score),
        ],
        "voice",
        None,
    );
    seed_profile(app, contact, &p).await;
}

/// One evaluation run, without a Genesys client (pull campaigns only).
pub async fn evaluate(app: &TestApp) -> RunReport {
    let r = evaluate_once(&app.state, None).await.unwrap();
    assert!(r.ran);
    r
}

pub async fn explain(app: &TestApp, contact: &str) -> Value {
    let r = app.admin_get(&format!("/v1/contacts/{contact}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// `GET /v1/dialer/feed` and its items.
pub async fn lease(app: &TestApp, campaign: &str, limit: u32) -> Vec<Value> {
    let r = app
        .admin_get(&format!(
            "/v1/dialer/feed?campaign={campaign}&limit={limit}"
        ))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// `POST /v1/dialer/feed/ack` and the statuses.
pub async fn ack(app: &TestApp, ids: &[&str]) -> Vec<String> {
    let r = app
        .admin_post("/v1/dialer/feed/ack", &json!({ "ids": ids }))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The reasons of a contact's decisions for `campaign`, newest first.
pub async fn reasons(app: &TestApp, contact: &str, campaign: &str) -> Vec<String> {
    let v = explain(app, contact).await;
    v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["campaign_id"] == campaign)
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .collect()
}

/// `HH:MM:SS` of an instant in UTC.
pub fn hms(t: DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

pub async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

/// Asserts a JSON instant is `expected` to the microsecond (PostgreSQL keeps microseconds; the test
/// clock has nanoseconds).
pub fn assert_instant(actual: &Value, expected: DateTime<Utc>) {
    let got: DateTime<Utc> = actual
        .as_str()
        .unwrap_or_else(|| panic!("not an instant: {actual}"))
        .parse()
        .unwrap();
    let off = (got - expected)
        .num_microseconds()
        .unwrap_or(i64::MAX)
        .abs();
    assert!(off < 1, "{got} is not {expected}");
}

/// A Genesys client talking to `sim` with a ceiling of `rate` requests/s, for driving `poll_once`
/// and the push of `evaluate_once` by hand in an app that has none of its own (a standing clock).
pub async fn sim_client(
    app: &TestApp,
    sim: &pesync::simulator::SimulatorHandle,
    rate: f64,
) -> pesync::genesys::GenesysClient {
    let settings = settings_for_sim("postgres://unused", sim, rate);
    let cfg = settings.genesys().unwrap().unwrap();
    pesync::genesys::GenesysClient::new(cfg, app.pool.clone())
        .await
        .unwrap()
}

/// Marks contacts as delivered to PE now (what the delivery workers do), so the poller picks them.
pub async fn delivered(app: &TestApp, contacts: &[&str]) {
    let ids: Vec<String> = contacts.iter().map(|c| c.to_string()).collect();
    sqlx::query(
        "INSERT INTO contacts (contact_id, last_delivered_at) SELECT c, $2 FROM UNNEST($1::text[]) c
         ON CONFLICT (contact_id) DO UPDATE SET last_delivered_at = EXCLUDED.last_delivered_at",
    )
    .bind(&ids)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    pesync::delivery::poll_queue::delivered(&mut conn, &ids, app.now())
        .await
        .unwrap();
}
