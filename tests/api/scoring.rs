//! The poller and the dialer push against the Genesys simulator (SPEC §7): snapshots and
//! observations stored once, 404s retried on a later tick, deferred contacts polled before their
//! window opens, pushes in batches of at most 1,000 with a stable id, retried on 429/5xx and never
//! lost; and the whole chain on its crons.

use std::time::Duration as StdDuration;

use chrono::Duration;
use pesync::evaluation::evaluate_once;
use pesync::normalize::dedup::dialer_contact_id;
use pesync::scoring::poll_once;
use pesync::simulator::{
    ContactWindow, Endpoint, FailScope, FailSpec, ProfileOverride, ScorePoint,
};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

fn pinned(score: f64, history: &[(chrono::DateTime<chrono::Utc>, f64)]) -> ProfileOverride {
    ProfileOverride {
        propensity_score: Some(score),
        channel_preference: Some(Some("voice".into())),
        best_contact_window: Some(None),
        score_history: Some(
            history
                .iter()
                .map(|(t, s)| ScorePoint {
                    timestamp: *t,
                    score: *s,
                })
                .collect(),
        ),
        ..ProfileOverride::default()
    }
}

async fn observations(app: &TestApp, contact: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM score_observations WHERE contact_id = $1")
        .bind(contact)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn polls_store_snapshots_and_history_once_and_retry_a_404_later() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    let now = app.now();
    sim.state.set_profile(
        "c-1",
        ProfileOverride {
            propensity_score: Some(0.82),
            channel_preference: Some(Some("email".into())),
            best_contact_window: Some(Some(ContactWindow {
                start_time: "09:00:00".into(),
                end_time: "11:30:00".into(),
                timezone: "America/New_York".into(),
            })),
            score_history: Some(vec![
                ScorePoint {
                    timestamp: now - Duration::days(2),
                    score: 0.61,
                },
                ScorePoint {
                    timestamp: now - Duration::days(1),
                    score: 0.82,
                },
            ]),
            ..ProfileOverride::default()
        },
    );
    delivered(&app, &["c-1", "c-2"]).await;

    let r = poll_once(&app.state, &client).await.unwrap();
    assert_eq!(
        (r.polled, r.profiles, r.not_found, r.observations),
        (2, 1, 1, 3),
        "c-2 has no profile yet"
    );
    assert_eq!(
        observations(&app, "c-1").await,
        3,
        "two history points and the poll"
    );
    let v = explain(&app, "c-1").await;
    let snap = &v["snapshots"][0];
    assert_eq!(snap["score"], 0.82);
    assert_eq!(snap["channel"], "email");
    assert_eq!(snap["best_contact_window"]["end_time"], "11:30:00");
    assert_eq!(snap["raw"]["contact_id"], "c-1");
    assert_eq!(snap["raw"]["score_history"].as_array().unwrap().len(), 2);

    // Nothing delivered since, and the 404 is not due yet: nothing polled.
    assert_eq!(poll_once(&app.state, &client).await.unwrap().polled, 0);
    // A later tick tries the 404 again.
    app.clock.advance(Duration::minutes(1));
    let r = poll_once(&app.state, &client).await.unwrap();
    assert_eq!((r.polled, r.not_found), (1, 1));

    // PE learns about c-2; c-1 gets a new delivery. History points already stored are not again.
    sim.state.set_profile("c-2", pinned(0.5, &[]));
    delivered(&app, &["c-1"]).await;
    app.clock.advance(Duration::minutes(1));
    let r = poll_once(&app.state, &client).await.unwrap();
    assert_eq!((r.polled, r.profiles, r.observations), (2, 2, 2));
    assert_eq!(observations(&app, "c-1").await, 4);
    assert_eq!(
        explain(&app, "c-1").await["snapshots"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let profile_requests = sim
        .state
        .requests()
        .iter()
        .filter(|q| q.endpoint == Endpoint::Profile)
        .count();
    assert_eq!(profile_requests, 5);
}

#[tokio::test]
async fn a_deferred_contact_is_polled_once_just_before_its_window_opens() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    let now = app.now();
    let opens = now + Duration::hours(2);
    let mut profile = pinned(
        0.8,
        &[
            (now - Duration::hours(5), 0.5),
            (now - Duration::hours(1), 0.8),
        ],
    );
    profile.best_contact_window = Some(Some(ContactWindow {
        start_time: hms(opens),
        end_time: hms(opens + Duration::hours(1)),
        timezone: "UTC".into(),
    }));
    sim.state.set_profile("c-1", profile);
    delivered(&app, &["c-1"]).await;
    poll_once(&app.state, &client).await.unwrap();
    assert_eq!(evaluate(&app).await.deferred, 1);

    assert_eq!(poll_once(&app.state, &client).await.unwrap().polled, 0);
    app.clock.advance(Duration::hours(2) - Duration::minutes(6));
    assert_eq!(poll_once(&app.state, &client).await.unwrap().polled, 0);
    app.clock.advance(Duration::minutes(2)); // 4 min before the opening
    assert_eq!(poll_once(&app.state, &client).await.unwrap().polled, 1);
    assert_eq!(
        poll_once(&app.state, &client).await.unwrap().polled,
        0,
        "once per opening"
    );
    // The fresh observation is evaluated (still deferred), and at the opening the contact is taken.
    assert_eq!(evaluate(&app).await.deferred, 1);
    app.clock.advance(Duration::minutes(4));
    assert_eq!(evaluate(&app).await.queued, 1);
}

/// `n` contacts that pass every rule, stored in bulk as if polled.
async fn seed_eligible(app: &TestApp, n: i64) {
    let now = app.now();
    sqlx::query(
        r#"WITH c AS (SELECT 'c-' || lpad(g::text, 5, '0') AS id FROM generate_series(1, $2) g)
           INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
           SELECT id, $1 - interval '5 hours', 'history', 0.5, $1 FROM c
           UNION ALL SELECT id, $1 - interval '1 hour', 'history', 0.8, $1 FROM c"#,
    )
    .bind(now)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        r#"WITH s AS (
               INSERT INTO contact_scores (contact_id, last_polled_at, channel, observed_seq)
               SELECT 'c-' || lpad(g::text, 5, '0'), $1, 'voice', nextval('observation_seq')
               FROM generate_series(1, $2) g RETURNING contact_id, observed_seq)
           INSERT INTO evaluation_queue SELECT contact_id, observed_seq FROM s"#,
    )
    .bind(now)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn eligible_contacts_are_pushed_in_batches_of_at_most_1000_with_stable_ids() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("spring", 0, "push")).await;
    seed_eligible(&app, 2_500).await;

    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.contacts, r.queued), (2_500, 2_500));
    assert_eq!((r.push.requests, r.push.handed_over), (3, 2_500));
    let list = sim.state.dialer_list("spring-voice").unwrap();
    assert_eq!(list.contacts.len(), 2_500);
    let id = dialer_contact_id("spring", "c-00001");
    let c = &list.contacts[&id];
    assert_eq!(c.contact_list_id, "spring-voice");
    assert_eq!(c.callable, Some(true));
    let data = serde_json::to_value(&c.data).unwrap();
    assert_eq!(
        data,
        json!({"contact_id": "c-00001", "campaign": "spring", "channel": "voice",
               "propensity_score": "0.8", "tier": "high", "window_start": "00:00:00",
               "window_end": "00:00:00", "timezone": "UTC"})
    );
    let v = explain(&app, "c-00001").await;
    assert_eq!(v["last_handover"]["campaign_id"], "spring");
    assert!(v["cooldown_until"].is_string());
    assert_eq!(count(&app, "SELECT count(*) FROM handovers").await, 2_500);
    let stats: Value = app.admin_json("/v1/admin/stats").await;
    assert_eq!(stats["dispatched"], 2_500);

    // After the cooldown the same contact is pushed again with the same id: an update.
    app.clock.advance(Duration::hours(72));
    seed_rising(&app, "c-00001", 0.9).await;
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!(r.push.handed_over, 1);
    let list = sim.state.dialer_list("spring-voice").unwrap();
    assert_eq!(list.contacts.len(), 2_500);
    assert_eq!(list.contacts[&id].times_pushed, 2);
    assert_eq!(list.contacts[&id].data["propensity_score"], "0.9");
}

