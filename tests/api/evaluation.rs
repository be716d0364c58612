//! The evaluation run through the database (SPEC §7): decisions with reasons for every contact and
//! campaign, priority and the cooldown across campaigns, deferrals re-evaluated when the window
//! opens, the pull feed's lease, acknowledgement and expiry, and the contact explanation.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Value, json};

use pesync::evaluation::evaluate_once;

use crate::helpers::*;
use crate::scoring_support::*;

/// The run streams batches of `BATCH` contacts, pipelined, and refreshes statistics after a few:
/// over several batches (and an odd last one) every contact is decided exactly once per campaign.
#[tokio::test]
async fn a_run_over_many_batches_decides_every_contact_once_per_campaign() {
    let app = spawn_app().await;
    let contacts = 6 * pesync::evaluation::BATCH + 123;
    // The benchmark's seed: varied contacts, two enabled campaigns, everyone in the queue.
    pesync::tools::bench::evaluate_seed::seed(&app.pool, contacts, app.now())
        .await
        .unwrap();
    let r = evaluate(&app).await;
    assert_eq!(r.contacts, contacts as u64);
    assert_eq!(r.decisions, 2 * contacts as u64);
    assert_eq!(
        count(&app, "SELECT count(*) FROM decisions").await,
        2 * contacts
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(DISTINCT (contact_id, campaign_id)) FROM decisions"
        )
        .await,
        2 * contacts
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM evaluation_queue").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM dialer_queue").await as u64,
        r.queued
    );
    assert!(r.queued > 0 && r.deferred > 0, "{r:?}");
    let again = pesync::evaluation::evaluate_contacts(&app.pool, app.now())
        .await
        .unwrap();
    assert_eq!(again.contacts, 0);
}

#[tokio::test]
async fn every_evaluation_is_a_decision_and_only_new_observations_are_evaluated_again() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    create_campaign(&app, &campaign("pull-two", 0, "pull")).await;
    let mut disabled = campaign("off", 99, "pull");
    disabled["enabled"] = json!(false);
    create_campaign(&app, &disabled).await;
    seed_rising(&app, "rising", 0.8).await;
    seed_rising(&app, "flat", 0.52).await;
    seed_rising(&app, "low", 0.3).await;

    let r = evaluate(&app).await;
    assert_eq!(
        (r.contacts, r.decisions, r.queued),
        (3, 6, 1),
        "two enabled campaigns"
    );
    assert_eq!(reasons(&app, "rising", "pull-one").await, ["eligible"]);
    assert_eq!(reasons(&app, "rising", "pull-two").await, ["cooldown"]);
    assert_eq!(
        reasons(&app, "flat", "pull-one").await,
        ["insufficient_rise"]
    );
    assert_eq!(
        reasons(&app, "low", "pull-two").await,
        ["tier_not_targeted"]
    );
    assert!(reasons(&app, "rising", "off").await.is_empty());

    // Nothing new: nothing to evaluate.
    assert_eq!(evaluate(&app).await.contacts, 0);
    // A new observation makes the contact a candidate again, and only it.
    app.clock.advance(Duration::minutes(90));
    let now = app.now();
    seed_profile(
        &app,
        "flat",
        &profile(&[(now - Duration::minutes(1), 0.7)], "voice", None),
    )
    .await;
    let r = evaluate(&app).await;
    assert_eq!((r.contacts, r.decisions), (1, 2));
    assert_eq!(
        reasons(&app, "flat", "pull-one").await,
        ["eligible", "insufficient_rise"],
        "newest first"
    );
}

#[tokio::test]
async fn priority_across_campaigns_and_the_cooldown_from_the_hand_over() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("low-priority", 1, "pull")).await;
    create_campaign(&app, &campaign("high-priority", 5, "pull")).await;
    seed_rising(&app, "c-1", 0.8).await;
    evaluate(&app).await;

    // The higher priority takes the contact; the other one records why it did not.
    let v = explain(&app, "c-1").await;
    let low = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["campaign_id"] == "low-priority")
        .unwrap();
    assert_eq!(low["reason"], "cooldown");
    let detail = low["outcomes"][4]["detail"].as_str().unwrap();
    assert!(detail.contains("high-priority"), "{detail}");
    assert!(lease(&app, "low-priority", 10).await.is_empty());

    // While it waits in the feed, no campaign takes it again.
    app.clock.advance(Duration::minutes(61));
    seed_rising(&app, "c-1", 0.9).await;
    evaluate(&app).await;
    assert_eq!(reasons(&app, "c-1", "low-priority").await[0], "cooldown");
    let items = lease(&app, "high-priority", 10).await;
    assert_eq!(items.len(), 1, "one item, refreshed rather than duplicated");
    assert_eq!(items[0]["data"]["propensity_score"], "0.9");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let acked_at = app.now();
    assert_eq!(ack(&app, &[&id]).await, ["acknowledged"]);

    // The cooldown runs from the acknowledgement, across both campaigns.
    let v = explain(&app, "c-1").await;
    assert_eq!(v["last_handover"]["campaign_id"], "high-priority");
    assert_eq!(v["last_handover"]["channel"], "voice");
    let until = acked_at + Duration::hours(72);
    assert_instant(&v["cooldown_until"], until);
    app.clock
        .advance(Duration::hours(72) - Duration::seconds(1));
    seed_rising(&app, "c-1", 0.85).await;
    evaluate(&app).await;
    assert_eq!(reasons(&app, "c-1", "high-priority").await[0], "cooldown");
    assert_eq!(reasons(&app, "c-1", "low-priority").await[0], "cooldown");
    assert!(lease(&app, "high-priority", 10).await.is_empty());

    // Exactly 72 h after the hand-over it may be handed over again.
    app.clock.advance(Duration::seconds(1));
    seed_rising(&app, "c-1", 0.95).await;
    evaluate(&app).await;
    assert_eq!(reasons(&app, "c-1", "high-priority").await[0], "eligible");
    assert_eq!(lease(&app, "high-priority", 10).await.len(), 1);
}

