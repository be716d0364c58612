//! Delivery through the External Events API (`PESYNC_GENESYS_EVENTS=external-events`, issue 10 §3)
//! against the simulator over real HTTP: batches, per-contact order, partial success, whole-request
//! answers, and events that wait for setup. The org is created in the simulator through its real
//! endpoints and stored as `pesync genesys setup` stores it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use pesync::app::config::Settings;
use pesync::genesys::EventsTarget;
use pesync::genesys::org::{self, NOT_SET_UP, Org};
use pesync::platform::clock::OffsetClock;
use pesync::simulator::{Endpoint, FailScope, FailSpec, SimExternalEvent, SimulatorHandle};
use serde_json::{Value, json};

use crate::helpers::*;

const WAIT: StdDuration = StdDuration::from_secs(60);

/// The app delivering to `sim` through External Events, `batch` entities a request at most.
async fn spawn(sim: &SimulatorHandle, batch: usize) -> TestApp {
    let (db_url, pool) = fresh_database().await;
    let settings = Settings {
        genesys_events: EventsTarget::ExternalEvents,
        genesys_events_batch: batch,
        ..settings_for_sim(&db_url, sim, 50.0)
    };
    // One worker, so a request holds every contact ready at once: several workers claim side by
    // side (SKIP LOCKED) and may split ready contacts between their requests, which is right but
    // would make the request sizes these tests check a race.
    let clock = TestClock::Offset(OffsetClock::new());
    let app = start_with(settings, pool, clock, |w| w.workers = 1).await;
    app.create_source("crm", json!({})).await;
    app
}

async fn save(app: &TestApp, org: &Org) {
    let mut tx = app.pool.begin().await.unwrap();
    org::save(&mut tx, org).await.unwrap();
    tx.commit().await.unwrap();
}

/// The simulator's org, created through its endpoints and stored in the app.
async fn set_up(sim: &SimulatorHandle, app: &TestApp) -> Org {
    let org = pesync::tools::bench::sim_org::set_up(sim).await.unwrap();
    save(app, &org).await;
    org
}

async fn wait_for_entities(sim: &SimulatorHandle, n: usize) {
    eventually(WAIT, &format!("{n} external events"), || async {
        sim.state.external_events().len() >= n
    })
    .await;
}

/// The events taken in, per request: a request's entities share the instant it was taken in.
fn requests(taken: &[SimExternalEvent]) -> BTreeMap<DateTime<Utc>, Vec<&SimExternalEvent>> {
    let mut by_request: BTreeMap<DateTime<Utc>, Vec<&SimExternalEvent>> = BTreeMap::new();
    for e in taken {
        by_request.entry(e.received_at).or_default().push(e);
    }
    by_request
}

