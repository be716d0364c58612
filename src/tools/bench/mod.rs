//! `pesync bench …`: benchmarks that print their figures (SPEC §9). Results and the commands that
//! produced them are recorded in `docs/BENCHMARKS.md`. Run them with `--release`.

pub mod child;
pub mod copy_baseline;
pub mod cpu;
pub mod delivery;
pub mod evaluate;
pub mod evaluate_seed;
pub mod faults;
pub mod ingest;
pub mod latency;
pub mod population;
pub mod scratch;
mod service;
pub mod sim_org;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Delivery throughput to an unthrottled simulator, and utilisation of a throttled ceiling.
    Delivery(delivery::DeliveryArgs),
    /// Batched ingestion over HTTP against the same rows inserted directly (SPEC §9, throughput).
    #[command(long_about = ingest::LONG_ABOUT)]
    Ingest(ingest::IngestArgs),
    /// Single-event requests at fixed rates: p50/p99/p99.9 latency and the achieved rate.
    #[command(long_about = latency::LONG_ABOUT)]
    Latency(latency::LatencyArgs),
    /// Evaluation runs over N seeded contacts and two campaigns: time, CPU and peak memory. Works in
    /// its own database (`pesync_bench_evaluate` on the DATABASE_URL server), dropped first.
    Evaluate(EvaluateArgs),
    /// The fault-injection suite: kill -9, outages, two instances, abuse cases, schemathesis;
    /// lost / wrong id / 5xx / order figures per fault (docs/RELIABILITY.md).
    #[command(long_about = faults::LONG_ABOUT)]
    Faults(faults::FaultsArgs),
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Contacts to seed.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..=100_000_000))]
    pub contacts: i64,
    /// Repetitions (each on the seed as it was); the medians are reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=20))]
    pub runs: u8,
    /// Keep the benchmark database afterwards (to look at the decisions).
    #[arg(long)]
    pub keep: bool,
    /// Evaluate a database kept by an earlier `--keep` run again instead of seeding anew.
    #[arg(long)]
    pub reuse: bool,
    /// Time the population dry run (`POST /v1/admin/evaluate/population`, a thresholds and a
    /// campaign change over every contact) through a real instance instead of the scheduled run,
    /// in a database of its own (`pesync_bench_population`).
    #[arg(long)]
    pub population: bool,
}

pub async fn run(cmd: BenchCommand, settings: crate::app::config::Settings) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Delivery(a) => delivery::run(a, settings).await,
        BenchCommand::Ingest(a) => ingest::run(a, settings).await,
        BenchCommand::Latency(a) => latency::run(a, settings).await,
        BenchCommand::Faults(a) => faults::run(a, settings).await,
        BenchCommand::Evaluate(a) if a.population => {
            let result =
                population::population(&settings, a.contacts, a.runs.into(), a.keep, a.reuse)
                    .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
        BenchCommand::Evaluate(a) => {
            let result = evaluate::evaluate(
                &settings.database_url,
                a.contacts,
                a.runs.into(),
                a.keep,
                a.reuse,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(())
        }
    }
}

/// Median of some figures (the machines are shared and noisy: report medians, not means).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
