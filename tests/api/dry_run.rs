//! `POST /v1/admin/evaluate` (SPEC §8, §11.15): the dry run, its errors, and that it changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

/// The SPEC §8 example, with the SPEC's campaign document.
fn spec_example() -> Value {
    json!({"now": "2026-03-08T06:30:00Z",
        "campaign": {"id": "spring-renewals", "name": "Spring renewals", "enabled": true, "priority": 10,
            "tiers": ["high", "moderate"], "mode": "push",
            "channels": {"voice": "list-voice", "email": "list-email"},
            "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}},
        "observations": [{"timestamp": "2026-03-07T06:00:00Z", "score": 0.62},
                         {"timestamp": "2026-03-08T06:00:00Z", "score": 0.72}],
        "channel_preference": "voice",
        "best_contact_window": {"start_time": "01:00:00", "end_time": "03:30:00", "timezone": "America/New_York"},
        "last_handover_at": null})
}

async fn dry_run(app: &TestApp, body: &Value) -> Value {
    let r = app.admin_post("/v1/admin/evaluate", body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_spec_example_is_eligible() {
    let app = spawn_app().await;
    let v = dry_run(&app, &spec_example()).await;
    assert_eq!(v["reason"], "eligible");
    assert_eq!(v["tier"], "moderate");
    assert_eq!(v["effective_score"], 0.72);
    assert_eq!(v["rise"], 0.1, "0.72 − 0.62 counts as 0.10");
    assert_eq!(
        v["observations"],
        json!([{"timestamp": "2026-03-07T06:00:00Z", "score": 0.62, "dampened": false},
               {"timestamp": "2026-03-08T06:00:00Z", "score": 0.72, "dampened": false}])
    );
    // 01:30 EST, inside 01:00–03:30, half an hour before the clocks spring forward.
    assert_eq!(v["window"], json!({"open": true, "next_opening": null}));
    assert_eq!(v["cooldown_until"], Value::Null);
    assert_eq!(v["outcomes"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn thresholds_cooldown_and_windows_change_the_answer() {
    let app = spawn_app().await;
    // A stricter rise, as an operator would try before changing it.
    let mut body = spec_example();
    let mut t: Value = app.admin_json("/v1/admin/thresholds").await;
    t["min_rise"] = json!(0.2);
    body["thresholds"] = t;
    assert_eq!(dry_run(&app, &body).await["reason"], "insufficient_rise");

    // Handed over 71 h before: cooldown until 72 h after the hand-over.
    let mut body = spec_example();
    body["last_handover_at"] = json!("2026-03-05T07:30:00Z");
    let v = dry_run(&app, &body).await;
    assert_eq!(v["reason"], "cooldown");
    assert_eq!(v["cooldown_until"], "2026-03-08T07:30:00Z");

    // Later that night the window has closed: deferred to tomorrow's 01:00 EDT (05:00Z).
    let mut body = spec_example();
    body["now"] = json!("2026-03-08T08:00:00Z"); // 04:00 EDT
    let v = dry_run(&app, &body).await;
    assert_eq!(v["reason"], "deferred_outside_window");
    assert_eq!(
        v["window"],
        json!({"open": false, "next_opening": "2026-03-09T05:00:00Z"})
    );

    // An unknown zone: a decision of its own, and no window.
    let mut body = spec_example();
    body["best_contact_window"]["timezone"] = json!("America/Atlantis");
    let v = dry_run(&app, &body).await;
    assert_eq!(v["reason"], "invalid_timezone");
    assert_eq!(v["window"], Value::Null);

    // The window is computed whatever the earlier rules decided.
    let mut body = spec_example();
    body["channel_preference"] = json!("fax");
    let v = dry_run(&app, &body).await;
    assert_eq!(v["reason"], "channel_unsupported");
    assert_eq!(v["window"]["open"], true);

    // No observations at all.
    let mut body = spec_example();
    body["observations"] = json!([]);
    let v = dry_run(&app, &body).await;
    assert_eq!(v["reason"], "no_profile");
    assert_eq!(v["tier"], Value::Null);
}

#[tokio::test]
async fn a_stored_campaign_by_id_and_its_404() {
    let app = spawn_app().await;
    let mut stored = spec_example()["campaign"].clone();
    stored["tiers"] = json!(["high"]);
    create_campaign(&app, &stored).await;
    for body in [
        {
            let mut b = spec_example();
            b.as_object_mut().unwrap().remove("campaign");
            b["campaign_id"] = json!("spring-renewals");
            b
        },
        {
            let mut b = spec_example();
            b["campaign"] = json!({"campaign_id": "spring-renewals"});
            b
        },
    ] {
        // The stored campaign takes only the high tier.
        assert_eq!(dry_run(&app, &body).await["reason"], "tier_not_targeted");
    }
    let mut body = spec_example();
    body["campaign"] = json!({"campaign_id": "no-such-campaign"});
    assert_problem(app.admin_post("/v1/admin/evaluate", &body).await, 404).await;
    let mut body = spec_example();
    body.as_object_mut().unwrap().remove("campaign");
    body["campaign_id"] = json!("no-such-campaign");
    assert_problem(app.admin_post("/v1/admin/evaluate", &body).await, 404).await;
}

#[tokio::test]
async fn invalid_requests_are_400_or_422_listing_every_problem() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/v1/admin/evaluate"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;

    let mut body = spec_example();
    body["now"] = json!("soon");
    body["thresholds"] = json!({"high_tier": 0.3});
    body["campaign"]["default_window"]["timezone"] = json!("Nowhere/Land");
    body["observations"][1]["score"] = json!(7);
    body["best_contact_window"] =
        json!({"start_time": "1:00", "end_time": "03:30:00", "timezone": "UTC"});
    body["surprise"] = json!(true);
    let p = assert_problem(app.admin_post("/v1/admin/evaluate", &body).await, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for want in [
        "now",
        "thresholds.moderate_tier",
        "campaign.default_window.timezone",
        "observations[1].score",
        "best_contact_window",
        "surprise",
    ] {
        assert!(fields.contains(&want), "{want} missing from {fields:?}");
    }

    let mut body = spec_example();
    body["thresholds"] = json!({"high_tier": 0.3, "moderate_tier": 0.5, "min_rise": 0.1,
        "rise_window_seconds": 86400, "dampening_delta": 0.05, "dampening_window_seconds": 3600,
        "cooldown_seconds": 259200, "skew_tolerance_seconds": 300, "backfill_age_seconds": 604800,
        "future_tolerance_seconds": 300, "dedup_window_seconds": 86400, "ordering_hold_seconds": 2});
    let p = assert_problem(app.admin_post("/v1/admin/evaluate", &body).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "thresholds.moderate_tier");

    let mut body = spec_example();
    body.as_object_mut().unwrap().remove("campaign");
    let p = assert_problem(app.admin_post("/v1/admin/evaluate", &body).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "campaign");
    assert_problem(app.admin_post("/v1/admin/evaluate", &json!([])).await, 422).await;
}

#[tokio::test]
async fn the_dry_run_changes_nothing() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "c-1", 0.8).await;
    let before = count(&app, "SELECT count(*) FROM decisions").await;
    for _ in 0..3 {
        let mut body = spec_example();
        body["campaign"] = json!({"campaign_id": "pull-one"});
        body["now"] = json!(app.now());
        dry_run(&app, &body).await;
    }
    assert_eq!(count(&app, "SELECT count(*) FROM decisions").await, before);
    assert_eq!(count(&app, "SELECT count(*) FROM dialer_queue").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM deferrals").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM handovers").await, 0);
    // And the contact is still a candidate of the scheduled run.
    assert_eq!(evaluate(&app).await.contacts, 1);
}
