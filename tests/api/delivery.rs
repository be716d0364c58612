//! Delivery to PE (SPEC §5) against the simulator over real HTTP: order, lanes, rate ceiling,
//! retries, dead letters, tokens.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use pesync::simulator::{FailScope, FailSpec, SimulatorHandle};
use serde_json::{Value, json};

use crate::helpers::*;

// Generous: a loaded CI machine can push a few retries into backoff; a passing test returns early.
const WAIT: StdDuration = StdDuration::from_secs(90);

async fn setup(sim_rate: Option<u32>, rate: f64) -> (SimulatorHandle, TestApp) {
    let sim = spawn_simulator(sim_rate).await;
    let app = spawn_app_with_sim(&sim, rate).await;
    app.create_source("crm", json!({})).await;
    (sim, app)
}

#[tokio::test]
async fn shuffled_events_arrive_in_ascending_order() {
    let (sim, app) = setup(None, 50.0).await;
    let base = app.now() - Duration::minutes(30);
    let mut order: Vec<i64> = (0..12).collect();
    order.reverse();
    order.swap(2, 7);
    // Two requests inside the ordering hold, each out of order.
    let first: Vec<Value> = order[..6]
        .iter()
        .map(|i| event("c-1", &format!("R{i}"), base + Duration::seconds(*i)))
        .collect();
    let second: Vec<Value> = order[6..]
        .iter()
        .map(|i| event("c-1", &format!("R{i}"), base + Duration::seconds(*i)))
        .collect();
    app.ingest("crm", &json!(first)).await;
    app.ingest("crm", &json!(second)).await;
    wait_for_events(&sim, 12).await;
    let ts: Vec<_> = sim
        .state
        .events_for("c-1")
        .iter()
        .map(|e| e.event_timestamp)
        .collect();
    let mut sorted = ts.clone();
    sorted.sort();
    assert_eq!(ts, sorted, "PE saw the contact's events out of order");
    // Every attempt succeeded at once, so the order above is the order of first sends.
    let statuses: Vec<u16> = sim.state.requests().iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
}

#[tokio::test]
async fn a_late_arrival_moves_to_backfill_and_is_still_delivered() {
    let (sim, app) = setup(None, 50.0).await;
    let now = app.now();
    app.ingest("crm", &event("c-1", "NEW", now)).await;
    wait_for_events(&sim, 1).await;
    // 301 s older than what PE already has for the contact: late. 300 s: still real-time.
    let r = app
        .ingest(
            "crm",
            &json!([
                event("c-1", "LATE", now - Duration::seconds(301)),
                event("c-2", "X", now)
            ]),
        )
        .await;
    assert_eq!(
        r[0]["status"], "accepted",
        "the check happens when it is next in line"
    );
    let r2 = app
        .ingest("crm", &event("c-1", "EDGE", now - Duration::seconds(300)))
        .await;
    assert_eq!(r2[0]["status"], "accepted");
    wait_for_events(&sim, 4).await;
    let (lane, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT lane, route_reason FROM events WHERE attributes->>'crm_record_id' = 'LATE'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (lane.as_str(), reason.as_deref()),
        ("backfill", Some("late_arrival"))
    );
    let (lane,): (String,) =
        sqlx::query_as("SELECT lane FROM events WHERE attributes->>'crm_record_id' = 'EDGE'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        lane, "realtime",
        "exactly the tolerance stays on the real-time lane"
    );
}

