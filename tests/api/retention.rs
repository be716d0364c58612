//! Bounded growth (docs/RETENTION.md): one prune run, driven by the test, deletes exactly the rows
//! the policy lets go — and keeps what is still needed however old it is: pending events, open
//! quarantine and reconciliation items, the newest decision per contact and campaign, the newest
//! snapshot and hand-over per contact, pending dialer items, and the observations the score rules
//! read. Batches of two rows make every walk cross batch boundaries.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use pesync::retention::{Policy, PruneReport, Table, prune_once};

use crate::helpers::*;

fn policy() -> Policy {
    Policy {
        batch: 2,
        ..Policy::default()
    }
}

async fn prune(app: &TestApp) -> PruneReport {
    let r = prune_once(&app.state, &policy()).await.unwrap();
    assert!(r.ran);
    r
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

/// Seeds an event of contact `a` in `state`; `age` is how long ago it was received (and delivered).
async fn event(app: &TestApp, state: &str, lane: Option<&str>, age: Duration) -> Uuid {
    let id = Uuid::new_v4();
    let at = app.now() - age;
    let delivered = (state == "delivered").then_some(at);
    sqlx::query(
        "INSERT INTO events (id, source, contact_id, event_type, event_timestamp, attributes, raw,
             request_id, dedup_key, mapping_version, manifest_version, received_at, lane, state,
             delivered_at)
         VALUES ($1, 'crm', 'a', 'crm.transaction', $2, '{}', '{}', $1, $3, 1, 1, $2, $4, $5, $6)",
    )
    .bind(id)
    .bind(at)
    .bind(id.as_bytes().to_vec())
    .bind(lane)
    .bind(state)
    .bind(delivered)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn dead_letter(app: &TestApp, event: Uuid, state: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO dead_letters (id, event_id, contact_id, request_id, status, response_body,
             failed_at, state)
         VALUES ($1, $2, 'a', $2, 400, 'no', $3, $4)",
    )
    .bind(Uuid::new_v4())
    .bind(event)
    .bind(app.now() - age)
    .bind(state)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn quarantined(app: &TestApp, state: &str, age: Duration) -> Uuid {
    let id = Uuid::new_v4();
    let at = app.now() - age;
    sqlx::query(
        "INSERT INTO quarantine (id, source, reason, detail, raw, received_at, state, resolved_at)
         VALUES ($1, 'crm', 'malformed', 'x', '{}', $2, $3, CASE WHEN $3 = 'open' THEN NULL ELSE $2 END)",
    )
    .bind(id)
    .bind(at)
    .bind(state)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

async fn dedup_key(app: &TestApp, key: &[u8], age: Duration) {
    sqlx::query("INSERT INTO dedup_keys (dedup_key, first_seen, event_id) VALUES ($1, $2, $3)")
        .bind(key)
        .bind(app.now() - age)
        .bind(Uuid::new_v4())
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn ids_left(app: &TestApp, sql: &'static str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = sqlx::query_scalar(sql).fetch_all(&app.pool).await.unwrap();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

#[tokio::test]
async fn prune_deletes_old_settled_events_and_keeps_pending_and_open_ones() {
    let app = spawn_app().await;
    let (days, old) = (Duration::days, Duration::days(31));
    let delivered_old = event(&app, "delivered", Some("realtime"), old).await;
    let replayed_old = event(&app, "delivered", Some("realtime"), old).await;
    dead_letter(&app, replayed_old, "replayed", days(40)).await;
    let delivered_new = event(&app, "delivered", Some("backfill"), days(29)).await;
    let pending_old = event(&app, "pending", Some("realtime"), days(400)).await;
    let dead_old = event(&app, "dead_letter", Some("realtime"), days(40)).await;
    dead_letter(&app, dead_old, "open", old).await;
    let dead_new = event(&app, "dead_letter", Some("realtime"), days(40)).await;
    dead_letter(&app, dead_new, "open", days(29)).await;
    let discarded_old = event(&app, "discarded", None, old).await;
    let open_reconciliation = event(&app, "reconciliation", None, days(400)).await;
    let q_open = quarantined(&app, "open", days(400)).await;
    let q_discarded = quarantined(&app, "discarded", old).await;
    let q_replayed = quarantined(&app, "replayed", old).await;
    let q_discarded_new = quarantined(&app, "discarded", days(29)).await;

    let r = prune(&app).await;

    let kept = [delivered_new, pending_old, dead_new, open_reconciliation];
    assert_eq!(
        ids_left(&app, "SELECT id FROM events").await,
        sorted(kept.to_vec())
    );
    let gone = [delivered_old, replayed_old, dead_old, discarded_old];
    assert_eq!(r.pruned(Table::Events), gone.len() as u64);
    assert_eq!(r.pruned(Table::DeadLetters), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM dead_letters").await, 1);
    assert_eq!(
        ids_left(&app, "SELECT id FROM quarantine").await,
        sorted(vec![q_open, q_discarded_new])
    );
    assert_eq!(
        r.pruned(Table::Quarantine),
        [q_discarded, q_replayed].len() as u64
    );
    // A second run finds nothing more.
    assert_eq!(prune(&app).await.total(), 0);
}

#[tokio::test]
async fn dedup_keys_go_after_the_largest_window_any_thresholds_version_set() {
    let app = spawn_app().await;
    let hours = Duration::hours;
    dedup_key(&app, b"fresh", hours(23)).await;
    dedup_key(&app, b"day-old", hours(25)).await;
    dedup_key(&app, b"two-days-old", hours(49)).await;
    // Version 1 has 24 h: the day-old key may go.
    assert_eq!(prune(&app).await.pruned(Table::DedupKeys), 2);
    dedup_key(&app, b"day-old", hours(25)).await;
    dedup_key(&app, b"two-days-old", hours(49)).await;
    // Someone once set 48 h, then 24 h again: the largest window any version set still counts.
    for window in [172_800, 86_400] {
        app.set_threshold("dedup_window_seconds", window.into())
            .await;
    }
    assert_eq!(prune(&app).await.pruned(Table::DedupKeys), 1);
    let keys: Vec<Vec<u8>> = sqlx::query_scalar("SELECT dedup_key FROM dedup_keys ORDER BY 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, [b"day-old".to_vec(), b"fresh".to_vec()]);
}

async fn decision(app: &TestApp, contact: &str, campaign: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO decisions (contact_id, campaign_id, evaluated_at, reason, outcomes)
         VALUES ($1, $2, $3, 'cooldown', '[]')",
    )
    .bind(contact)
    .bind(campaign)
    .bind(app.now() - age)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn snapshot(app: &TestApp, contact: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO score_snapshots (contact_id, fetched_at, score, raw) VALUES ($1, $2, 0.5, '{}')",
    )
    .bind(contact)
    .bind(app.now() - age)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn handover(app: &TestApp, contact: &str, age: Duration) {
    sqlx::query(
        "INSERT INTO handovers (contact_id, campaign_id, channel, mode, at)
         VALUES ($1, 'k1', 'voice', 'push', $2)",
    )
    .bind(contact)
    .bind(app.now() - age)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn queued(app: &TestApp, contact: &str, state: &str, age: Duration) {
    let at = app.now() - age;
    sqlx::query(
        "INSERT INTO dialer_queue (campaign_id, contact_id, mode, dialer_id, contact_list_id,
             channel, contact, queued_at, ready_at, state, handed_over_at)
         VALUES ('k1', $1, 'push', $1, 'list', 'voice', '{}', $2, $2, $3,
                 CASE WHEN $3 = 'handed_over' THEN $2 END)",
    )
    .bind(contact)
    .bind(at)
    .bind(state)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// A run's row deciding several campaigns at once, as the evaluation run writes it.
async fn run_row(app: &TestApp, contact: &str, campaigns: &[&str], age: Duration) {
    let details: Vec<Value> = campaigns
        .iter()
        .map(|_| serde_json::json!([null, null, null, null, null, []]))
        .collect();
    sqlx::query(
        "INSERT INTO decision_runs (contact_id, evaluated_at, campaign_ids, reasons, details)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(contact)
    .bind(app.now() - age)
    .bind(campaigns.join(" "))
    .bind(vec!["cooldown"; campaigns.len()].join(" "))
    .bind(Value::from(details).to_string())
    .execute(&app.pool)
    .await
    .unwrap();
}

/// `sql` gives (a key, an instant) per row: the rows as "key:days ago", ordered.
async fn aged(app: &TestApp, sql: &'static str) -> Vec<String> {
    let rows: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as(sql).fetch_all(&app.pool).await.unwrap();
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|(k, at)| format!("{k}:{}", (app.now() - at).num_days()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn prune_keeps_the_newest_decision_snapshot_and_handover_however_old() {
    let app = spawn_app().await;
    let days = Duration::days;
    for (contact, campaign, age) in [
        ("a", "k1", 100),
        ("a", "k1", 95),
        ("a", "k1", 1),
        ("a", "k2", 100),
        ("a", "k2", 95),
        ("b", "k1", 100),
    ] {
        decision(&app, contact, campaign, days(age)).await;
    }
    for (contact, age) in [("a", 100), ("a", 95), ("a", 1), ("b", 100), ("b", 99)] {
        snapshot(&app, contact, days(age)).await;
        handover(&app, contact, days(age)).await;
    }
    sqlx::query(
        "INSERT INTO campaigns (id, document, priority, enabled, created_at, updated_at)
         VALUES ('k1', '{}', 1, false, now(), now())",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    for (contact, state, age) in [
        ("a", "handed_over", 100),
        ("b", "rejected", 100),
        ("c", "pending", 100),
        ("d", "handed_over", 1),
    ] {
        queued(&app, contact, state, days(age)).await;
    }

    let r = prune(&app).await;

    let decisions = "SELECT contact_id || '/' || campaign_id, evaluated_at FROM decisions";
    assert_eq!(
        aged(&app, decisions).await,
        ["a/k1:1", "a/k2:95", "b/k1:100"]
    );
    assert_eq!(r.pruned(Table::Decisions), 3);
    for (sql, table) in [
        (
            "SELECT contact_id, fetched_at FROM score_snapshots",
            Table::Snapshots,
        ),
        ("SELECT contact_id, at FROM handovers", Table::Handovers),
    ] {
        assert_eq!(aged(&app, sql).await, ["a:1", "b:99"], "{sql}");
        assert_eq!(r.pruned(table), 3, "{sql}");
    }
    let queue: Vec<String> = sqlx::query_scalar("SELECT contact_id FROM dialer_queue ORDER BY 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(queue, ["c", "d"]);
    assert_eq!(r.pruned(Table::DialerQueue), 2);
    assert_eq!(prune(&app).await.total(), 0);
    // Pruned hand-overs were dispatched all the same: the all-time count keeps them.
    app.clock.advance(Duration::seconds(5));
    assert_eq!(app.admin_json("/v1/admin/stats").await["dispatched"], 5);
}

async fn observe(app: &TestApp, contact: &str, age: Duration, score: f64) {
    sqlx::query(
        "INSERT INTO score_observations (contact_id, observed_at, source, score, recorded_at)
         VALUES ($1, $2, 'history', $3, $2)",
    )
    .bind(contact)
    .bind(app.now() - age)
    .bind(score)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO contact_scores (contact_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(contact)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The contact's explanation: (effective score, observations as (days ago, dampened)).
async fn explained(app: &TestApp, contact: &str) -> (Value, Vec<(i64, bool)>) {
    let e: Value = app.admin_json(&format!("/v1/contacts/{contact}")).await;
    let obs = e["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let at: DateTime<Utc> = o["timestamp"].as_str().unwrap().parse().unwrap();
            (
                (app.now() - at).num_days(),
                o["dampened"].as_bool().unwrap(),
            )
        })
        .collect();
    (e["effective_score"].clone(), obs)
}

#[tokio::test]
async fn prune_cuts_observations_only_before_an_observation_applied_whatever_came_before() {
    let app = spawn_app().await;
    let (days, min) = (Duration::days, Duration::minutes);
    // Contact a: 100 days ago 0.50 then 0.52 ten minutes later (dampened); 95 days ago 0.60 (applied
    // for sure: days after the one before) then 0.62 (dampened); yesterday 0.63 (applied).
    for (age, score) in [
        (days(100), 0.50),
        (days(100) - min(10), 0.52),
        (days(95), 0.60),
        (days(95) - min(30), 0.62),
        (days(1), 0.63),
    ] {
        observe(&app, "a", age, score).await;
    }
    // Contact b: observations 30 min apart from 100 days ago (the first applied, the second
    // dampened, the third applied again an hour after the first). Without replaying the rules no
    // cut is known to keep the replay the same, so nothing goes.
    for (i, score) in [0.50, 0.52, 0.54, 0.56].into_iter().enumerate() {
        observe(&app, "b", days(100) - min(30 * i as i64), score).await;
    }
    let before_b = explained(&app, "b").await;

    let r = prune(&app).await;

    assert_eq!(r.pruned(Table::Observations), 2);
    let (score, obs) = explained(&app, "a").await;
    assert_eq!(score, 0.63);
    assert_eq!(obs, [(95, false), (94, true), (1, false)]);
    assert_eq!(explained(&app, "b").await, before_b);
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        7
    );
}

#[tokio::test]
async fn observations_inside_a_long_rise_window_stay() {
    let app = spawn_app().await;
    app.set_threshold("rise_window_seconds", (200 * 86_400).into())
        .await;
    for (age, score) in [(150, 0.2), (120, 0.4), (1, 0.9)] {
        observe(&app, "a", Duration::days(age), score).await;
    }
    assert_eq!(prune(&app).await.pruned(Table::Observations), 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        3
    );
}

/// The value of `pesync_pruned_rows_total{table="…"}` in `/metrics`.
fn pruned_metric(text: &str, table: &str) -> f64 {
    let prefix = format!("pesync_pruned_rows_total{{table=\"{table}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn rows_pruned_show_in_metrics_and_stats_per_table() {
    let app = spawn_app().await;
    let text = app.metrics_text().await;
    assert_eq!(pruned_metric(&text, "events"), 0.0);
    for _ in 0..3 {
        event(&app, "delivered", Some("realtime"), Duration::days(31)).await;
    }
    dedup_key(&app, b"old", Duration::days(2)).await;
    prune(&app).await;
    // The figures are computed at most every 5 s; past that they are exact again.
    app.clock.advance(Duration::seconds(5));
    let text = app.metrics_text().await;
    assert_eq!(pruned_metric(&text, "events"), 3.0);
    assert_eq!(pruned_metric(&text, "dedup_keys"), 1.0);
    assert_eq!(pruned_metric(&text, "decisions"), 0.0);
    let stats: Value = app.admin_json("/v1/admin/stats").await;
    let events = stats["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "events")
        .unwrap();
    assert_eq!(events["rows"], 3);
}

/// A run's row holds every campaign's decision: it goes only when each of its campaigns has a
/// newer decision about the contact, and counts as that many decisions pruned.
#[tokio::test]
async fn a_runs_row_goes_when_every_campaign_it_decided_has_a_newer_decision() {
    let app = spawn_app().await;
    let days = Duration::days;
    run_row(&app, "a", &["k1", "k2"], days(100)).await;
    run_row(&app, "a", &["k1"], days(1)).await;
    let decisions = "SELECT contact_id || '/' || campaign_id, evaluated_at FROM decisions";

    assert_eq!(
        prune(&app).await.pruned(Table::Decisions),
        0,
        "k2 has nothing newer"
    );
    assert_eq!(
        aged(&app, decisions).await,
        ["a/k1:1", "a/k1:100", "a/k2:100"]
    );

    run_row(&app, "a", &["k2", "k3"], days(2)).await;
    assert_eq!(prune(&app).await.pruned(Table::Decisions), 2);
    assert_eq!(aged(&app, decisions).await, ["a/k1:1", "a/k2:2", "a/k3:2"]);
}
