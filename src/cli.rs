//! The `pesync` command line (SPEC §1). `main.rs` only parses and calls `run`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::startup::{Application, cancel_on_signal};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: the HTTP API and the background jobs. Requires PESYNC_ADMIN_TOKEN.
    Serve,
    /// Create the database if missing, apply the migrations, and exit.
    Migrate,
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Benchmarks (results and commands in docs/BENCHMARKS.md). Run them from a release build.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// One evaluation run over N seeded contacts and two campaigns: time and peak memory. Works in
    /// its own database (`pesync_bench_evaluate` on the DATABASE_URL server), dropped first.
    Evaluate {
        /// Contacts to seed.
        #[arg(long, default_value_t = 1_000_000)]
        contacts: i64,
        /// Keep the benchmark database afterwards (to look at the decisions).
        #[arg(long)]
        keep: bool,
        /// Evaluate a database kept by an earlier `--keep` run again instead of seeding anew.
        #[arg(long)]
        reuse: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            crate::db::connect_and_migrate(&settings.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Openapi => {
            let doc = crate::startup::openapi_document();
            println!("{}", doc.to_pretty_json().context("serializing OpenAPI")?);
            Ok(())
        }
        Command::Bench {
            which:
                BenchCommand::Evaluate {
                    contacts,
                    keep,
                    reuse,
                },
        } => {
            let result =
                crate::bench::evaluate(&settings.database_url, contacts, keep, reuse).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    if settings.admin_token.is_none() {
        bail!("PESYNC_ADMIN_TOKEN must be set: the admin API is never open without a token");
    }
    let pool = crate::db::connect_and_migrate(&settings.database_url).await?;
    let app = Application::build(&settings, pool, std::sync::Arc::new(SystemClock)).await?;
    tracing::info!(address = %settings.listen, port = app.port(), "pesync listening");
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    app.run_until(shutdown).await
}