#[tokio::test]
async fn a_lease_that_is_not_acknowledged_returns_to_the_feed() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    for c in ["c-1", "c-2", "c-3"] {
        seed_rising(&app, c, 0.8).await;
    }
    evaluate(&app).await;

    let first = lease(&app, "pull-one", 2).await;
    assert_eq!(first.len(), 2);
    let item = &first[0];
    assert_eq!(item["callable"], true);
    assert_eq!(item["contactListId"], "pull-one-voice");
    let data = item["data"].as_object().unwrap();
    for k in [
        "contact_id",
        "campaign",
        "channel",
        "propensity_score",
        "tier",
        "window_start",
        "window_end",
        "timezone",
    ] {
        assert!(data[k].is_string(), "{k} must be a string: {data:?}");
    }
    assert_eq!(data["tier"], "high");
    assert_eq!(data["timezone"], "Asia/Kathmandu");
    // The third contact is the only one left; leased contacts are hidden.
    let second = lease(&app, "pull-one", 10).await;
    assert_eq!(second.len(), 1);
    assert!(lease(&app, "pull-one", 10).await.is_empty());

    // Acknowledge one of the first lease; the other one's lease runs out after 5 min.
    let acked = first[0]["id"].as_str().unwrap();
    assert_eq!(ack(&app, &[acked]).await, ["acknowledged"]);
    app.clock
        .advance(Duration::minutes(5) - Duration::seconds(1));
    assert!(lease(&app, "pull-one", 10).await.is_empty());
    app.clock.advance(Duration::seconds(1));
    let back = lease(&app, "pull-one", 10).await;
    let mut back_ids: Vec<&str> = back.iter().map(|i| i["id"].as_str().unwrap()).collect();
    back_ids.sort();
    let mut expected = vec![
        first[1]["id"].as_str().unwrap(),
        second[0]["id"].as_str().unwrap(),
    ];
    expected.sort();
    assert_eq!(back_ids, expected, "both unacknowledged contacts are back");

    // Results per id, in order.
    let statuses = ack(&app, &[expected[0], acked, "no-such-id", expected[0]]).await;
    assert_eq!(
        statuses,
        [
            "acknowledged",
            "already_acknowledged",
            "not_found",
            "already_acknowledged"
        ]
    );
    assert_eq!(count(&app, "SELECT count(*) FROM handovers").await, 2);

    // Errors.
    assert_problem(app.admin_get("/v1/dialer/feed?campaign=nope").await, 404).await;
    assert_problem(
        app.admin_get("/v1/dialer/feed?campaign=pull-one&limit=0")
            .await,
        422,
    )
    .await;
    assert_problem(app.admin_get("/v1/dialer/feed").await, 400).await;
    create_campaign(&app, &campaign("pushy", 0, "push")).await;
    assert_problem(app.admin_get("/v1/dialer/feed?campaign=pushy").await, 409).await;
    assert_problem(
        app.admin_post("/v1/dialer/feed/ack", &json!({"ids": "x"}))
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn a_deferred_contact_is_evaluated_again_when_its_window_opens() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    let opens = app.now() + Duration::hours(2);
    seed_waiting(&app, "c-1", opens).await;
    let r = evaluate(&app).await;
    assert_eq!(r.deferred, 1);
    let v = explain(&app, "c-1").await;
    assert_eq!(v["decisions"][0]["reason"], "deferred_outside_window");
    assert!(lease(&app, "pull-one", 10).await.is_empty());

    // Nothing new and the window still closed: not evaluated.
    app.clock.advance(Duration::hours(1));
    assert_eq!(evaluate(&app).await.contacts, 0);
    // The window opens: evaluated again without any new observation, and taken.
    app.clock.advance(Duration::hours(1));
    let r = evaluate(&app).await;
    assert_eq!((r.contacts, r.queued, r.deferred), (1, 1, 0));
    assert_eq!(
        reasons(&app, "c-1", "pull-one").await,
        ["eligible", "deferred_outside_window"]
    );
    assert_eq!(count(&app, "SELECT count(*) FROM deferrals").await, 0);
}

