//! The seed's two monitors (issue 11 §2) through the API: the change log with its score stability
//! watches (`GET /v1/admin/changes`, `/metrics`) and the chronology check at each poll (the
//! contact explanation, `/v1/admin/stats`, `/metrics`).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use pesync::scoring::chronology::Chronology;
use pesync::scoring::metrics;
use pesync::scoring::poll_once;
use pesync::simulator::ProfileOverride;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

/// Pushes one score per contact `c-<i>` observed at `at` (`POST /v1/scores`).
async fn push_scores(app: &TestApp, scores: &[(usize, f64)], at: DateTime<Utc>) {
    let items: Vec<Value> = scores
        .iter()
        .map(|(i, s)| json!({"contact_id": format!("c-{i}"), "score": s, "observed_at": at.to_rfc3339()}))
        .collect();
    let r = app
        .client
        .post(app.url("/v1/scores"))
        .bearer_auth(SCORER)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// `GET /v1/admin/changes` as the viewer.
async fn changes(app: &TestApp) -> Vec<Value> {
    let r = app.get_as("/v1/admin/changes", Some(VIEWER)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["next_cursor"], Value::Null);
    v["items"].as_array().unwrap().clone()
}

/// Runs the watch job (as `PESYNC_WATCH_CRON` would), then answers the manifest's change.
async fn manifest_change(app: &TestApp) -> Value {
    let r = pesync::scoring::watch_job::refresh_watches(&app.state)
        .await
        .unwrap();
    assert!(r.ran);
    changes(app)
        .await
        .into_iter()
        .find(|c| c["kind"] == "manifest")
        .expect("the activation is in the change log")
}

/// The sample of `name` with `labels` in the exposition, if any.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{labels} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn an_activated_manifest_opens_a_watch_that_turns_suspect_when_scores_drop() {
    let app = spawn_app().await;
    let contacts = 20; // PESYNC_WATCH_MIN_CONTACTS' default: enough to judge.
    let before = app.now() - Duration::hours(2);
    let all: Vec<(usize, f64)> = (0..contacts).map(|i| (i, 0.8)).collect();
    push_scores(&app, &all, before).await;

    let manifest = pesync::normalize::manifest::Manifest::default_v1_json();
    assert_eq!(
        app.admin_post("/v1/admin/manifests", &manifest)
            .await
            .status(),
        201
    );
    let activated_at = app.now();
    let r = app
        .admin_post("/v1/admin/manifests/2/activate", &json!(null))
        .await;
    assert_eq!(r.status(), 200);
    // Activating the version in force again is no change.
    let r = app
        .admin_post("/v1/admin/manifests/2/activate", &json!(null))
        .await;
    assert_eq!(r.status(), 200);

    let c = manifest_change(&app).await;
    assert_eq!(c["action"], "activated");
    assert_eq!(
        (c["from_version"].clone(), c["to_version"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(c["changed_by"], "admin");
    assert_eq!(
        c["changed_by_token"],
        pesync::platform::secrets::fingerprint(ADMIN.as_bytes())
    );
    assert_instant(&c["changed_at"], activated_at);
    assert_eq!(c["watch"]["state"], "open");
    assert_instant(&c["watch"]["until"], activated_at + Duration::hours(48));
    assert_eq!(c["watch"]["figures"]["contacts"], 0);
    assert_eq!(c["watch"]["suspect"], false);
    assert_instant(&c["watch"]["figures_at"], activated_at);
    assert_eq!(
        changes(&app)
            .await
            .iter()
            .filter(|c| c["kind"] == "manifest")
            .count(),
        1
    );

    // Scores after the change: 4 of 20 dropped by 0.2 (20 %, within the 30 % bound).
    app.clock.advance(Duration::minutes(30));
    let after: Vec<(usize, f64)> = (0..contacts)
        .map(|i| (i, if i < 4 { 0.6 } else { 0.8 }))
        .collect();
    push_scores(&app, &after, app.now() - Duration::minutes(10)).await;
    let c = manifest_change(&app).await;
    assert_eq!(c["watch"]["figures"]["contacts"], 20);
    assert_eq!(c["watch"]["figures"]["drop_share"], 0.2);
    assert_eq!(c["watch"]["suspect"], false);

    // Four more drop: 40 % is past the bound, and the watch is suspect.
    app.clock.advance(Duration::minutes(30));
    let more: Vec<(usize, f64)> = (4..8).map(|i| (i, 0.55)).collect();
    push_scores(&app, &more, app.now() - Duration::minutes(10)).await;
    let c = manifest_change(&app).await;
    let f = &c["watch"]["figures"];
    assert_eq!(f["drop_share"], 0.4);
    let shift = f["mean_shift"].as_f64().unwrap();
    assert!(
        (shift - (4.0 * -0.2 + 4.0 * -0.25) / 20.0).abs() < 1e-9,
        "{shift}"
    );
    assert_eq!(
        f["plateau_share"], 0.0,
        "one score after the change is no plateau"
    );
    assert_eq!(c["watch"]["suspect"], true);
    assert_eq!(c["watch"]["state"], "open");
    // The twelve others are scored 0.8 again: unchanged across observations, a plateau (60 %).
    app.clock.advance(Duration::minutes(30));
    let same: Vec<(usize, f64)> = (8..contacts).map(|i| (i, 0.8)).collect();
    push_scores(&app, &same, app.now() - Duration::minutes(10)).await;
    let c = manifest_change(&app).await;
    assert_eq!(c["watch"]["figures"]["plateau_share"], 0.6);

    let id = c["id"].as_i64().unwrap();
    let labels = format!("{{change=\"{id}\",kind=\"manifest\"}}");
    let text = app.metrics_text().await;
    assert_eq!(
        sample(&text, "pesync_change_watch_suspect", &labels),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "pesync_change_watch_drop_share", &labels),
        Some(0.4)
    );
    assert_eq!(
        sample(&text, "pesync_change_watch_contacts", &labels),
        Some(20.0)
    );
    assert_eq!(
        sample(&text, "pesync_change_watches_suspect", ""),
        Some(1.0)
    );
    let stats = app.admin_json("/v1/admin/stats").await;
    assert_eq!(stats["monitors"]["open_watches"][0]["id"], id);

    // 48 hours on the watch closes; it keeps its verdict and leaves the metrics.
    app.clock.advance(Duration::hours(48));
    let c = manifest_change(&app).await;
    assert_eq!(c["watch"]["state"], "closed");
    assert_eq!(c["watch"]["suspect"], true);
    let text = app.metrics_text().await;
    assert_eq!(sample(&text, "pesync_change_watch_suspect", &labels), None);
    assert_eq!(
        sample(&text, "pesync_change_watches_suspect", ""),
        Some(0.0)
    );
    // Its figures, computed past its end, are final: later scores change nothing.
    let final_at = c["watch"]["figures_at"].clone();
    assert_instant(&final_at, app.now());
    push_scores(&app, &all, app.now() - Duration::minutes(1)).await;
    app.clock.advance(Duration::minutes(5));
    let r = pesync::scoring::watch_job::refresh_watches(&app.state)
        .await
        .unwrap();
    assert_eq!(r.computed, 0);
    let c = changes(&app)
        .await
        .into_iter()
        .find(|c| c["kind"] == "manifest")
        .unwrap();
    assert_eq!(c["watch"]["figures"]["drop_share"], 0.4);
    assert_eq!(c["watch"]["figures_at"], final_at);
}

#[tokio::test]
async fn every_change_is_logged_with_who_and_only_mappings_and_manifests_are_watched() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app.create_source("crm", json!({})).await; // the same mapping: no new version, no change
    app.create_source("crm", json!({"event_types": {"deal": "crm.transaction"}}))
        .await;
    app.set_threshold("min_rise", json!(0.2)).await;
    create_campaign(&app, &campaign("spring", 10, "pull")).await;
    let r = app
        .client
        .delete(app.url("/v1/admin/campaigns/spring"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let got: Vec<(String, String, String, Value, Value, bool)> = changes(&app)
        .await
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
                c["from_version"].clone(),
                c["to_version"].clone(),
                c["watch"].is_object(),
            )
        })
        .collect();
    let row = |k: &str, n: &str, a: &str, from: Value, to: Value, w: bool| {
        (k.to_owned(), n.to_owned(), a.to_owned(), from, to, w)
    };
    assert_eq!(
        got,
        vec![
            row("mapping", "crm", "activated", Value::Null, json!(1), true),
            row("mapping", "crm", "activated", json!(1), json!(2), true),
            row(
                "thresholds",
                "thresholds",
                "updated",
                json!(1),
                json!(2),
                false
            ),
            row(
                "campaign",
                "spring",
                "created",
                Value::Null,
                Value::Null,
                false
            ),
            row(
                "campaign",
                "spring",
                "deleted",
                Value::Null,
                Value::Null,
                false
            ),
        ]
    );
    // Paged like the other lists; the scorer token reads nothing.
    let r = app.get_as("/v1/admin/changes?limit=2", Some(VIEWER)).await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let next = page["next_cursor"].as_str().unwrap();
    let r = app
        .get_as(
            &format!("/v1/admin/changes?limit=2&cursor={next}"),
            Some(VIEWER),
        )
        .await;
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"][0]["kind"], "thresholds");
    let r = app.get_as("/v1/admin/changes", Some(SCORER)).await;
    assert_problem(r, 403).await;
    let r = app.get_as("/v1/admin/changes?limit=0", Some(VIEWER)).await;
    let p = assert_problem(r, 422).await;
    assert_eq!(p["errors"][0]["field"], "limit", "{p}");
}

