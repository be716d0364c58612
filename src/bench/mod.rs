//! `pesync bench …`: benchmarks that print their figures (SPEC §9). Results and the commands that
//! produced them are recorded in `docs/BENCHMARKS.md`. Run them with `--release`.

pub mod delivery;
pub mod ingest;
pub mod scratch;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Delivery throughput to an unthrottled simulator, and utilisation of a throttled ceiling.
    Delivery(delivery::DeliveryArgs),
    /// Batched ingestion over HTTP against the same rows inserted directly (SPEC §9, throughput).
    #[command(long_about = ingest::LONG_ABOUT)]
    Ingest(ingest::IngestArgs),
}

pub async fn run(cmd: BenchCommand, settings: crate::config::Settings) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Delivery(a) => delivery::run(a, settings).await,
        BenchCommand::Ingest(a) => ingest::run(a, settings).await,
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