#[tokio::test]
async fn the_contact_explained() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    let now = app.now();
    // 0.60, then 0.62 thirty minutes later (dampened: a small change within the hour), then 0.75.
    let p = profile(
        &[
            (now - Duration::hours(3), 0.60),
            (now - Duration::hours(3) + Duration::minutes(30), 0.62),
            (now - Duration::hours(1), 0.75),
        ],
        "email",
        None,
    );
    seed_profile(&app, "c-1", &p).await;
    evaluate(&app).await;

    let v = explain(&app, "c-1").await;
    assert_eq!(v["contact_id"], "c-1");
    assert_eq!(v["tier"], "high");
    assert_eq!(v["effective_score"], 0.75);
    let dampened: Vec<bool> = v["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["dampened"].as_bool().unwrap())
        .collect();
    // The three history points and the score observed at the fetch (equal to the last point, an
    // hour later: applied).
    assert_eq!(dampened, [false, true, false, false]);
    let d = &v["decisions"][0];
    assert_eq!(d["campaign_id"], "pull-one");
    assert_eq!(d["reason"], "eligible");
    assert_eq!(d["tier"], "high");
    assert_eq!(d["rise"], 0.15);
    assert_eq!(d["effective_score"], 0.75);
    assert!(d["evaluated_at"].is_string());
    assert_eq!(d["outcomes"].as_array().unwrap().len(), 9);
    assert_eq!(v["last_handover"], Value::Null);
    assert_eq!(v["cooldown_until"], Value::Null);
    assert_eq!(v["events"], json!([]));
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(v["snapshots"][0]["channel"], "email");

    // A contact known only by its events is explained too; one never seen is 404.
    app.create_source("crm", json!({})).await;
    app.ingest("crm", &event("c-2", "OPP-1", now - Duration::minutes(1)))
        .await;
    let v = explain(&app, "c-2").await;
    assert_eq!(v["events"][0]["state"], "pending");
    assert_eq!(v["events"][0]["event_type"], "crm.transaction");
    assert_eq!(v["tier"], Value::Null);
    assert_eq!(v["decisions"], json!([]));
    assert_problem(app.admin_get("/v1/contacts/never-seen").await, 404).await;
    assert_problem(app.get_as("/v1/contacts/c-1", None).await, 401).await;
}

#[tokio::test]
async fn a_thresholds_change_is_in_the_history_and_in_the_next_run() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "c-1", 0.58).await; // a rise of 0.08
    evaluate(&app).await;
    assert_eq!(
        reasons(&app, "c-1", "pull-one").await,
        ["insufficient_rise"]
    );

    let mut t: Value = app.admin_json("/v1/admin/thresholds").await;
    t["min_rise"] = json!(0.05);
    let changed_at = app.now();
    let r = app.admin_put("/v1/admin/thresholds", &t).await;
    assert_eq!(r.status(), 200);
    let h: Value = app.admin_json("/v1/admin/thresholds/history").await;
    let last = h["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["version"], 2);
    assert_eq!(last["changed_by"], "admin");
    assert_eq!(last["before"]["min_rise"], 0.1);
    assert_eq!(last["after"]["min_rise"], 0.05);
    assert_instant(&last["changed_at"], changed_at);
    // The same document again is no change.
    app.admin_put("/v1/admin/thresholds", &t).await;
    let h: Value = app.admin_json("/v1/admin/thresholds/history").await;
    assert_eq!(h["items"].as_array().unwrap().len(), 2);

    app.clock.advance(Duration::minutes(61));
    seed_rising(&app, "c-1", 0.58).await;
    evaluate(&app).await;
    assert_eq!(reasons(&app, "c-1", "pull-one").await[0], "eligible");
}

#[tokio::test]
async fn a_tick_runs_once_across_instances() {
    use pesync::platform::db::lock::{EVALUATE_JOB, JobLock, POLL_JOB};
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "c-1", 0.8).await;

    // Another instance is running this tick: this one skips it and leaves the work.
    let other = JobLock::try_acquire(&app.pool, EVALUATE_JOB)
        .await
        .unwrap()
        .expect("the lock is free");
    let r = evaluate_once(&app.state, None).await.unwrap();
    assert!(!r.ran);
    assert_eq!(count(&app, "SELECT count(*) FROM decisions").await, 0);
    // The poller's lock is a different one.
    let poll = JobLock::try_acquire(&app.pool, POLL_JOB).await.unwrap();
    assert!(poll.is_some());
    poll.unwrap().release().await;
    other.release().await;
    assert_eq!(evaluate(&app).await.contacts, 1);
    assert!(
        JobLock::try_acquire(&app.pool, EVALUATE_JOB)
            .await
            .unwrap()
            .is_some(),
        "a finished run releases its lock"
    );
}

