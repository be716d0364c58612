//! The instances `bench delivery` starts on its scratch database: one without delivery that ingests
//! the events through the real API, then one whose delivery workers send them to the simulator
//! (whose org is set up first for the External Events target).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Target;
use crate::app::config::Settings;
use crate::app::startup::Application;
use crate::genesys::EventsTarget;
use crate::ingest::signature;
use crate::platform::clock::SystemClock;
use crate::simulator::{SimulatorConfig, SimulatorHandle};
use crate::tools::bench::scratch::ScratchDb;
use crate::tools::bench::sim_org;

const SECRET: &str = "bench-signing-secret-0123456789";
/// The admin token of the scratch instances (at least 32 characters, as every token).
const ADMIN: &str = "bench-admin-token-0123456789abcdef";

/// The settings of a scratch instance on `db`: delivering to `sim` at `rate` when given, with no
/// scheduled job.
fn settings_for(
    base: &Settings,
    db: &ScratchDb,
    sim: Option<&SimulatorHandle>,
    rate: f64,
    target: Target,
) -> Settings {
    let sim_cfg = SimulatorConfig::default();
    Settings {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        admin_token: Some(SecretString::from(ADMIN)),
        secret_key: Some(crate::platform::secrets::SecretKey::demo()),
        pe_base_url: sim.map(|s| s.base_url.clone()),
        pe_token_url: sim.map(|s| s.token_url()),
        pe_client_id: sim.map(|_| sim_cfg.client_id.clone()),
        pe_client_secret: sim.map(|_| SecretString::from(sim_cfg.client_secret.clone())),
        pe_rate_limit: rate,
        genesys_events: target.events,
        genesys_events_batch: target.batch,
        // Delivery alone is measured: profile polls and the evaluation run's pushes would take
        // permits of the same ceiling (an org delivering through External Events turns polling
        // off anyway: it has no profile endpoint).
        poll_cron: "off".into(),
        evaluate_cron: "off".into(),
        ..base.clone()
    }
}

/// Ingests `n` events over `contacts` contacts through an instance without delivery.
pub(super) async fn ingest(
    base: &Settings,
    db: &ScratchDb,
    n: usize,
    contacts: usize,
) -> anyhow::Result<()> {
    let s = settings_for(
        base,
        db,
        None,
        1.0,
        Target {
            events: EventsTarget::Pe,
            batch: 1,
        },
    );
    // A pool of its own: connections opened on the server's worker runtimes die with them.
    let pool = crate::platform::db::connect(&db.url).await?;
    let app = Application::build(&s, pool, Arc::new(SystemClock)).await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    let server = tokio::spawn(app.run_until(stop.clone()));
    let http = reqwest::Client::new();
    http.put(format!("{url}/v1/admin/sources/bench"))
        .bearer_auth(ADMIN)
        .json(&json!({"signing_secret": SECRET}))
        .send()
        .await?
        .error_for_status()?;
    let now = Utc::now();
    let events: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            json!({"contact_id": format!("c-{}", i % contacts.max(1)), "event_type": "crm.transaction",
                   "event_timestamp": (now - chrono::Duration::seconds(3600) + chrono::Duration::milliseconds(i as i64)).to_rfc3339(),
                   "attributes": {"crm_record_id": format!("R{i}"), "transaction_value": i}})
        })
        .collect();
    for chunk in events.chunks(500) {
        let body = serde_json::to_vec(chunk)?;
        http.post(format!("{url}/v1/sources/bench/events"))
            .header("Content-Type", "application/json")
            .header(
                signature::HEADER,
                signature::header_value(SECRET.as_bytes(), Utc::now().timestamp(), &body),
            )
            .body(body)
            .send()
            .await?
            .error_for_status()?;
    }
    stop.cancel();
    server.await??;
    Ok(())
}

/// For the External Events target: the simulator's org, set up and stored as `genesys setup`
/// would leave it. Nothing for `pe`.
pub(super) async fn set_up_org(
    db: &ScratchDb,
    sim: &SimulatorHandle,
    target: Target,
) -> anyhow::Result<()> {
    if target.events == EventsTarget::Pe {
        return Ok(());
    }
    let org = sim_org::set_up(sim).await?;
    let pool = crate::platform::db::connect(&db.url).await?;
    let mut tx = pool.begin().await?;
    crate::genesys::org::save(&mut tx, &org).await?;
    tx.commit().await?;
    pool.close().await;
    // The setup requests are the bench's, not pesync's: keep them out of any second that
    // delivery's requests are counted in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(())
}

pub(super) async fn start_delivery(
    base: &Settings,
    db: &ScratchDb,
    sim: &SimulatorHandle,
    rate: f64,
    target: Target,
) -> anyhow::Result<Delivering> {
    let s = settings_for(base, db, Some(sim), rate, target);
    let pool = crate::platform::db::connect(&db.url).await?;
    let app = Application::build(&s, pool, Arc::new(SystemClock)).await?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until(stop.clone()));
    Ok(Delivering { stop, task })
}

/// The delivering instance of a run.
pub(super) struct Delivering {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Delivering {
    /// Stops the instance and waits until its workers have: its database is dropped next, and a
    /// worker still running then would log a failed round for every retry.
    pub(super) async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .context("the delivering instance did not stop within 30 s")???;
        Ok(())
    }
}
