//! The service under measurement or under fault: the built `pesync` binary run as `pesync serve`
//! in a child process. The fault harness kills it with SIGKILL (kill -9) and starts it again as an
//! operator's supervisor would; the benchmarks read its peak memory apart from their own load
//! generator's (issue 12 §5 is about the process that serves).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use secrecy::{ExposeSecret, SecretString};

use super::cpu::{self, Process};
use crate::platform::secrets::SecretKey;

/// Everything a `pesync serve` child needs, shared by every start of it.
#[derive(Clone)]
pub struct ServiceConfig {
    pub database_url: SecretString,
    /// The Genesys base URL (the simulator, or the proxy in front of it); `None` names no tenant,
    /// and the service then ingests but does not deliver.
    pub pe_base_url: Option<String>,
    pub rate_limit: f64,
    pub admin_token: String,
    /// Where each start writes its log (`service-<name>-<n>.log`).
    pub log_dir: PathBuf,
    /// The child's `RUST_LOG`.
    pub log_filter: String,
    /// Further settings by their variable names (`PESYNC_EVALUATE_CRON`, `PESYNC_GENESYS_EVENTS`,
    /// …) where a run needs other than the defaults.
    pub settings: Vec<(&'static str, String)>,
}

/// A running `pesync serve` child.
pub struct Service {
    pub name: String,
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Starts `pesync serve` on `port` and waits until `/readyz` answers 200 (at most 60 s).
    pub async fn start(cfg: &ServiceConfig, name: &str, port: u16) -> anyhow::Result<Self> {
        let log = log_path(&cfg.log_dir, name)?;
        let child = spawn(cfg, &log, port)?;
        let mut service = Self {
            name: name.to_owned(),
            port,
            child,
            log,
        };
        service.wait_ready(Duration::from_secs(60)).await?;
        Ok(service)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
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
                    "{} exited during start-up ({status}); see {}",
                    self.name,
                    self.log.display()
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

    /// Starts its peak RSS afresh, so that the next [`Self::peak_rss_mib`] covers what follows.
    pub fn reset_peak_rss(&self) {
        cpu::reset_peak_rss(self.process());
    }

    /// Its peak RSS so far (or since [`Self::reset_peak_rss`]); unknown once it has exited.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        cpu::peak_rss_mib(self.process())
    }

    /// Its CPU seconds so far; unknown once it has exited.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu::cpu_seconds(self.process())
    }

    fn process(&self) -> Process {
        Process::Id(self.child.id())
    }

    /// kill -9: no shutdown, no flush, nothing in flight finishes.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.kill().context("SIGKILL")?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, as a supervisor stops it (requests in flight finish, workers stop), then waits
    /// until the process is gone: a caller drops the database next, under a worker still running.
    /// SIGKILL if it takes longer than `limit`.
    pub async fn stop(mut self, limit: Duration) -> anyhow::Result<()> {
        // std sends only SIGKILL and libc is no dependency: the `kill` command sends SIGTERM.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .context("running kill -TERM")?;
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(
                    status.success(),
                    "{} exited with {status} when stopped; see {}",
                    self.name,
                    self.log.display()
                );
                return Ok(());
            }
            ensure!(sent.success(), "kill -TERM {} failed", self.child.id());
            if started.elapsed() >= limit {
                bail!("{} did not stop within {limit:?} (killed)", self.name);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // Never leave a child running after the harness, whatever went wrong (a no-op once it has
        // been waited for).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(cfg: &ServiceConfig, log: &Path, port: u16) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the pesync binary")?;
    let log = std::fs::File::create(log).with_context(|| log.display().to_string())?;
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
        .env("PESYNC_PE_RATE_LIMIT", cfg.rate_limit.to_string())
        .env("PESYNC_LOG_FORMAT", "json")
        .env("RUST_LOG", &cfg.log_filter);
    if let Some(base) = &cfg.pe_base_url {
        let sim = crate::simulator::SimulatorConfig::default();
        command
            .env("PESYNC_PE_BASE_URL", base)
            .env("PESYNC_PE_TOKEN_URL", format!("{base}/oauth/token"))
            .env("PESYNC_PE_CLIENT_ID", &sim.client_id)
            .env("PESYNC_PE_CLIENT_SECRET", &sim.client_secret);
    }
    command.envs(cfg.settings.iter().map(|(k, v)| (k, v)));
    // The allocator's own tuning (`MIMALLOC_*`, see main.rs), as an operator would set it.
    command.envs(std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("MIMALLOC_")));
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting pesync serve")
}

/// 32 bytes of a throw-away test key, base64: the harness's databases are scratch ones.
const SECRET_KEY_BASE64: &str = "ZmF1bHRzLWhhcm5lc3Mtc2NyYXRjaC1rZXktMDEyMzQ=";

/// The key the children seal secrets with: an instance in this process on the same database (the
/// one `bench delivery` ingests through) must seal with it too, or a child cannot open the source.
pub fn secret_key() -> SecretKey {
    SecretKey::from_base64(SECRET_KEY_BASE64).expect("the test key is 32 bytes of base64")
}

/// A new log file per start, so the log of a killed run is kept next to the next one.
fn log_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    for n in 0..10_000 {
        let path = dir.join(format!("service-{name}-{n}.log"));
        if !path.exists() {
            return Ok(path);
        }
    }
    bail!("too many logs in {}", dir.display())
}

/// A new directory for the logs of a run's children, under the system's temporary directory.
pub fn log_dir(what: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("pesync-{what}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    Ok(dir)
}

/// After a benchmark: names on stderr the logs in `dir` that hold anything (the benchmarks' quiet
/// filter lets through real problems only), or removes `dir` when none does, so that runs leave no
/// empty directories behind.
pub fn report_logs(dir: &Path) {
    let logged: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
        .map(|e| e.path())
        .collect();
    if logged.is_empty() {
        let _ = std::fs::remove_dir_all(dir);
    }
    for log in logged {
        eprintln!("the service logged warnings: {}", log.display());
    }
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
    fn the_secret_key_is_one_serve_takes() {
        assert!(SecretKey::from_base64(SECRET_KEY_BASE64).is_ok());
    }
}
