//! Campaigns admin (SPEC §8): CRUD, pagination, validation listing every problem, and the viewer
//! token refused on every write of the scoring and campaign stages.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::*;

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn campaigns_create_read_replace_delete() {
    let app = spawn_app().await;
    let doc = json!({"id": "spring-renewals", "name": "Spring renewals", "enabled": true, "priority": 10,
        "tiers": ["high", "moderate"], "mode": "push",
        "channels": {"voice": "list-voice", "email": "list-email"},
        "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "America/New_York"}});
    let r = app.admin_post("/v1/admin/campaigns", &doc).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        "/v1/admin/campaigns/spring-renewals"
    );
    assert_eq!(r.json::<Value>().await.unwrap(), doc);

    let got: Value = app.admin_json("/v1/admin/campaigns/spring-renewals").await;
    assert_eq!(got, doc);

    // The same id again is a conflict; PUT replaces.
    assert_problem(app.admin_post("/v1/admin/campaigns", &doc).await, 409).await;
    let mut changed = doc.clone();
    changed["priority"] = json!(3);
    changed["mode"] = json!("pull");
    let r = app
        .admin_put("/v1/admin/campaigns/spring-renewals", &changed)
        .await;
    assert_eq!(r.status(), 200);
    let got: Value = app.admin_json("/v1/admin/campaigns/spring-renewals").await;
    assert_eq!(got["priority"], 3);
    assert_eq!(got["mode"], "pull");

    // PUT creates too, taking the id from the path; defaults are filled in.
    let mut minimal = campaign("winter", 0, "push");
    let obj = minimal.as_object_mut().unwrap();
    for k in ["id", "enabled", "priority", "tiers"] {
        obj.remove(k);
    }
    let r = app.admin_put("/v1/admin/campaigns/winter", &minimal).await;
    assert_eq!(r.status(), 201);
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["id"], "winter");
    assert_eq!(got["enabled"], true);
    assert_eq!(got["priority"], 0);
    assert_eq!(got["tiers"], json!(["high", "moderate"]));

    // An id in the body must match the path.
    let p = assert_problem(
        app.admin_put("/v1/admin/campaigns/other", &campaign("winter", 0, "push"))
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["id"]);

    let r = delete_campaign(&app, "winter").await;
    assert_eq!(r.status(), 204);
    assert_problem(app.admin_get("/v1/admin/campaigns/winter").await, 404).await;
    let r = delete_campaign(&app, "winter").await;
    assert_problem(r, 404).await;
}

/// The foreign keys from the deferrals and the dialer queue to campaigns are gone (the run's
/// inserts skipped a per-row check, migration 20261208000012): deleting a campaign still removes
/// its deferrals and its queue items, history included, and nothing of another campaign.
#[tokio::test]
async fn deleting_a_campaign_removes_its_deferrals_and_queue_items() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("winter", 1, "push")).await;
    create_campaign(&app, &campaign("summer", 2, "pull")).await;
    for (k, c, state) in [
        ("winter", "a", "pending"),
        ("winter", "b", "handed_over"),
        ("summer", "a", "pending"),
    ] {
        sqlx::query(
            "INSERT INTO dialer_queue (campaign_id, contact_id, mode, dialer_id, contact_list_id,
                 channel, contact, queued_at, ready_at, state)
             VALUES ($1, $2, 'push', $1 || $2, 'list', 'voice', '{}', now(), now(), $3)",
        )
        .bind(k)
        .bind(c)
        .bind(state)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // One row per contact and opening (migration 20261212000017): `a` waits for both campaigns.
    sqlx::query(
        "INSERT INTO deferrals (contact_id, next_opening, campaign_ids, deferred_at)
         VALUES ('a', now(), 'winter summer', now()), ('b', now(), 'winter', now())",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let r = delete_campaign(&app, "winter").await;
    assert_eq!(r.status(), 204);
    let left = |table: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT campaign_id || ':' || contact_id FROM {table} ORDER BY 1"
            )))
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(left("dialer_queue").await, ["summer:a"]);
    assert_eq!(left("deferred_pairs").await, ["summer:a"]);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT contact_id, campaign_ids FROM deferrals")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [("a".to_owned(), "summer".to_owned())],
        "b's row went"
    );
}

