//! Dry runs of every change (issue 11 §1): a manifest version and a source's mapping tried on the
//! stored events and the open quarantine, and thresholds and campaigns tried on every contact —
//! each answered side by side with what is active, and nothing changed.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::count;

/// A source whose CRM calls the amount `tx_amount`, with two good events, one of them older than
/// the backfill age, and one with an undeclared `fax` (quarantined).
async fn crm_with_traffic(app: &TestApp) {
    app.create_source("crm", json!({"fields": {"tx_amount": "transaction_value"}}))
        .await;
    let mut old = event("c1", "r1", app.now() - Duration::days(8));
    let mut fresh = event("c2", "r2", app.now());
    let mut fax = event("c3", "r3", app.now());
    for e in [&mut old, &mut fresh, &mut fax] {
        let a = e["attributes"].as_object_mut().unwrap();
        let amount = a.remove("transaction_value").unwrap();
        a.insert("tx_amount".into(), amount);
    }
    fax["attributes"]["fax"] = json!("+1 555");
    let results = app.ingest("crm", &json!([old, fresh, fax])).await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["backfill", "accepted", "quarantined"]);
}

/// What a dry run must leave as it was.
async fn state_of(app: &TestApp) -> Vec<i64> {
    let mut out = vec![];
    for sql in [
        "SELECT count(*) FROM events",
        "SELECT count(*) FROM quarantine WHERE state = 'open'",
        "SELECT count(*) FROM delivery_queue",
        "SELECT count(*) FROM delivery_inbox",
        "SELECT count(*) FROM manifests WHERE active AND version = 1",
        "SELECT count(*) FROM source_mappings",
        "SELECT count(*) FROM dedup_keys",
    ] {
        out.push(count(app, sql).await);
    }
    out
}