#[tokio::test]
async fn contact_ids_are_taken_as_given_in_the_path() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "a/b c?d", 0.8).await;
    evaluate(&app).await;
    let v = explain(&app, "a%2Fb%20c%3Fd").await;
    assert_eq!(v["contact_id"], "a/b c?d");
    assert_eq!(v["decisions"][0]["reason"], "eligible");
    let item = &lease(&app, "pull-one", 1).await[0];
    assert_eq!(item["data"]["contact_id"], "a/b c?d");
}

#[tokio::test]
async fn a_new_or_changed_campaign_looks_at_every_contact_already_scored() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("first", 0, "pull")).await;
    seed_rising(&app, "rising", 0.8).await;
    let now = app.now();
    let low = profile(
        &[
            (now - Duration::hours(5), 0.1),
            (now - Duration::hours(1), 0.3),
        ],
        "voice",
        None,
    );
    seed_profile(&app, "low", &low).await;
    let r = evaluate(&app).await;
    assert!(r.full_pass, "the first campaign has decided nothing yet");
    assert_eq!(r.contacts, 2);
    let r = evaluate(&app).await;
    assert_eq!((r.full_pass, r.contacts), (false, 0));

    // A new campaign: every scored contact is evaluated again, for every campaign.
    let mut second = campaign("second", 5, "pull");
    create_campaign(&app, &second).await;
    let r = evaluate(&app).await;
    assert_eq!((r.full_pass, r.contacts, r.decisions), (true, 2, 4));
    assert_eq!(reasons(&app, "low", "second").await, ["tier_not_targeted"]);
    // Already waiting in the first campaign's feed: the second one does not take it.
    assert_eq!(reasons(&app, "rising", "second").await, ["cooldown"]);

    // The same document again changes nothing; a changed one is a new revision.
    let r = app.admin_put("/v1/admin/campaigns/second", &second).await;
    assert_eq!(r.status(), 200);
    assert_eq!(evaluate(&app).await.contacts, 0);
    second["tiers"] = json!(["low"]);
    app.admin_put("/v1/admin/campaigns/second", &second).await;
    let r = evaluate(&app).await;
    assert!(r.full_pass);
    assert_eq!(reasons(&app, "low", "second").await[0], "eligible");
}

/// 300 of the benchmark's varied contacts (`evaluate_seed`), decided by a first run (a full pass):
/// the app and that run's instant.
/// A rising contact whose own window opens at `opens` (to the second) for an hour.
async fn seed_waiting(app: &TestApp, contact: &str, opens: DateTime<Utc>) {
    let now = app.now();
    let window = json!({"start_time": hms(opens), "end_time": hms(opens + Duration::hours(1)), "timezone": "UTC"});
    let p = profile(
        &[
            (now - Duration::hours(5), 0.5),
            (now - Duration::hours(1), 0.8),
        ],
        "voice",
        Some(window),
    );
    seed_profile(app, contact, &p).await;
}

async fn seeded_and_run() -> (TestApp, DateTime<Utc>) {
    let app = spawn_app().await;
    // The seed's windows are hours of the day, so what a run defers or queues depends on the
    // time of day: the tests on it run at 02:30 UTC. At 08:00 UTC, when the London campaign's
    // default window opens, `a_dense_batch_replaces_only_its_own_contacts_deferrals` found 20
    // of the deferrals it needs more than 20 of (35 at 02:30), and failed on a clock that ran
    // from the real time.
    let at = Utc::now().date_naive().and_hms_opt(2, 30, 0).unwrap();
    app.clock.advance(at.and_utc() - app.now());
    let now = app.now();
    pesync::tools::bench::evaluate_seed::seed(&app.pool, 300, now)
        .await
        .unwrap();
    evaluate(&app).await;
    (app, now)
}