/// `(state, attempts)` of the event with this `crm_record_id`.
async fn event_state(app: &TestApp, record: &str) -> (String, i32) {
    sqlx::query_as("SELECT state, attempts FROM events WHERE attributes->>'crm_record_id' = $1")
        .bind(record)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn dead_letters(app: &TestApp) -> Vec<Value> {
    let d = app.admin_json("/v1/admin/dead-letters").await;
    d["items"].as_array().unwrap().clone()
}

fn behavior(contact: &str, record: &str, at: DateTime<Utc>) -> Value {
    json!({"contact_id": contact, "event_type": "crm.behavior", "event_timestamp": at.to_rfc3339(),
        "attributes": {"crm_record_id": record, "pages_viewed": 3, "channel_origin": "web"}})
}

#[tokio::test]
async fn events_go_in_batches_once_each_in_order_never_two_of_a_contact_together() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 4).await;
    let org = set_up(&sim, &app).await;
    // Whole seconds: the database keeps microseconds.
    let base = (app.now() - Duration::minutes(10)).trunc_subsecs(0);
    // 8 contacts × 3 transactions, newest first, and 2 behaviours: 26 events in one ingest call.
    let mut events = vec![];
    for step in (0..3).rev() {
        for c in 0..8 {
            let at = base + Duration::seconds(step * 10 + c);
            events.push(event(&format!("c-{c}"), &format!("T{c}-{step}"), at));
        }
    }
    events.push(behavior("c-0", "B0", base + Duration::seconds(35)));
    events.push(behavior("c-9", "B9", base));
    let results = app.ingest("crm", &json!(events)).await;
    wait_for_entities(&sim, 26).await;

    let taken = sim.state.external_events();
    assert_eq!(taken.len(), 26);
    let accepted: HashSet<String> = results
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_owned())
        .collect();
    let ids: HashSet<String> = taken.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids, accepted,
        "every event once, its request id as the entity id"
    );
    assert_eq!(sim.state.journey().repeated_ids, 0);

    let by_request = requests(&taken);
    for entities in by_request.values() {
        assert!(entities.len() <= 4, "at most PESYNC_GENESYS_EVENTS_BATCH");
        let contacts: HashSet<&str> = entities.iter().map(|e| e.contact_id.as_str()).collect();
        assert_eq!(
            contacts.len(),
            entities.len(),
            "two events of a contact in one request"
        );
        let types: HashSet<&str> = entities.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types.len(), 1, "one configuration per request");
    }
    assert!(
        by_request.values().filter(|e| e.len() > 1).count() >= 3,
        "batched: {:?}",
        by_request.values().map(Vec::len).collect::<Vec<_>>()
    );
    let sent = sim.state.requests();
    let sent = sent
        .iter()
        .filter(|r| r.endpoint == Endpoint::ExternalEvents);
    assert_eq!(sent.count(), by_request.len(), "one request per instant");

    // Per contact, in ascending event time.
    let mut per_contact: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for e in &taken {
        per_contact
            .entry(&e.contact_id)
            .or_default()
            .push(e.date_created);
    }
    for (contact, times) in &per_contact {
        assert!(times.is_sorted(), "{contact} out of order: {times:?}");
    }
    assert_eq!(per_contact["c-0"].len(), 4);

    // Each entity is the stored event: source, time, attributes as normalized, its event type's
    // configuration.
    let b0 = taken.iter().find(|e| e.attributes["crm_record_id"] == "B0");
    let b0 = b0.unwrap();
    assert_eq!(b0.event_type, "crm.behavior");
    assert_eq!(
        b0.configuration_id,
        org.event_types["crm.behavior"].configuration_id
    );
    assert_eq!(b0.external_source_id, org.external_source_id);
    assert_eq!(b0.date_created, base + Duration::seconds(35));
    let attributes = json!({"crm_record_id": "B0", "pages_viewed": 3, "channel_origin": "web"});
    assert_eq!(Value::Object(b0.attributes.clone()), attributes);
    assert!(
        b0.attributes["pages_viewed"].is_u64(),
        "an integer stays one"
    );
    let stats = app.admin_json("/v1/admin/stats").await;
    assert_eq!(
        stats["genesys"],
        json!({"target": "external-events", "set_up": true, "note": null})
    );
}

