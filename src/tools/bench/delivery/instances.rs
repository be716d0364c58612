//! The instances `bench delivery` starts on its scratch database: one without delivery, in this
//! process, that ingests the events through the real API; then one whose delivery workers send them
//! to the simulator (whose org is set up first for the External Events target), as a `pesync serve`
//! child process, so that the peak memory measured is the delivering process's alone, not this
//! one's with the simulator and the ingesting instance (issue 12 §5).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
use crate::simulator::SimulatorHandle;
use crate::tools::bench::child::{Service, ServiceConfig, free_port};
use crate::tools::bench::scratch::ScratchDb;
use crate::tools::bench::sim_org;

const SECRET: &str = "bench-signing-secret-0123456789";
/// The admin token of the scratch instances (at least 32 characters, as every token).
const ADMIN: &str = "bench-admin-token-0123456789abcdef";

/// The settings of the ingesting instance on `db`: no Genesys tenant, so nothing is delivered (the
/// delivering instance's are [`delivering_config`]).
fn ingesting_settings(base: &Settings, db: &ScratchDb) -> Settings {
    Settings {
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        admin_token: Some(SecretString::from(ADMIN)),
        secret_key: Some(crate::tools::bench::child::secret_key()),
        pe_base_url: None,
        pe_token_url: None,
        pe_client_id: None,
        pe_client_secret: None,
        // No scheduled job writes while the events go in.
        poll_cron: "off".into(),
        evaluate_cron: "off".into(),
        ..base.clone()
    }
}

/// The delivering child on `db`: to `sim` at `rate` through `target`, with no scheduled job. The
/// settings the in-process instance had, by their variable names; the rest are the defaults.
fn delivering_config(
    db: &ScratchDb,
    sim: &SimulatorHandle,
    rate: f64,
    target: Target,
    log_dir: &Path,
) -> ServiceConfig {
    ServiceConfig {
        database_url: db.url.clone(),
        pe_base_url: Some(sim.base_url.clone()),
        rate_limit: rate,
        admin_token: ADMIN.into(),
        log_dir: log_dir.to_owned(),
        log_filter: crate::platform::telemetry::QUIET.into(),
        settings: vec![
            ("PESYNC_GENESYS_EVENTS", target.events.as_str().into()),
            ("PESYNC_GENESYS_EVENTS_BATCH", target.batch.to_string()),
            // Delivery alone is measured: profile polls and the evaluation run's pushes would take
            // permits of the same ceiling (an org delivering through External Events turns polling
            // off anyway: it has no profile endpoint).
            ("PESYNC_POLL_CRON", "off".into()),
            ("PESYNC_EVALUATE_CRON", "off".into()),
        ],
    }
}

/// Ingests `n` events over `contacts` contacts through an instance without delivery.
pub(super) async fn ingest(
    base: &Settings,
    db: &ScratchDb,
    n: usize,
    contacts: usize,
) -> anyhow::Result<()> {
    let s = ingesting_settings(base, db);
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
    // What the instance's inbox drain had not moved yet: into the queue now, so that the delivering
    // instance's measured time is delivery alone.
    let pool = crate::platform::db::connect(&db.url).await?;
    while crate::delivery::inbox::drain(&pool).await?.requests > 0 {}
    pool.close().await;
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

/// Starts the delivering child and waits until it answers `/readyz` (its workers start with it).
pub(super) async fn start_delivery(
    db: &ScratchDb,
    sim: &SimulatorHandle,
    rate: f64,
    target: Target,
    log_dir: &Path,
) -> anyhow::Result<Delivering> {
    let cfg = delivering_config(db, sim, rate, target, log_dir);
    let service = Service::start(&cfg, "delivering", free_port()?).await?;
    Ok(Delivering { service })
}

/// The delivering instance of a run.
pub(super) struct Delivering {
    service: Service,
}

impl Delivering {
    /// Stops the instance and waits until it is gone: its database is dropped next, and a worker
    /// still running then would log a failed round for every retry. Answers its peak RSS, read
    /// just before (a process that has exited has none to read).
    pub(super) async fn stop(self) -> anyhow::Result<Option<f64>> {
        let peak = self.service.peak_rss_mib();
        self.service.stop(Duration::from_secs(30)).await?;
        Ok(peak)
    }
}