/// A regular run reads a dense batch's facts by one index range per table and a sparse one's by
/// id (`evaluation::load`): either way each due contact has the same facts, and the contacts in a
/// dense range that are not due are not candidates.
#[tokio::test]
async fn a_batch_reads_the_same_facts_by_range_as_by_id() {
    use pesync::evaluation::load::candidates;
    use std::collections::BTreeMap;

    let (app, now) = seeded_and_run().await;
    // The run left pending dialer items; suppressions (some expired) and every contact due again.
    sqlx::query(
        "INSERT INTO suppressions (contact_id, expires_at, created_at, updated_at)
         SELECT contact_id, CASE WHEN right(contact_id, 1) = '7' THEN $1 END, $1, $1
         FROM contact_scores WHERE right(contact_id, 1) IN ('3', '7')",
    )
    .bind(now - Duration::hours(1))
    .execute(&app.pool)
    .await
    .unwrap();
    // Observations at the run's instant (read) and a microsecond after it (not read), for
    // contacts read both ways below: the range read takes its bounds as text settings
    // (`copy_out::read_with`), the read by id as parameters.
    sqlx::query(
        "INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
         SELECT contact_id, t, 'history', 0.99, $1
         FROM contact_scores, (VALUES ($1), ($1 + interval '1 microsecond')) AS v(t)
         WHERE right(contact_id, 2) IN ('00', '10')",
    )
    .bind(now)
    .execute(&app.pool)
    .await
    .unwrap();
    let requeue = |keep: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "INSERT INTO evaluation_queue SELECT contact_id, observed_seq FROM contact_scores
                 ON CONFLICT DO NOTHING;
                 DELETE FROM evaluation_queue WHERE NOT ({keep})"
            )))
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let read_as = |full: bool| {
        let pool = app.pool.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            let batch = candidates(&mut conn, "", now, 10_000, full).await.unwrap();
            let facts = batch
                .candidates
                .into_iter()
                .map(|c| (c.contact_id.clone(), format!("{c:?}")))
                .collect::<BTreeMap<String, String>>();
            (batch.dense, facts)
        }
    };
    let read = || read_as(false);

    // Every contact due: dense.
    requeue("true").await;
    let (dense, all) = read().await;
    assert!(dense);
    assert_eq!(all.len(), 300);
    let with = |what: &str| all.values().filter(|c| c.contains(what)).count();
    assert_eq!(
        with("last_handover_at: Some"),
        15,
        "every 20th was handed over"
    );
    assert!(with("pending: Some") > 0, "the run left pending items");
    assert_eq!(with("suppression: Some"), 60);
    assert_eq!(
        with("observations: []"),
        0,
        "every contact has observations"
    );
    // A full pass reads every scored contact by its own COPY statement (`scored::after`): the
    // same facts.
    assert_eq!(read_as(true).await, (true, all.clone()));
    let late = all.values().map(|c| c.matches("score: 0.99 }").count());
    assert_eq!(
        late.sum::<usize>(),
        6,
        "the one at the run's instant, not the one after"
    );
    let expect = |due: &dyn Fn(&str) -> bool| -> BTreeMap<String, String> {
        all.iter()
            .filter(|(id, _)| due(id))
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect()
    };

    // Every tenth due: the range from the first to the last holds ten times as many, read by id.
    requeue("right(contact_id, 1) = '0'").await;
    assert_eq!(read().await, (false, expect(&|id| id.ends_with('0'))));

    // Two in three due: read by range, and the third contacts of the range are not candidates.
    let two_in_three = |id: &str| id[6..].parse::<u32>().unwrap() % 3 != 0;
    requeue("substr(contact_id, 7)::int % 3 <> 0").await;
    let dense = read().await;
    assert_eq!(dense.1.len(), 200);
    assert_eq!(dense, (true, expect(&two_in_three)));

    // Suppressions of contacts never scored fill the range past its bound: they are read by id.
    sqlx::query(
        "INSERT INTO suppressions (contact_id, created_at, updated_at)
         SELECT 'bench-00000150-' || g, $1, $1 FROM generate_series(1, 1000) g",
    )
    .bind(now)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(read().await, dense);
}

