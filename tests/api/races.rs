//! Races between stages and load on the shared figures (issue 8, defects 7 and 4): each test
//! interleaves the stages deterministically by calling their functions directly, or injects the
//! database's answer, and checks what the HTTP API then shows.

use chrono::{DateTime, Duration, Utc};
use pesync::delivery::Lane;
use pesync::delivery::store::{self, Outcome, OutcomeKind};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::helpers::*;
use crate::scoring_support::*;

/// A pull-feed acknowledgement landing between an evaluation run's load and its write: the run,
/// which decided without that hand-over, must not queue the contact again inside its cooldown.
#[tokio::test]
async fn an_acknowledgement_between_load_and_write_does_not_queue_the_contact_again() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "c-1", 0.8).await;
    assert_eq!(evaluate(&app).await.queued, 1);
    // A new observation: the contact is a candidate again while its item waits in the feed.
    app.clock.advance(Duration::minutes(61));
    seed_rising(&app, "c-1", 0.9).await;
    let now = app.now();

    // The run loads its batch …
    let batch = loaded(&app, now).await;
    assert_eq!(batch.len(), 1);
    assert!(
        batch[0].pending.is_some(),
        "loaded while waiting in the feed"
    );
    // … the dialer leases and acknowledges the contact: its cooldown starts …
    let items = lease(&app, "pull-one", 10).await;
    let id = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(ack(&app, &[&id]).await, ["acknowledged"]);
    // … and the run decides and writes, blind to the hand-over.
    let (write, thresholds) = decided(&app, &batch, now).await;
    assert_eq!(write.queued(), 1, "the decision still takes the contact");
    assert_eq!(written(&app, &write, &thresholds).await, 1);

    // Nothing waits in the feed: the contact is in its cooldown.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM dialer_queue WHERE state = 'pending'"
        )
        .await,
        0
    );
    assert!(lease(&app, "pull-one", 10).await.is_empty());
    // The next run decides it again with the hand-over in view.
    let r = evaluate(&app).await;
    assert_eq!((r.contacts, r.queued), (1, 0));
    let reasons = reasons(&app, "c-1", "pull-one").await;
    assert_eq!(
        reasons,
        ["cooldown", "eligible"],
        "newest first, no phantom decision"
    );
}

/// Observations landing between an evaluation run's load and its write: the batch takes out of
/// the evaluation queue only the contacts it decided at their newest observation. A contact
/// observed again meanwhile stays queued, and so does one queued meanwhile between the batch's
/// first and last contact (the delete reads that range of the queue).
#[tokio::test]
async fn observations_between_load_and_write_keep_their_contacts_queued() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    for c in ["c-1", "c-3", "c-5"] {
        seed_rising(&app, c, 0.8).await;
    }
    assert_eq!(evaluate(&app).await.contacts, 3);
    seed_rising(&app, "c-2", 0.8).await;
    evaluate(&app).await;
    sqlx::query("DELETE FROM evaluation_queue")
        .execute(&app.pool)
        .await
        .unwrap();
    app.clock.advance(Duration::minutes(61));
    for c in ["c-1", "c-3", "c-5"] {
        seed_rising(&app, c, 0.9).await;
    }
    let now = app.now();

    let batch = loaded(&app, now).await;
    let ids: Vec<&str> = batch.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(ids, ["c-1", "c-3", "c-5"]);
    // c-3 is observed again and c-2 (between c-1 and c-5, not in the batch) for the first time
    // since its decision, both before the batch writes.
    app.clock.advance(Duration::minutes(1));
    seed_rising(&app, "c-3", 0.95).await;
    seed_rising(&app, "c-2", 0.95).await;
    let (write, thresholds) = decided(&app, &batch, now).await;
    written(&app, &write, &thresholds).await;

    let queued: Vec<String> =
        sqlx::query_scalar("SELECT contact_id FROM evaluation_queue ORDER BY contact_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(queued, ["c-2", "c-3"]);
    let r = evaluate(&app).await;
    assert_eq!(
        r.contacts, 2,
        "the next run decides them at their newest observation"
    );
}

