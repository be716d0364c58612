//! `pesync demo`: the service and the Genesys simulator in one process, a seeded source, and sample
//! events posted through the real signed API, so a first look shows events flowing end to end.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::ingest::signature;
use crate::simulator::{Simulator, SimulatorConfig};
use crate::startup::{Application, cancel_on_signal};

pub const SOURCE: &str = "demo-crm";
pub const CAMPAIGN: &str = "demo-outreach";

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("{prefix}-{}", hex::encode(bytes))
}

pub async fn run(mut settings: Settings, events: usize) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    let sim_defaults = SimulatorConfig::default();
    settings.pe_base_url = Some(sim.base_url.clone());
    settings.pe_token_url = Some(sim.token_url());
    settings.pe_client_id = Some(sim_defaults.client_id.clone());
    settings.pe_client_secret = Some(SecretString::from(sim_defaults.client_secret.clone()));
    let admin = settings
        .admin_token
        .clone()
        .unwrap_or_else(|| SecretString::from(random_token("admin")));
    settings.admin_token = Some(admin.clone());
    // A first look should show decisions within seconds, not minutes.
    if settings.poll_cron == crate::config::DEFAULT_CRON {
        settings.poll_cron = "*/10 * * * * *".into();
    }
    if settings.evaluate_cron == crate::config::DEFAULT_CRON {
        settings.evaluate_cron = "5/10 * * * * *".into();
    }

    let pool = crate::db::connect_and_migrate(&settings.database_url).await?;
    let app = Application::build(&settings, pool, Arc::new(SystemClock)).await?;
    let base = format!("http://{}:{}", settings.listen.ip(), app.port());
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let server = tokio::spawn(app.run_until(shutdown.clone()));

    let http = reqwest::Client::new();
    let secret = random_token("demo-secret");
    http.put(format!("{base}/v1/admin/sources/{SOURCE}"))
        .bearer_auth(admin.expose_secret())
        .json(&json!({"signing_secret": secret, "mapping": {"fields": {"tx_amount": "transaction_value"}}}))
        .send()
        .await?
        .error_for_status()
        .context("seeding the demo source")?;

    http.put(format!("{base}/v1/admin/campaigns/{CAMPAIGN}"))
        .bearer_auth(admin.expose_secret())
        .json(&json!({"id": CAMPAIGN, "name": "Demo outreach", "enabled": true, "priority": 10,
                      "tiers": ["high", "moderate"], "mode": "push",
                      "channels": {"voice": "demo-voice-list", "email": "demo-email-list", "sms": "demo-sms-list"},
                      "default_window": {"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "UTC"}}))
        .send()
        .await?
        .error_for_status()
        .context("seeding the demo campaign")?;

    println!("pesync demo is running");
    println!("  API:        {base}   (docs: {base}/docs)");
    println!("  admin token: {}", admin.expose_secret());
    println!(
        "  simulator:  {}   (what PE received: {}/_sim/events)",
        sim.base_url, sim.base_url
    );
    println!("  source:     {SOURCE}  (signing secret printed only here: {secret})");
    println!(
        "  campaign:   {CAMPAIGN}  (push; decisions: {base}/v1/contacts/demo-contact-0, dialer: {}/_sim/dialer)",
        sim.base_url
    );
    println!("Posting {events} sample events; watch {base}/v1/admin/stats. Ctrl-C stops.");

    post_samples(&http, &base, &secret, events).await?;
    let reporter = {
        let shutdown = shutdown.clone();
        let state = sim.state.clone();
        tokio::spawn(async move {
            let mut last = (usize::MAX, u64::MAX);
            while !shutdown.is_cancelled() {
                let now = (state.events().len(), state.stats().dialer_pushes);
                if now != last {
                    println!(
                        "  PE (simulator) has received {} events; the dialer {} contact pushes",
                        now.0, now.1
                    );
                    last = now;
                }
                tokio::select! { _ = shutdown.cancelled() => break, _ = tokio::time::sleep(Duration::from_secs(2)) => {} }
            }
        })
    };
    let result = server.await.context("server task")?;
    reporter.abort();
    sim.stop().await;
    result
}

async fn post_samples(
    http: &reqwest::Client,
    base: &str,
    secret: &str,
    n: usize,
) -> anyhow::Result<()> {
    let now = Utc::now();
    // A fresh run id keeps each demo's events distinct, so a second run is not all duplicates.
    let run: u32 = rand::rng().random();
    let origins = ["web_portal", "call_center", "sms"];
    let events: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({
                "contact_id": format!("demo-contact-{}", i % 25),
                "event_type": "crm.transaction",
                "event_timestamp": (now - chrono::Duration::seconds((n - i) as i64 * 30)).to_rfc3339(),
                "attributes": {"crm_record_id": format!("OPP-{run:08x}-{i}"), "tx_amount": format!("{}.00", 100 + i * 7),
                               "channel_origin": origins[i % origins.len()]}
            })
        })
        .collect();
    for chunk in events.chunks(500) {
        let body = serde_json::to_vec(chunk)?;
        let header = signature::header_value(secret.as_bytes(), Utc::now().timestamp(), &body);
        http.post(format!("{base}/v1/sources/{SOURCE}/events"))
            .header("Content-Type", "application/json")
            .header(signature::HEADER, header)
            .body(body)
            .send()
            .await?
            .error_for_status()
            .context("posting sample events")?;
    }
    Ok(())
}
