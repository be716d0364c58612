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

use crate::app::config::Settings;
use crate::app::startup::{Application, cancel_on_signal};
use crate::ingest::signature;
use crate::platform::clock::SystemClock;
use crate::simulator::{
    ContactWindow, ProfileOverride, SimState, Simulator, SimulatorConfig, SimulatorHandle,
};

pub const SOURCE: &str = "demo-crm";
pub const CAMPAIGN: &str = "demo-outreach";

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("{prefix}-{}", hex::encode(bytes))
}

pub async fn run(mut settings: Settings, contacts: usize) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    let (admin, demo_key) = demo_settings(&mut settings, &sim);
    let pool = crate::platform::db::connect_and_migrate(&settings.database_url).await?;
    let app = Application::build(&settings, pool.clone(), Arc::new(SystemClock)).await?;
    let base = format!("http://{}:{}", settings.listen.ip(), app.port());
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let server = tokio::spawn(app.run_until(shutdown.clone()));

    let http = reqwest::Client::new();
    let secret = random_token("demo-secret");
    seed(&http, &base, &admin, &secret).await?;
    print_banner(&base, &admin, demo_key, &sim, &secret, contacts);

    pin_windows(&sim, contacts, Utc::now());
    post_samples(&http, &base, &secret, contacts).await?;
    let reporter = spawn_reporter(shutdown.clone(), sim.state.clone());
    let result = server.await.context("server task")?;
    reporter.abort();
    sim.stop().await;
    crate::platform::db::close(pool).await;
    result
}

/// Points the settings at the in-process simulator and fills what a first run lacks (admin token,
/// secret key, fast schedules). Returns the admin token and whether the demo's fixed key is used.
fn demo_settings(settings: &mut Settings, sim: &SimulatorHandle) -> (SecretString, bool) {
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
    let demo_key = settings.secret_key.is_none();
    if demo_key {
        settings.secret_key = Some(crate::platform::secrets::SecretKey::demo());
    }
    // A first look should show decisions within seconds, not minutes.
    if settings.poll_cron == crate::app::config::DEFAULT_CRON {
        settings.poll_cron = "*/10 * * * * *".into();
    }
    if settings.evaluate_cron == crate::app::config::DEFAULT_CRON {
        settings.evaluate_cron = "5/10 * * * * *".into();
    }
    (admin, demo_key)
}

/// Seeds the demo source and campaign through the real admin API.
async fn seed(
    http: &reqwest::Client,
    base: &str,
    admin: &SecretString,
    secret: &str,
) -> anyhow::Result<()> {
    http.put(format!("{base}/v1/admin/sources/{SOURCE}"))
        .bearer_auth(admin.expose_secret())
        .json(&json!({"signing_secret": secret, "mapping": {"fields": {"tx_amount": "transaction_value"}}}))
        .send()
        .await?
        .error_for_status()
        .context("seeding the demo source")?;

    http.put(format!("{base}/v1/admin/campaigns/{CAMPAIGN}"))
        .bearer_auth(admin.expose_secret())
        .json(&campaign_document())
        .send()
        .await?
        .error_for_status()
        .context("seeding the demo campaign")?;
    Ok(())
}

/// What a first look needs: where to watch, and the credentials the demo made up (printed only here).
fn print_banner(
    base: &str,
    admin: &SecretString,
    demo_key: bool,
    sim: &SimulatorHandle,
    secret: &str,
    contacts: usize,
) {
    println!("pesync demo is running");
    println!("  API:        {base}   (docs: {base}/docs)");
    println!("  admin token: {}", admin.expose_secret());
    if demo_key {
        println!(
            "  secret key: the demo's fixed key (PESYNC_SECRET_KEY not set): demo data only, not for serve"
        );
    }
    println!(
        "  simulator:  {}   (what PE received: {}/_sim/events)",
        sim.base_url, sim.base_url
    );
    println!("  source:     {SOURCE}  (signing secret printed only here: {secret})");
    println!(
        "  campaign:   {CAMPAIGN}  (push; decisions: {base}/v1/contacts/demo-contact-0, dialer: {}/_sim/dialer)",
        sim.base_url
    );
    let samples = story(contacts).len();
    println!(
        "Posting {samples} sample events for {contacts} contacts; watch {base}/v1/admin/stats. Ctrl-C stops."
    );
}

/// Prints what the simulator received whenever it changes, until shutdown.
fn spawn_reporter(
    shutdown: CancellationToken,
    state: Arc<SimState>,
) -> tokio::task::JoinHandle<()> {
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
}

