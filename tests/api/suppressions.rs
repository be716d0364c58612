//! Issue 11 §4 "Never call who must not be called": the suppression list through the API (decision
//! `suppressed`, never pushed to the dialer nor leased from the feed, withdrawn when suppressed
//! while queued, expiry on the injected clock) and campaign calling hours (`no_callable_time`, a
//! deferred contact's next opening inside both, the dry run and the explanation).

use chrono::{Duration, DurationRound, Utc};
use pesync::evaluation::evaluate_once;
use pesync::normalize::dedup::dialer_contact_id;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

async fn suppress(app: &TestApp, items: Value) -> Value {
    let r = app
        .admin_put("/v1/admin/suppressions", &json!({ "items": items }))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn queue_states(app: &TestApp, contact: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM dialer_queue WHERE contact_id = $1 ORDER BY id")
        .bind(contact)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_suppressed_contact_is_decided_suppressed_and_never_pushed_until_it_expires() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("spring", 0, "push")).await;
    for c in ["forever", "for-an-hour", "expired", "free"] {
        seed_rising(&app, c, 0.8).await;
    }
    let now = app.now();
    let v = suppress(
        &app,
        json!([
            {"contact_id": "forever", "note": "asked not to be called"},
            {"contact_id": "for-an-hour", "expires_at": (now + Duration::hours(1)).to_rfc3339()},
            {"contact_id": "expired", "expires_at": (now - Duration::seconds(1)).to_rfc3339()},
        ]),
    )
    .await;
    assert_eq!(v, json!({"created": 3, "updated": 0, "withdrawn": 0}));

    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.queued, r.push.handed_over), (2, 2), "{r:?}");
    assert_eq!(reasons(&app, "forever", "spring").await, ["suppressed"]);
    assert_eq!(reasons(&app, "for-an-hour", "spring").await, ["suppressed"]);
    assert_eq!(
        reasons(&app, "expired", "spring").await,
        ["eligible"],
        "an expiry in the past does not suppress"
    );
    let list = sim.state.dialer_list("spring-voice").unwrap();
    let pushed = |c: &str| list.contacts.contains_key(&dialer_contact_id("spring", c));
    assert!(pushed("free") && pushed("expired"));
    assert!(!pushed("forever") && !pushed("for-an-hour"));

    // The explanation says why, rule by rule.
    let v = explain(&app, "forever").await;
    assert_eq!(
        v["suppression"],
        json!({"expires_at": null, "note": "asked not to be called", "active": true})
    );
    let o = &v["decisions"][0]["outcomes"][1];
    assert_eq!(o["rule"], "suppression");
    assert_eq!(o["passed"], false);
    assert!(o["detail"].as_str().unwrap().contains("suppression list"));

    // When the hour is over the contact is decided again (without a new score) and pushed.
    app.clock.advance(Duration::minutes(61));
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.contacts, r.push.handed_over), (1, 1), "{r:?}");
    assert_eq!(
        reasons(&app, "for-an-hour", "spring").await,
        ["eligible", "suppressed"]
    );
    let list = sim.state.dialer_list("spring-voice").unwrap();
    assert!(
        list.contacts
            .contains_key(&dialer_contact_id("spring", "for-an-hour"))
    );
    assert!(
        !list
            .contacts
            .contains_key(&dialer_contact_id("spring", "forever"))
    );

    // Counted by reason, in the stats and the metrics.
    let stats = app.admin_json("/v1/admin/stats").await;
    let suppressed = stats["scoring"]["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "suppressed")
        .unwrap();
    assert!(suppressed["count"].as_u64().unwrap() >= 2);
    let metrics = app.metrics_text().await;
    for reason in ["suppressed", "no_callable_time"] {
        assert!(
            metrics.contains(&format!("pesync_decisions_total{{reason=\"{reason}\"}}")),
            "{reason}"
        );
    }
}