#[tokio::test]
async fn a_push_refused_with_429_or_503_waits_and_is_never_lost() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("spring", 0, "push")).await;
    seed_rising(&app, "c-1", 0.8).await;

    sim.state
        .fail_next(FailSpec {
            count: 1,
            status: 429,
            retry_after_secs: Some(2),
            scope: FailScope::Api,
        })
        .unwrap();
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.queued, r.push.handed_over, r.push.retrying), (1, 0, 1));
    assert!(sim.state.dialer_list("spring-voice").is_none());
    assert_eq!(explain(&app, "c-1").await["last_handover"], Value::Null);

    // Not before Retry-After (the client also holds every request for as long, in real time).
    app.clock.advance(Duration::seconds(1));
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.contacts, r.push.requests), (0, 0));
    // Then a 503 storm.
    app.clock.advance(Duration::seconds(1));
    sim.state
        .fail_next(FailSpec {
            count: 2,
            status: 503,
            retry_after_secs: None,
            scope: FailScope::Api,
        })
        .unwrap();
    let mut handed = 0;
    for _ in 0..5 {
        let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
        handed += r.push.handed_over;
        if handed > 0 {
            break;
        }
        app.clock.advance(Duration::seconds(5)); // past the first backoffs (1 s, then ≤ 2 s)
    }
    assert_eq!(handed, 1);
    let handed_at = app.now();
    let list = sim.state.dialer_list("spring-voice").unwrap();
    assert_eq!(list.contacts.len(), 1);
    let v = explain(&app, "c-1").await;
    assert_instant(&v["last_handover"]["at"], handed_at);
    assert_instant(&v["cooldown_until"], handed_at + Duration::hours(72));
    let statuses: Vec<u16> = sim
        .state
        .requests()
        .iter()
        .filter(|q| q.endpoint == Endpoint::Dialer)
        .map(|q| q.status)
        .collect();
    assert_eq!(statuses[..3], [429, 503, 503]);
}

