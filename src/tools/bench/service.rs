//! The service, as a `pesync serve` child on a free port with one source, that `bench ingest` and
//! `bench latency` post signed events to. A child of its own, so that its peak memory is the
//! serving process's alone, not the load generator's too (issue 12 §5).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure};
use chrono::Utc;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::child::{Service, ServiceConfig, free_port, log_dir, report_logs};
use super::scratch::ScratchDb;
use crate::app::config::Settings;
use crate::ingest::signature;

/// The source the benchmarks' events come from.
pub(super) const SOURCE: &str = "bench";

/// The service, a child process on a free port, with one source.
pub(super) struct BenchApp {
    pub(super) base: String,
    secret: SecretString,
    http: reqwest::Client,
    service: Service,
}

impl BenchApp {
    /// Starts the child as the benchmarks' in-process service was configured: the defaults, no
    /// Genesys tenant (nothing delivered), the benchmarks' quiet log (into a file, see
    /// [`Self::stop`]). `what` names its log directory.
    pub(super) async fn start(db: &ScratchDb, what: &str) -> anyhow::Result<Self> {
        let admin = Uuid::new_v4().to_string();
        let secret = Uuid::new_v4().to_string();
        let cfg = ServiceConfig {
            database_url: db.url.clone(),
            pe_base_url: None,
            rate_limit: Settings::default().pe_rate_limit,
            admin_token: admin.clone(),
            log_dir: log_dir(&format!("bench-{what}"))?,
            log_filter: crate::platform::telemetry::QUIET.into(),
            settings: Vec::new(),
        };
        let service = Service::start(&cfg, what, free_port()?).await?;
        let base = service.base_url();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let r = http
            .put(format!("{base}/v1/admin/sources/{SOURCE}"))
            .bearer_auth(&admin)
            .json(&json!({"signing_secret": secret, "mapping": {}}))
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "creating the source: {}",
            r.text().await?
        );
        Ok(Self {
            base,
            secret: SecretString::from(secret),
            http,
            service,
        })
    }

    /// The serving process's peak memory starts afresh here.
    pub(super) fn reset_peak_rss(&self) {
        self.service.reset_peak_rss();
    }

    /// The serving process's peak RSS since the last reset.
    pub(super) fn peak_rss_mib(&self) -> Option<f64> {
        self.service.peak_rss_mib()
    }

    /// The serving process's CPU seconds so far.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        self.service.cpu_seconds()
    }

    /// Stops the child and waits until it is gone (its database is dropped next); then points to
    /// its log if it logged anything.
    pub(super) async fn stop(self) -> anyhow::Result<()> {
        let dir = self.service.log().parent().map(Path::to_owned);
        let stopped = self.service.stop(Duration::from_secs(30)).await;
        if let Some(dir) = dir {
            report_logs(&dir);
        }
        stopped
    }

    pub(super) async fn post(&self, url: &str, body: &[u8], events: usize) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Results {
            results: Vec<Status>,
        }
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        use secrecy::ExposeSecret;
        let t = Utc::now().timestamp();
        let r = self
            .http
            .post(url)
            .header("Content-Type", "application/x-ndjson")
            .header(
                signature::HEADER,
                signature::header_value(self.secret.expose_secret().as_bytes(), t, body),
            )
            .body(body.to_vec())
            .send()
            .await?;
        let status = r.status();
        if !status.is_success() {
            bail!("ingestion answered {status}: {}", r.text().await?);
        }
        let results: Results = r.json().await?;
        let accepted = results
            .results
            .iter()
            .filter(|s| s.status == "accepted")
            .count();
        ensure!(
            accepted == events,
            "{accepted} of {events} events accepted; the benchmark expects new, valid events only"
        );
        Ok(())
    }
}
