//! Crash safety (SPEC §5, §9): the real `pesync` binary is killed with SIGKILL in the middle of
//! delivery and restarted; every accepted event reaches PE, and any resend carries its request id.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::Duration;
use pesync::ingest::signature;
use serde_json::{Value, json};

use crate::helpers::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_serve(db_url: &str, port: u16, sim: &pesync::simulator::SimulatorHandle) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pesync"))
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("PESYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env("PESYNC_ADMIN_TOKEN", ADMIN)
        .env("PESYNC_SECRET_KEY", SECRET_KEY)
        .env("PESYNC_PE_BASE_URL", &sim.base_url)
        .env("PESYNC_PE_TOKEN_URL", sim.token_url())
        .env("PESYNC_PE_CLIENT_ID", "pesync-simulator")
        .env("PESYNC_PE_CLIENT_SECRET", "pesync-simulator-secret")
        .env("PESYNC_PE_RATE_LIMIT", "40")
        .env("PESYNC_DELIVERY_LEASE_SECONDS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pesync binary starts")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    eventually(
        StdDuration::from_secs(30),
        "pesync serve answers /readyz",
        || async {
            matches!(client.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200)
        },
    )
    .await;
}

#[tokio::test]
async fn kill_9_mid_delivery_loses_nothing_and_resends_with_the_same_request_id() {
    // Latency keeps requests in flight, so the kill lands between a send and its bookkeeping.
    let sim = pesync::simulator::Simulator::start(pesync::simulator::SimulatorConfig {
        latency_ms: 30,
        ..Default::default()
    })
    .await
    .unwrap();
    let (db_url, pool) = fresh_database().await;
    drop(pool);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut child = start_serve(&db_url, port, &sim);
    wait_healthy(&client, &base).await;

    let r = client
        .put(format!("{base}/v1/admin/sources/crm"))
        .bearer_auth(ADMIN)
        .json(&json!({"signing_secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..240)
        .map(|i| {
            event(
                &format!("c-{}", i % 20),
                &format!("R{i}"),
                now - Duration::seconds(600 - i),
            )
        })
        .collect();
    let body = serde_json::to_vec(&events).unwrap();
    let r: Value = client
        .post(format!("{base}/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .header(
            signature::HEADER,
            signature::header_value(SECRET.as_bytes(), now.timestamp(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted: HashSet<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(accepted.len(), 240);

    eventually(
        StdDuration::from_secs(30),
        "some deliveries before the kill",
        || async { sim.state.events().len() >= 60 },
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = sim.state.events().len();
    assert!(
        at_kill < 240,
        "the kill should land mid-delivery ({at_kill} delivered)"
    );

    let mut child = start_serve(&db_url, port, &sim);
    wait_healthy(&client, &base).await;
    eventually(
        StdDuration::from_secs(60),
        "every accepted event at PE after the restart",
        || async { sim.state.events().len() >= 240 },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let delivered: HashSet<String> = sim
        .state
        .events()
        .iter()
        .map(|e| e.request_id.clone())
        .collect();
    assert_eq!(
        delivered, accepted,
        "PE has exactly the accepted events, each under its request id"
    );
    // Every request PE saw, resends included, carried one of the accepted ids.
    let seen: HashSet<String> = sim
        .state
        .requests()
        .iter()
        .filter_map(|r| r.request_id.clone())
        .collect();
    assert!(seen.is_subset(&accepted));
    // Per-contact order survived the crash.
    let mut by_contact: HashMap<String, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
    for e in sim.state.events() {
        by_contact
            .entry(e.contact_id.clone())
            .or_default()
            .push(e.event_timestamp);
    }
    for (c, ts) in by_contact {
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{c} out of order");
    }
}
