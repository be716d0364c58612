//! The service under test: the built `pesync` binary run as `pesync serve` in a child process, so
//! that it can be killed with SIGKILL (kill -9) and started again like an operator's supervisor would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

/// Everything a `pesync serve` child needs, shared by every start of it.
#[derive(Clone)]
pub struct ServiceConfig {
    pub database_url: SecretString,
    /// The Genesys base URL (the simulator, or the proxy in front of it).
    pub pe_base_url: String,
    pub rate_limit: f64,
    pub admin_token: String,
    /// Where each start writes its log (`service-<name>-<n>.log`).
    pub log_dir: PathBuf,
    /// `PESYNC_EVALUATE_CRON` and `PESYNC_POLL_CRON` when not the defaults (a fault that hands
    /// contacts over runs the evaluation every few seconds).
    pub evaluate_cron: Option<String>,
    pub poll_cron: Option<String>,
}

/// A running `pesync serve` child.
pub struct Service {
    pub name: String,
    pub port: u16,
    child: Child,
}

impl Service {
    /// Starts `pesync serve` on `port` and waits until `/readyz` answers 200 (at most 60 s).
    pub async fn start(cfg: &ServiceConfig, name: &str, port: u16) -> anyhow::Result<Self> {
        let child = spawn(cfg, name, port)?;
        let mut service = Self {
            name: name.to_owned(),
            port,
            child,
        };
        service.wait_ready(Duration::from_secs(60)).await?;
        Ok(service)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/readyz", self.base_url());
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); see its log",
                    self.name
                );
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{} was not ready within {limit:?}", self.name)
    }

    /// Whether the process is still the one started (no exit, no restart).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// kill -9: no shutdown, no flush, nothing in flight finishes.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.kill().context("SIGKILL")?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Never leave a child running after the harness, whatever went wrong.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(cfg: &ServiceConfig, name: &str, port: u16) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the pesync binary")?;
    let log = log_file(&cfg.log_dir, name)?;
    let sim = crate::simulator::SimulatorConfig::default();
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", cfg.database_url.expose_secret())
        .env("PESYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env("PESYNC_ADMIN_TOKEN", &cfg.admin_token)
        // Required by `serve` once secrets are encrypted at rest (issue 8); ignored before.
        .env("PESYNC_SECRET_KEY", SECRET_KEY_BASE64)
        .env("PESYNC_PE_BASE_URL", &cfg.pe_base_url)
        .env(
            "PESYNC_PE_TOKEN_URL",
            format!("{}/oauth/token", cfg.pe_base_url),
        )
        .env("PESYNC_PE_CLIENT_ID", &sim.client_id)
        .env("PESYNC_PE_CLIENT_SECRET", &sim.client_secret)
        .env("PESYNC_PE_RATE_LIMIT", cfg.rate_limit.to_string())
        .env("PESYNC_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    if let Some(cron) = &cfg.evaluate_cron {
        command.env("PESYNC_EVALUATE_CRON", cron);
    }
    if let Some(cron) = &cfg.poll_cron {
        command.env("PESYNC_POLL_CRON", cron);
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting pesync serve")
}

/// 32 bytes of a throw-away test key, base64: the harness's databases are scratch ones.
const SECRET_KEY_BASE64: &str = "ZmF1bHRzLWhhcm5lc3Mtc2NyYXRjaC1rZXktMDEyMzQ=";

/// A new log file per start, so the log of a killed run is kept next to the next one.
fn log_file(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    for n in 0..10_000 {
        let path = dir.join(format!("service-{name}-{n}.log"));
        if !path.exists() {
            return std::fs::File::create(&path).with_context(|| path.display().to_string());
        }
    }
    bail!("too many logs in {}", dir.display())
}

/// A free port on 127.0.0.1 (bound and released: the child binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_key_is_32_bytes_of_base64() {
        // Decoded by hand to avoid a base64 dependency: 44 characters with one '=' is 32 bytes.
        assert_eq!(SECRET_KEY_BASE64.len(), 44);
        assert!(SECRET_KEY_BASE64.ends_with('=') && !SECRET_KEY_BASE64.ends_with("=="));
    }
}