#[tokio::test]
async fn a_push_refused_with_400_leaves_the_queue_and_the_contact_may_come_back() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app().await;
    let client = sim_client(&app, &sim, 100.0).await;
    create_campaign(&app, &campaign("spring", 0, "push")).await;
    seed_rising(&app, "c-1", 0.8).await;
    sim.state.set_contact_status("c-1", Some(400)).unwrap();
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!((r.push.rejected, r.push.handed_over), (1, 0));
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM dialer_queue WHERE state = 'rejected' AND last_status = 400"
        )
        .await,
        1
    );
    // No hand-over, no cooldown: a later run may offer the contact again.
    sim.state.set_contact_status("c-1", None).unwrap();
    app.clock.advance(Duration::minutes(61));
    seed_rising(&app, "c-1", 0.9).await;
    let r = evaluate_once(&app.state, Some(&client)).await.unwrap();
    assert_eq!(r.push.handed_over, 1);
}

#[tokio::test]
async fn events_to_the_dialer_end_to_end_on_crons() {
    let sim = spawn_simulator(None).await;
    let (db_url, pool) = fresh_database().await;
    let mut settings = settings_for_sim(&db_url, &sim, 50.0);
    settings.poll_cron = "*/1 * * * * *".into();
    settings.evaluate_cron = "*/2 * * * * *".into();
    let app = start(
        settings,
        pool,
        TestClock::Offset(pesync::platform::clock::OffsetClock::new()),
    )
    .await;
    app.create_source("crm", json!({})).await;
    create_campaign(&app, &campaign("spring", 10, "push")).await;
    create_campaign(&app, &campaign("autumn", 5, "push")).await;
    // PE computes the profile from the events; only the window is pinned away (null: the
    // campaign's default window, open all day), so the test does not depend on the hour.
    sim.state.set_profile(
        "e2e-1",
        ProfileOverride {
            best_contact_window: Some(None),
            ..ProfileOverride::default()
        },
    );
    let now = app.now();
    app.ingest(
        "crm",
        &json!([
            event("e2e-1", "OPP-1", now - Duration::hours(30)),
            event("e2e-1", "OPP-2", now - Duration::hours(2))
        ]),
    )
    .await;

    // Delivered → polled → decided → pushed to the higher-priority campaign's email list
    // (channel_origin web_portal makes the simulator prefer email).
    eventually(
        StdDuration::from_secs(30),
        "the contact reaches the dialer",
        || async {
            sim.state
                .dialer_list("spring-email")
                .is_some_and(|l| !l.contacts.is_empty())
        },
    )
    .await;
    assert_eq!(sim.state.stats().events_accepted, 2);
    let v = explain(&app, "e2e-1").await;
    assert_eq!(v["last_handover"]["campaign_id"], "spring");
    assert_eq!(v["last_handover"]["channel"], "email");
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "delivered")
    );
    assert!(!v["snapshots"].as_array().unwrap().is_empty());
    let decisions = v["decisions"].as_array().unwrap();
    assert!(
        decisions
            .iter()
            .any(|d| d["campaign_id"] == "spring" && d["reason"] == "eligible")
    );
    assert!(
        decisions
            .iter()
            .any(|d| d["campaign_id"] == "autumn" && d["reason"] == "cooldown")
    );
    assert!(sim.state.dialer_list("autumn-email").is_none());

    // The stages' counters, the same both ways. They are this process's (other tests run in it
    // too), so at least what this test did.
    let stats: Value = app.admin_json("/v1/admin/stats").await;
    let scoring = &stats["scoring"];
    let eligible = scoring["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "eligible")
        .unwrap()["count"]
        .as_u64()
        .unwrap();
    assert!(eligible >= 1, "{scoring}");
    assert!(
        scoring["polls"]["profile"].as_u64().unwrap() >= 1,
        "{scoring}"
    );
    assert!(
        scoring["handed_over"]["push"].as_u64().unwrap() >= 1,
        "{scoring}"
    );
    let text = app.metrics_text().await;
    for needle in [
        "# TYPE pesync_decisions_total counter",
        "pesync_decisions_total{reason=\"eligible\"} ",
        "pesync_profile_polls_total{outcome=\"profile\"} ",
        "pesync_dialer_handed_over_total{mode=\"push\"} ",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