#[tokio::test]
async fn partial_success_retries_the_retryable_dead_letters_the_rest_and_delivers_the_others() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    set_up(&sim, &app).await;
    let answer = app
        .client
        .post(format!("{}/_sim/externalevents/fail", sim.base_url))
        .json(&json!({"retryable": 2, "non_retryable": 1, "non_retryable_status": 422}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Already there (a per-entity 409) counts as delivered.
    sim.state.set_contact_status("c-5", Some(409)).unwrap();
    let now = app.now();
    // Entities go in contact order: c-0 and c-1 fail retryably, c-2 for good.
    let events: Vec<Value> = (0..6)
        .map(|i| event(&format!("c-{i}"), &format!("R{i}"), now))
        .collect();
    let results = app.ingest("crm", &json!(events)).await;
    // c-3, c-4 at once; c-0, c-1 after their backoff; c-5 never taken in (409).
    wait_for_entities(&sim, 4).await;
    eventually(WAIT, "every outcome recorded", || async {
        pending(&app).await == 0
    })
    .await;

    let stats = sim.state.stats();
    assert_eq!(
        stats.external_events_unprocessed, 4,
        "2 retryable, 1 not, 1 409"
    );
    assert_eq!(sim.state.journey().repeated_ids, 0);
    let requests = sim.state.requests();
    let sent: Vec<_> = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::ExternalEvents)
        .collect();
    assert!(
        sent.iter().all(|r| r.status == 200),
        "partial success is a 200"
    );
    assert!(
        (2..=3).contains(&sent.len()),
        "one request, then the two retried (together or not): {}",
        sent.len()
    );
    // The retried entities are the same events again: same id, same content.
    let taken = sim.state.external_events();
    for (i, result) in results.iter().enumerate().take(2) {
        let e = taken.iter().find(|e| e.contact_id == format!("c-{i}"));
        let e = e.expect("retried and delivered");
        assert_eq!(e.id, result["request_id"].as_str().unwrap());
        assert_eq!(e.attributes["crm_record_id"], format!("R{i}"));
        assert_eq!(e.date_created.timestamp(), now.timestamp());
        assert_eq!(
            event_state(&app, &format!("R{i}")).await,
            ("delivered".into(), 2)
        );
    }
    assert_eq!(event_state(&app, "R3").await, ("delivered".into(), 1));
    assert_eq!(event_state(&app, "R5").await, ("delivered".into(), 1));
    assert_eq!(event_state(&app, "R2").await, ("dead_letter".into(), 1));

    let dead = dead_letters(&app).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["contact_id"], "c-2");
    assert_eq!(dead[0]["status"], 422);
    let entry: Value = serde_json::from_str(dead[0]["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(entry["isRetryable"], false);
    assert_eq!(entry["statusCode"], 422);
    assert_eq!(entry["event"]["id"], results[2]["request_id"]);
    assert_eq!(entry["event"]["attributes"]["crm_record_id"], "R2");
}

async fn pending(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE state = 'pending'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The statuses and arrival times of the External Events requests the simulator answered.
fn events_requests(sim: &SimulatorHandle) -> Vec<(u16, i64)> {
    let requests = sim.state.requests();
    let sent = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::ExternalEvents);
    sent.map(|r| (r.status, r.at_ms)).collect()
}

#[tokio::test]
async fn whole_request_answers_follow_spec_5_a_413_halves_and_a_400_dead_letters_all() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    set_up(&sim, &app).await;
    let fail = |status, retry_after_secs| FailSpec {
        count: 1,
        status,
        retry_after_secs,
        scope: FailScope::Api,
    };
    // Each failure is set while nothing is in flight, so it meets the request it is meant for.
    let batch = |prefix: &str, n: usize| -> Value {
        let now = app.now();
        let events: Vec<Value> = (0..n)
            .map(|i| event(&format!("{prefix}-{i}"), &format!("{prefix}{i}"), now))
            .collect();
        json!(events)
    };
    let settled = || async { pending(&app).await == 0 };

    // Too large: halved, each half sent on its own.
    sim.state.fail_next(fail(413, None)).unwrap();
    app.ingest("crm", &batch("a", 4)).await;
    wait_for_entities(&sim, 4).await;
    eventually(WAIT, "recorded", settled).await;
    let statuses: Vec<u16> = events_requests(&sim).iter().map(|r| r.0).collect();
    assert_eq!(statuses, [413, 200, 200]);
    let sizes: Vec<usize> = requests(&sim.state.external_events())
        .values()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [2, 2]);
    assert_eq!(event_state(&app, "a0").await, ("delivered".into(), 1));

    // A 429 with Retry-After: the whole request waits it out, then goes again as one.
    sim.state.fail_next(fail(429, Some(2))).unwrap();
    app.ingest("crm", &batch("r", 3)).await;
    wait_for_entities(&sim, 7).await;
    eventually(WAIT, "recorded", settled).await;
    let sent = events_requests(&sim);
    let statuses: Vec<u16> = sent.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [413, 200, 200, 429, 200]);
    assert!(sent[4].1 - sent[3].1 >= 1_900, "Retry-After: 2 honoured");
    let sizes: Vec<usize> = requests(&sim.state.external_events())
        .values()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [2, 2, 3], "retried together");
    assert_eq!(event_state(&app, "r0").await, ("delivered".into(), 2));

    // Another 4xx: every entity of the request is dead-lettered with the answer.
    sim.state.fail_next(fail(400, None)).unwrap();
    app.ingest("crm", &batch("b", 3)).await;
    eventually(WAIT, "three dead letters", || async {
        dead_letters(&app).await.len() == 3
    })
    .await;
    for d in dead_letters(&app).await {
        assert_eq!(d["status"], 400);
        assert!(
            d["response_body"].as_str().unwrap().contains("Simulated"),
            "{d}"
        );
    }
    assert_eq!(sim.state.external_events().len(), 7);
    assert_eq!(sim.state.journey().repeated_ids, 0);
}

#[tokio::test]
async fn an_event_too_large_for_any_request_is_dead_lettered_unsent() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    set_up(&sim, &app).await;
    let mut huge = event("c-1", "HUGE", app.now());
    huge["attributes"]["product_category"] = json!("x".repeat(520_000));
    app.ingest("crm", &json!([huge, event("c-2", "SMALL", app.now())]))
        .await;
    eventually(WAIT, "the dead letter", || async {
        !dead_letters(&app).await.is_empty()
    })
    .await;
    let dead = dead_letters(&app).await;
    assert_eq!(
        (dead[0]["contact_id"].clone(), dead[0]["status"].clone()),
        (json!("c-1"), json!(413))
    );
    wait_for_entities(&sim, 1).await;
    let requests = sim.state.requests();
    assert!(
        requests.iter().all(|r| r.status != 413),
        "never sent: {requests:?}"
    );
    assert_eq!(sim.state.external_events()[0].contact_id, "c-2");
}