fn last_event_at(at: DateTime<Utc>) -> ProfileOverride {
    ProfileOverride {
        last_event_timestamp: Some(Some(at)),
        ..ProfileOverride::default()
    }
}

fn count_of(stats: &Value, list: &str, state: &str) -> u64 {
    stats["monitors"][list]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == state)
        .unwrap()["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_profile_that_saw_later_than_anything_delivered_is_an_inversion_in_the_explanation() {
    let sim = spawn_simulator(None).await;
    let app = spawn_app_with_sim(&sim, 100.0).await;
    app.create_source("crm", json!({})).await;
    let sent = app.now() - Duration::hours(2);
    let delivered = |n: i64| {
        let app = &app;
        async move {
            eventually(
                StdDuration::from_secs(30),
                "the events are delivered",
                || async {
                    count(app, "SELECT count(*) FROM events WHERE state = 'delivered'").await == n
                },
            )
            .await
        }
    };
    let events = json!([
        event("inv", "R-1", sent),
        event("lag", "R-2", sent),
        event("ok", "R-3", sent)
    ]);
    app.ingest("crm", &events).await;
    delivered(3).await;
    // An older event of "inv" delivered after them (the backfill lane) leaves the newest delivered
    // timestamp where it is.
    app.ingest(
        "crm",
        &json!([event("inv", "R-0", sent - Duration::hours(30))]),
    )
    .await;
    delivered(4).await;
    // PE says it saw an event an hour after anything pesync sent; another trails by an hour (past
    // the 5-minute tolerance); the third reports what the simulator computed from the events.
    sim.state
        .set_profile("inv", last_event_at(sent + Duration::hours(1)));
    sim.state
        .set_profile("lag", last_event_at(sent - Duration::hours(1)));
    let checks_before = metrics::chronology_checks();

    let client = app.tenant.client.as_ref().expect("a Genesys client");
    let r = poll_once(&app.state, client).await.unwrap();
    assert_eq!(r.profiles, 3);

    let v = explain(&app, "inv").await;
    let c = &v["chronology"];
    assert_eq!(c["state"], "inversion", "{c}");
    assert_instant(&c["pe_last_event_timestamp"], sent + Duration::hours(1));
    assert_instant(&c["newest_delivered_timestamp"], sent);
    assert_eq!(explain(&app, "lag").await["chronology"]["state"], "lag");
    assert_eq!(
        explain(&app, "ok").await["chronology"]["state"],
        "consistent"
    );

    let stats = app.admin_json("/v1/admin/stats").await;
    for (state, n) in [
        ("inversion", 1),
        ("lag", 1),
        ("consistent", 1),
        ("unknown", 0),
    ] {
        assert_eq!(count_of(&stats, "chronology_contacts", state), n, "{state}");
    }
    // Process-wide counters (other tests poll too): at least this test's checks.
    let after = |s: Chronology| {
        let before = checks_before.iter().find(|(x, _)| *x == s).unwrap().1;
        count_of(&stats, "chronology_checks", s.as_str()) - before
    };
    assert!(after(Chronology::Inversion) >= 1);
    assert!(after(Chronology::Lag) >= 1);
    let text = app.metrics_text().await;
    let contacts = |state: &str| {
        sample(
            &text,
            "pesync_chronology_contacts",
            &format!("{{state=\"{state}\"}}"),
        )
    };
    assert_eq!(contacts("inversion"), Some(1.0));
    assert_eq!(contacts("lag"), Some(1.0));
    assert!(
        sample(
            &text,
            "pesync_chronology_checks_total",
            "{state=\"inversion\"}"
        )
        .unwrap()
            >= 1.0
    );
}