/// The demo's push campaign: every channel, the default tiers.
fn campaign_document() -> serde_json::Value {
    json!({"id": CAMPAIGN, "name": "Demo outreach", "enabled": true, "priority": 10,
           "tiers": ["high", "moderate"], "mode": "push",
           "channels": {"voice": "demo-voice-list", "email": "demo-email-list", "sms": "demo-sms-list"},
           "default_window": {"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "UTC"}})
}

/// One sample event of the demo's story, relative to the moment the demo starts.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    contact: usize,
    /// Seconds before the demo's start.
    ago_secs: i64,
    amount: u32,
    origin: &'static str,
}

/// The demo's story, `contacts` contacts long. Four in five contacts made three small purchases
/// over the last three hours and a large one 20 minutes ago: their score rises into the targeted
/// tiers by well over the 0.10 rise (the test below checks it against the simulator's model and the
/// rules). Every fifth contact
/// made one small purchase: a low tier, so it is not called. The windows (see [`pin_windows`])
/// then split the risers into hand-overs now and deferrals to their own window.
fn story(contacts: usize) -> Vec<Sample> {
    let origins = ["call_center", "web_portal", "sms"];
    let mut samples = Vec::new();
    for contact in 0..contacts {
        let origin = origins[contact % origins.len()];
        if contact % 5 == 4 {
            samples.push(Sample {
                contact,
                ago_secs: 2 * 3600,
                amount: 120,
                origin,
            });
            continue;
        }
        for (k, ago_min) in [180, 140, 100].into_iter().enumerate() {
            samples.push(Sample {
                contact,
                ago_secs: ago_min * 60,
                amount: 90 + 40 * k as u32 + contact as u32,
                origin,
            });
        }
        samples.push(Sample {
            contact,
            ago_secs: 20 * 60,
            amount: 4_000 + 100 * contact as u32,
            origin,
        });
    }
    samples
}

fn contact_id(contact: usize) -> String {
    format!("demo-contact-{contact}")
}

/// Contacts 0, 1 and 2 of every five get a window open now (an hour ago to three hours from now,
/// UTC), pinned on the simulator's profile; the others keep the model's own window, usually closed,
/// so the first look shows deferrals as well as hand-overs.
fn pin_windows(sim: &SimulatorHandle, contacts: usize, now: chrono::DateTime<Utc>) {
    use chrono::Timelike;
    let hour = |h: i64| format!("{:02}:00:00", (i64::from(now.hour()) + h).rem_euclid(24));
    for contact in (0..contacts).filter(|c| c % 5 < 3) {
        sim.state.set_profile(
            &contact_id(contact),
            ProfileOverride {
                best_contact_window: Some(Some(ContactWindow {
                    start_time: hour(-1),
                    end_time: hour(3),
                    timezone: "UTC".into(),
                })),
                ..ProfileOverride::default()
            },
        );
    }
}

async fn post_samples(
    http: &reqwest::Client,
    base: &str,
    secret: &str,
    contacts: usize,
) -> anyhow::Result<()> {
    let now = Utc::now();
    // A fresh run id keeps each demo's events distinct, so a second run is not all duplicates.
    let run: u32 = rand::rng().random();
    let events: Vec<serde_json::Value> = story(contacts)
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "contact_id": contact_id(s.contact),
                "event_type": "crm.transaction",
                "event_timestamp": (now - chrono::Duration::seconds(s.ago_secs)).to_rfc3339(),
                "attributes": {"crm_record_id": format!("OPP-{run:08x}-{i}"), "tx_amount": format!("{}.00", s.amount),
                               "channel_origin": s.origin}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::thresholds::Thresholds;
    use crate::eligibility::{Campaign, ContactFacts, Observation, Reason, evaluate};
    use crate::simulator::model::{ModelEvent, compute};
    use chrono::{DateTime, TimeZone};

    /// What pesync would decide about each demo contact, with the simulator's model for the
    /// profile (as the poller would store it) and the windows the demo pins.
    fn decide_story(now: DateTime<Utc>, contacts: usize) -> Vec<Reason> {
        let campaign: Campaign = serde_json::from_value(campaign_document()).unwrap();
        let samples = story(contacts);
        (0..contacts)
            .map(|contact| {
                let events: Vec<ModelEvent> = samples
                    .iter()
                    .filter(|s| s.contact == contact)
                    .map(|s| {
                        let attributes = json!({"transaction_value": f64::from(s.amount),
                                                "channel_origin": s.origin});
                        ModelEvent::from_attributes(
                            now - chrono::Duration::seconds(s.ago_secs),
                            attributes.as_object().unwrap(),
                        )
                    })
                    .collect();
                let profile = compute(&contact_id(contact), &events).unwrap();
                let mut observations: Vec<Observation> = profile
                    .score_history
                    .iter()
                    .map(|p| Observation::new(p.timestamp, p.score))
                    .collect();
                observations.push(Observation::new(now, profile.propensity_score));
                let window = if contact % 5 < 3 {
                    let open = |h: i64| {
                        (now + chrono::Duration::hours(h))
                            .format("%H:00:00")
                            .to_string()
                    };
                    serde_json::from_value(
                        json!({"start_time": open(-1), "end_time": open(3), "timezone": "UTC"}),
                    )
                    .ok()
                } else {
                    serde_json::from_value(
                        serde_json::to_value(profile.best_contact_window).unwrap(),
                    )
                    .ok()
                };
                let facts = ContactFacts {
                    observations,
                    channel_preference: profile.channel_preference,
                    best_contact_window: window,
                    last_handover_at: None,
                    suppression: None,
                };
                evaluate(&facts, &campaign, &Thresholds::default(), now).reason
            })
            .collect()
    }

    #[test]
    fn the_demo_story_hands_over_defers_and_skips() {
        // Any hour of the day: the pinned windows follow the demo's start.
        for hour in [0, 7, 13, 23] {
            let now = Utc.with_ymd_and_hms(2026, 11, 28, hour, 30, 0).unwrap();
            let reasons = decide_story(now, 25);
            for (contact, reason) in reasons.iter().enumerate() {
                let expected: &[Reason] = match contact % 5 {
                    0..=2 => &[Reason::Eligible],
                    3 => &[Reason::Eligible, Reason::DeferredOutsideWindow],
                    _ => &[Reason::TierNotTargeted],
                };
                assert!(
                    expected.contains(reason),
                    "contact {contact} at {hour}:30: {reason:?}"
                );
            }
        }
    }

    #[test]
    fn every_contact_has_events_and_the_ids_are_distinct() {
        let samples = story(7);
        assert!((0..7).all(|c| samples.iter().any(|s| s.contact == c)));
        assert_eq!(samples.len(), 6 * 4 + 1);
    }
}
