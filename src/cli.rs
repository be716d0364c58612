//! The `pesync` command line (SPEC §1). `main.rs` only parses and calls `run`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::config::Settings;
use crate::app::startup::{Application, cancel_on_signal};
use crate::platform::clock::SystemClock;

#[derive(Debug, Parser)]
#[command(
    name = "pesync",
    version,
    about = "Syncs offline CRM events into Genesys Cloud Predictive Engagement and feeds outbound campaigns from the scores.",
    long_about = "Syncs offline CRM events into Genesys Cloud Predictive Engagement (PE) and turns the resulting propensity scores into outbound-dialer campaigns.\n\nSettings come from environment variables (DATABASE_URL, PESYNC_LISTEN, PESYNC_ADMIN_TOKEN, …; see README.md), optionally from a TOML file given with --config; the environment wins."
)]
pub struct Cli {
    /// TOML file with settings (keys named like the variables without the PESYNC_ prefix, lowercase).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log filter unless `RUST_LOG` says otherwise: quiet for benchmarks (issue 12).
    pub fn log_filter(&self) -> &'static str {
        use crate::platform::telemetry::{DEFAULT, QUIET};
        match self.command {
            Command::Bench(_) => QUIET,
            _ => DEFAULT,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: the HTTP API and the background jobs. Requires PESYNC_ADMIN_TOKEN and PESYNC_SECRET_KEY.
    Serve,
    /// Create the database if missing, apply the migrations, and exit.
    Migrate,
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Run the stand-alone Genesys simulator (OAuth, PE events and profiles, outbound contact lists).
    Simulate(SimulateArgs),
    /// Service + simulator in one process, with a seeded source and sample events, for a first look.
    Demo(DemoArgs),
    /// Stream a CSV or NDJSON export file into a source (or, with --scores, score observations into
    /// POST /v1/scores), with a progress bar.
    #[command(long_about = crate::tools::import::LONG_ABOUT)]
    Import(crate::tools::import::ImportArgs),
    /// Benchmarks (build with --release); figures go to docs/BENCHMARKS.md.
    #[command(subcommand)]
    Bench(crate::tools::bench::BenchCommand),
    /// The Genesys Cloud org: `genesys setup` prepares it for the External Events API.
    #[command(subcommand)]
    Genesys(GenesysCommand),
}

#[derive(Debug, Subcommand)]
pub enum GenesysCommand {
    /// Create or update the org's External Source, event schemas and configurations from the active manifest.
    #[command(long_about = crate::setup::LONG_ABOUT)]
    Setup(crate::setup::SetupArgs),
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: std::net::SocketAddr,
    /// OAuth client id the simulator accepts.
    #[arg(long, default_value = "pesync-simulator")]
    pub client_id: String,
    /// OAuth client secret the simulator accepts (from the environment, so it never shows in `ps`).
    #[arg(
        long,
        env = "PESYNC_SIM_CLIENT_SECRET",
        default_value = "pesync-simulator-secret",
        hide_env_values = true
    )]
    pub client_secret: String,
    /// Ceiling in requests per second (429 beyond it); unthrottled when absent.
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Lifetime of issued tokens in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub token_ttl: u64,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Sample contacts whose events are posted at start (through the signed ingestion API): four
    /// in five have a rising score, three in five a window open now, so the first evaluation hands
    /// some to the simulated dialer and defers others.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub contacts: u16,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            crate::platform::db::connect_and_migrate(&settings.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Simulate(a) => crate::simulator::run_forever(a.into_config()).await,
        Command::Demo(a) => crate::app::demo::run(settings, a.contacts.into()).await,
        Command::Bench(b) => crate::tools::bench::run(b, settings).await,
        Command::Import(args) => crate::tools::import::run(args).await,
        Command::Genesys(GenesysCommand::Setup(args)) => {
            let report =
                crate::setup::setup(&settings.database_url, settings.genesys()?, &args).await?;
            print!("{report}");
            Ok(())
        }
        Command::Openapi => {
            let doc = crate::app::routes::openapi_document();
            println!("{}", doc.to_pretty_json().context("serializing OpenAPI")?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    if settings.admin_token.is_none() {
        bail!("PESYNC_ADMIN_TOKEN must be set: the admin API is never open without a token");
    }
    if settings.secret_key.is_none() {
        bail!(crate::platform::secrets::KEY_REQUIRED);
    }
    let pool = crate::platform::db::connect_and_migrate(&settings.database_url).await?;
    let app = Application::build(&settings, pool.clone(), std::sync::Arc::new(SystemClock)).await?;
    tracing::info!(address = %settings.listen, port = app.port(), "pesync listening");
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let result = app.run_until(shutdown).await;
    crate::platform::db::close(pool).await;
    result
}

impl SimulateArgs {
    fn into_config(self) -> crate::simulator::SimulatorConfig {
        crate::simulator::SimulatorConfig {
            listen: self.listen,
            client_id: self.client_id,
            client_secret: self.client_secret,
            token_ttl_secs: self.token_ttl,
            rate_limit_per_sec: self.rate_limit,
            latency_ms: self.latency_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::telemetry::{DEFAULT, QUIET};

    #[test]
    fn benchmarks_log_quietly_and_the_service_does_not() {
        let filter = |args: &[&str]| Cli::try_parse_from(args).unwrap().log_filter();
        assert_eq!(filter(&["pesync", "bench", "evaluate"]), QUIET);
        assert_eq!(filter(&["pesync", "serve"]), DEFAULT);
        assert_eq!(filter(&["pesync", "migrate"]), DEFAULT);
    }
}
