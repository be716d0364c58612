//! The console's figures through the API (issue 11 §3): `GET /v1/admin/stats/series` counts per
//! minute from the database, `GET /v1/admin/stats/breakdown` breaks the stats down, and `/console`
//! is served with its policy. The page itself in a browser: `console_browser.rs`.

use std::time::Duration as StdDuration;

use chrono::Duration;
use pesync::simulator::SimulatorHandle;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

/// What [`seeded`] put in: the contact with decisions, the campaign.
pub const CONTACT: &str = "c-1";
pub const CAMPAIGN: &str = "spring";

/// A service with something in every section: 3 events delivered on the real-time lane and 2 on
/// the backfill lane, 3 quarantined (2 `missing_field`-like, 1 `unknown_attribute`), a pull
/// campaign whose run decided 3 contacts (one eligible and handed over, so in its cooldown; one
/// with too small a rise; one deferred to a window opening in 3 hours).
pub async fn seeded() -> (SimulatorHandle, TestApp) {
    let sim = spawn_simulator(None).await;
    let app = spawn_app_with_sim(&sim, 50.0).await;
    app.create_source("crm", json!({})).await;
    let now = app.now();
    let mut events: Vec<Value> = (1..=3)
        .map(|i| {
            event(
                &format!("c-{i}"),
                &format!("R{i}"),
                now - Duration::minutes(1),
            )
        })
        .collect();
    events.extend((1..=2).map(|i| event("c-4", &format!("B{i}"), now - Duration::days(8 + i))));
    app.ingest("crm", &json!(events)).await;
    let mut unknown = event("c-5", "Q1", now);
    unknown["attributes"]["loyalty_tier"] = json!("gold");
    let bad = json!([unknown, {"contact_id": "c-6"}, {"contact_id": "c-7"}]);
    app.ingest("crm", &bad).await;
    eventually(StdDuration::from_secs(60), "5 events delivered", || async {
        sim.state.events().len() >= 5
            && count(
                &app,
                "SELECT count(*) FROM events WHERE state = 'delivered'",
            )
            .await
                == 5
    })
    .await;

    create_campaign(&app, &campaign(CAMPAIGN, 0, "pull")).await;
    seed_rising(&app, CONTACT, 0.8).await;
    seed_rising(&app, "c-2", 0.52).await;
    let opens = now + Duration::hours(3);
    let window = json!({"start_time": hms(opens), "end_time": hms(opens + Duration::hours(1)),
                        "timezone": "UTC"});
    let later = profile(
        &[
            (now - Duration::hours(5), 0.5),
            (now - Duration::hours(1), 0.8),
        ],
        "voice",
        Some(window),
    );
    seed_profile(&app, "c-3", &later).await;
    evaluate(&app).await;
    let items = lease(&app, CAMPAIGN, 10).await;
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ack(&app, &ids).await, ["acknowledged"]);
    (sim, app)
}

