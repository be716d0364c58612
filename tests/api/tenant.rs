//! What the tenant does to delivery (issue 8, defects 6, 9 and 11): absurd numbers in its answers,
//! an outage and its end, and a shutdown while a worker waits on it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use pesync::simulator::{FailScope, FailSpec, SimulatorHandle};
use serde_json::{Value, json};

use crate::helpers::*;

async fn setup(rate: f64) -> (SimulatorHandle, TestApp) {
    let sim = spawn_simulator(None).await;
    let app = spawn_app_with_sim(&sim, rate).await;
    app.create_source("crm", json!({})).await;
    (sim, app)
}

fn fail_api(sim: &SimulatorHandle, count: u32, status: u16, retry_after_secs: Option<u64>) {
    sim.state
        .fail_next(FailSpec {
            count,
            status,
            retry_after_secs,
            scope: FailScope::Api,
        })
        .unwrap();
}

async fn db_now(app: &TestApp) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT now()")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Defect 11. Contacts whose backoffs grew during an outage are all retried as soon as the tenant
/// answers again: the backlog drains in seconds, not in the 5 minutes of the backoff cap, in order
/// and with the ids it was accepted under.
#[tokio::test]
async fn after_an_outage_the_backlog_drains_at_the_ceiling_not_at_each_contacts_backoff() {
    let (sim, app) = setup(50.0).await;
    fail_api(&sim, 1_000_000, 503, None);
    let base = app.now() - Duration::minutes(10);
    let events: Vec<Value> = (0..20)
        .flat_map(|c| (0..3).map(move |i| (c, i)))
        .map(|(c, i)| {
            event(
                &format!("o-{c}"),
                &format!("R{i}"),
                base + Duration::seconds(i),
            )
        })
        .collect();
    let accepted = app.ingest("crm", &json!(events)).await;
    eventually(
        StdDuration::from_secs(60),
        "every contact failed once",
        || async {
            let failing: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM delivery_queue WHERE failures > 0 AND lease_until < now()",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            failing == 20
        },
    )
    .await;
    // What five minutes of outage leave behind: every contact's backoff at the 5-minute cap.
    sqlx::query("UPDATE delivery_queue SET failures = 9, ready_at = now() + interval '5 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    fail_api(&sim, 0, 503, None);
    let recovered = Instant::now();
    eventually(
        StdDuration::from_secs(90),
        "the backlog drained",
        || async { sim.state.events().len() >= 60 },
    )
    .await;
    let took = recovered.elapsed();
    eprintln!("60 events of 20 contacts drained {took:?} after the tenant came back");
    assert!(
        took < StdDuration::from_secs(30),
        "the backlog took {took:?} to drain after the tenant came back"
    );
    let seen = sim.state.events();
    assert_eq!(seen.len(), 60, "each event once as a new event");
    let ids: HashSet<String> = seen.iter().map(|e| e.request_id.clone()).collect();
    let expected: HashSet<String> = accepted
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids, expected,
        "delivered under the ids they were accepted with"
    );
    let mut by_contact: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for e in &seen {
        by_contact
            .entry(e.contact_id.clone())
            .or_default()
            .push(e.event_timestamp);
    }
    for (contact, ts) in by_contact {
        assert!(ts.is_sorted(), "{contact} out of order: {ts:?}");
    }
}

/// Defect 11: the wake leaves alone a contact held by a 429's pause that is still in force, and a
/// contact that is not retrying.
#[tokio::test]
async fn the_recovery_wake_respects_a_rate_pause_in_force() {
    let app = spawn_app().await;
    let later = db_now(&app).await + Duration::minutes(4);
    sqlx::query(
        "INSERT INTO delivery_queue (contact_id, lane, ready_at, failures)
         VALUES ('retrying', 'realtime', $1, 5), ('held', 'realtime', $1, 0)",
    )
    .bind(later)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO rate_buckets (name, paused_until) VALUES ('genesys', now() + interval '1 minute')
         ON CONFLICT (name) DO UPDATE SET paused_until = EXCLUDED.paused_until",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let now = db_now(&app).await;
    let woken = pesync::delivery::store::wake_retrying(&app.pool, now, "genesys")
        .await
        .unwrap();
    assert_eq!(woken, 0, "a 429's pause is in force");
    sqlx::query("UPDATE rate_buckets SET paused_until = '-infinity' WHERE name = 'genesys'")
        .execute(&app.pool)
        .await
        .unwrap();
    let woken = pesync::delivery::store::wake_retrying(&app.pool, now, "genesys")
        .await
        .unwrap();
    assert_eq!(woken, 1);
    let ready: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT contact_id, ready_at FROM delivery_queue ORDER BY contact_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        ready,
        [("held".to_owned(), later), ("retrying".to_owned(), now)]
    );
}

/// Defects 6 and 9. A `Retry-After` of 10^15 s (which overflowed the retry instant and killed a
/// worker) is clamped to 5 minutes, for the contact and for the cluster-wide pause; and a worker
/// waiting out that pause still lets the app stop within 5 s, releasing its contact untouched.
#[tokio::test]
async fn a_huge_retry_after_is_clamped_and_a_worker_waiting_on_it_stops_at_once() {
    let (sim, mut app) = setup(50.0).await;
    fail_api(&sim, 1, 429, Some(1_000_000_000_000_000));
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    eventually(StdDuration::from_secs(30), "the 429", || async {
        sim.state.requests().iter().any(|r| r.status == 429)
    })
    .await;
    eventually(StdDuration::from_secs(30), "the retry recorded", || async {
        let f: Option<i32> = sqlx::query_scalar(
            "SELECT failures FROM delivery_queue WHERE contact_id = 'c-1' AND lease_until < now()",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        f == Some(1)
    })
    .await;
    let now = db_now(&app).await;
    let (ready_at,): (DateTime<Utc>,) =
        sqlx::query_as("SELECT ready_at FROM delivery_queue WHERE contact_id = 'c-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let (paused_until,): (DateTime<Utc>,) =
        sqlx::query_as("SELECT paused_until FROM rate_buckets WHERE name = 'genesys'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    for (what, at) in [("retry", ready_at), ("pause", paused_until)] {
        assert!(
            at > now + Duration::seconds(200) && at <= now + Duration::seconds(301),
            "{what} at {at}, now {now}: not Retry-After clamped to 300 s"
        );
    }
    // A second contact: a worker claims it and waits for the pause to end.
    app.ingest("crm", &event("c-2", "B", app.now())).await;
    eventually(StdDuration::from_secs(30), "c-2 claimed", || async {
        let leased: Option<bool> = sqlx::query_scalar(
            "SELECT lease_until > now() FROM delivery_queue WHERE contact_id = 'c-2'",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap();
        leased == Some(true)
    })
    .await;
    let took = app.stop().await;
    eprintln!("stopped in {took:?} with a worker waiting out a 5-minute pause");
    assert!(took < StdDuration::from_secs(5), "stopping took {took:?}");
    let (state, leased): (String, bool) = sqlx::query_as(
        "SELECT e.state, q.lease_until > now() FROM events e
         JOIN delivery_queue q ON q.contact_id = e.contact_id AND q.lane = e.lane
         WHERE e.contact_id = 'c-2'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(state, "pending", "nothing lost");
    assert!(!leased, "the contact is released for the next start");
    assert!(
        sim.state.events_for("c-2").is_empty(),
        "nothing sent during the pause"
    );
}