/// A full pass refreshes the pending items it takes again, but writes only those whose document
/// changed (`evaluation::queued`): after a campaign change that changes no document, every pending
/// item keeps its row version. (A changed document is rewritten: see
/// `priority_across_campaigns_and_the_cooldown_from_the_hand_over`.)
#[tokio::test]
async fn a_full_pass_leaves_unchanged_pending_items_unwritten() {
    let (app, _) = seeded_and_run().await;
    let versions = || {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT id, xmin::text FROM dialer_queue WHERE state = 'pending' ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let before = versions().await;
    assert!(before.len() > 10, "the run queued contacts");
    sqlx::query(
        "UPDATE campaigns SET revision = nextval('campaign_revision') WHERE id = 'bench-pull'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let r = evaluate(&app).await;
    assert!(r.full_pass);
    assert_eq!(
        r.queued as usize,
        before.len(),
        "the same contacts taken again"
    );
    assert_eq!(versions().await, before);
}

/// A batch read by range replaces its deferrals by range (`BatchWrite::clear_evaluated`): the
/// deferrals of the contacts in the range that the batch did not evaluate stay as they were.
#[tokio::test]
async fn a_dense_batch_replaces_only_its_own_contacts_deferrals() {
    // Two in three queued: a dense batch.
    replaces_only_its_own_contacts_deferrals("substr(contact_id, 7)::int % 3 <> 0", true).await;
}

/// A batch read by id replaces its contacts' deferrals by id (`BatchWrite::clear_evaluated`):
/// their old deferrals go before the new ones are written, the others' stay as they were.
#[tokio::test]
async fn a_sparse_batch_replaces_only_its_own_contacts_deferrals() {
    // One in ten queued: a sparse batch.
    replaces_only_its_own_contacts_deferrals("right(contact_id, 1) = '0'", false).await;
}

/// Runs the seed, then, an hour later, a batch of the contacts matching `queued` (an SQL condition
/// on `contact_id`) read by range (`dense`) or by id, and checks that the run rewrote exactly
/// their deferrals.
async fn replaces_only_its_own_contacts_deferrals(queued: &str, dense: bool) {
    let (app, now) = seeded_and_run().await;
    let later = now + Duration::hours(1);
    // The seed's windows open at every hour of the day somewhere: whichever of the others has its
    // window open within the hour is due too (the test runs at any time of day).
    let opened: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT contact_id FROM deferrals WHERE NOT ({queued}) AND next_opening <= $1"
    )))
    .bind(later)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let deferrals = |sql: String| {
        let (pool, opened) = (app.pool.clone(), opened.clone());
        async move {
            sqlx::query_as::<_, (String, String, DateTime<Utc>, DateTime<Utc>)>(
                sqlx::AssertSqlSafe(sql),
            )
            .bind(opened)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    let columns = "SELECT contact_id, campaign_id, next_opening, deferred_at FROM deferred_pairs";
    let others = format!("{columns} WHERE NOT ({queued}) AND contact_id <> ALL($1) ORDER BY 1, 2");
    let theirs = format!("{columns} WHERE ({queued}) OR contact_id = ANY($1)");
    let before = deferrals(others.clone()).await;
    assert!(
        before.len() > 20,
        "the seed defers contacts: {}",
        before.len()
    );
    assert!(
        !deferrals(theirs.clone()).await.is_empty(),
        "the batch's contacts have deferrals to replace"
    );

    app.clock.advance(Duration::hours(1));
    assert_eq!(app.now(), later);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO evaluation_queue SELECT contact_id, observed_seq FROM contact_scores
         WHERE {queued}"
    )))
    .execute(&app.pool)
    .await
    .unwrap();
    let queued_count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM evaluation_queue WHERE {queued}"
    )))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let batch = pesync::evaluation::load::candidates(&mut conn, "", app.now(), 1_000, false)
        .await
        .unwrap();
    assert_eq!(batch.dense, dense, "how the run reads this batch");
    drop(conn);
    let r = evaluate(&app).await;
    assert_eq!(r.contacts, queued_count as u64 + opened.len() as u64);
    assert_eq!(
        deferrals(others).await,
        before,
        "the others' deferrals untouched"
    );
    let theirs = deferrals(theirs).await;
    assert!(!theirs.is_empty());
    assert!(
        theirs.iter().all(|d| d.3 > now + Duration::minutes(59)),
        "the batch's contacts' deferrals are this run's"
    );
}

/// A contact both in the evaluation queue and deferred (for one campaign or two) with its window
/// open is due once: the run's batches hold each due contact once, in contact-id order, and the
/// run decides it once per campaign.
#[tokio::test]
async fn a_contact_queued_and_deferred_is_due_once() {
    let (app, _) = seeded_and_run().await;
    let twice = count(
        &app,
        "SELECT count(*) FROM (SELECT contact_id FROM deferred_pairs GROUP BY 1 HAVING count(*) = 2) d",
    )
    .await;
    assert!(twice > 10, "the seed defers contacts for both campaigns");
    // A day later every deferral is due, and every contact has a new observation queued.
    app.clock.advance(Duration::hours(25));
    sqlx::raw_sql(
        "INSERT INTO evaluation_queue SELECT contact_id, observed_seq + 1 FROM contact_scores",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(count(&app, "SELECT count(*) FROM deferred_pairs").await > twice);

    let mut conn = app.pool.acquire().await.unwrap();
    let (mut after, mut seen, mut sizes) = (String::new(), Vec::new(), Vec::new());
    loop {
        let batch = pesync::evaluation::load::candidates(&mut conn, &after, app.now(), 64, false)
            .await
            .unwrap();
        let Some(last) = batch.last() else { break };
        after = last.contact_id.clone();
        seen.extend(batch.iter().map(|c| c.contact_id.clone()));
        sizes.push(batch.len());
    }
    drop(conn);
    assert_eq!(seen.len(), 300, "every contact once");
    // Full batches but the last: a contact's second entry does not take a due contact's place.
    assert_eq!(sizes, [64, 64, 64, 64, 44]);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in contact-id order, none twice"
    );
    let r = evaluate(&app).await;
    assert_eq!((r.contacts, r.decisions), (300, 600));
}