/// The sum of a per-reason map over the points.
fn total(points: &[Value], field: &str) -> i64 {
    points
        .iter()
        .flat_map(|p| p[field].as_object().unwrap().values())
        .map(|v| v.as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn the_series_counts_each_minute_from_the_database() {
    let (_sim, app) = seeded().await;
    let s: Value = app
        .get_as("/v1/admin/stats/series?minutes=15", Some(VIEWER))
        .await
        .json()
        .await
        .unwrap();
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 15, "every minute, zeros included");
    assert_eq!(s["from"], points[0]["minute"]);
    assert_eq!(s["to"], points[14]["minute"]);
    let lane = |l: &str| -> i64 {
        points
            .iter()
            .map(|p| p["delivered"][l].as_i64().unwrap())
            .sum()
    };
    assert_eq!((lane("realtime"), lane("backfill")), (3, 2));
    assert_eq!(total(points, "quarantined"), 3);
    // By reason over the series (a minute may have begun since the run).
    let reason = |r: &str| -> i64 {
        points
            .iter()
            .filter_map(|p| p["decisions"][r].as_i64())
            .sum()
    };
    assert_eq!(reason("eligible"), 1, "{s}");
    assert_eq!(reason("insufficient_rise"), 1);
    assert_eq!(reason("deferred_outside_window"), 1);
    assert_eq!(total(points, "decisions"), 3);
    // 50 requests/s, one event each (`pe`).
    assert_eq!(
        s["ceiling"],
        json!({"requests_per_minute": 3000.0, "events_per_request": 1, "events_per_minute": 3000.0})
    );

    // An hour later the deliveries of a 15-minute series are gone, a day's still has them.
    app.clock.advance(Duration::hours(1));
    let later: Value = app.admin_json("/v1/admin/stats/series?minutes=15").await;
    let later = later["points"].as_array().unwrap();
    assert_eq!(total(later, "decisions") + total(later, "quarantined"), 0);
    let day: Value = app.admin_json("/v1/admin/stats/series?minutes=1440").await;
    let day = day["points"].as_array().unwrap();
    assert_eq!(day.len(), 1440);
    assert_eq!((total(day, "decisions"), total(day, "quarantined")), (3, 3));
    // Only the figures asked for.
    let decisions: Value = app
        .admin_json("/v1/admin/stats/series?minutes=1440&figures=decisions")
        .await;
    let decisions = decisions["points"].as_array().unwrap();
    assert_eq!(total(decisions, "decisions"), 3);
    assert!(
        decisions
            .iter()
            .all(|p| p.get("delivered").is_none() && p.get("quarantined").is_none())
    );
}

#[tokio::test]
async fn the_series_wants_one_minute_to_a_day_and_a_reader() {
    let app = spawn_app().await;
    let s: Value = app.admin_json("/v1/admin/stats/series").await;
    assert_eq!(s["points"].as_array().unwrap().len(), 15, "15 by default");
    assert_eq!(s["ceiling"], Value::Null, "no Genesys tenant, no ceiling");
    for bad in ["0", "1441", "-3"] {
        let p = assert_problem(
            app.admin_get(&format!("/v1/admin/stats/series?minutes={bad}"))
                .await,
            422,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "minutes", "{p}");
    }
    assert_problem(
        app.admin_get("/v1/admin/stats/series?minutes=ten").await,
        400,
    )
    .await;
    let p = assert_problem(
        app.admin_get("/v1/admin/stats/series?figures=decisions,events")
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "figures", "{p}");
    for path in ["/v1/admin/stats/series", "/v1/admin/stats/breakdown"] {
        assert_problem(app.get_as(path, None).await, 401).await;
        assert_problem(app.get_as(path, Some(SCORER)).await, 403).await;
        assert_eq!(app.get_as(path, Some(VIEWER)).await.status(), 200);
    }
}

#[tokio::test]
async fn the_breakdown_names_reasons_campaigns_cooldowns_and_deferrals() {
    let (_sim, app) = seeded().await;
    let b: Value = app
        .get_as("/v1/admin/stats/breakdown", Some(VIEWER))
        .await
        .json()
        .await
        .unwrap();
    let reasons = b["quarantine_open_by_reason"].as_array().unwrap();
    assert_eq!(
        reasons
            .iter()
            .map(|r| r["count"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    assert!(
        reasons
            .iter()
            .any(|r| r["reason"] == "unknown_attribute" && r["count"] == 1),
        "{b}"
    );
    assert_eq!(
        b["campaigns"],
        json!([{"campaign_id": CAMPAIGN, "handed_over_24h": 1, "queued": 0}])
    );
    assert_eq!(b["cooldowns_running"], 1);
    let deferred: Vec<(String, i64)> = b["deferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["opens"].as_str().unwrap().into(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("due", 0),
        ("within_1h", 0),
        ("within_6h", 1),
        ("within_24h", 0),
        ("later", 0),
    ];
    assert_eq!(deferred, expected.map(|(k, n)| (k.to_string(), n)));

    // Four hours on: the window opened (due); three days on the cooldown is over (72 h default).
    app.clock.advance(Duration::hours(4));
    let b: Value = app.admin_json("/v1/admin/stats/breakdown").await;
    assert_eq!(b["deferred"][0], json!({"opens": "due", "count": 1}));
    app.clock.advance(Duration::hours(72));
    let b: Value = app.admin_json("/v1/admin/stats/breakdown").await;
    assert_eq!(b["cooldowns_running"], 0);
    assert_eq!(b["campaigns"], json!([]), "the hand-over is over a day old");

    // A contact waiting for two campaigns at one opening is one row, and counts as two pairs.
    sqlx::query(
        "INSERT INTO deferrals (contact_id, next_opening, campaign_ids, deferred_at)
         VALUES ('two', $1, 'a b', $2)",
    )
    .bind(app.now() + Duration::minutes(30))
    .bind(app.now())
    .execute(&app.pool)
    .await
    .unwrap();
    let b: Value = app.admin_json("/v1/admin/stats/breakdown").await;
    assert_eq!(b["deferred"][1], json!({"opens": "within_1h", "count": 2}));
}

#[tokio::test]
async fn the_console_is_served_with_a_self_only_policy() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let r = app.get_as(path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        let header = |h: &str| r.headers()[h].to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with(kind), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("http"),
            "{csp}"
        );
    }
    let page = app.get_as("/console", None).await.text().await.unwrap();
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "nothing inline"
    );
    assert!(page.contains(r#"data-metric="realtime.depth""#));
    let r = app.client.post(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 405);
}