/// A campaign deleted while a run's batch writes for it: the batch locks its campaigns once (as a
/// foreign key's check did per row), so the delete waits for the batch's commit and then removes
/// what the batch queued; nothing is left queued for a campaign that no longer exists.
#[tokio::test]
async fn a_campaign_deleted_while_a_batch_writes_for_it_takes_the_batch_rows_with_it() {
    let app = spawn_app().await;
    let (write, thresholds) = one_queued(&app).await;
    let mut tx = app.pool.begin().await.unwrap();
    write.write(&mut tx, thresholds.cooldown()).await.unwrap();

    let delete = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/v1/admin/campaigns/pull-one"));
        async move {
            client
                .delete(url)
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!delete.is_finished(), "the delete waits for the batch");
    tx.commit().await.unwrap();
    assert_eq!(delete.await.unwrap(), 204);
    assert_eq!(count(&app, "SELECT count(*) FROM dialer_queue").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM deferrals").await, 0);
}

/// A campaign deleted after a run's batch was decided but before it is written: the batch's lock
/// finds the campaign gone, and nothing is queued for it (no foreign key would refuse the row).
#[tokio::test]
async fn a_campaign_deleted_before_a_batch_writes_gets_none_of_its_rows() {
    let app = spawn_app().await;
    let (write, thresholds) = one_queued(&app).await;
    assert_eq!(delete_campaign(&app, "pull-one").await.status(), 204);

    written(&app, &write, &thresholds).await;
    assert_eq!(count(&app, "SELECT count(*) FROM dialer_queue").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM deferrals").await, 0);
}

/// Campaign `pull-one` and a rising `c-1`, loaded and decided by a regular run at the app's now:
/// the batch queues the contact. Returns it unwritten (it keeps that instant), with the thresholds.
async fn one_queued(
    app: &TestApp,
) -> (
    pesync::evaluation::store::BatchWrite,
    pesync::domain::thresholds::Thresholds,
) {
    create_campaign(app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(app, "c-1", 0.8).await;
    let now = app.now();
    let batch = loaded(app, now).await;
    let (write, thresholds) = decided(app, &batch, now).await;
    assert_eq!(write.queued(), 1);
    (write, thresholds)
}

/// What a regular run loads as its first batch at `now`.
async fn loaded(app: &TestApp, now: DateTime<Utc>) -> Vec<pesync::evaluation::load::Candidate> {
    let mut conn = app.pool.acquire().await.unwrap();
    pesync::evaluation::load::candidates(&mut conn, "", now, 100, false)
        .await
        .unwrap()
        .candidates
}

/// Writes `write` as the run does, in a transaction of its own; answers how many contacts it left
/// for the next run.
async fn written(
    app: &TestApp,
    write: &pesync::evaluation::store::BatchWrite,
    thresholds: &pesync::domain::thresholds::Thresholds,
) -> usize {
    let mut tx = app.pool.begin().await.unwrap();
    let left = write.write(&mut tx, thresholds.cooldown()).await.unwrap();
    tx.commit().await.unwrap();
    left
}

/// What the run decides for `batch` at `now` with the stored campaigns and thresholds.
async fn decided(
    app: &TestApp,
    batch: &[pesync::evaluation::load::Candidate],
    now: DateTime<Utc>,
) -> (
    pesync::evaluation::store::BatchWrite,
    pesync::domain::thresholds::Thresholds,
) {
    let campaigns = pesync::registry::campaigns::enabled(&app.pool)
        .await
        .unwrap();
    let (_, thresholds) = pesync::registry::thresholds::current(&app.pool)
        .await
        .unwrap();
    let write = pesync::evaluation::run::decide(batch.to_vec(), &campaigns, &thresholds, now);
    (write, thresholds)
}

/// One event of `c-1`, claimed by a worker (`a`) whose lease then runs out and is taken over (`b`).
async fn a_lease_taken_over() -> (TestApp, store::Claimed, store::Claimed, store::Head) {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    app.clock.advance(Duration::minutes(1)); // past the ordering hold
    let lease = Duration::seconds(30);
    let mut a = store::claim(&app.pool, Lane::Realtime, app.now(), lease, 10)
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(31));
    let mut b = store::claim(&app.pool, Lane::Realtime, app.now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "the expired lease is taken over"
    );
    assert_ne!(a[0].lease_token, b[0].lease_token);
    let head = store::heads(&app.pool, Lane::Realtime, &["c-1".to_owned()])
        .await
        .unwrap()
        .remove(0);
    (app, a.remove(0), b.remove(0), head)
}

fn outcome(head: &store::Head, kind: OutcomeKind) -> Outcome {
    Outcome {
        contact_id: head.contact_id.clone(),
        event_id: head.id,
        request_id: head.request_id,
        event_timestamp: head.event_timestamp,
        kind,
    }
}

async fn event_state(app: &TestApp) -> (String, i32) {
    sqlx::query_as("SELECT state, attempts FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A stale worker whose lease expired and was taken over can no longer record an outcome: its late
/// answer neither dead-letters the event the new holder is sending nor releases that holder's lease.
#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_record_an_outcome() {
    let (app, a, b, head) = a_lease_taken_over().await;
    let now = app.now();
    let late = outcome(
        &head,
        OutcomeKind::DeadLetter {
            status: 400,
            body: "late answer".into(),
        },
    );
    let recorded = store::record(&app.pool, Lane::Realtime, a.lease_token, &[late], now)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    assert_eq!(event_state(&app).await, ("pending".into(), 0));
    assert_eq!(count(&app, "SELECT count(*) FROM dead_letters").await, 0);
    // The new holder's lease stands: no third worker can claim the contact meanwhile.
    let third = claim(&app, now).await;
    assert!(third.is_empty(), "the stale worker released the new lease");

    // The holder records, once; at the very end of its lease it no longer could.
    let expiry = now + Duration::seconds(30);
    let delivered = || [outcome(&head, OutcomeKind::Delivered)];
    let at_expiry = store::record(
        &app.pool,
        Lane::Realtime,
        b.lease_token,
        &delivered(),
        expiry,
    )
    .await
    .unwrap();
    assert_eq!(at_expiry, 0, "an expired lease records nothing");
    let in_time = store::record(&app.pool, Lane::Realtime, b.lease_token, &delivered(), now)
        .await
        .unwrap();
    assert_eq!(in_time, 1);
    assert_eq!(event_state(&app).await, ("delivered".into(), 1));
}

/// A stale worker cannot defer or settle a contact another worker holds either.
#[tokio::test]
async fn a_stale_worker_cannot_release_a_lease_it_lost() {
    let (app, a, _b, head) = a_lease_taken_over().await;
    let now = app.now();
    store::defer(
        &app.pool,
        Lane::Realtime,
        a.lease_token,
        &[(head.contact_id.clone(), now)],
    )
    .await
    .unwrap();
    store::settle_idle(
        &app.pool,
        Lane::Realtime,
        a.lease_token,
        &[(head.contact_id.clone(), a.generation)],
        now,
    )
    .await
    .unwrap();
    let again = claim(&app, now).await;
    assert!(again.is_empty(), "the contact stays with its holder");
    assert_eq!(count(&app, "SELECT count(*) FROM delivery_queue").await, 1);
}

/// A worker that finds a contact idle and deletes its queue row while a request with an event for
/// that contact is still open: the request takes no lock the worker waits on, and nothing is lost,
/// because the request's delivery-inbox row commits with its event and brings the contact back.
#[tokio::test]
async fn a_contact_settled_idle_while_a_request_for_it_is_open_is_queued_again_on_commit() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    app.clock.advance(Duration::minutes(1)); // past the ordering hold
    sqlx::query("UPDATE events SET state = 'delivered'")
        .execute(&app.pool)
        .await
        .unwrap();

    // The request's transaction: its event is written, its inbox row appended, not yet committed
    // (the event is made pending again rather than inserted: the same visibility, fewer columns).
    let mut request = app.pool.begin().await.unwrap();
    sqlx::query("UPDATE events SET state = 'pending'")
        .execute(&mut *request)
        .await
        .unwrap();
    pesync::delivery::inbox::add(&mut request, app.now(), [("c-1", Lane::Realtime)])
        .await
        .unwrap();

    // Meanwhile a worker claims the contact, sees no pending event, and settles it idle.
    let now = app.now();
    let claimed = claim(&app, now).await;
    assert_eq!(claimed.len(), 1);
    let ids = ["c-1".to_owned()];
    assert!(
        store::heads(&app.pool, Lane::Realtime, &ids)
            .await
            .unwrap()
            .is_empty()
    );
    settle_idle(&app, &claimed[0], now).await;
    assert_eq!(count(&app, "SELECT count(*) FROM delivery_queue").await, 0);

    request.commit().await.unwrap();
    app.inbox_drained().await;
    let again = claim(&app, now).await;
    assert_eq!(again.len(), 1, "the contact is queued again");
    let heads = store::heads(&app.pool, Lane::Realtime, &ids).await.unwrap();
    assert_eq!(heads.len(), 1, "and its event is its head");
}

/// A worker holds a contact and finds no work; an enqueue for that contact lands before the worker
/// settles it idle. The enqueue bumps the held row's generation, so the worker cannot delete the
/// row (pesync must not lose the work the enqueue announced, whose events may commit after the
/// worker's look). It fails if the enqueue leaves held rows unwritten, as it does released ones.
#[tokio::test]
async fn an_enqueue_for_a_held_contact_keeps_its_worker_from_settling_it_idle() {
    let app = a_queued_contact().await;
    app.clock.advance(Duration::minutes(1)); // past the ordering hold
    sqlx::query("UPDATE events SET state = 'delivered'")
        .execute(&app.pool)
        .await
        .unwrap();
    let now = app.now();
    let claimed = claim(&app, now).await;
    assert_eq!(claimed.len(), 1);

    let mut tx = app.pool.begin().await.unwrap();
    pesync::delivery::queue::enqueue(&mut tx, [("c-1".to_owned(), Lane::Realtime, now)])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    settle_idle(&app, &claimed[0], now).await;
    let again = claim(&app, now).await;
    assert_eq!(again.len(), 1, "the row stays, released and ready");
    assert!(again[0].generation > claimed[0].generation);
}

/// An enqueue for a released contact that already waits from an earlier time than the enqueue's
/// writes nothing, not even a new row version (most of a busy drain's contacts are such). An
/// earlier time than the one it waits for moves its ready time; a contact backing off keeps its
/// backoff.
#[tokio::test]
async fn an_enqueue_writes_a_released_contact_only_to_move_its_ready_time_earlier() {
    let app = a_queued_contact().await;
    let pool = &app.pool;
    let row = || async move {
        sqlx::query_as::<_, (String, i64, DateTime<Utc>)>(
            "SELECT xmin::text, generation, ready_at FROM delivery_queue WHERE contact_id = 'c-1'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let enqueue = |at: DateTime<Utc>| async move {
        let mut tx = pool.begin().await.unwrap();
        pesync::delivery::queue::enqueue(&mut tx, [("c-1".to_owned(), Lane::Realtime, at)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    };
    let (version, generation, ready) = row().await;

    enqueue(ready + Duration::seconds(5)).await;
    assert_eq!(
        row().await,
        (version.clone(), generation, ready),
        "unwritten"
    );

    let earlier = ready - Duration::seconds(5);
    enqueue(earlier).await;
    let (moved, _, at) = row().await;
    assert_eq!(at, earlier);
    assert_ne!(moved, version, "written");

    sqlx::query("UPDATE delivery_queue SET failures = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    enqueue(earlier - Duration::seconds(5)).await;
    assert_eq!(row().await.2, earlier, "a backoff is kept");
}

/// The inbox drain for a contact a worker holds: a request's events commit, then the worker, which
/// read no work before they did, settles the contact idle. The drain bumped the held row's
/// generation, so the row stays and the events are delivered. It fails if the drain leaves held
/// rows alone as it does released ones.
#[tokio::test]
async fn a_drain_for_a_held_contact_keeps_its_worker_from_settling_it_idle() {
    let app = a_queued_contact().await;
    app.clock.advance(Duration::minutes(1)); // past the ordering hold
    let now = app.now();
    let claimed = claim(&app, now).await;
    assert_eq!(claimed.len(), 1);
    sqlx::query("UPDATE events SET state = 'delivered'")
        .execute(&app.pool)
        .await
        .unwrap();

    app.ingest("crm", &event("c-1", "B", now)).await; // waits for the drain
    settle_idle(&app, &claimed[0], now).await;
    app.clock.advance(Duration::minutes(1));
    let again = claim(&app, app.now()).await;
    assert_eq!(again.len(), 1, "the row stays, released and ready");
    assert!(again[0].generation > claimed[0].generation);
    let ids = ["c-1".to_owned()];
    let heads = store::heads(&app.pool, Lane::Realtime, &ids).await.unwrap();
    assert_eq!(heads.len(), 1, "the new event is the contact's head");
}

/// The inbox drain leaves a released contact that already waits from no later time untouched: no
/// new row version and no row lock (`xmax` stays 0), which the general enqueue takes. An inbox
/// row ready earlier than the contact waits moves its ready time earlier.
#[tokio::test]
async fn a_drain_neither_writes_nor_locks_a_contact_already_waiting() {
    let app = &a_queued_contact().await;
    let pool = &app.pool;
    let row = || async move {
        sqlx::query_as::<_, (String, String, i64, DateTime<Utc>)>(
            "SELECT xmin::text, xmax::text, generation, ready_at FROM delivery_queue
             WHERE contact_id = 'c-1'",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let drained = |at: DateTime<Utc>| async move {
        let mut tx = pool.begin().await.unwrap();
        pesync::delivery::inbox::add(&mut tx, at, [("c-1", Lane::Realtime)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        app.inbox_drained().await;
    };
    let before = row().await;
    assert_eq!(before.1, "0");

    drained(before.3 + Duration::seconds(5)).await;
    app.ingest("crm", &event("c-1", "B", app.now())).await;
    assert_eq!(row().await, before, "neither written nor locked");

    let earlier = before.3 - Duration::seconds(5);
    drained(earlier).await;
    let (version, _, _, at) = row().await;
    assert_eq!(at, earlier);
    assert_ne!(version, before.0, "written");
}

/// An app with one event of contact `c-1` ingested and its contact in the delivery queue.
async fn a_queued_contact() -> TestApp {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app.ingest("crm", &event("c-1", "A", app.now())).await;
    app.inbox_drained().await;
    app
}

/// A worker's claim of up to ten ready real-time contacts, leased for 30 s.
async fn claim(app: &TestApp, now: DateTime<Utc>) -> Vec<store::Claimed> {
    store::claim(&app.pool, Lane::Realtime, now, Duration::seconds(30), 10)
        .await
        .unwrap()
}

/// The worker releases a contact it claimed and found no pending event for.
async fn settle_idle(app: &TestApp, claimed: &store::Claimed, now: DateTime<Utc>) {
    let idle = [(claimed.contact_id.clone(), claimed.generation)];
    store::settle_idle(&app.pool, Lane::Realtime, claimed.lease_token, &idle, now)
        .await
        .unwrap();
}

/// Installs a trigger on `table` that fails every insert statement with SQLSTATE `code` while
/// `fail_left` (a sequence, which no rollback undoes) has not run out; `fails` failures, or always
/// when `None`. `fail_calls` counts the attempts.
async fn inject_failure(app: &TestApp, table: &str, code: &str, fails: Option<i64>) {
    inject_failure_on(app, "INSERT", table, code, fails).await;
}

/// [`inject_failure`] on statements of kind `op` (`INSERT`, `UPDATE`).
async fn inject_failure_on(app: &TestApp, op: &str, table: &str, code: &str, fails: Option<i64>) {
    let limit = fails.map_or("true".to_owned(), |n| {
        format!("nextval('fail_left') <= {n}")
    });
    let sql = format!(
        r#"CREATE SEQUENCE IF NOT EXISTS fail_left;
           CREATE SEQUENCE IF NOT EXISTS fail_calls;
           CREATE OR REPLACE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             PERFORM nextval('fail_calls');
             IF {limit} THEN
               RAISE EXCEPTION 'injected failure' USING ERRCODE = '{code}';
             END IF;
             RETURN NULL;
           END $$;
           DROP TRIGGER IF EXISTS inject_failure ON {table};
           CREATE TRIGGER inject_failure BEFORE {op} ON {table}
             FOR EACH STATEMENT EXECUTE FUNCTION inject_failure();"#
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn attempts(app: &TestApp) -> i64 {
    count(app, "SELECT last_value FROM fail_calls").await
}

/// A deadlock in the ingestion transaction is retried: the sender sees its events accepted. One
/// that persists is a 503 with `Retry-After` (never a 500), after a few attempts, storing nothing.
#[tokio::test]
async fn a_deadlock_in_ingestion_is_retried_and_a_persistent_one_is_503() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    inject_failure(&app, "events", "40P01", Some(2)).await;
    let r = app.ingest("crm", &event("c-1", "A", app.now())).await;
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    assert_eq!(attempts(&app).await, 3, "two deadlocks, then the commit");
    assert_eq!(count(&app, "SELECT count(*) FROM events").await, 1);

    inject_failure(&app, "events", "40001", None).await;
    let body = serde_json::to_vec(&event("c-2", "B", app.now())).unwrap();
    let r = app.post_raw("crm", "application/json", body).await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_problem(r, 503).await;
    assert_eq!(
        attempts(&app).await,
        3 + 3,
        "three attempts, then the answer"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM events").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM dedup_keys").await, 1);
}

/// An admin replay that meets a deadlock (here releasing a parked event) runs again.
#[tokio::test]
async fn a_deadlock_in_an_admin_replay_is_retried() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    let r = app
        .ingest("crm", &event("c-1", "F-1", app.now() + Duration::hours(1)))
        .await;
    assert_eq!(r[0]["status"], "reconciliation");
    inject_failure_on(&app, "UPDATE", "events", "40P01", Some(2)).await;
    let released: Value = app
        .admin_post(
            "/v1/admin/reconciliation/release",
            &json!({"ids": [r[0]["event_id"]]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(released["results"][0]["status"], "accepted", "{released}");
    assert_eq!(attempts(&app).await, 3);
    assert_eq!(
        count(&app, "SELECT count(*) FROM events WHERE state = 'pending'").await,
        1
    );
}

/// An admin write that meets a serialization failure answers 503 with `Retry-After`, not 500.
#[tokio::test]
async fn a_serialization_failure_in_an_admin_write_is_503() {
    let app = spawn_app().await;
    inject_failure(&app, "campaigns", "40001", None).await;
    let r = app
        .admin_post("/v1/admin/campaigns", &campaign("spring", 0, "pull"))
        .await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_problem(r, 503).await;
}

/// 200 scrapes at once count the tables once; the figures they share are the database's.
#[tokio::test]
async fn two_hundred_concurrent_scrapes_cause_one_computation() {
    let app = spawn_app().await;
    let before = app.stats_cache.computations();
    let texts = futures_util::future::join_all((0..200).map(|_| app.metrics_text())).await;
    assert!(
        texts
            .iter()
            .all(|t| t.contains("pesync_lane_depth{lane=\"realtime\"} 0"))
    );
    assert_eq!(app.stats_cache.computations() - before, 1);
}

async fn realtime_depth(app: &TestApp) -> Value {
    let s: Value = app.admin_json("/v1/admin/stats").await;
    s["realtime"]["depth"].clone()
}

/// The figures are shared for 5 s and exact again after that (the app's clock, not a sleep).
#[tokio::test]
async fn figures_are_exact_again_after_the_cache_period() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    let now = app.now();
    app.ingest(
        "crm",
        &json!([event("c-1", "A", now), event("c-2", "B", now)]),
    )
    .await;
    assert_eq!(realtime_depth(&app).await, 2);
    app.ingest("crm", &event("c-3", "C", now)).await;
    app.clock.advance(Duration::milliseconds(4_999));
    assert_eq!(realtime_depth(&app).await, 2, "computed under 5 s ago");
    app.clock.advance(Duration::milliseconds(1));
    assert_eq!(realtime_depth(&app).await, 3);
    assert!(
        app.metrics_text()
            .await
            .contains("pesync_lane_depth{lane=\"realtime\"} 3")
    );
}

/// A read that runs past the read pool's statement timeout (10 s) is cancelled and answered 503,
/// while the write path goes on: here the counts wait behind a lock held on `events`.
#[tokio::test]
async fn a_slow_stats_query_hits_the_statement_timeout_and_answers_503() {
    let app = spawn_app().await;
    let url = app.pool.connect_options();
    let mut blocker = PgConnection::connect_with(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = app.admin_get("/v1/admin/stats").await;
    let waited = started.elapsed();
    assert_eq!(r.headers()["retry-after"], "1");
    assert_problem(r, 503).await;
    assert!(
        waited >= std::time::Duration::from_secs(9) && waited < std::time::Duration::from_secs(30),
        "{waited:?}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    assert_eq!(
        realtime_depth(&app).await,
        0,
        "the next scrape computes again"
    );
}