#[tokio::test]
async fn campaigns_list_is_paginated() {
    let app = spawn_app().await;
    for i in 0..5 {
        create_campaign(&app, &campaign(&format!("c{i}"), i, "pull")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/admin/campaigns?limit=2".to_owned(),
            Some(c) => format!("/v1/admin/campaigns?limit=2&cursor={c}"),
        };
        let page: Value = app.admin_json(&path).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
    assert_problem(app.admin_get("/v1/admin/campaigns?limit=0").await, 422).await;
    assert_problem(app.admin_get("/v1/admin/campaigns?cursor=zz").await, 422).await;
}

#[tokio::test]
async fn an_invalid_campaign_lists_every_problem() {
    let app = spawn_app().await;
    let bad = json!({"id": "bad id!", "name": "  ", "priority": "high", "tiers": ["gold"],
        "mode": "fax", "channels": {},
        "default_window": {"start_time": "09:00:00", "end_time": "20:00:00", "timezone": "Mars/Olympus"},
        "colour": "red"});
    let p = assert_problem(app.admin_post("/v1/admin/campaigns", &bad).await, 422).await;
    let f = fields(&p);
    for want in [
        "id",
        "name",
        "priority",
        "tiers",
        "mode",
        "channels",
        "default_window.timezone",
        "colour",
    ] {
        assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
    }
    let p = assert_problem(app.admin_post("/v1/admin/campaigns", &json!({})).await, 422).await;
    assert_eq!(
        fields(&p),
        ["id", "name", "mode", "channels", "default_window"]
    );
    let r = app
        .client
        .post(app.url("/v1/admin/campaigns"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400).await;
    let r = app.admin_put("/v1/admin/campaigns/x", &json!([1])).await;
    assert_problem(r, 422).await;
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 0);
}

#[tokio::test]
async fn null_is_refused_where_the_schema_says_a_value_and_taken_where_it_says_nullable() {
    let app = spawn_app().await;
    // The schema (schemathesis `--checks all`) says tiers, enabled and priority are values with
    // defaults: `null` is refused, naming each, for create and replace alike.
    let mut doc = campaign("spring", 0, "push");
    for k in ["tiers", "enabled", "priority"] {
        doc[k] = Value::Null;
    }
    let p = assert_problem(app.admin_post("/v1/admin/campaigns", &doc).await, 422).await;
    assert_eq!(fields(&p), ["enabled", "priority", "tiers"], "{p}");
    assert!(
        p.to_string().contains("leave it out for the default"),
        "{p}"
    );
    let r = app.admin_put("/v1/admin/campaigns/spring", &doc).await;
    assert_eq!(
        fields(&assert_problem(r, 422).await),
        ["enabled", "priority", "tiers"]
    );
    // The id of a replacement may be left out (the path's is taken), not null.
    let mut doc = campaign("spring", 0, "push");
    doc["id"] = Value::Null;
    let r = app.admin_put("/v1/admin/campaigns/spring", &doc).await;
    assert_eq!(fields(&assert_problem(r, 422).await), ["id"]);
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 0);
    // default_channel is nullable: null is "none".
    let mut doc = campaign("spring", 0, "push");
    doc["default_channel"] = Value::Null;
    let r = app.admin_post("/v1/admin/campaigns", &doc).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn the_viewer_reads_but_every_write_is_refused() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("pull-one", 0, "pull")).await;
    seed_rising(&app, "c-1", 0.8).await;
    evaluate(&app).await;

    for path in [
        "/v1/admin/campaigns",
        "/v1/admin/campaigns/pull-one",
        "/v1/contacts/c-1",
        "/v1/admin/thresholds",
        "/v1/admin/thresholds/history",
    ] {
        let r = app.get_as(path, Some(VIEWER)).await;
        assert_eq!(r.status(), 200, "the viewer may read {path}");
    }
    // The dry run changes nothing: the viewer may use it.
    let r = app
        .client
        .post(app.url("/v1/admin/evaluate"))
        .bearer_auth(VIEWER)
        .json(&json!({"campaign_id": "pull-one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let doc = campaign("x", 0, "push");
    let writes = [
        ("POST", "/v1/admin/campaigns", doc.clone()),
        ("PUT", "/v1/admin/campaigns/pull-one", doc.clone()),
        ("DELETE", "/v1/admin/campaigns/pull-one", json!(null)),
        ("PUT", "/v1/admin/thresholds", json!({})),
        // A lease hides contacts from other callers: a write.
        ("GET", "/v1/dialer/feed?campaign=pull-one", json!(null)),
        ("POST", "/v1/dialer/feed/ack", json!({"ids": []})),
    ];
    for (method, path, body) in writes {
        let rb = match method {
            "POST" => app.client.post(app.url(path)).json(&body),
            "PUT" => app.client.put(app.url(path)).json(&body),
            "DELETE" => app.client.delete(app.url(path)),
            _ => app.client.get(app.url(path)),
        };
        let r = rb.bearer_auth(VIEWER).send().await.unwrap();
        assert_problem(r, 403).await;
        let rb = match method {
            "POST" => app.client.post(app.url(path)).json(&body),
            "PUT" => app.client.put(app.url(path)).json(&body),
            "DELETE" => app.client.delete(app.url(path)),
            _ => app.client.get(app.url(path)),
        };
        assert_problem(rb.send().await.unwrap(), 401).await;
    }
    // Nothing was changed or leased.
    assert_eq!(count(&app, "SELECT count(*) FROM campaigns").await, 1);
    assert_eq!(
        lease(&app, "pull-one", 10).await.len(),
        1,
        "the contact is still in the feed"
    );
}