async fn leased_ids(app: &TestApp) -> Vec<String> {
    lease(app, "pull-one", 10)
        .await
        .iter()
        .map(|i| i["data"]["contact_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_contact_suppressed_while_queued_is_withdrawn_and_never_leased() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    for c in ["c-1", "c-2", "c-3"] {
        seed_rising(&app, c, 0.8).await;
    }
    assert_eq!(evaluate(&app).await.queued, 3);

    // Suppressed while waiting in the feed: withdrawn at once.
    let v = suppress(&app, json!([{"contact_id": "c-1"}])).await;
    assert_eq!(v["withdrawn"], 1);
    assert_eq!(queue_states(&app, "c-1").await, ["withdrawn"]);

    // A suppression that reached the list without withdrawing (a race with the queueing) is
    // still caught when the feed is leased.
    sqlx::query(
        "INSERT INTO suppressions (contact_id, created_at, updated_at) VALUES ('c-2', $1, $1)",
    )
    .bind(app.now())
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(leased_ids(&app).await, ["c-3"]);
    assert_eq!(queue_states(&app, "c-2").await, ["withdrawn"]);

    // A new score does not bring them back while suppressed.
    app.clock.advance(Duration::minutes(6));
    seed_rising(&app, "c-1", 0.9).await;
    evaluate(&app).await;
    assert_eq!(reasons(&app, "c-1", "pull-one").await[0], "suppressed");
    // (c-3's lease ran out meanwhile: it is offered again, the suppressed ones are not.)
    assert_eq!(leased_ids(&app).await, ["c-3"]);

    // Removed from the list: decided again by the next run, without a new score, and leased.
    let r = app
        .client
        .delete(app.url("/v1/admin/suppressions/c-2"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(evaluate(&app).await.contacts, 1);
    assert_eq!(reasons(&app, "c-2", "pull-one").await[0], "eligible");
    let items = lease(&app, "pull-one", 10).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["data"]["contact_id"], "c-2");

    // Leased, then suppressed before the dialer acknowledged: withdrawn, and the acknowledgement
    // tells the dialer so instead of handing the contact over.
    let v = suppress(&app, json!([{"contact_id": "c-2"}])).await;
    assert_eq!(v["withdrawn"], 1);
    let id = items[0]["id"].as_str().unwrap();
    assert_eq!(ack(&app, &[id]).await, ["withdrawn"]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM handovers WHERE contact_id = 'c-2'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_push_never_sends_a_contact_suppressed_after_it_was_queued() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("spring", 0, "push")).await;
    seed_rising(&app, "c-1", 0.8).await;
    seed_rising(&app, "c-2", 0.8).await;
    // Queued by a run without a client: waiting in the push outbox.
    assert_eq!(evaluate(&app).await.queued, 2);
    // Suppressed behind the API's back (a race): the pusher still checks.
    sqlx::query(
        "INSERT INTO suppressions (contact_id, created_at, updated_at) VALUES ('c-1', $1, $1)",
    )
    .bind(app.now())
    .execute(&app.pool)
    .await
    .unwrap();
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.push.withdrawn, r.push.handed_over), (1, 1), "{r:?}");
    let list = sim.state.dialer_list("spring-voice").unwrap();
    assert!(
        !list
            .contacts
            .contains_key(&dialer_contact_id("spring", "c-1"))
    );
    assert!(
        list.contacts
            .contains_key(&dialer_contact_id("spring", "c-2"))
    );
    assert_eq!(queue_states(&app, "c-1").await, ["withdrawn"]);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM handovers WHERE contact_id = 'c-1'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn the_list_is_validated_paged_and_written_by_the_admin_only() {
    let app = spawn_app().await;
    // More than 10,000 entries: 413.
    let many: Vec<Value> = (0..=10_000)
        .map(|i| json!({"contact_id": format!("c-{i:05}")}))
        .collect();
    let r = app
        .admin_put("/v1/admin/suppressions", &json!({ "items": many }))
        .await;
    let p = assert_problem(r, 413).await;
    assert!(
        p["detail"].as_str().unwrap().contains("at most 10000"),
        "{p}"
    );
    // Exactly 10,000: taken in one request.
    let v = suppress(&app, Value::Array(many[..10_000].to_vec())).await;
    assert_eq!(v["created"], 10_000);

    // Every problem named by index and field.
    let r = app
        .admin_put(
            "/v1/admin/suppressions",
            &json!({"items": [{"contact_id": "ok"}, {"contact_id": ""},
                              {"contact_id": "x", "expires_at": "tomorrow"}, {"note": "n"}]}),
        )
        .await;
    let p = assert_problem(r, 422).await;
    assert_eq!(
        fields(&p),
        [
            "items[1].contact_id",
            "items[2].expires_at",
            "items[3].contact_id"
        ]
    );
    // A NUL anywhere is a 422 naming the field, like every other document.
    let r = app
        .admin_put(
            "/v1/admin/suppressions",
            &json!({"items": [{"contact_id": "a\u{0}b"}]}),
        )
        .await;
    let p = assert_problem(r, 422).await;
    assert_eq!(fields(&p), ["items[0].contact_id"]);

    // An update keeps the entry's place and says so.
    let v = suppress(&app, json!([{"contact_id": "c-00000", "note": "again"}])).await;
    assert_eq!(
        (v["created"].as_u64(), v["updated"].as_u64()),
        (Some(0), Some(1))
    );

    // Paged like every list; the viewer reads.
    let r = app
        .get_as("/v1/admin/suppressions?limit=2", Some(VIEWER))
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-00000", "c-00001"]);
    assert_eq!(page["items"][0]["note"], "again");
    assert_eq!(page["items"][0]["active"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app
        .admin_json(&format!("/v1/admin/suppressions?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(next["items"][0]["contact_id"], "c-00002");

    // The viewer may not write.
    let r = app
        .client
        .put(app.url("/v1/admin/suppressions"))
        .bearer_auth(VIEWER)
        .json(&json!({"items": [{"contact_id": "v"}]}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403).await;
    let r = app
        .client
        .delete(app.url("/v1/admin/suppressions/c-00000"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_problem(r, 403).await;
    // Removing one that is not on the list: 404.
    let r = app
        .client
        .delete(app.url("/v1/admin/suppressions/nobody"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_problem(r, 404).await;
}

/// The campaign document with calling hours.
fn with_hours(id: &str, start: &str, end: &str) -> Value {
    let mut c = campaign(id, 0, "pull");
    c["calling_hours"] = json!({"start_time": start, "end_time": end});
    c
}

#[tokio::test]
async fn calling_hours_narrow_the_window_and_an_empty_intersection_is_no_callable_time() {
    let app = spawn_app().await;
    // Invalid calling hours: 422 naming the field.
    let r = app
        .admin_post("/v1/admin/campaigns", &with_hours("bad", "8am", "21:00:00"))
        .await;
    let p = assert_problem(r, 422).await;
    assert_eq!(fields(&p), ["calling_hours.start_time"]);

    // Calling hours that open two hours from now (in the contacts' zone, UTC here).
    let now = app.now();
    let opens = (now + Duration::hours(2))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let closes = now + Duration::hours(3);
    let doc = with_hours("calls", &hms(opens), &hms(closes));
    create_campaign(&app, &doc).await;
    let stored = app.admin_json("/v1/admin/campaigns/calls").await;
    assert_eq!(stored["calling_hours"], doc["calling_hours"]);

    // A contact open all day (in UTC) is deferred to the opening of the calling hours.
    let all_day = json!({"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "UTC"});
    let p = profile(
        &[
            (now - Duration::hours(5), 0.5),
            (now - Duration::hours(1), 0.8),
        ],
        "voice",
        Some(all_day.clone()),
    );
    seed_profile(&app, "deferred", &p).await;
    // A contact whose own window shares no time with the calling hours.
    let never = json!({"start_time": hms(closes + Duration::minutes(10)),
                       "end_time": hms(closes + Duration::minutes(40)), "timezone": "UTC"});
    let p = profile(
        &[
            (now - Duration::hours(5), 0.5),
            (now - Duration::hours(1), 0.8),
        ],
        "voice",
        Some(never),
    );
    seed_profile(&app, "never", &p).await;

    let r = evaluate(&app).await;
    assert_eq!((r.queued, r.deferred), (0, 1), "{r:?}");
    assert_eq!(reasons(&app, "never", "calls").await, ["no_callable_time"]);
    assert_eq!(
        reasons(&app, "deferred", "calls").await,
        ["deferred_outside_window"]
    );
    let next: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT next_opening FROM decisions WHERE contact_id = 'deferred'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        next, opens,
        "the first instant inside the window and the hours"
    );

    // The explanation shows both windows and their intersection.
    let v = explain(&app, "deferred").await;
    let w = &v["windows"][0];
    assert_eq!(w["campaign_id"], "calls");
    assert_eq!(w["contact_window"], all_day);
    assert_eq!(
        w["contact_window_state"],
        json!({"open": true, "next_opening": null})
    );
    assert_eq!(w["calling_hours"], doc["calling_hours"]);
    assert_eq!(w["effective"]["open"], false);
    assert_instant(&w["effective"]["next_opening"], opens);
    let v = explain(&app, "never").await;
    assert_eq!(
        v["windows"][0]["effective"],
        json!({"open": false, "next_opening": null})
    );

    // When the hours open the deferred contact is decided again and offered.
    app.clock.advance(opens - now + Duration::seconds(1));
    let r = evaluate(&app).await;
    assert_eq!((r.contacts, r.queued), (1, 1), "{r:?}");
    let items = lease(&app, "calls", 10).await;
    assert_eq!(items.len(), 1);
    // The dialer is told the window ∩ calling hours, not the contact's all-day window.
    assert_eq!(items[0]["data"]["window_start"], hms(opens));
    assert_eq!(items[0]["data"]["window_end"], hms(closes));
    assert_eq!(items[0]["data"]["timezone"], "UTC");
}

#[tokio::test]
async fn the_dry_run_shows_the_effective_window_beside_both() {
    let app = spawn_app().await;
    // SPEC §8's example with voice calling hours 08:00–21:00: 01:30 EST is inside the contact's
    // 01:00–03:30 but outside the hours, which have no time in common with it.
    let body = json!({"now": "2026-03-08T06:30:00Z",
        "campaign": {"id": "spring-renewals", "name": "Spring renewals", "mode": "push",
            "channels": {"voice": "list-voice"},
            "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"},
            "calling_hours": {"start_time": "08:00:00", "end_time": "21:00:00"}},
        "observations": [{"timestamp": "2026-03-07T06:00:00Z", "score": 0.62},
                         {"timestamp": "2026-03-08T06:00:00Z", "score": 0.72}],
        "channel_preference": "voice",
        "best_contact_window": {"start_time": "01:00:00", "end_time": "03:30:00", "timezone": "America/New_York"}});
    let r = app.admin_post("/v1/admin/evaluate", &body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "no_callable_time");
    assert_eq!(v["window"], json!({"open": false, "next_opening": null}));
    assert_eq!(v["contact_window"], body["best_contact_window"]);
    assert_eq!(
        v["contact_window_state"],
        json!({"open": true, "next_opening": null})
    );
    assert_eq!(v["calling_hours"], body["campaign"]["calling_hours"]);

    // Without a window of its own the contact takes the default 09:00–20:00: deferred to 09:00
    // EDT on the spring-forward day, 13:00Z, inside both.
    let mut b = body.clone();
    b["best_contact_window"] = Value::Null;
    let v: Value = app
        .admin_post("/v1/admin/evaluate", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["reason"], "deferred_outside_window");
    assert_eq!(
        v["window"],
        json!({"open": false, "next_opening": "2026-03-08T13:00:00Z"})
    );

    // A suppression can be tried too.
    let mut b = body.clone();
    b["suppression"] = json!({});
    let v: Value = app
        .admin_post("/v1/admin/evaluate", &b)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["reason"], "suppressed");

    // Invalid calling hours: 422 naming the field.
    let mut b = body.clone();
    b["campaign"]["calling_hours"]["end_time"] = json!("9pm");
    let r = app.admin_post("/v1/admin/evaluate", &b).await;
    let p = assert_problem(r, 422).await;
    assert_eq!(fields(&p), ["campaign.calling_hours.end_time"]);
}
