//! A test bed for one fault: a scratch database, the simulator (in this process, so its books can be
//! read directly), a proxy in front of it that can refuse connections, and the settings every
//! `pesync serve` child of the fault shares.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;
use rand::Rng;
use serde_json::json;

use super::load::{Ledger, SOURCE, Tally};
use super::proxy::Proxy;
use crate::app::config::Settings;
use crate::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use crate::tools::bench::child::ServiceConfig;
use crate::tools::bench::scratch::ScratchDb;

pub struct Bed {
    pub db: ScratchDb,
    pub sim: SimulatorHandle,
    pub proxy: Proxy,
    pub cfg: ServiceConfig,
    pub secret: String,
}

/// A random token of 64 hex digits (long enough for any minimum length a token may get).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

impl Bed {
    /// `rate` is the service's ceiling (requests/s to the simulator, all instances together).
    pub async fn new(settings: &Settings, rate: f64, log_dir: &Path) -> anyhow::Result<Self> {
        let db = ScratchDb::create(&settings.database_url).await?;
        let sim = Simulator::start(SimulatorConfig::default()).await?;
        let proxy = Proxy::start(([127, 0, 0, 1], sim.port).into())?;
        let cfg = ServiceConfig {
            database_url: db.url.clone(),
            pe_base_url: Some(proxy.base_url()),
            rate_limit: rate,
            admin_token: random_token(),
            log_dir: log_dir.to_owned(),
            // The harness reads the children's logs after a failed fault: all of them.
            log_filter: "info".into(),
            settings: Vec::new(),
        };
        Ok(Self {
            db,
            sim,
            proxy,
            cfg,
            secret: random_token(),
        })
    }

    /// Creates the source the load is posted to, through the admin API of the service at `base`.
    pub async fn create_source(&self, base: &str) -> anyhow::Result<()> {
        let r = reqwest::Client::new()
            .put(format!("{base}/v1/admin/sources/{SOURCE}"))
            .bearer_auth(&self.cfg.admin_token)
            .json(&json!({"signing_secret": self.secret}))
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "creating the source: {}",
            r.status()
        );
        Ok(())
    }

    pub fn tally(&self, ledger: &Ledger) -> Tally {
        ledger.tally(&self.sim.state.events())
    }

    /// Waits until every accepted event reached the simulator (or `limit` passed); answers the
    /// tally and how long it took.
    pub async fn drain(&self, ledger: &Ledger, limit: Duration) -> (Tally, Duration) {
        let started = Instant::now();
        loop {
            let t = self.tally(ledger);
            if t.lost == 0 || started.elapsed() >= limit {
                return (t, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The most requests the simulator got in any sliding second (every counted endpoint).
    pub fn busiest_second(&self) -> usize {
        self.sim.state.max_admitted_in_any_second()
    }

    /// Stops the proxy and the simulator and answers the database, for the caller to drop once the
    /// report is out: DROP DATABASE waits for a checkpoint, minutes on a busy server.
    pub async fn finish(self) -> ScratchDb {
        drop(self.proxy);
        self.sim.stop().await;
        self.db.pool.close().await;
        self.db
    }
}
