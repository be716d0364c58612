//! The run stores a too-small rise and a closed window as what their sentences are made of
//! (`evaluation::stored_sentences`, issue 12); the explanation renders them when read. Through the
//! real run, PostgreSQL and `GET /v1/contacts/{id}`, they read as the dry run says them.

use chrono::{Duration, Timelike};
use chrono_tz::America::New_York;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

/// The campaign's calling hours, in the contact's zone: 10:00–18:00.
fn campaign_with_hours() -> Value {
    let mut c = campaign("hours", 1, "pull");
    c["calling_hours"] = json!({"start_time": "10:00:00", "end_time": "18:00:00"});
    c
}

fn hms(t: chrono::NaiveTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// The sentences of the failed rules of a decision or a dry run, in rule order.
fn failures(decision: &Value) -> Vec<&Value> {
    decision["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["passed"] == false)
        .map(|o| &o["detail"])
        .collect()
}

#[tokio::test]
async fn a_runs_rise_and_window_read_as_the_dry_run_says_them() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign_with_hours()).await;
    // Noon in New York, whatever the hour the test runs at: the window below then lies inside the
    // calling hours. (From 15:00 New York time on, it ran past them and the contact had no
    // callable time at all, a third failed rule.)
    let local = app.now().with_timezone(&New_York).time();
    let to_noon = chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap() - local;
    app.clock
        .advance(Duration::seconds(to_noon.num_seconds().rem_euclid(86_400)));
    let now = app.now();
    // The contact's window opens three hours from now, New York time: closed now.
    let local = now.with_timezone(&New_York).time();
    let window = json!({
        "start_time": hms(local + Duration::hours(3)),
        "end_time": hms(local + Duration::hours(4)),
        "timezone": "America/New_York"
    });
    let history = [
        (now - Duration::hours(5), 0.50),
        (now - Duration::hours(1), 0.52),
    ];
    seed_profile(
        &app,
        "c-1",
        &profile(&history, "voice", Some(window.clone())),
    )
    .await;
    evaluate(&app).await;

    let v = explain(&app, "c-1").await;
    let d = &v["decisions"][0];
    assert_eq!(d["reason"], "insufficient_rise", "{d}");
    let stored: Vec<&Value> = d["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["detail"])
        .collect();
    assert_eq!(
        stored[3], "rose 0.02 over the last 24 h (lowest 0.5 → 0.52); minimum 0.1",
        "{d}"
    );
    let closed = stored[8].as_str().unwrap();
    assert!(
        closed.starts_with(&format!("closed: local time {} is outside ", hms(local))),
        "{closed}"
    );

    // The dry run on the same facts at the same instant (the profile's score observed at the
    // fetch is an observation too) says the same of every rule that failed.
    let body = json!({
        "now": now,
        "campaign": campaign_with_hours(),
        "observations": [
            {"timestamp": history[0].0, "score": 0.50},
            {"timestamp": history[1].0, "score": 0.52},
            {"timestamp": now, "score": 0.52}
        ],
        "channel_preference": "voice",
        "best_contact_window": window,
    });
    let r = app.admin_post("/v1/admin/evaluate", &body).await;
    assert_eq!(r.status(), 200);
    let dry: Value = r.json().await.unwrap();
    assert_eq!(dry["reason"], "insufficient_rise");
    let read = failures(d);
    assert_eq!(read, failures(&dry));
    assert_eq!(read.len(), 2, "the rise and the window: {read:?}");
    assert!(closed.ends_with(" UTC"), "it says when it opens: {closed}");
}
