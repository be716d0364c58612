//! The service, in-process on a free port with one source, that `bench ingest` and `bench latency`
//! post signed events to.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure};
use chrono::Utc;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::scratch::ScratchDb;
use crate::app::config::Settings;
use crate::app::startup::Application;
use crate::ingest::signature;
use crate::platform::clock::SystemClock;

/// The source the benchmarks' events come from.
pub(super) const SOURCE: &str = "bench";

/// The service, in-process on a free port, with one source.
pub(super) struct BenchApp {
    pub(super) base: String,
    secret: SecretString,
    http: reqwest::Client,
    pub(super) shutdown: CancellationToken,
}

impl BenchApp {
    pub(super) async fn start(db: &ScratchDb) -> anyhow::Result<Self> {
        let admin = Uuid::new_v4().to_string();
        let secret = Uuid::new_v4().to_string();
        let settings = Settings {
            database_url: db.url.clone(),
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            admin_token: Some(SecretString::from(admin.clone())),
            secret_key: Some(crate::platform::secrets::SecretKey::demo()),
            ..Settings::default()
        };
        let app = Application::build(&settings, db.pool.clone(), Arc::new(SystemClock)).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until(shutdown.clone()));
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
            shutdown,
        })
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