/// A row the reader refuses fails the read, and the connection is fit for its next user: the
/// reader takes the rest of the COPY off it first (`copy_out::for_each_row`).
#[tokio::test]
async fn a_copy_read_that_fails_leaves_its_connection_usable() {
    use pesync::platform::db::copy_out::for_each_row;

    let app = spawn_app().await;
    let mut conn = app.pool.acquire().await.unwrap();
    let statement =
        "COPY (SELECT g::text FROM generate_series(1, 5000) g) TO STDOUT (FORMAT binary)";
    let mut seen = 0;
    let failed = for_each_row(&mut conn, statement, |row| {
        seen += 1;
        row.text()?;
        Err(sqlx::Error::Protocol("refused".into()))
    })
    .await;
    assert!(matches!(failed, Err(sqlx::Error::Protocol(m)) if m == "refused"));
    assert_eq!(seen, 1, "no row is handed over after the first failure");
    let n: i64 = sqlx::query_scalar("SELECT 41 + 1::int8")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(n, 42);
    let read = for_each_row(&mut conn, statement, |row| row.text().map(drop)).await;
    assert_eq!(read.unwrap(), 5000);
}

/// A temporary table `name (seq serial, n text, body text)` for the COPY tests below.
async fn copy_table(conn: &mut sqlx::PgConnection, name: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE {name} (seq serial, n text, body text)"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// Row `n`'s body in the COPY tests: multi-byte text of lengths from none to 700 bytes, so rows
/// fall across the edges of the chunks they are sent in.
fn copy_body(n: usize) -> String {
    format!("{n}:{}", "é".repeat(n % 350))
}

/// Rows go to `COPY … FROM STDIN` in chunks as they are encoded (`copy::copy_in`): a COPY many
/// chunks long stores every row intact and in order, and one without rows is not sent at all.
#[tokio::test]
async fn a_copy_sent_in_chunks_stores_every_row_intact() {
    use pesync::platform::db::copy::copy_in;

    let app = spawn_app().await;
    let mut conn = app.pool.acquire().await.unwrap();
    copy_table(&mut conn, "chunks").await;
    // About 1 MB of rows: several chunks of 128 KiB and a partial one, rows across their edges.
    let statement = "COPY chunks (n, body) FROM STDIN (FORMAT binary)";
    let stored = copy_in(&mut conn, statement, 0..3000, |c, n| {
        c.row(2).text(&n.to_string()).text(&copy_body(n));
    })
    .await
    .unwrap();
    assert_eq!(stored, 3000);
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT n, body FROM chunks ORDER BY seq")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let expected: Vec<(String, String)> =
        (0..3000).map(|n| (n.to_string(), copy_body(n))).collect();
    assert!(rows == expected, "every row, intact and in order");

    let nothing = copy_in(
        &mut conn,
        "COPY no_such_table FROM STDIN",
        0..0,
        |_, _: i32| unreachable!("no row to encode"),
    );
    assert_eq!(
        nothing.await.unwrap(),
        0,
        "not sent: the table does not exist"
    );
}

/// Rows encoded ahead (`copy::EncodedRows`, many chunks of them) go to the COPY as their chunks
/// (`copy_in_encoded`), or the kept ones one by one through `copy_in`: both store exactly those
/// rows, intact and in order; an empty set sends nothing.
#[tokio::test]
async fn rows_encoded_ahead_are_stored_whole_or_as_kept() {
    use pesync::platform::db::copy::{EncodedRows, copy_in, copy_in_encoded};

    let app = spawn_app().await;
    let mut conn = app.pool.acquire().await.unwrap();
    copy_table(&mut conn, "ahead").await;
    let mut rows = EncodedRows::default();
    for n in 0..3000 {
        rows.push(|c| {
            c.row(2).text(&n.to_string()).text(&copy_body(n));
        });
    }
    let statement = "COPY ahead (n, body) FROM STDIN (FORMAT binary)";
    let read = "SELECT n, body FROM ahead ORDER BY seq";

    let all = copy_in_encoded(&mut conn, statement, &rows).await.unwrap();
    assert_eq!(all, 3000);
    let stored: Vec<(String, String)> = sqlx::query_as(read).fetch_all(&mut *conn).await.unwrap();
    let expected: Vec<(String, String)> =
        (0..3000).map(|n| (n.to_string(), copy_body(n))).collect();
    assert!(stored == expected, "every row, in order");

    sqlx::raw_sql("TRUNCATE ahead")
        .execute(&mut *conn)
        .await
        .unwrap();
    // Leave out the rows whose number ends in 7: their body, and no other byte of a row, holds
    // "7:".
    let kept = rows
        .rows()
        .filter(|row| !row.windows(2).any(|w| w == b"7:"));
    let some = copy_in(&mut conn, statement, kept, |c, row| {
        c.encoded(row);
    })
    .await
    .unwrap();
    let stored: Vec<(String, String)> = sqlx::query_as(read).fetch_all(&mut *conn).await.unwrap();
    let expected: Vec<(String, String)> = (0..3000)
        .filter(|n| n % 10 != 7)
        .map(|n| (n.to_string(), copy_body(n)))
        .collect();
    assert_eq!(some, expected.len() as u64);
    assert!(stored == expected, "the kept rows, in order");

    let empty = EncodedRows::default();
    let none = copy_in_encoded(&mut conn, "COPY no_such_table FROM STDIN", &empty);
    assert_eq!(none.await.unwrap(), 0, "not sent: the table does not exist");
}

/// The watermarks object goes to PostgreSQL with its keys in the order jsonb keeps them, so its
/// sort of the keys finds them in order (`evaluation::watermarks`): PostgreSQL reads the keys
/// back in the order they were sent.
#[tokio::test]
async fn watermarks_go_in_the_order_jsonb_keeps_its_keys() {
    use pesync::evaluation::watermarks::Watermarks;

    let app = spawn_app().await;
    let ids: Vec<String> = (0..300)
        .map(|i| match i % 4 {
            0 => format!("c-{i}"),
            1 => format!("Contact {i}"),
            2 => format!("é-{i}"),
            _ => format!("{}", 1000 - i),
        })
        .collect();
    let w = Watermarks::new(ids.iter().map(|c| (c.as_str(), 1)).collect());
    let keys: Vec<String> = sqlx::query_scalar("SELECT jsonb_object_keys($1::jsonb)")
        .bind(sqlx::types::Json(&w))
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys.len(), ids.len());
    assert_eq!(keys, w.contacts());
}

