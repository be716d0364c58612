//! The Genesys simulator over real HTTP: each test starts its own simulator on port 0 and talks to
//! it with reqwest, the way pesync's Genesys client will.

use std::time::{Duration, Instant};

use pesync::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

const EVENTS: &str = "/api/v2/analytics/predictiveengagement/events";

async fn start(config: SimulatorConfig) -> (SimulatorHandle, Client) {
    let sim = Simulator::start(config).await.expect("simulator starts");
    (sim, Client::new())
}

async fn start_default() -> (SimulatorHandle, Client) {
    start(SimulatorConfig::default()).await
}

async fn request_token(sim: &SimulatorHandle, client: &Client, secret: &str) -> Response {
    client
        .post(sim.token_url())
        .basic_auth("pesync-simulator", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn token(sim: &SimulatorHandle, client: &Client) -> String {
    let response = request_token(sim, client, "pesync-simulator-secret").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn event(contact: &str, timestamp: &str, attributes: Value) -> Value {
    json!({"contact_id": contact, "event_type": "crm.transaction", "event_timestamp": timestamp,
           "attributes": attributes})
}

fn purchase(contact: &str, timestamp: &str, value: f64, channel: &str) -> Value {
    let attributes =
        json!({"transaction_value": value, "crm_record_id": "OPP-1", "channel_origin": channel});
    event(contact, timestamp, attributes)
}

async fn send_event(
    sim: &SimulatorHandle,
    client: &Client,
    token: &str,
    request_id: &str,
    body: &Value,
) -> Response {
    client
        .post(format!("{}{EVENTS}", sim.base_url))
        .bearer_auth(token)
        .header("X-Request-Id", request_id)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_profile(
    sim: &SimulatorHandle,
    client: &Client,
    token: &str,
    contact: &str,
) -> Response {
    let url = format!(
        "{}/api/v2/analytics/predictiveengagement/contacts/{contact}",
        sim.base_url
    );
    client.get(url).bearer_auth(token).send().await.unwrap()
}

async fn push(
    sim: &SimulatorHandle,
    client: &Client,
    token: &str,
    list: &str,
    body: &Value,
) -> Response {
    let url = format!(
        "{}/api/v2/outbound/contactlists/{list}/contacts",
        sim.base_url
    );
    client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn control(sim: &SimulatorHandle, client: &Client, path: &str, body: Value) -> Response {
    client
        .post(format!("{}/_sim{path}", sim.base_url))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: &str) -> String {
    let value = response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"));
    value.to_str().unwrap().to_owned()
}

fn request_id() -> String {
    Uuid::new_v4().to_string()
}

/// Asserts a Genesys `ErrorBody` with this status and code.
async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    body
}

#[tokio::test]
async fn issues_tokens_for_the_right_client_only() {
    let (sim, client) = start_default().await;
    let response = request_token(&sim, &client, "pesync-simulator-secret").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert!(!body["access_token"].as_str().unwrap().is_empty());

    let wrong = request_token(&sim, &client, "not-the-secret").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let anonymous = client
        .post(sim.token_url())
        .form(&[("grant_type", "client_credentials")]);
    assert_eq!(
        anonymous.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let password_grant = client
        .post(sim.token_url())
        .basic_auth("pesync-simulator", Some("pesync-simulator-secret"))
        .form(&[("grant_type", "password")]);
    let response = password_grant.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    // Token requests are not counted against the ceiling (SPEC §11.7), so they are not logged.
    assert!(sim.state.requests().is_empty());
    assert_eq!(sim.state.stats().tokens_issued, 1);
    sim.stop().await;
}

#[tokio::test]
async fn tokens_expire_by_age_and_on_demand() {
    let (sim, client) = start(SimulatorConfig {
        token_ttl_secs: 1,
        ..Default::default()
    })
    .await;
    let body = purchase("c1", "2024-11-15T14:32:00Z", 10.0, "web_portal");

    let missing = client
        .post(format!("{}{EVENTS}", sim.base_url))
        .header("X-Request-Id", request_id());
    let response = missing.json(&body).send().await.unwrap();
    assert_error(response, 401, "authentication.required").await;

    let short_lived = token(&sim, &client).await;
    assert_eq!(
        send_event(&sim, &client, &short_lived, &request_id(), &body)
            .await
            .status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = send_event(&sim, &client, &short_lived, &request_id(), &body).await;
    assert_error(response, 401, "bad.credentials").await;

    // "The token expires mid-run": a valid token stops working the moment the control says so,
    // and a freshly requested one works again.
    control(&sim, &client, "/config", json!({"token_ttl_secs": 3600})).await;
    let long_lived = token(&sim, &client).await;
    assert_eq!(
        send_event(&sim, &client, &long_lived, &request_id(), &body)
            .await
            .status(),
        202
    );
    let expired: Value = control(&sim, &client, "/tokens/expire", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expired["expired"], 1);
    let response = send_event(&sim, &client, &long_lived, &request_id(), &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let renewed = token(&sim, &client).await;
    assert_eq!(
        send_event(&sim, &client, &renewed, &request_id(), &body)
            .await
            .status(),
        202
    );

    // Rejected requests are still counted and logged.
    let statuses: Vec<u16> = sim.state.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![401, 202, 401, 202, 401, 202]);
    sim.stop().await;
}

#[tokio::test]
async fn a_repeated_request_id_is_absorbed_not_recorded_twice() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let id = request_id();
    let body = purchase("c1", "2024-11-15T14:32:00Z", 2450.0, "web_portal");

    let first = send_event(&sim, &client, &token, &id, &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_error(
        send_event(&sim, &client, &token, &id, &body).await,
        409,
        "conflict",
    )
    .await;
    control(&sim, &client, "/config", json!({"duplicate_status": 202})).await;
    assert_eq!(
        send_event(&sim, &client, &token, &id, &body).await.status(),
        StatusCode::ACCEPTED
    );

    // The same id for a different event is absorbed too, and flagged: PE would lose that event.
    let other = purchase("c1", "2024-11-15T15:00:00Z", 1.0, "sms");
    assert_eq!(
        send_event(&sim, &client, &token, &id, &other)
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    let events = sim.state.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request_id, id);
    assert_eq!(events[0].attributes["transaction_value"], 2450.0);
    let stats = sim.state.stats();
    assert_eq!(
        (
            stats.events_accepted,
            stats.duplicates,
            stats.duplicate_body_mismatches
        ),
        (1, 3, 1)
    );

    // Past the idempotency window the same id is a new event again.
    control(
        &sim,
        &client,
        "/config",
        json!({"idempotency_window_secs": 0}),
    )
    .await;
    assert_eq!(
        send_event(&sim, &client, &token, &id, &body).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(sim.state.events().len(), 2);
    sim.stop().await;
}

#[tokio::test]
async fn over_the_ceiling_answers_429_with_retry_after_and_headers() {
    let (sim, client) = start(SimulatorConfig {
        rate_limit_per_sec: Some(3),
        ..Default::default()
    })
    .await;
    let token = token(&sim, &client).await;
    let body = purchase("c1", "2024-11-15T14:32:00Z", 1.0, "phone");

    // Start just after a window opens so the burst below lands in one window.
    let ms = chrono::Utc::now().timestamp_subsec_millis();
    if ms > 200 {
        tokio::time::sleep(Duration::from_millis(u64::from(1005 - ms))).await;
    }
    let mut responses = Vec::new();
    // One unauthenticated request in the burst: it counts against the ceiling like any other.
    let anonymous = client
        .post(format!("{}{EVENTS}", sim.base_url))
        .header("X-Request-Id", request_id());
    responses.push(anonymous.json(&body).send().await.unwrap());
    // Profile polls share the ceiling with event deliveries.
    responses.push(get_profile(&sim, &client, &token, "c1").await);
    for _ in 0..4 {
        responses.push(send_event(&sim, &client, &token, &request_id(), &body).await);
    }
    for response in &responses {
        assert_eq!(header(response, "inin-ratelimit-allowed"), "3");
        assert!(
            header(response, "inin-ratelimit-reset")
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        assert!(
            header(response, "inin-ratelimit-count")
                .parse::<u64>()
                .unwrap()
                >= 1
        );
    }

    // Replay the simulator's own windows from its log: in every window the first 3 requests pass
    // the ceiling, every later one is a 429.
    let log = sim.state.requests();
    assert_eq!(log.len(), 6);
    let mut position = std::collections::HashMap::new();
    for (record, response) in log.iter().zip(&responses) {
        let n = position.entry(record.at_ms / 1000).or_insert(0);
        *n += 1;
        assert_eq!(record.status, response.status().as_u16());
        assert_eq!(header(response, "inin-ratelimit-count"), n.to_string());
        assert_eq!(
            record.status == 429,
            *n > 3,
            "request {n} of its window answered {}",
            record.status
        );
    }

    let throttled = responses
        .into_iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS);
    let throttled = throttled.expect("the burst went over the ceiling");
    assert!(header(&throttled, "retry-after").parse::<u64>().unwrap() >= 1);
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(
        body,
        json!({"message": body["message"], "code": "too.many.requests", "status": 429})
    );
    assert!(sim.state.stats().throttled >= 1);
    sim.stop().await;
}

#[tokio::test]
async fn the_ceiling_holds_under_concurrent_requests() {
    let (sim, client) = start(SimulatorConfig {
        rate_limit_per_sec: Some(5),
        ..Default::default()
    })
    .await;
    let token = token(&sim, &client).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (client, token, base) = (client.clone(), token.clone(), sim.base_url.clone());
        tasks.spawn(async move {
            let url = format!("{base}/api/v2/analytics/predictiveengagement/contacts/c{i}");
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = tasks.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == 404 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429));

    // Per window, requests beyond the fifth were the ones refused, whatever the interleaving.
    let mut seen = std::collections::HashMap::new();
    for record in sim.state.requests() {
        let n = seen.entry(record.at_ms / 1000).or_insert(0);
        *n += 1;
        assert_eq!(record.status == 429, *n > 5);
    }
    assert_eq!(sim.state.requests_per_window().values().sum::<u32>(), 40);
    sim.stop().await;
}

#[tokio::test]
async fn unthrottled_still_sends_rate_headers() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let response = get_profile(&sim, &client, &token, "nobody").await;
    assert_eq!(
        header(&response, "inin-ratelimit-allowed"),
        i32::MAX.to_string()
    );
    assert_error(response, 404, "not.found").await;
    sim.stop().await;
}

#[tokio::test]
async fn injected_failures_hit_the_next_requests_then_recover() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let id = request_id();
    let body = purchase("c1", "2024-11-15T14:32:00Z", 5.0, "sms");

    control(&sim, &client, "/fail", json!({"count": 2, "status": 503})).await;
    for _ in 0..2 {
        let response = send_event(&sim, &client, &token, &id, &body).await;
        assert!(response.headers().contains_key("inin-ratelimit-count"));
        assert_error(response, 503, "service.unavailable").await;
    }
    // The failed attempts recorded nothing, so the retry with the same id is the first delivery.
    assert_eq!(
        send_event(&sim, &client, &token, &id, &body).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(sim.state.events().len(), 1);

    // An injected 429 carries the Retry-After the test asked for.
    let storm = json!({"count": 1, "status": 429, "retry_after_secs": 7});
    assert_eq!(
        control(&sim, &client, "/fail", storm).await.status(),
        StatusCode::OK
    );
    let response = send_event(&sim, &client, &token, &request_id(), &body).await;
    assert_eq!(header(&response, "retry-after"), "7");
    assert_error(response, 429, "too.many.requests").await;

    // The token endpoint can fail on its own.
    control(
        &sim,
        &client,
        "/fail",
        json!({"count": 1, "status": 500, "scope": "token"}),
    )
    .await;
    let failed = request_token(&sim, &client, "pesync-simulator-secret").await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        request_token(&sim, &client, "pesync-simulator-secret")
            .await
            .status(),
        StatusCode::OK
    );

    let bad = control(&sim, &client, "/fail", json!({"count": 1, "status": 200})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.state.stats().injected_failures, 3);
    sim.stop().await;
}

#[tokio::test]
async fn a_contact_override_rejects_only_that_contact() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let poisoned = purchase("contact-x", "2024-11-15T14:32:00Z", 5.0, "sms");
    let healthy = purchase("contact-y", "2024-11-15T14:32:00Z", 5.0, "sms");

    control(
        &sim,
        &client,
        "/contacts/contact-x/status",
        json!({"status": 400}),
    )
    .await;
    for _ in 0..2 {
        let response = send_event(&sim, &client, &token, &request_id(), &poisoned).await;
        assert_error(response, 400, "bad.request").await;
    }
    assert_eq!(
        send_event(&sim, &client, &token, &request_id(), &healthy)
            .await
            .status(),
        202
    );
    let dialer_body = json!([{"contactListId": "L", "data": {"contact_id": "contact-x"}}]);
    assert_eq!(
        push(&sim, &client, &token, "L", &dialer_body)
            .await
            .status(),
        400
    );

    control(
        &sim,
        &client,
        "/contacts/contact-x/status",
        json!({"status": null}),
    )
    .await;
    assert_eq!(
        send_event(&sim, &client, &token, &request_id(), &poisoned)
            .await
            .status(),
        202
    );
    let contacts: Vec<_> = sim
        .state
        .requests()
        .into_iter()
        .map(|r| r.contact_id)
        .collect();
    assert_eq!(contacts[0].as_deref(), Some("contact-x"));
    assert_eq!(sim.state.events().len(), 2);
    sim.stop().await;
}

#[tokio::test]
async fn malformed_events_get_400_listing_every_problem() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;

    let nested = event(
        "c1",
        "2024-11-15T14:32:00Z",
        json!({"items": [1, 2], "meta": {"a": 1}, "ok": "x"}),
    );
    let body = assert_error(
        send_event(&sim, &client, &token, &request_id(), &nested).await,
        400,
        "bad.request",
    )
    .await;
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["attributes.items", "attributes.meta"]);

    let offset = purchase("c1", "2024-11-15T14:32:00+01:00", 1.0, "sms");
    let body = assert_error(
        send_event(&sim, &client, &token, &request_id(), &offset).await,
        400,
        "bad.request",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("event_timestamp")
    );

    let extra = json!({"contact_id": "c1", "event_type": "t", "event_timestamp": "2024-11-15T14:32:00Z",
                       "attributes": {}, "request_id": "x"});
    assert_error(
        send_event(&sim, &client, &token, &request_id(), &extra).await,
        400,
        "bad.request",
    )
    .await;

    let valid = purchase("c1", "2024-11-15T14:32:00Z", 1.0, "sms");
    let no_id = client
        .post(format!("{}{EVENTS}", sim.base_url))
        .bearer_auth(&token)
        .json(&valid);
    let body = assert_error(no_id.send().await.unwrap(), 400, "bad.request").await;
    assert_eq!(body["details"][0]["fieldName"], "X-Request-Id");
    assert_error(
        send_event(&sim, &client, &token, "not-a-uuid", &valid).await,
        400,
        "bad.request",
    )
    .await;

    let text = client
        .post(format!("{}{EVENTS}", sim.base_url))
        .bearer_auth(&token);
    let text = text
        .header("X-Request-Id", request_id())
        .header("Content-Type", "text/plain")
        .body("{}");
    assert_error(text.send().await.unwrap(), 415, "unsupported.media.type").await;
    let broken = client
        .post(format!("{}{EVENTS}", sim.base_url))
        .bearer_auth(&token);
    let broken = broken
        .header("X-Request-Id", request_id())
        .header("Content-Type", "application/json");
    assert_error(broken.body("{").send().await.unwrap(), 400, "bad.request").await;

    assert!(sim.state.events().is_empty());
    sim.stop().await;
}

/// Sends the same three events to a fresh simulator and answers the profile it computes.
async fn profile_after_fixed_events() -> Value {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    assert_error(
        get_profile(&sim, &client, &token, "c1").await,
        404,
        "not.found",
    )
    .await;
    let events = [
        purchase("c1", "2024-11-14T09:00:00Z", 2450.0, "web_portal"),
        purchase("c1", "2024-11-15T16:45:00Z", 900.0, "web_portal"),
        event(
            "c1",
            "2024-11-15T10:00:00Z",
            json!({"crm_record_id": "B-1", "channel_origin": "phone"}),
        ),
    ];
    for body in &events {
        assert_eq!(
            send_event(&sim, &client, &token, &request_id(), body)
                .await
                .status(),
            202
        );
    }
    let response = get_profile(&sim, &client, &token, "c1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.unwrap();
    // The in-process view is the same document, and reading it does not count as a request.
    assert_eq!(
        serde_json::to_value(sim.state.profile("c1")).unwrap(),
        profile
    );
    assert_eq!(sim.state.stats().requests, 5);
    sim.stop().await;
    profile
}

#[tokio::test]
async fn profiles_are_computed_deterministically_from_the_events() {
    let first = profile_after_fixed_events().await;
    let second = profile_after_fixed_events().await;
    assert_eq!(first, second);

    assert_eq!(first["contact_id"], "c1");
    assert_eq!(first["channel_preference"], "email");
    assert_eq!(first["last_event_timestamp"], "2024-11-15T16:45:00Z");
    let score = first["propensity_score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    assert_eq!(
        (score * 100.0).round() / 100.0,
        score,
        "rounded to 2 decimals"
    );
    // One point per event, in event-time order (the behaviour event arrived last but sits second).
    let history = first["score_history"].as_array().unwrap();
    let times: Vec<&str> = history
        .iter()
        .map(|p| p["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        vec![
            "2024-11-14T09:00:00Z",
            "2024-11-15T10:00:00Z",
            "2024-11-15T16:45:00Z"
        ]
    );
    assert_eq!(history[2]["score"], first["propensity_score"]);
    let window = &first["best_contact_window"];
    for field in ["start_time", "end_time", "timezone"] {
        assert!(window[field].is_string(), "{window}");
    }
}

#[tokio::test]
async fn a_pinned_profile_overrides_the_model() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let pinned = json!({"propensity_score": 0.82, "channel_preference": null,
        "best_contact_window": {"start_time": "22:00:00", "end_time": "02:00:00", "timezone": "Mars/Olympus"},
        "score_history": [{"timestamp": "2024-11-14T00:00:00Z", "score": 0.61}]});
    assert_eq!(
        control(&sim, &client, "/contacts/c9/profile", pinned)
            .await
            .status(),
        200
    );

    let profile: Value = get_profile(&sim, &client, &token, "c9")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["propensity_score"], 0.82);
    assert_eq!(profile["channel_preference"], Value::Null);
    assert_eq!(profile["best_contact_window"]["timezone"], "Mars/Olympus");
    assert_eq!(profile["score_history"][0]["score"], 0.61);
    assert_eq!(profile["last_event_timestamp"], Value::Null);

    let unknown_field = control(&sim, &client, "/contacts/c9/profile", json!({"score": 1})).await;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    client
        .delete(format!("{}/_sim/contacts/c9/profile", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get_profile(&sim, &client, &token, "c9").await.status(),
        StatusCode::NOT_FOUND
    );
    sim.stop().await;
}

fn dialer_contact(list: &str, id: &str, score: &str) -> Value {
    json!({"id": id, "contactListId": list, "callable": true,
           "data": {"contact_id": id, "campaign": "spring", "channel": "voice", "propensity_score": score}})
}

#[tokio::test]
async fn the_dialer_validates_contacts_and_upserts_by_id() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;

    let response = push(
        &sim,
        &client,
        &token,
        "L1",
        &json!([dialer_contact("L1", "k1", "0.80")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed[0]["id"], "k1");
    assert_eq!(echoed[0]["data"]["propensity_score"], "0.80");
    assert_eq!(
        echoed[0]["selfUri"],
        "/api/v2/outbound/contactlists/L1/contacts/k1"
    );

    // A re-push with the same id updates the contact instead of adding one.
    let again = json!([dialer_contact("L1", "k1", "0.91"), {"contactListId": "L1", "data": {}}]);
    let echoed: Value = push(&sim, &client, &token, "L1", &again)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        echoed[1]["id"].as_str().is_some_and(|id| !id.is_empty()),
        "an id is assigned"
    );
    let list = sim.state.dialer_list("L1").unwrap();
    assert_eq!(list.upserts, 3);
    assert_eq!(list.contacts.len(), 2);
    assert_eq!(list.contacts["k1"].data["propensity_score"], "0.91");
    assert_eq!(list.contacts["k1"].times_pushed, 2);

    let mut number = dialer_contact("L1", "k2", "0.5");
    number["data"]["propensity_score"] = json!(0.5);
    let body = assert_error(
        push(&sim, &client, &token, "L1", &json!([number])).await,
        400,
        "bad.request",
    )
    .await;
    assert_eq!(body["details"][0]["fieldName"], "[0].data.propensity_score");

    let wrong_list = dialer_contact("L2", "k3", "0.5");
    let read_only =
        json!({"contactListId": "L1", "data": {}, "dateCreated": "2024-01-01T00:00:00Z"});
    let unknown = json!({"contactListId": "L1", "data": {}, "name": "x"});
    let missing = json!({"id": "k4"});
    let body = json!([wrong_list, read_only, unknown, missing]);
    let body = assert_error(
        push(&sim, &client, &token, "L1", &body).await,
        400,
        "bad.request",
    )
    .await;
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fieldName"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "[0].contactListId",
            "[1].dateCreated",
            "[2].name",
            "[3].contactListId",
            "[3].data"
        ]
    );

    let too_many: Vec<Value> = (0..1001)
        .map(|i| dialer_contact("L1", &format!("k{i}"), "0.5"))
        .collect();
    assert_error(
        push(&sim, &client, &token, "L1", &json!(too_many)).await,
        400,
        "bad.request",
    )
    .await;
    let object = json!({"contactListId": "L1", "data": {}});
    assert_error(
        push(&sim, &client, &token, "L1", &object).await,
        400,
        "bad.request",
    )
    .await;

    let full: Vec<Value> = (0..1000)
        .map(|i| dialer_contact("L3", &format!("k{i}"), "0.5"))
        .collect();
    assert_eq!(
        push(&sim, &client, &token, "L3", &json!(full))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(sim.state.dialer()["L3"].contacts.len(), 1000);
    assert_eq!(sim.state.stats().dialer_upserts, 1003);
    sim.stop().await;
}

#[tokio::test]
async fn the_inspection_api_shows_what_was_received() {
    let (sim, client) = start_default().await;
    let token = token(&sim, &client).await;
    let id = request_id();
    send_event(
        &sim,
        &client,
        &token,
        &id,
        &purchase("c1", "2024-11-15T14:32:00Z", 3.0, "sms"),
    )
    .await;
    get_profile(&sim, &client, &token, "c1").await;
    push(
        &sim,
        &client,
        &token,
        "L1",
        &json!([dialer_contact("L1", "k1", "0.5")]),
    )
    .await;

    let get = |path: &str| client.get(format!("{}/_sim{path}", sim.base_url)).send();
    let requests: Value = get("/requests").await.unwrap().json().await.unwrap();
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["path"], EVENTS);
    assert_eq!(requests[0]["status"], 202);
    assert_eq!(requests[0]["contact_id"], "c1");
    assert_eq!(requests[0]["request_id"], id.as_str());
    // Millisecond precision: "2024-11-15T14:32:00.123Z".
    assert_eq!(requests[0]["at"].as_str().unwrap().len(), 24);
    assert_eq!(requests[1]["endpoint"], "profile");
    assert_eq!(
        requests[2]["path"],
        "/api/v2/outbound/contactlists/L1/contacts"
    );
    // Three quick requests fall inside one sliding second.
    assert_eq!(sim.state.max_admitted_in_any_second(), 3);

    let events: Value = get("/events?contact_id=c1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events[0]["request_id"], id.as_str());
    assert!(events[0]["received_at"].is_string());
    let dialer: Value = get("/dialer").await.unwrap().json().await.unwrap();
    assert_eq!(
        dialer["lists"]["L1"]["contacts"]["k1"]["data"]["campaign"],
        "spring"
    );
    let stats: Value = get("/stats").await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_status"]["202"], 1);

    let latency = json!({"latency_ms": 250, "rate_limit_per_sec": 100});
    let config: Value = control(&sim, &client, "/config", latency)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["rate_limit_per_sec"], 100);
    let started = Instant::now();
    get_profile(&sim, &client, &token, "c1").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    let bad = control(&sim, &client, "/config", json!({"duplicate_status": 500})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        control(&sim, &client, "/reset", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(
        sim.state.events().is_empty()
            && sim.state.requests().is_empty()
            && sim.state.dialer().is_empty()
    );
    assert_eq!(sim.state.config().latency_ms, 0);
    // The service's cached token survives a reset.
    assert_eq!(
        get_profile(&sim, &client, &token, "c1").await.status(),
        StatusCode::NOT_FOUND
    );

    let unknown = client
        .get(format!("{}/api/v2/nothing", sim.base_url))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "not.found").await;
    sim.stop().await;
}