#[tokio::test]
async fn a_backfill_backlog_does_not_delay_a_realtime_event() {
    let (sim, app) = setup(None, 10.0).await;
    let old = app.now() - Duration::days(8);
    let backlog: Vec<Value> = (0..200)
        .map(|i| event(&format!("b-{i}"), "B", old))
        .collect();
    let r = app.ingest("crm", &json!(backlog)).await;
    assert!(r.iter().all(|x| x["status"] == "backfill"));
    // Let the backfill lane get going at the full ceiling.
    wait_for_events(&sim, 10).await;
    let posted = std::time::Instant::now();
    app.ingest("crm", &event("rt-1", "RT", app.now())).await;
    eventually(WAIT, "the real-time event", || async {
        !sim.state.events_for("rt-1").is_empty()
    })
    .await;
    let took = posted.elapsed();
    let backfilled = sim.state.events().len();
    assert!(
        backfilled < 150,
        "the backlog should still be draining ({backfilled} delivered)"
    );
    // Ordering hold (2 s) + at most one small backfill batch and one rate slot ahead of it.
    assert!(
        took < StdDuration::from_millis(3500),
        "real-time event waited {took:?} behind backfill"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let (sim, app) = setup(None, 20.0).await;
    sim.state
        .fail_next(FailSpec {
            count: 1,
            status: 429,
            retry_after_secs: Some(2),
            scope: FailScope::Api,
        })
        .unwrap();
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    wait_for_events(&sim, 1).await;
    let reqs = sim.state.requests();
    assert_eq!(reqs[0].status, 429);
    assert_eq!(reqs[1].status, 202);
    let gap = reqs[1].at_ms - reqs[0].at_ms;
    assert!(
        gap >= 1_900,
        "retried after {gap} ms despite Retry-After: 2"
    );
    assert_eq!(
        reqs[0].request_id, reqs[1].request_id,
        "same X-Request-Id on every attempt"
    );
}

#[tokio::test]
async fn a_503_storm_then_recovery_delivers_everything_exactly_once() {
    let (sim, app) = setup(None, 50.0).await;
    sim.state
        .fail_next(FailSpec {
            count: 12,
            status: 503,
            retry_after_secs: None,
            scope: FailScope::Api,
        })
        .unwrap();
    let events: Vec<Value> = (0..8)
        .map(|i| event(&format!("c-{i}"), "S", app.now()))
        .collect();
    let r = app.ingest("crm", &json!(events)).await;
    wait_for_events(&sim, 8).await;
    let at_sim: HashSet<String> = sim
        .state
        .events()
        .iter()
        .map(|e| e.request_id.clone())
        .collect();
    let accepted: HashSet<String> = r
        .iter()
        .map(|x| x["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(at_sim, accepted);
    assert_eq!(
        sim.state.events().len(),
        8,
        "nothing delivered twice as a new event"
    );
    let stats: Value = app.admin_json("/v1/admin/stats").await;
    assert!(
        stats["instance"]["retries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["cause"] == "server_error" && c["count"].as_u64().unwrap() >= 1)
    );
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_renewed() {
    let (sim, app) = setup(None, 50.0).await;
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    wait_for_events(&sim, 1).await;
    sim.state.expire_tokens();
    app.ingest("crm", &event("c-2", "B", app.now())).await;
    wait_for_events(&sim, 2).await;
    assert!(
        sim.state.requests().iter().any(|r| r.status == 401),
        "the old token was refused"
    );
}

#[tokio::test]
async fn a_400_dead_letters_the_event_the_contact_goes_on_and_replay_delivers_it() {
    let (sim, app) = setup(None, 50.0).await;
    sim.state.set_contact_status("c-1", Some(400)).unwrap();
    let now = app.now();
    app.ingest("crm", &event("c-1", "BAD", now - Duration::seconds(10)))
        .await;
    eventually(WAIT, "a dead letter", || async {
        let d: Value = app.admin_json("/v1/admin/dead-letters").await;
        !d["items"].as_array().unwrap().is_empty()
    })
    .await;
    let dead: Value = app.admin_json("/v1/admin/dead-letters").await;
    assert_eq!(dead["items"][0]["status"], 400);
    assert_eq!(dead["items"][0]["contact_id"], "c-1");
    sim.state.set_contact_status("c-1", None).unwrap();
    app.ingest("crm", &event("c-1", "NEXT", now)).await;
    wait_for_events(&sim, 1).await;
    let id = dead["items"][0]["id"].clone();
    let r: Value = app
        .admin_post("/v1/admin/dead-letters/replay", &json!({"ids": [id]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["status"], "accepted");
    wait_for_events(&sim, 2).await;
    let after: Value = app.admin_json("/v1/admin/dead-letters").await;
    assert!(after["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn metrics_expose_lanes_and_counters() {
    let (sim, app) = setup(None, 50.0).await;
    app.ingest(
        "crm",
        &json!([
            event("c-1", "A", app.now()),
            event("c-2", "B", app.now() - Duration::days(9))
        ]),
    )
    .await;
    wait_for_events(&sim, 2).await;
    eventually(WAIT, "stats show both delivered", || async {
        let s: Value = app.admin_json("/v1/admin/stats").await;
        s["realtime"]["delivered"] == 1
            && s["backfill"]["delivered"] == 1
            && s["realtime"]["depth"] == 0
    })
    .await;
    let text = app.metrics_text().await;
    for needle in [
        "pesync_lane_depth{lane=\"realtime\"} 0",
        "pesync_events_delivered{lane=\"backfill\"} 1",
        "pesync_lane_oldest_pending_age_seconds",
        "pesync_delivery_retries_total{cause=\"server_error\"}",
        "pesync_genesys_429_total",
        "pesync_dead_letters_open 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