/// The contacts' queue rows: (ready in how many seconds from now, failures).
async fn queued(app: &TestApp) -> Vec<(i64, i32)> {
    let rows: Vec<(DateTime<Utc>, i32)> =
        sqlx::query_as("SELECT ready_at, failures FROM delivery_queue ORDER BY contact_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let now = app.now();
    rows.into_iter()
        .map(|(at, f)| ((at - now).num_seconds(), f))
        .collect()
}

#[tokio::test]
async fn events_wait_for_setup_then_go() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    let now = app.now();
    let events = json!([event("c-1", "A", now), event("c-2", "B", now)]);
    app.ingest("crm", &events).await;
    // Looked at once the ordering hold is over, and released for 30 s: no hot loop.
    eventually(WAIT, "the contacts set aside", || async {
        let q = queued(&app).await;
        q.len() == 2
            && q.iter()
                .all(|(secs, failures)| *secs >= 20 && *failures == 0)
    })
    .await;
    let stats = app.admin_json("/v1/admin/stats").await;
    assert_eq!(
        stats["genesys"],
        json!({"target": "external-events", "set_up": false, "note": NOT_SET_UP})
    );
    assert_eq!(stats["realtime"]["depth"], 2);
    assert!(dead_letters(&app).await.is_empty());
    assert!(sim.state.requests().is_empty(), "nothing sent before setup");
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("pesync_genesys_ready{target=\"external-events\"} 0"));

    // Set up against another org: still waiting.
    let mut elsewhere = pesync::tools::bench::sim_org::set_up(&sim).await.unwrap();
    elsewhere.base_url = "https://api.mypurecloud.ie".into();
    save(&app, &elsewhere).await;
    app.clock.advance(Duration::seconds(31));
    let stats = app.admin_json("/v1/admin/stats").await;
    assert_eq!(stats["genesys"]["set_up"], false);
    assert!(
        stats["genesys"]["note"]
            .as_str()
            .unwrap()
            .contains("api.mypurecloud.ie")
    );
    eventually(WAIT, "set aside again", || async {
        queued(&app).await.iter().all(|(secs, _)| *secs >= 20)
    })
    .await;
    assert!(sim.state.external_events().is_empty());

    elsewhere.base_url = sim.base_url.clone();
    save(&app, &elsewhere).await;
    app.clock.advance(Duration::seconds(31));
    wait_for_entities(&sim, 2).await;
    let stats = app.admin_json("/v1/admin/stats").await;
    assert_eq!(stats["genesys"]["set_up"], true);
    assert_eq!(stats["genesys"]["note"], Value::Null);
}

#[tokio::test]
async fn a_configuration_gone_keeps_events_queued_without_failures() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    let mut org = pesync::tools::bench::sim_org::set_up(&sim).await.unwrap();
    let real = org.event_types["crm.transaction"].configuration_id.clone();
    org.event_types
        .get_mut("crm.transaction")
        .unwrap()
        .configuration_id = "deleted-configuration".into();
    save(&app, &org).await;
    let now = app.now();
    app.ingest(
        "crm",
        &json!([event("c-1", "A", now), event("c-2", "B", now)]),
    )
    .await;
    eventually(WAIT, "the 404", || async {
        sim.state.requests().iter().any(|r| r.status == 404)
    })
    .await;
    eventually(WAIT, "the contacts set aside", || async {
        let q = queued(&app).await;
        q.len() == 2
            && q.iter()
                .all(|(secs, failures)| *secs >= 50 && *failures == 0)
    })
    .await;
    assert!(dead_letters(&app).await.is_empty());
    assert_eq!(event_state(&app, "A").await, ("pending".into(), 0));
    let requests = sim.state.requests();
    let sent: Vec<u16> = requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::ExternalEvents)
        .map(|r| r.status)
        .collect();
    assert_eq!(sent, [404], "one request, not a loop");

    org.event_types
        .get_mut("crm.transaction")
        .unwrap()
        .configuration_id = real;
    save(&app, &org).await;
    app.clock.advance(Duration::seconds(61));
    wait_for_entities(&sim, 2).await;
}

#[tokio::test]
async fn a_pause_longer_than_the_lease_never_sends_an_entity_twice() {
    let sim = spawn_simulator(None).await;
    let app = spawn(&sim, 100).await;
    set_up(&sim, &app).await;
    // A 429 pausing every sender for 8 s, longer than the tests' 5 s lease.
    sim.state
        .fail_next(FailSpec {
            count: 1,
            status: 429,
            retry_after_secs: Some(8),
            scope: FailScope::Api,
        })
        .unwrap();
    app.ingest("crm", &event("c-0", "P0", app.now())).await;
    eventually(WAIT, "the 429", || async {
        sim.state.requests().iter().any(|r| r.status == 429)
    })
    .await;
    // Claimed during the pause: their requests wait for a permit past the lease, while the
    // contacts could pass to another worker loop. Genesys would take in a second copy.
    let more: Vec<Value> = (0..5)
        .map(|i| event(&format!("d-{i}"), &format!("D{i}"), app.now()))
        .collect();
    app.ingest("crm", &json!(more)).await;
    wait_for_entities(&sim, 6).await;
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(sim.state.journey().repeated_ids, 0, "an entity sent twice");
    assert_eq!(sim.state.external_events().len(), 6);
}