async fn ok(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_manifest_without_an_attribute_shows_what_would_newly_fail() {
    let app = spawn_app().await;
    crm_with_traffic(&app).await;
    // Version 2 drops `payment_status`, which every event of the source sends.
    let mut manifest = pesync::normalize::default_v1_json();
    manifest["event_types"]["crm.transaction"]["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("payment_status");
    let r = app.admin_post("/v1/admin/manifests", &manifest).await;
    assert_eq!(r.status(), 201);
    let before = state_of(&app).await;

    let v = ok(app
        .admin_post("/v1/admin/manifests/2/check", &json!(null))
        .await)
    .await;
    let e = &v["events"];
    assert_eq!(e["items"], 2, "the stored events of the last 24 h: {v}");
    assert_eq!(
        e["active"]["accepted"],
        json!({"backfill": 1, "realtime": 1})
    );
    assert_eq!(
        e["candidate"]["quarantined"],
        json!({"unknown_attribute": 2})
    );
    assert_eq!(
        (e["changed"].clone(), e["newly_failing"].clone()),
        (json!(2), json!(2))
    );
    // The quarantined `fax` event fails on both sides (fax is undeclared either way).
    let q = &v["quarantine"];
    assert_eq!(q["items"], 1);
    assert_eq!(q["changed"], 0);
    assert_eq!(v["failing_attributes"], json!(["payment_status"]));
    let f = &v["new_failures"][0];
    assert_eq!(
        (f["reason"].as_str(), f["attribute"].as_str()),
        (Some("unknown_attribute"), Some("payment_status"))
    );
    assert_eq!(f["count"], 2);
    let example = &f["examples"][0];
    assert_eq!(example["origin"], "event");
    assert_eq!(
        example["active"],
        json!({"outcome": "accepted", "lane": "backfill"})
    );
    assert!(
        example["detail"]
            .as_str()
            .unwrap()
            .contains("payment_status")
    );
    assert_eq!(example["raw"]["attributes"]["tx_amount"], 2450.0);

    assert_eq!(state_of(&app).await, before, "a dry run changes nothing");
}

#[tokio::test]
async fn the_period_defaults_to_a_day_and_errors_are_problems() {
    let app = spawn_app().await;
    crm_with_traffic(&app).await;
    app.clock.advance(Duration::hours(25));
    let v = ok(app
        .admin_post("/v1/admin/manifests/1/check", &json!(null))
        .await)
    .await;
    assert_eq!(v["events"]["items"], 0, "older than 24 h");
    assert_eq!(
        v["quarantine"]["items"], 1,
        "the open quarantine whatever its age"
    );
    let since = (app.now() - Duration::hours(26)).to_rfc3339();
    let url = format!("/v1/admin/manifests/1/check?since={}", urlencode(&since));
    let v = ok(app.admin_post(&url, &json!(null)).await).await;
    assert_eq!(v["events"]["items"], 2);
    assert_eq!(
        v["events"]["changed"], 0,
        "the active manifest against itself"
    );
    assert_eq!(v["since_clamped"], false);
    // Further back than retention keeps events: the retention limit.
    let v = ok(app
        .admin_post(
            "/v1/admin/manifests/1/check?since=2000-01-01T00:00:00Z",
            &json!(null),
        )
        .await)
    .await;
    assert_eq!(v["since_clamped"], true);
    let kept: DateTime<Utc> = v["since"].as_str().unwrap().parse().unwrap();
    assert_eq!(kept, app.now() - Duration::days(30));

    let p = assert_problem(
        app.admin_post("/v1/admin/manifests/1/check?since=yesterday", &json!(null))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "since");
    assert_problem(
        app.admin_post("/v1/admin/manifests/9/check", &json!(null))
            .await,
        404,
    )
    .await;
    let viewer = app
        .client
        .post(app.url("/v1/admin/manifests/1/check"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_problem(viewer, 403).await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_source_mapping_dry_run_needs_no_secret_and_stores_nothing() {
    let app = spawn_app().await;
    crm_with_traffic(&app).await;
    let before = state_of(&app).await;
    // The mapping forgets the rename: the amount no longer reaches `transaction_value`. It also
    // declares nothing about `fax`, so the quarantined event keeps failing.
    let r = app
        .admin_put(
            "/v1/admin/sources/crm?dry_run=true",
            &json!({"mapping": {}}),
        )
        .await;
    let v = ok(r).await;
    assert_eq!(
        v["events"]["candidate"]["quarantined"],
        json!({"missing_required": 2})
    );
    assert_eq!(v["failing_attributes"], json!(["transaction_value"]));
    // The quarantined one now fails for another reason first (the amount), so it newly fails too.
    assert_eq!(v["new_failures"][0]["count"], 3);
    assert_eq!(v["quarantine"]["newly_failing"], 1);
    assert_eq!(state_of(&app).await, before, "a dry run changes nothing");
    let source = app.admin_json("/v1/admin/sources/crm").await;
    assert_eq!(source["mapping_version"], 1);
    assert_eq!(
        source["mapping"]["fields"]["tx_amount"],
        "transaction_value"
    );

    // Only the source's own traffic: another source's events are not run.
    app.create_source("web", json!({})).await;
    let v = ok(app
        .admin_put(
            "/v1/admin/sources/web?dry_run=true",
            &json!({"mapping": {}}),
        )
        .await)
    .await;
    assert_eq!(
        (
            v["events"]["items"].clone(),
            v["quarantine"]["items"].clone()
        ),
        (json!(0), json!(0))
    );

    let r = app
        .admin_put(
            "/v1/admin/sources/nobody?dry_run=true",
            &json!({"mapping": {}}),
        )
        .await;
    assert_problem(r, 404).await;
    let r = app
        .admin_put(
            "/v1/admin/sources/crm?dry_run=true&since=soon",
            &json!({"mapping": {}}),
        )
        .await;
    assert_eq!(assert_problem(r, 422).await["errors"][0]["field"], "since");
    // Without dry_run the secret is required, and it is named.
    let r = app
        .admin_put("/v1/admin/sources/crm", &json!({"mapping": {}}))
        .await;
    assert_eq!(
        assert_problem(r, 422).await["errors"][0]["field"],
        "signing_secret"
    );
}

/// Seeds `n` contacts like the evaluation benchmark (two campaigns, varied contacts) at `at`.
async fn seeded(n: i64, at: DateTime<Utc>) -> TestApp {
    let app = spawn_app().await;
    pesync::tools::bench::evaluate_seed::seed(&app.pool, n, at)
        .await
        .unwrap();
    app
}

/// The candidate of the population tests: a lower rise bar, and the pull campaign on the high
/// tier only, ahead of the push one.
fn pull_first() -> Value {
    json!({"id": "bench-pull", "name": "Benchmark pull", "enabled": true, "priority": 20,
        "tiers": ["high"], "mode": "pull", "channels": {"voice": "list-voice-2", "sms": "list-sms"},
        "default_window": {"start_time": "08:00:00", "end_time": "18:00:00", "timezone": "Europe/London"}})
}

#[tokio::test]
async fn the_population_dry_run_predicts_what_the_scheduled_run_decides() {
    let at = Utc::now();
    let n = 2 * pesync::evaluation::BATCH + 17;
    let app = seeded(n, at).await;
    let body = json!({"at": at, "thresholds": {"min_rise": 0.05}, "campaigns": [pull_first()]});
    let v = ok(app.admin_post("/v1/admin/evaluate/population", &body).await).await;
    assert_eq!(v["contacts"], n);
    let eligible = &v["reasons"]["eligible"];
    let (active, candidate) = (
        eligible["active"].as_u64().unwrap(),
        eligible["candidate"].as_u64().unwrap(),
    );
    assert_eq!(
        eligible["delta"].as_i64().unwrap(),
        candidate as i64 - active as i64
    );
    assert!(v["changed"].as_u64().unwrap() > 0);
    let sample = v["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 20);
    assert_ne!(sample[0]["active"], sample[0]["candidate"]);
    // Every decision of each side is counted once: contacts × its campaigns.
    for side in ["active", "candidate"] {
        let total: u64 = v["reasons"]
            .as_object()
            .unwrap()
            .values()
            .map(|d| d[side].as_u64().unwrap())
            .sum();
        assert_eq!(total, 2 * n as u64, "{side}");
    }
    // Nothing written: everyone still waits for the run, nothing is deferred or queued.
    assert_eq!(
        count(&app, "SELECT count(*) FROM evaluation_queue").await,
        n
    );
    assert_eq!(count(&app, "SELECT count(*) FROM deferrals").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM dialer_queue").await, 0);

    // The active side is what the scheduled run then decides…
    let run = pesync::evaluation::evaluate_contacts(&app.pool, at)
        .await
        .unwrap();
    assert_eq!(run.contacts, n as u64);
    assert_eq!(run.queued, active, "contacts taken today");
    // …and the candidate side what it decides once the change is made (on the same seed).
    let other = seeded(n, at).await;
    other.set_threshold("min_rise", json!(0.05)).await;
    let r = other
        .admin_put("/v1/admin/campaigns/bench-pull", &pull_first())
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let run = pesync::evaluation::evaluate_contacts(&other.pool, at)
        .await
        .unwrap();
    assert_eq!(run.queued, candidate, "contacts taken after the change");
}

#[tokio::test]
async fn the_population_dry_run_is_for_the_admin_and_lists_every_problem() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/v1/admin/evaluate/population"))
        .bearer_auth(VIEWER)
        .json(&json!({"thresholds": {"min_rise": 0.2}}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403).await;
    let bad = json!({"at": "later", "thresholds": {"min_rise": 7},
        "campaigns": [{"id": "x"}]});
    let p = assert_problem(
        app.admin_post("/v1/admin/evaluate/population", &bad).await,
        422,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for want in ["at", "campaigns[0].name"] {
        assert!(fields.contains(&want), "{want} missing from {fields:?}");
    }
    let p = assert_problem(
        app.admin_post(
            "/v1/admin/evaluate/population",
            &json!({"thresholds": {"min_rise": 7}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "thresholds.min_rise");
    // Nothing stored, nothing to change: an empty population, both sides alike.
    let v = ok(app
        .admin_post(
            "/v1/admin/evaluate/population",
            &json!({"thresholds": {"min_rise": 0.2}}),
        )
        .await)
    .await;
    assert_eq!(
        (v["contacts"].clone(), v["changed"].clone()),
        (json!(0), json!(0))
    );
}