/// A run's row keeps every campaign's part as text (migration `20261211000016`): read back through
/// the `decisions` view, each column of each campaign is what the run decided, in campaign order,
/// instants to the microsecond.
#[tokio::test]
async fn every_column_of_a_runs_decisions_reads_back_through_the_view() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("high-priority", 5, "pull")).await;
    create_campaign(&app, &campaign("low-priority", 1, "pull")).await;
    seed_rising(&app, "taken", 0.8).await;
    let opens = app.now() + Duration::hours(2);
    seed_waiting(&app, "waits", opens).await;
    evaluate(&app).await;
    let items = lease(&app, "high-priority", 10).await;
    let acked_at = app.now();
    assert_eq!(
        ack(&app, &[items[0]["id"].as_str().unwrap()]).await,
        ["acknowledged"]
    );
    app.clock.advance(Duration::minutes(61));
    seed_rising(&app, "taken", 0.9).await;
    evaluate(&app).await;

    type Row = (
        String,
        i64,
        String,
        String,
        Option<String>,
        Option<bool>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<String>,
        Value,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT contact_id, ordinal, campaign_id, reason, channel, window_open, next_opening,
                cooldown_until, taken_by, outcomes
         FROM decisions ORDER BY evaluated_at, contact_id, ordinal",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let seen: Vec<Value> = rows
        .iter()
        .map(|r| json!([r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8]))
        .collect();
    let (high, low) = ("high-priority", "low-priority");
    // The window's times are whole seconds; PostgreSQL keeps microseconds of the acknowledgement.
    let opens = opens.trunc_subsecs(0);
    let until = acked_at.trunc_subsecs(6) + Duration::hours(72);
    let waits = "deferred_outside_window";
    assert_eq!(
        Value::from(seen),
        json!([
            [
                "taken", 1, high, "eligible", "voice", true, null, null, null
            ],
            ["taken", 2, low, "cooldown", "voice", true, null, null, high],
            ["waits", 1, high, waits, "voice", false, opens, null, null],
            ["waits", 2, low, waits, "voice", false, opens, null, null],
            [
                "taken", 1, high, "cooldown", "voice", true, null, until, null
            ],
            [
                "taken", 2, low, "cooldown", "voice", true, null, until, null
            ],
        ])
    );
    assert_ne!(
        until.timestamp_subsec_micros(),
        0,
        "the microseconds are kept"
    );
    // The outcomes: every rule, a passed one `true`, a failed one its sentence.
    let low_taken = &rows[1].9;
    assert_eq!(low_taken.as_array().map(Vec::len), Some(9), "{low_taken}");
    assert!(
        low_taken
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o.as_str().is_some_and(|s| s.contains(high)))
    );
    assert!(
        rows[0]
            .9
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o == &json!(true))
    );

    // Both campaigns wait for the contact's own window: one deferral row (migration
    // 20261212000017), read back one pair per campaign.
    let deferrals: Vec<(String, DateTime<Utc>, String)> =
        sqlx::query_as("SELECT contact_id, next_opening, campaign_ids FROM deferrals")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        deferrals,
        [("waits".into(), opens, format!("{high} {low}"))]
    );
    assert_eq!(count(&app, "SELECT count(*) FROM deferred_pairs").await, 2);

    // The console's chart splits each row's reasons: one count per campaign's decision.
    let chart =
        pesync::evaluation::runs::decisions_by_minute(&app.pool, acked_at - Duration::days(1))
            .await
            .unwrap();
    let mut by_reason = std::collections::BTreeMap::new();
    for m in chart {
        *by_reason.entry(m.key).or_insert(0) += m.count;
    }
    assert_eq!(
        serde_json::to_value(by_reason).unwrap(),
        json!({"cooldown": 3, "deferred_outside_window": 2, "eligible": 1})
    );
}
